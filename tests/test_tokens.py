"""Tokens and keys, end to end over HTTP against the real app and database. Every forged,
altered, expired or misplaced token (alg none, tampered claims, a foreign or confused key,
each required claim missing, unknown kid, deleted user, refresh/access swapped, malformed
Authorization headers) is refused with HTTP 200, no data, UNAUTHENTICATED and the reason the
contract names, while the public operations ignore such a header. RS256, ES256 and EdDSA
tokens verify with plain PyJWT against the published JWKS (which holds no private part);
keys rotate without logging anyone out and a retired key stops verifying; and production
refuses to start, naming the variable, without a strong key or a database URL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from bson import ObjectId
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pydantic import ValidationError

from graphql_app.app import create_app
from graphql_app.auth.keys import load_keyring
from graphql_app.database import make_client
from graphql_app.settings import ConfigError, Settings

from .conftest import TEST_SECRET, AppRunner, free_port
from .factories import PASSWORD, GraphQLClient, Result

# --- minting and forging tokens ------------------------------------------------------------

OTHER_SECRET = "an-attackers-secret-that-is-long-enough-for-hs256-987654"
ISSUER = AUDIENCE = "graphql-app"
ME = "query { me { id } }"
TODOS = "query { todos { totalCount edges { node { id } } } }"
ADMIN_ONLY = "query { users { totalCount } }"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
ASYMMETRIC = ["RS256", "ES256", "EdDSA"]
PRIVATE_JWK_PARAMETERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def split_token(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header, claims and the (still encoded) signature of a JWT, unverified."""
    header_b64, claims_b64, signature = token.split(".")

    def decode(part: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return loaded

    return decode(header_b64), decode(claims_b64), signature


def sign_hs256_by_hand(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 over any header and any key bytes (PyJWT refuses PEM keys as secrets)."""
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return f"{b64url_json(header)}.{b64url_json(claims)}.{signature}"


def resign(
    token: str,
    secret: str = TEST_SECRET,
    *,
    drop: tuple[str, ...] = (),
    **changes: Any,
) -> str:
    """The claims of a real token, altered, validly re-signed with PyJWT under its own kid."""
    header, claims, _ = split_token(token)
    claims = {k: v for k, v in {**claims, **changes}.items() if k not in drop}
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": header["kid"]})


def new_private_key(algorithm: str) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def write_private_pem(path: Path, key: PrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def write_public_pem(path: Path, key: PrivateKey) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


# --- asserting refusals --------------------------------------------------------------------


def assert_unauthenticated(result: Result, reason: str, field: str | None = None) -> None:
    assert result.status == 200
    assert result.data is None, result.data
    assert result.codes == ["UNAUTHENTICATED"], result.errors
    assert result.reasons == [reason], result.errors
    if field is not None:
        assert result.errors[0]["path"] == [field]


async def assert_refused(
    client: GraphQLClient, reason: str, *, token: str | None = None, header: str | None = None
) -> None:
    """`me` and `todos` both refuse the token (or raw Authorization header)."""
    headers = {"Authorization": header} if header is not None else None
    for query, field in ((ME, "me"), (TODOS, "todos")):
        result = await client.execute(query, token=token, headers=headers)
        assert_unauthenticated(result, reason, field)


async def assert_accepted(client: GraphQLClient, token: str, user_id: str) -> None:
    result = await client.execute(ME, token=token)
    assert result.errors == [], result.errors
    assert result.data["me"]["id"] == user_id


@pytest.fixture
async def mallory(client: GraphQLClient) -> dict[str, Any]:
    """A registered user's AuthPayload: the real tokens the forgeries start from."""
    return await client.register("mallory")


def _access(session: dict[str, Any]) -> str:
    token: str = session["accessToken"]
    return token


# --- the forgeries are refused, the untouched originals are not ----------------------------


async def test_a_resigned_but_unchanged_token_is_accepted(
    client: GraphQLClient, mallory: dict[str, Any]
) -> None:
    # The control for everything below: re-signing with the right key and kid keeps a token
    # valid, so each refusal is caused by the one thing that test changes.
    await assert_accepted(client, resign(_access(mallory)), mallory["user"]["id"])
    header, claims, _ = split_token(_access(mallory))
    by_hand = sign_hs256_by_hand(header, claims, TEST_SECRET.encode())
    await assert_accepted(client, by_hand, mallory["user"]["id"])


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
@pytest.mark.parametrize("signature", ["", "keep"], ids=["empty-signature", "original-signature"])
async def test_alg_none_with_the_real_kid_is_refused(
    client: GraphQLClient, mallory: dict[str, Any], alg: str, signature: str
) -> None:
    _, claims, original = split_token(_access(mallory))
    header = {"alg": alg, "typ": "JWT", "kid": kid_of(_access(mallory))}
    token = unsigned(header, claims, original if signature == "keep" else "")
    await assert_refused(client, "TOKEN_INVALID", token=token)


async def test_raised_roles_with_the_original_signature_are_refused(
    client: GraphQLClient, mallory: dict[str, Any]
) -> None:
    header, claims, signature = split_token(_access(mallory))
    forged = unsigned(header, {**claims, "roles": ["USER", "ADMIN"]}, signature)
    await assert_refused(client, "TOKEN_INVALID", token=forged)
    # Not FORBIDDEN: the forged token authenticates nobody, admin field included.
    assert_unauthenticated(await client.execute(ADMIN_ONLY, token=forged), "TOKEN_INVALID")


async def test_another_users_sub_with_the_original_signature_is_refused(
    client: GraphQLClient, mallory: dict[str, Any]
) -> None:
    victim = await client.register("victim")
    await client.create_todo(_access(victim), "the victim's secret plans")
    header, claims, signature = split_token(_access(mallory))
    forged = unsigned(header, {**claims, "sub": victim["user"]["id"]}, signature)
    await assert_refused(client, "TOKEN_INVALID", token=forged)


async def test_a_token_signed_with_another_secret_and_the_same_kid_is_refused(
    client: GraphQLClient, mallory: dict[str, Any]
) -> None:
    forged = resign(_access(mallory), OTHER_SECRET, roles=["USER", "ADMIN"])
    assert kid_of(forged) == kid_of(_access(mallory))
    await assert_refused(client, "TOKEN_INVALID", token=forged)


async def test_an_expired_token_is_refused_with_token_expired(
    client: GraphQLClient, mallory: dict[str, Any]
) -> None:
    now = int(time.time())
    expired = resign(_access(mallory), iat=now - 3600, nbf=now - 3600, exp=now - 60)
    await assert_refused(client, "TOKEN_EXPIRED", token=expired)


async def test_a_token_the_service_issued_expires_after_its_ttl(run_app: AppRunner) -> None:
    async with run_app(access_token_ttl=1) as client:
        session = await client.register("mallory")
        assert session["expiresIn"] == 1
        _, claims, _ = split_token(_access(session))
        assert claims["exp"] - claims["iat"] == 1
        await asyncio.sleep(claims["exp"] + 0.5 - time.time())  # past exp, by the clock
        await assert_refused(client, "TOKEN_EXPIRED", token=_access(session))
        # TOKEN_EXPIRED means "refresh and retry": the refresh token still works.
        assert (await client.refresh(session["refreshToken"])).errors == []


@pytest.mark.parametrize(
    "changes",
    [
        {"nbf": int(time.time()) + 3600},
        {"iss": "https://evil.example"},
        {"aud": "another-service"},
        {"aud": ["another-service"]},
        {"iss": ISSUER.upper()},
    ],
    ids=["nbf-in-the-future", "wrong-iss", "wrong-aud", "wrong-aud-list", "iss-case-changed"],
)
async def test_a_validly_signed_token_with_a_wrong_claim_is_refused(
    client: GraphQLClient, mallory: dict[str, Any], changes: dict[str, Any]
) -> None:
    await assert_refused(client, "TOKEN_INVALID", token=resign(_access(mallory), **changes))


@pytest.mark.parametrize(
    "claim", ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "type", "roles", "sid", "tv"]
)
async def test_a_token_missing_a_required_claim_is_refused(
    client: GraphQLClient, mallory: dict[str, Any], claim: str
) -> None:
    token = resign(_access(mallory), drop=(claim,))
    assert claim not in split_token(token)[1]
    await assert_refused(client, "TOKEN_INVALID", token=token)


@pytest.mark.parametrize(
    "kid",
    ["hs-unknown-key", "", "../../../../dev/null", 12345, None, ["hs-x"], "MISSING"],
    ids=["unknown", "empty", "path", "number", "null", "list", "no-kid-header"],
)
async def test_a_token_naming_no_key_of_ours_is_refused(
    client: GraphQLClient, mallory: dict[str, Any], kid: Any
) -> None:
    header, claims, _ = split_token(_access(mallory))
    header = {k: v for k, v in header.items() if k != "kid"}
    if kid != "MISSING":
        header["kid"] = kid
    # Correctly signed with the real secret: only the kid is wrong.
    token = sign_hs256_by_hand(header, claims, TEST_SECRET.encode())
    await assert_refused(client, "TOKEN_INVALID", token=token)


async def test_the_token_of_a_deleted_user_is_refused(
    client: GraphQLClient, mallory: dict[str, Any], mongodb_url: str, db_name: str
) -> None:
    await assert_accepted(client, _access(mallory), mallory["user"]["id"])
    mongo = make_client(mongodb_url)
    try:
        deleted = await mongo[db_name]["users"].delete_one({"_id": ObjectId(mallory["user"]["id"])})
    finally:
        await mongo.close()
    assert deleted.deleted_count == 1
    await assert_refused(client, "TOKEN_INVALID", token=_access(mallory))


async def test_a_validly_signed_token_for_a_user_that_never_existed_is_refused(
    client: GraphQLClient, mallory: dict[str, Any]
) -> None:
    token = resign(_access(mallory), sub=str(ObjectId()))
    await assert_refused(client, "TOKEN_INVALID", token=token)


async def test_a_refresh_token_is_not_an_access_token(
    client: GraphQLClient, mallory: dict[str, Any]
) -> None:
    await assert_refused(client, "TOKEN_INVALID", token=mallory["refreshToken"])


async def test_an_access_token_is_not_a_refresh_token(
    client: GraphQLClient, mallory: dict[str, Any]
) -> None:
    assert_unauthenticated(await client.refresh(_access(mallory)), "TOKEN_INVALID", "refresh")
    # Neither misuse harmed the session: its real refresh token still rotates.
    refreshed = await client.refresh(mallory["refreshToken"])
    assert refreshed.errors == []
    assert refreshed.data["refresh"]["user"]["id"] == mallory["user"]["id"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJIUzI1NiJ9..",
        "Bearer ",
        "Bearer",
        "Basic bWFsbG9yeTpjb3JyZWN0IGhvcnNlIGJhdHRlcnk=",
        "Token {access}",
        "JWT {access}",
        "{access}",
    ],
)
async def test_a_malformed_authorization_header_is_token_invalid(
    client: GraphQLClient, mallory: dict[str, Any], header: str
) -> None:
    # Even a valid access token is refused under another scheme or without one.
    await assert_refused(client, "TOKEN_INVALID", header=header.format(access=_access(mallory)))


