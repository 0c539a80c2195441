"""The token lifecycle: register, login, refresh, logout, logoutAll, changePassword, and the
authentication of a request. Knows nothing of GraphQL or HTTP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from beanie import PydanticObjectId
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument

from .. import users, validation
from ..errors import BadUserInput, DomainError, Forbidden, Reason, Unauthenticated
from ..models import User
from ..settings import Settings
from . import sessions
from .passwords import burn_verification, hash_password, verify_password
from .throttle import LoginThrottle
from .tokens import Claims, TokenCodec, TokenType


@dataclass(frozen=True, slots=True)
class AuthResult:
    user: User
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: the stored user (roles read from it) and the token's claims."""

    user: User
    claims: Claims

    @property
    def user_id(self) -> PydanticObjectId:
        return _user_id(self.user)


class AuthService:
    def __init__(self, settings: Settings, codec: TokenCodec) -> None:
        self.settings = settings
        self.codec = codec
        self.throttle = LoginThrottle(
            settings.login_max_failures,
            settings.login_max_failures_per_address,
            settings.login_window_seconds,
        )

    async def register(self, username: str, password: str) -> AuthResult:
        user = await users.create_user(username, password, self.settings.bcrypt_rounds)
        return await self._start_session(user)

    async def login(self, username: str, password: str, address: str) -> AuthResult:
        await self.throttle.check(username, address)
        user = await users.get_by_username(username)
        if user is None:
            await burn_verification(password, self.settings.bcrypt_rounds)
            ok = False
        else:
            ok = await verify_password(password, user.password_hash)
        if not ok or user is None:
            await self.throttle.record_failure(username, address)
            raise Unauthenticated(Reason.BAD_CREDENTIALS)
        await self.throttle.clear(username, address)
        return await self._start_session(user)

    async def refresh(self, refresh_token: str | None) -> AuthResult:
        if not refresh_token:
            raise Unauthenticated(Reason.MISSING_TOKEN)
        claims = self.codec.verify(refresh_token, TokenType.REFRESH)
        user = await User.get(_object_id(claims.sub))
        if user is None:
            raise Unauthenticated(Reason.TOKEN_INVALID)
        if user.token_version != claims.tv:
            raise Unauthenticated(Reason.TOKEN_REVOKED)
        jti = await sessions.rotate(
            claims.sid, _user_id(user), claims.jti, self._refresh_ttl, self._access_ttl
        )
        return self._issue(user, claims.sid, jti)

    async def logout(self, refresh_token: str | None, caller: Principal | None) -> bool:
        """End the session of the refresh token (and of the caller's access token).

        Idempotent: an expired, revoked or unknown-but-validly-signed token still answers True.
        """
        ended = {(caller.claims.sid, caller.claims.sub)} if caller else set()
        if refresh_token:
            claims = self.codec.verify(refresh_token, TokenType.REFRESH, allow_expired=True)
            ended.add((claims.sid, claims.sub))
        if not ended:
            raise Unauthenticated(Reason.MISSING_TOKEN)
        for sid, sub in ended:
            await sessions.revoke(sid, _object_id(sub), self._access_ttl)
        return True

    async def logout_all(self, user: User) -> bool:
        await self._revoke_everything(user, {})
        return True

    async def change_password(self, user: User, current: str, new: str) -> AuthResult:
        validation.password(new)
        if not await verify_password(current, user.password_hash):
            raise BadUserInput("Current password is incorrect")
        hashed = await hash_password(new, self.settings.bcrypt_rounds)
        updated = await self._revoke_everything(user, {"password_hash": hashed})
        return await self._start_session(updated)

    async def authenticate(self, access_token: str) -> Principal:
        """Verify the token, then fetch the user and check the session concurrently."""
        return await self._load(self.codec.verify(access_token, TokenType.ACCESS))

    async def recheck_many(self, principals: Sequence[Principal]) -> list[DomainError | None]:
        """For long-lived subscriptions, one query for all of them: why each one's token no
        longer holds (revoked, its user deleted, its roles changed), else None. The same
        rules as `_load`; expiry is left to the subscriber's own timer."""
        ids = list({p.user_id for p in principals})
        cursor = User.get_pymongo_collection().find(
            {"_id": {"$in": ids}},
            projection={"token_version": 1, "roles": 1, "revoked_sessions.sid": 1},
        )
        found = {raw["_id"]: raw async for raw in cursor}
        return [_revocation(p, found.get(p.user_id)) for p in principals]

    async def _load(self, claims: Claims) -> Principal:
        """One indexed lookup: the user, if neither logoutAll/changePassword (token version)
        nor a logout or reuse detection (revoked sessions) has ended this token since."""
        user_id = _object_id(claims.sub)
        collection = User.get_pymongo_collection()
        raw = await collection.find_one(
            {
                "_id": user_id,
                "token_version": claims.tv,
                "revoked_sessions.sid": {"$ne": claims.sid},
            },
            projection={"revoked_sessions": 0},
        )
        if raw is None:  # only refusals pay for a second lookup, to name the reason
            exists = await collection.find_one({"_id": user_id}, projection={"_id": 1})
            raise Unauthenticated(Reason.TOKEN_REVOKED if exists else Reason.TOKEN_INVALID)
        return Principal(cast(User, User.model_validate(raw)), claims)

    async def _revoke_everything(self, user: User, changes: dict[str, str]) -> User:
        """Bump the token version (kills every token issued before, in one atomic update with
        `changes`) and close every session."""
        raw = await User.get_pymongo_collection().find_one_and_update(
            {"_id": user.id},
            {"$inc": {"token_version": 1}, "$set": changes}
            if changes
            else {"$inc": {"token_version": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            raise Unauthenticated(Reason.TOKEN_INVALID)
        await sessions.revoke_all(_user_id(user))
        return cast(User, User.model_validate(raw))

    async def _start_session(self, user: User) -> AuthResult:
        sid, jti = await sessions.open_session(_user_id(user), self._refresh_ttl)
        return self._issue(user, sid, jti)

    def _issue(self, user: User, sid: str, refresh_jti: str) -> AuthResult:
        sub, tv = str(user.id), user.token_version
        ttl = self.settings.access_token_ttl
        access = self.codec.issue(
            TokenType.ACCESS, sub=sub, sid=sid, tv=tv, ttl=ttl, roles=[r.value for r in user.roles]
        )
        refresh = self.codec.issue(
            TokenType.REFRESH, sub=sub, sid=sid, tv=tv, ttl=self._refresh_ttl, jti=refresh_jti
        )
        return AuthResult(user, access.token, refresh.token, ttl)

    @property
    def _refresh_ttl(self) -> int:
        return self.settings.refresh_token_ttl

    @property
    def _access_ttl(self) -> int:
        return self.settings.access_token_ttl


def _revocation(principal: Principal, raw: Mapping[str, Any] | None) -> DomainError | None:
    claims = principal.claims
    if raw is None:
        return Unauthenticated(Reason.TOKEN_INVALID)
    revoked = {s["sid"] for s in raw.get("revoked_sessions", [])}
    if raw.get("token_version", 0) != claims.tv or claims.sid in revoked:
        return Unauthenticated(Reason.TOKEN_REVOKED)
    if raw.get("roles") != [role.value for role in principal.user.roles]:
        return Forbidden("Roles changed: subscribe again")
    return None


def _object_id(sub: str) -> PydanticObjectId:
    try:
        return PydanticObjectId(ObjectId(sub))
    except (InvalidId, TypeError):
        raise Unauthenticated(Reason.TOKEN_INVALID) from None


def _user_id(user: User) -> PydanticObjectId:
    assert user.id is not None, "a stored user has an id"  # noqa: S101
    return user.id
