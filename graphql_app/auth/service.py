"""The token lifecycle: register, login (with its second factor), refresh, reauthenticate,
logout, logoutAll, changePassword, resetPassword, sessions, and the authentication of a
request. Each step that changes an account records a security event. Knows nothing of
GraphQL or HTTP."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from beanie import PydanticObjectId
from pymongo import ReturnDocument

from .. import users, validation
from ..client_address import ClientInfo
from ..errors import BadUserInput, DomainError, Forbidden, NotFound, Reason, Unauthenticated
from ..ids import object_id
from ..models import Role, User
from ..security_events import Kind, SecurityLog
from ..settings import Settings
from . import email_tokens, sessions, totp
from .email_tokens import Purpose
from .passwords import burn_verification, hash_password, verify_password
from .sessions import Current
from .throttle import LoginThrottle
from .tokens import Claims, TokenCodec, TokenType
from .user_lookup import UserLookup


@dataclass(frozen=True, slots=True)
class AuthResult:
    user: User
    access_token: str
    refresh_token: str
    expires_in: int
    sid: str


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
        self.events = SecurityLog(settings.security_event_ttl)
        self.users = UserLookup()

    async def register(
        self, username: str, password: str, client: ClientInfo, email: str | None = None
    ) -> AuthResult:
        rounds = self.settings.bcrypt_rounds
        user = await users.create_user(username, password, rounds, email=email)
        result = await self._start_session(user, client)
        await self.events.record(_user_id(user), Kind.REGISTERED, client, result.sid)
        return result

    async def login(
        self, username: str, password: str, client: ClientInfo, otp: str | None = None
    ) -> AuthResult:
        await self.throttle.check(username, client.address)
        user = await users.get_by_username(username)
        if user is None:
            await burn_verification(password, self.settings.bcrypt_rounds)
        elif await verify_password(password, user.password_hash):
            if user.totp_enabled:
                await self._second_factor(username, user, otp, client)
            await self.throttle.clear(username, client.address)
            result = await self._start_session(user, client)
            await self.events.record(_user_id(user), Kind.LOGIN_SUCCEEDED, client, result.sid)
            return result
        await self.failed_proof(username, user, client)
        raise Unauthenticated(Reason.BAD_CREDENTIALS)

    async def _second_factor(
        self, username: str, user: User, otp: str | None, client: ClientInfo
    ) -> None:
        """The right password of a user with two-factor on: without a code, ask for one
        (neither a failure nor a success for throttling); a wrong or replayed code is a
        failed login."""
        if not otp:
            raise Unauthenticated(Reason.MFA_REQUIRED)
        used = await totp.accept(user, otp)
        if used is None:
            await self.failed_proof(username, user, client)
            raise Unauthenticated(Reason.BAD_CREDENTIALS)
        if used is totp.Used.RECOVERY_CODE:
            await self.events.record(_user_id(user), Kind.RECOVERY_CODE_USED, client)

    async def refresh(self, refresh_token: str | None, client: ClientInfo) -> AuthResult:
        if not refresh_token:
            raise Unauthenticated(Reason.MISSING_TOKEN)
        claims = self.codec.verify(refresh_token, TokenType.REFRESH)
        user = await self._load(claims)
        current = await sessions.rotate(
            claims.sid,
            _user_id(user),
            claims.jti,
            client,
            refresh_ttl=self.settings.refresh_token_ttl,
            grace=self.settings.refresh_reuse_interval,
        )
        if current is None:  # an already used refresh token: theft, the session ends
            if await sessions.revoke(claims.sid, _user_id(user), self.settings.access_token_ttl):
                await self.events.record(
                    _user_id(user), Kind.REFRESH_REUSE_DETECTED, client, claims.sid
                )
            raise Unauthenticated(Reason.TOKEN_REVOKED)
        return self._issue(user, current)

    async def reauthenticate(
        self, principal: Principal, password: str, client: ClientInfo
    ) -> AuthResult:
        """Prove the password again: a fresh pair in the same session, with a new auth_time.
        A wrong password is throttled like a failed login and leaves the session as it is."""
        user = principal.user
        await self.prove_password(user, password, client)
        current = await sessions.renew(
            principal.claims.sid,
            principal.user_id,
            client,
            refresh_ttl=self.settings.refresh_token_ttl,
            auth_time=int(time.time()),
        )
        await self.events.record(principal.user_id, Kind.REAUTHENTICATED, client, current.sid)
        return self._issue(user, current)

    async def logout(
        self, refresh_token: str | None, caller: Principal | None, client: ClientInfo
    ) -> bool:
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
            user_id = _object_id(sub)
            if await sessions.revoke(sid, user_id, self.settings.access_token_ttl):
                await self.events.record(user_id, Kind.LOGGED_OUT, client, sid)
        return True

    async def logout_all(self, principal: Principal, client: ClientInfo) -> bool:
        await self._revoke_everything(principal.user, {})
        sid = principal.claims.sid
        await self.events.record(principal.user_id, Kind.LOGGED_OUT_EVERYWHERE, client, sid)
        return True

    async def change_password(
        self, principal: Principal, current: str, new: str, client: ClientInfo
    ) -> AuthResult:
        validation.password(new)
        if not await verify_password(current, principal.user.password_hash):
            raise BadUserInput("Current password is incorrect")
        hashed = await hash_password(new, self.settings.bcrypt_rounds)
        updated = await self._revoke_everything(principal.user, {"password_hash": hashed})
        result = await self._start_session(updated, client)
        await self.events.record(principal.user_id, Kind.PASSWORD_CHANGED, client, result.sid)
        return result

    async def reset_password(self, token: str, new: str, client: ClientInfo) -> AuthResult:
        """Set a new password with a reset link's token: single use; every session ends,
        the lockout is cleared, and a new session starts (its password proof now)."""
        validation.password(new)  # before the token is used up
        used = await email_tokens.consume(token, Purpose.RESET)
        user = await User.get(used.user_id)
        if user is None or user.email != used.email or not user.email_verified:
            raise BadUserInput("The link is invalid, expired or already used")
        hashed = await hash_password(new, self.settings.bcrypt_rounds)
        updated = await self._revoke_everything(user, {"password_hash": hashed})
        await email_tokens.void(_user_id(user), Purpose.RESET)
        await self.throttle.clear_username(user.username)
        result = await self._start_session(updated, client)
        await self.events.record(_user_id(user), Kind.PASSWORD_RESET, client, result.sid)
        return result

    async def prove_password(self, user: User, password: str, client: ClientInfo) -> None:
        """A password proof by a signed-in user (reauthenticate, deleteAccount): throttled
        like a login; a wrong password is BAD_USER_INPUT and leaves the session as it is."""
        await self.throttle.check(user.username, client.address)
        if not await verify_password(password, user.password_hash):
            await self.failed_proof(user.username, user, client)
            raise BadUserInput("Password is incorrect")
        await self.throttle.clear(user.username, client.address)

    async def active_sessions(self, principal: Principal) -> list[dict[str, Any]]:
        return await sessions.active(principal.user_id)

    async def revoke_session(self, principal: Principal, sid: str, client: ClientInfo) -> bool:
        if not await sessions.revoke(sid, principal.user_id, self.settings.access_token_ttl):
            raise NotFound("Session not found")
        await self.events.record(principal.user_id, Kind.SESSION_REVOKED, client, sid)
        return True

    async def set_roles(self, user_id: str, roles: Sequence[Role], client: ClientInfo) -> User:
        user = await users.set_roles(user_id, roles)
        await self.events.record(_user_id(user), Kind.ROLES_CHANGED, client)
        return user

    async def unlock(self, username: str, client: ClientInfo | None) -> bool:
        """Clear the username's failed-login lockout (every address)."""
        user = await users.get_by_username(username)
        if user is None:
            raise NotFound("User not found")
        await self.throttle.clear_username(username)
        await self.events.record(_user_id(user), Kind.UNLOCKED, client)
        return True

    async def authenticate(self, access_token: str) -> Principal:
        """Verify the token, then load its user in one lookup and check the token against it."""
        claims = self.codec.verify(access_token, TokenType.ACCESS)
        return Principal(await self._load(claims), claims)

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

    async def failed_proof(self, username: str, user: User | None, client: ClientInfo) -> None:
        """Count a wrong password (or second factor); record it (and a lockout it causes)
        for an existing user. An unknown user costs the same database round trips, so
        timing tells nothing."""
        locked = await self.throttle.record_failure(username, client.address)
        for kind, happened in ((Kind.LOGIN_FAILED, True), (Kind.LOGIN_LOCKED, locked)):
            if not happened:
                continue
            if user is None:
                await self.events.nothing()
            else:
                await self.events.record(_user_id(user), kind, client)

    async def _load(self, claims: Claims) -> User:
        """The one way a token's user is loaded: a lookup by `_id` (the database's cheapest
        query: a filter on the revoked sessions cost the embedded one twice as much; batched
        with the concurrent requests' lookups), then the token checked against the stored
        user here, so a refusal names its reason without a second lookup: TOKEN_REVOKED if
        logoutAll/changePassword (token version) or a logout or reuse detection (revoked
        sessions) has ended it since, TOKEN_INVALID if the user is gone."""
        raw = await self.users.get(_object_id(claims.sub))
        if raw is None:
            raise Unauthenticated(Reason.TOKEN_INVALID)
        if _ended(claims, raw):
            raise Unauthenticated(Reason.TOKEN_REVOKED)
        return cast(User, User.model_validate(raw))

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

    async def _start_session(self, user: User, client: ClientInfo) -> AuthResult:
        """A new session whose password proof is now (every caller has just checked one)."""
        current = await sessions.open_session(
            _user_id(user),
            client,
            refresh_ttl=self.settings.refresh_token_ttl,
            auth_time=int(time.time()),
        )
        return self._issue(user, current)

    def _issue(self, user: User, current: Current) -> AuthResult:
        sub, tv, sid = str(user.id), user.token_version, current.sid
        ttl = self.settings.access_token_ttl
        access = self.codec.issue(
            TokenType.ACCESS,
            sub=sub,
            sid=sid,
            tv=tv,
            ttl=ttl,
            auth_time=current.auth_time,
            roles=[r.value for r in user.roles],
        )
        refresh = self.codec.issue(
            TokenType.REFRESH,
            sub=sub,
            sid=sid,
            tv=tv,
            ttl=self.settings.refresh_token_ttl,
            auth_time=current.auth_time,
            jti=current.refresh_jti,
            iat=current.refresh_iat,
        )
        return AuthResult(user, access.token, refresh.token, ttl, sid)


def _revocation(principal: Principal, raw: Mapping[str, Any] | None) -> DomainError | None:
    claims = principal.claims
    if raw is None:
        return Unauthenticated(Reason.TOKEN_INVALID)
    if _ended(claims, raw):
        return Unauthenticated(Reason.TOKEN_REVOKED)
    if raw.get("roles") != [role.value for role in principal.user.roles]:
        return Forbidden("Roles changed: subscribe again")
    return None


def _ended(claims: Claims, raw: Mapping[str, Any]) -> bool:
    """Whether the stored user has ended the token since it was issued: a newer token
    version (logoutAll, changePassword, a password reset), or its session among the recently
    revoked ones (logout, revokeSession, refresh-token reuse)."""
    if raw.get("token_version") != claims.tv:
        return True
    return any(entry.get("sid") == claims.sid for entry in raw.get("revoked_sessions", ()))


def _object_id(sub: str) -> PydanticObjectId:
    user_id = object_id(sub)
    if user_id is None:
        raise Unauthenticated(Reason.TOKEN_INVALID)
    return user_id


def _user_id(user: User) -> PydanticObjectId:
    assert user.id is not None, "a stored user has an id"  # noqa: S101
    return user.id