async def test_no_authorization_header_is_missing_token(client: GraphQLClient) -> None:
    await assert_refused(client, "MISSING_TOKEN")


LOGIN = (
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p)"
    " { accessToken refreshToken user { id } } }"
)
REGISTER = (
    "mutation($u: String!, $p: String!) { register(input: {username: $u, password: $p})"
    " { accessToken user { id } } }"
)
REFRESH = "mutation($t: String) { refresh(refreshToken: $t) { accessToken refreshToken } }"
LOGOUT = "mutation($t: String) { logout(refreshToken: $t) }"


async def test_public_operations_ignore_a_garbage_or_expired_authorization_header(
    client: GraphQLClient, mallory: dict[str, Any]
) -> None:
    now = int(time.time())
    expired = resign(_access(mallory), iat=now - 3600, nbf=now - 3600, exp=now - 60)
    tampered = resign(_access(mallory), OTHER_SECRET)
    bad_headers = [
        "Bearer garbage",
        f"Bearer {expired}",
        f"Bearer {tampered}",
        f"Bearer {mallory['refreshToken']}",
        "Bearer ",
        "Basic bWFsbG9yeTp4",
    ]
    for number, header in enumerate(bad_headers):
        sent = {"Authorization": header}
        registered = await client.execute(
            REGISTER, {"u": f"user{number}", "p": PASSWORD}, headers=sent
        )
        assert registered.errors == [], (header, registered.errors)

        login = await client.execute(LOGIN, {"u": "mallory", "p": PASSWORD}, headers=sent)
        assert login.errors == [], (header, login.errors)
        assert login.data["login"]["user"]["id"] == mallory["user"]["id"]

        refresh_token = login.data["login"]["refreshToken"]
        refreshed = await client.execute(REFRESH, {"t": refresh_token}, headers=sent)
        assert refreshed.errors == [], (header, refreshed.errors)

        new_refresh = refreshed.data["refresh"]["refreshToken"]
        logout = await client.execute(LOGOUT, {"t": new_refresh}, headers=sent)
        assert logout.errors == [], (header, logout.errors)
        assert logout.data == {"logout": True}


