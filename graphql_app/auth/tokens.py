"""Issuing and verifying JWTs (RFC 8725). The only importer of `jwt`.

Verification never lets the token choose: the algorithm list is pinned to the configured one,
the key is looked up by `kid` in our key ring, every claim is required, `iss`/`aud` checked.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms

from ..errors import Reason, Unauthenticated
from .keys import KeyRing


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


_COMMON = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "type", "sid", "tv"]
REQUIRED_CLAIMS = {
    TokenType.ACCESS: [*_COMMON, "roles"],
    TokenType.REFRESH: _COMMON,
}


VERIFIED_CACHE_SIZE = 4096  # access tokens whose verified claims are kept


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    sid: str
    jti: str
    tv: int  # the user's token version when issued
    exp: int
    roles: tuple[str, ...]
    auth_time: int  # when the password was last proven in this session (0: unknown)


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    jti: str
    expires_at: int


class TokenCodec:
    def __init__(self, keyring: KeyRing, issuer: str, audience: str) -> None:
        self.keyring = keyring
        self.issuer = issuer
        self.audience = audience
        self._algorithms = [keyring.algorithm]
        self._verified: dict[str, Claims] = {}

    def issue(
        self,
        token_type: TokenType,
        *,
        sub: str,
        sid: str,
        tv: int,
        ttl: int,
        auth_time: int,
        roles: list[str] | None = None,
        jti: str | None = None,
        iat: int | None = None,
    ) -> Issued:
        """`iat` and `jti` given again reproduce a refresh token exactly (refresh grace): the
        signature is deterministic under HS256, RS256 and EdDSA."""
        now = int(time.time()) if iat is None else iat
        jti = jti or uuid.uuid4().hex
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": jti,
            "type": token_type.value,
            "sid": sid,
            "tv": tv,
            "auth_time": auth_time,
        }
        if token_type is TokenType.ACCESS:
            payload["roles"] = roles or []
        token = jwt.encode(
            payload,
            self.keyring.signing_key,
            algorithm=self.keyring.algorithm,
            headers={"kid": self.keyring.signing_kid, "typ": "JWT"},
        )
        return Issued(token, jti, now + ttl)

    def verify(self, token: str, expected: TokenType, *, allow_expired: bool = False) -> Claims:
        """Return the claims of a valid token of the expected type, else raise Unauthenticated.

        A client sends the same access token many times: its verified claims are kept, keyed
        by the exact token text, and only the expiry is checked again. (Revocation is not a
        property of the token; the caller checks it against the database on every request.)
        """
        if expected is not TokenType.ACCESS or allow_expired:
            return self._verify(token, expected, allow_expired=allow_expired)
        cached = self._verified.get(token)
        if cached is not None:
            if time.time() >= cached.exp:  # as PyJWT decides, with no leeway
                raise Unauthenticated(Reason.TOKEN_EXPIRED)
            return cached
        claims = self._verify(token, expected, allow_expired=False)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))  # the oldest entry
        self._verified[token] = claims
        return claims

    def _verify(self, token: str, expected: TokenType, *, allow_expired: bool) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            key = self.keyring.verification_keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise Unauthenticated(Reason.TOKEN_INVALID)
            payload = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                issuer=self.issuer,
                audience=self.audience,
                options={"require": REQUIRED_CLAIMS[expected], "verify_exp": not allow_expired},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(Reason.TOKEN_EXPIRED) from None
        except (jwt.InvalidTokenError, TypeError, ValueError):
            raise Unauthenticated(Reason.TOKEN_INVALID) from None
        if payload.get("type") != expected.value:
            raise Unauthenticated(Reason.TOKEN_INVALID)
        return _claims(payload)

    def jwks(self) -> dict[str, Any] | None:
        if not self.keyring.public_keys:
            return None
        algorithm = get_default_algorithms()[self.keyring.algorithm]
        keys = []
        for kid, key in self.keyring.public_keys.items():
            jwk = json.loads(algorithm.to_jwk(key))
            keys.append({**jwk, "kid": kid, "alg": self.keyring.algorithm, "use": "sig"})
        return {"keys": keys}


def _claims(payload: dict[str, Any]) -> Claims:
    sub, sid, jti, tv = payload["sub"], payload["sid"], payload["jti"], payload["tv"]
    roles = payload.get("roles", [])
    auth_time = payload.get("auth_time", 0)  # tokens issued before it existed: no recent proof
    if not (
        isinstance(sub, str)
        and isinstance(sid, str)
        and isinstance(jti, str)
        and isinstance(tv, int)
        and isinstance(roles, list)
        and all(isinstance(r, str) for r in roles)
        and isinstance(auth_time, int)
    ):
        raise Unauthenticated(Reason.TOKEN_INVALID)
    return Claims(sub, sid, jti, tv, int(payload["exp"]), tuple(roles), auth_time)