# --- asymmetric algorithms and the JWKS ----------------------------------------------------


def _jwk_for(jwks: dict[str, Any], token: str) -> dict[str, Any]:
    """What a real client does: pick the published key by the token's kid."""
    matching = [key for key in jwks["keys"] if key["kid"] == kid_of(token)]
    assert len(matching) == 1, jwks
    jwk: dict[str, Any] = matching[0]
    return jwk


def _verify_with_jwk(token: str, jwk: dict[str, Any], algorithm: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, jwt.PyJWK(jwk).key, algorithms=[algorithm], issuer=ISSUER, audience=AUDIENCE
    )
    return claims


PUBLIC_PARAMETERS = {"RS256": {"n", "e"}, "ES256": {"crv", "x", "y"}, "EdDSA": {"crv", "x"}}
KEY_TYPES = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
async def test_asymmetric_login_me_and_jwks_verification_with_plain_pyjwt(
    run_app: AppRunner, tmp_path: Path, algorithm: str
) -> None:
    key_file = write_private_pem(tmp_path / "signing.pem", new_private_key(algorithm))
    async with run_app(jwt_algorithm=algorithm, jwt_private_key_file=key_file) as client:
        registered = await client.register("mallory")
        login = await client.login("mallory")
        assert login.errors == [], login.errors
        token = login.data["login"]["accessToken"]
        await assert_accepted(client, token, registered["user"]["id"])
        response = await client.http.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    jwks = response.json()
    assert len(jwks["keys"]) == 1
    jwk = _jwk_for(jwks, token)
    assert jwk["kty"] == KEY_TYPES[algorithm]
    assert jwk["alg"] == algorithm
    assert jwk["use"] == "sig"
    assert PUBLIC_PARAMETERS[algorithm] <= jwk.keys()
    assert not PRIVATE_JWK_PARAMETERS & jwk.keys(), "a private key parameter was published"
    assert jwt.get_unverified_header(token)["alg"] == algorithm

    claims = _verify_with_jwk(token, jwk, algorithm)
    assert claims["sub"] == registered["user"]["id"]
    assert claims["type"] == "access"
    assert claims["roles"] == ["USER"]
    refresh_claims = _verify_with_jwk(login.data["login"]["refreshToken"], jwk, algorithm)
    assert refresh_claims["type"] == "refresh"

    # The check is meaningful: the same token does not verify against someone else's key.
    stranger = json.loads(
        jwt.get_algorithm_by_name(algorithm).to_jwk(new_private_key(algorithm).public_key())
    )
    with pytest.raises(jwt.InvalidSignatureError):
        _verify_with_jwk(token, {**stranger, "alg": algorithm}, algorithm)


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
async def test_a_token_signed_by_another_key_carrying_our_kid_is_refused(
    run_app: AppRunner, tmp_path: Path, algorithm: str
) -> None:
    key_file = write_private_pem(tmp_path / "signing.pem", new_private_key(algorithm))
    attacker = new_private_key(algorithm)
    attacker_jwk = json.loads(jwt.get_algorithm_by_name(algorithm).to_jwk(attacker.public_key()))
    async with run_app(jwt_algorithm=algorithm, jwt_private_key_file=key_file) as client:
        token = _access(await client.register("mallory"))
        _, claims, _ = split_token(token)
        forged_roles = {**claims, "roles": ["USER", "ADMIN"]}
        same_kid = jwt.encode(
            forged_roles, attacker, algorithm=algorithm, headers={"kid": kid_of(token)}
        )
        await assert_refused(client, "TOKEN_INVALID", token=same_kid)
        # An embedded key (RFC 7515 `jwk` header) is never trusted.
        embedded = jwt.encode(
            forged_roles,
            attacker,
            algorithm=algorithm,
            headers={"kid": kid_of(token), "jwk": attacker_jwk},
        )
        await assert_refused(client, "TOKEN_INVALID", token=embedded)


async def test_hs256_signed_with_the_rsa_public_key_is_refused_under_rs256(
    run_app: AppRunner, tmp_path: Path
) -> None:
    private = new_private_key("RS256")
    key_file = write_private_pem(tmp_path / "signing.pem", private)
    public = private.public_key()
    candidates = [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
    ]
    async with run_app(jwt_algorithm="RS256", jwt_private_key_file=key_file) as client:
        token = _access(await client.register("mallory"))
        header, claims, _ = split_token(token)
        jwks_text = (await client.http.get("/.well-known/jwks.json")).content
        for key_bytes in [*candidates, *(c.strip() for c in candidates), jwks_text]:
            confused = sign_hs256_by_hand({**header, "alg": "HS256"}, claims, key_bytes)
            await assert_refused(client, "TOKEN_INVALID", token=confused)


async def test_another_asymmetric_algorithm_is_refused_under_rs256(
    run_app: AppRunner, tmp_path: Path
) -> None:
    key_file = write_private_pem(tmp_path / "signing.pem", new_private_key("RS256"))
    async with run_app(jwt_algorithm="RS256", jwt_private_key_file=key_file) as client:
        token = _access(await client.register("mallory"))
        _, claims, _ = split_token(token)
        for algorithm in ("ES256", "EdDSA"):
            other = jwt.encode(
                claims,
                new_private_key(algorithm),
                algorithm=algorithm,
                headers={"kid": kid_of(token)},
            )
            await assert_refused(client, "TOKEN_INVALID", token=other)


async def test_jwks_is_404_under_hs256(client: GraphQLClient) -> None:
    response = await client.http.get("/.well-known/jwks.json")
    assert response.status_code == 404
    assert TEST_SECRET not in response.text


# --- key rotation --------------------------------------------------------------------------


async def test_hs256_key_rotation(run_app: AppRunner) -> None:
    secret_a, secret_b = TEST_SECRET, OTHER_SECRET
    async with run_app(jwt_secret=secret_a) as client:
        old = await client.register("mallory")
    user_id = old["user"]["id"]

    async with run_app(jwt_secret=secret_b, jwt_previous_secrets=secret_a) as client:
        await assert_accepted(client, _access(old), user_id)  # nobody is logged out
        login = await client.login("mallory")
        assert login.errors == []
        new_token = login.data["login"]["accessToken"]
        await assert_accepted(client, new_token, user_id)
    assert kid_of(new_token) != kid_of(_access(old))
    # The new key signs; the previous one only verifies.
    jwt.decode(new_token, secret_b, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(new_token, secret_a, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE)

    async with run_app(jwt_secret=secret_b) as client:
        await assert_refused(client, "TOKEN_INVALID", token=_access(old))
        assert_unauthenticated(await client.refresh(old["refreshToken"]), "TOKEN_INVALID")
        await assert_accepted(client, new_token, user_id)


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
async def test_asymmetric_key_rotation(run_app: AppRunner, tmp_path: Path, algorithm: str) -> None:
    key_a, key_b = new_private_key(algorithm), new_private_key(algorithm)
    file_a = write_private_pem(tmp_path / "a.pem", key_a)
    file_b = write_private_pem(tmp_path / "b.pem", key_b)
    retired_a = write_public_pem(tmp_path / "a.pub.pem", key_a)  # only the public half is kept

    async with run_app(jwt_algorithm=algorithm, jwt_private_key_file=file_a) as client:
        old = await client.register("mallory")
    user_id = old["user"]["id"]

    rotated = {"jwt_algorithm": algorithm, "jwt_private_key_file": file_b}
    async with run_app(**rotated, jwt_previous_key_files=str(retired_a)) as client:
        await assert_accepted(client, _access(old), user_id)
        login = await client.login("mallory")
        assert login.errors == []
        new_token = login.data["login"]["accessToken"]
        await assert_accepted(client, new_token, user_id)
        jwks = (await client.http.get("/.well-known/jwks.json")).json()
    assert kid_of(new_token) != kid_of(_access(old))
    assert {key["kid"] for key in jwks["keys"]} == {kid_of(new_token), kid_of(_access(old))}
    # Both verify with plain PyJWT from the JWKS, each under its own kid.
    _verify_with_jwk(_access(old), _jwk_for(jwks, _access(old)), algorithm)
    _verify_with_jwk(new_token, _jwk_for(jwks, new_token), algorithm)
    jwt.decode(
        new_token, key_b.public_key(), algorithms=[algorithm], issuer=ISSUER, audience=AUDIENCE
    )

    async with run_app(**rotated) as client:
        await assert_refused(client, "TOKEN_INVALID", token=_access(old))
        await assert_accepted(client, new_token, user_id)
        jwks = (await client.http.get("/.well-known/jwks.json")).json()
    assert [key["kid"] for key in jwks["keys"]] == [kid_of(new_token)]


# --- production start-up refusals ----------------------------------------------------------

STRONG_SECRET = "p" * 32


def production_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "production",
        "mongodb_url": "mongodb://127.0.0.1:1",
        "jwt_secret": STRONG_SECRET,
        "data_dir": tmp_path / "data",
        **overrides,
    }
    return Settings(**values)


@pytest.mark.parametrize(
    "secret", [STRONG_SECRET, "é" * 16, TEST_SECRET], ids=["32-ascii", "32-bytes-utf8", "long"]
)
def test_production_starts_with_a_secret_of_at_least_32_bytes(tmp_path: Path, secret: str) -> None:
    settings = production_settings(tmp_path, jwt_secret=secret)
    assert load_keyring(settings).algorithm == "HS256"
    create_app(settings)
    assert not (tmp_path / "data").exists(), "production generated a development secret"


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"jwt_secret": None}, "JWT_SECRET"),
        ({"jwt_secret": ""}, "JWT_SECRET"),
        ({"jwt_secret": "s" * 31}, "JWT_SECRET"),
        ({"jwt_secret": "é" * 15 + "s"}, "JWT_SECRET"),  # 31 bytes, 16 characters
        ({"mongodb_url": None}, "MONGODB_URL"),
        ({"mongodb_url": ""}, "MONGODB_URL"),
        ({"jwt_algorithm": "ES256", "jwt_secret": None}, "JWT_PRIVATE_KEY_FILE"),
    ],
    ids=["no-secret", "empty", "31-bytes", "31-bytes-utf8", "no-url", "empty-url", "no-key"],
)
def test_production_settings_refuse_naming_the_variable(
    tmp_path: Path, overrides: dict[str, Any], variable: str
) -> None:
    with pytest.raises(ValidationError, match=variable):
        production_settings(tmp_path, **overrides)


def _unreadable_key_files(tmp_path: Path) -> dict[str, Callable[[], Path]]:
    def missing() -> Path:
        return tmp_path / "no-such-key.pem"

    def directory() -> Path:
        (tmp_path / "a-directory.pem").mkdir()
        return tmp_path / "a-directory.pem"

    def not_pem() -> Path:
        path = tmp_path / "garbage.pem"
        path.write_text("this is not a key\n")
        return path

    def encrypted() -> Path:
        path = tmp_path / "encrypted.pem"
        path.write_bytes(
            new_private_key("RS256").private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            )
        )
        return path

    def wrong_type() -> Path:
        return write_private_pem(tmp_path / "ed25519.pem", new_private_key("EdDSA"))

    def too_short() -> Path:
        weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505  # the weak key refused
        return write_private_pem(tmp_path / "rsa1024.pem", weak)

    return {
        "missing": missing,
        "directory": directory,
        "not-pem": not_pem,
        "encrypted": encrypted,
        "wrong-type": wrong_type,
        "rsa-1024": too_short,
    }


@pytest.mark.parametrize(
    "case", ["missing", "directory", "not-pem", "encrypted", "wrong-type", "rsa-1024"]
)
def test_production_refuses_an_unusable_private_key_file(tmp_path: Path, case: str) -> None:
    key_file = _unreadable_key_files(tmp_path)[case]()
    settings = production_settings(tmp_path, jwt_algorithm="RS256", jwt_private_key_file=key_file)
    with pytest.raises(ConfigError, match="JWT_PRIVATE_KEY_FILE"):
        load_keyring(settings)
    with pytest.raises(ConfigError, match="JWT_PRIVATE_KEY_FILE"):
        create_app(settings)


def test_an_unusable_previous_key_file_is_refused(tmp_path: Path) -> None:
    key_file = write_private_pem(tmp_path / "signing.pem", new_private_key("ES256"))
    settings = production_settings(
        tmp_path,
        jwt_algorithm="ES256",
        jwt_private_key_file=key_file,
        jwt_previous_key_files=str(tmp_path / "gone.pem"),
    )
    with pytest.raises(ConfigError, match="JWT_PREVIOUS_KEY_FILES"):
        create_app(settings)


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"MONGODB_URL": "mongodb://127.0.0.1:1"}, "JWT_SECRET"),
        ({"MONGODB_URL": "mongodb://127.0.0.1:1", "JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"JWT_SECRET": STRONG_SECRET}, "MONGODB_URL"),
        (
            {
                "MONGODB_URL": "mongodb://127.0.0.1:1",
                "JWT_ALGORITHM": "RS256",
                "JWT_PRIVATE_KEY_FILE": "/nonexistent/key.pem",
            },
            "JWT_PRIVATE_KEY_FILE",
        ),
    ],
    ids=["no-secret", "short-secret", "no-url", "unreadable-key"],
)
def test_serve_refuses_to_start_in_production(
    tmp_path: Path, extra: dict[str, str], variable: str
) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "APP_ENV": "production",
        "DATA_DIR": str(tmp_path / "data"),
        **extra,
    }
    started = time.monotonic()
    done = subprocess.run(  # our own CLI with fixed arguments
        [sys.executable, "-m", "graphql_app", "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert variable in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert time.monotonic() - started < 45, "the refusal should be immediate"
    assert not (tmp_path / "data").exists(), "it started something before refusing"
