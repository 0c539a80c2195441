"""Accounts people can recover: email verification and change, password-reset requests,
account deletion and two-factor set-up. Messages go through the mail queue, written in the
same request. Knows nothing of GraphQL or HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from . import security_events, todos, users, validation
from .auth import email_tokens, sessions, totp
from .auth.email_tokens import Purpose
from .auth.service import AuthResult, AuthService, Principal
from .auth.throttle import hit, limit
from .client_address import ClientInfo
from .errors import BadUserInput
from .mail import letters
from .mail.queue import Letter, MailQueue
from .models import Role, User
from .security_events import Kind
from .settings import Settings

HOUR = timedelta(hours=1)
VERIFICATIONS_PER_HOUR = 5  # requestEmailVerification / changeEmail per user
RESET_JOB = "password_reset"


class AccountService:
    def __init__(self, settings: Settings, auth: AuthService, mail: MailQueue) -> None:
        self.settings = settings
        self.auth = auth
        self.mail = mail

    # --- email ---------------------------------------------------------------------------

    async def register(
        self, username: str, password: str, email: str | None, client: ClientInfo
    ) -> AuthResult:
        """`register`, and a verification link when an email address was given."""
        result = await self.auth.register(username, password, client, email)
        if result.user.email:
            await self._send_verification(result.user, result.user.email)
        return result

    async def request_email_verification(self, principal: Principal) -> bool:
        """(Re)send a link to the pending address, or to the current one if unverified."""
        user = principal.user
        target = user.pending_email or (None if user.email_verified else user.email)
        if target is None:
            raise BadUserInput("There is no unverified email address")
        await limit(f"verify:{principal.user_id}", HOUR, VERIFICATIONS_PER_HOUR)
        await self._send_verification(user, target)
        return True

    async def verify_email(self, token: str, client: ClientInfo) -> User:
        used = await email_tokens.consume(token, Purpose.VERIFY)
        user = await User.get(used.user_id)
        if user is None or used.email not in (user.email, user.pending_email):
            raise BadUserInput("The link is invalid, expired or already used")
        changed = used.email != user.email
        try:
            raw = await User.get_pymongo_collection().find_one_and_update(
                {"_id": user.id},
                {"$set": {"email": used.email, "email_verified": True, "pending_email": None}},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # another account verified this address meanwhile
            raise BadUserInput("Email is already taken") from None
        if raw is None:
            raise BadUserInput("The link is invalid, expired or already used")
        if changed:  # reset links went to the old address
            await email_tokens.void(used.user_id, Purpose.RESET)
        kind = Kind.EMAIL_CHANGED if changed else Kind.EMAIL_VERIFIED
        await self.auth.events.record(used.user_id, kind, client)
        verified: User = User.model_validate(raw)
        return verified

    async def change_email(self, principal: Principal, new_email: str) -> bool:
        """The new address gets a verification link and replaces the old one once verified;
        the old address is told."""
        user, address = principal.user, validation.email(new_email)
        if address == user.email:
            raise BadUserInput("That is already the account's email address")
        if await users.get_by_email(address, verified=False):
            raise BadUserInput("Email is already taken")
        await limit(f"verify:{principal.user_id}", HOUR, VERIFICATIONS_PER_HOUR)
        await User.get_pymongo_collection().update_one(
            {"_id": user.id}, {"$set": {"pending_email": address}}
        )
        await self._send_verification(user, address)
        if user.email:
            await self.mail.send(letters.email_change_notice(user.email, user.username), user.id)
        return True

    async def _send_verification(self, user: User, address: str) -> None:
        ttl = self.settings.email_verification_ttl
        token = await email_tokens.issue(_id(user), Purpose.VERIFY, address, ttl)
        letter = letters.verification(address, user.username, self.settings.public_url, token, ttl)
        await self.mail.send(letter, user.id)

    # --- password reset ------------------------------------------------------------------

    async def request_password_reset(self, email: str, client: ClientInfo) -> bool:
        """Always True, in the same time whatever the address: this request only counts the
        client's requests and queues a job; the mail worker looks the address up later."""
        await limit(f"reset:{client.address}", HOUR, self.settings.password_reset_max_per_address)
        try:
            address = validation.email(email)
        except BadUserInput:  # no account can have it: nothing to send, the same answer
            return True
        await self.mail.job(
            RESET_JOB, email=address, address=client.address, user_agent=client.user_agent
        )
        return True

    async def prepare_reset(self, job: dict[str, Any]) -> tuple[Letter, PydanticObjectId] | None:
        """The mail worker's handler of a reset request: a link for a verified address
        (earlier links then stop working), nothing for an unknown one or past the
        per-address limit."""
        user = await users.get_by_email(job["email"], verified=True)
        if user is None or user.email is None:
            return None
        count, _ = await hit(f"reset-email:{user.email}", HOUR)
        if count > self.settings.password_reset_max_per_email:
            return None
        ttl = self.settings.password_reset_ttl
        token = await email_tokens.issue(_id(user), Purpose.RESET, user.email, ttl)
        client = ClientInfo(job.get("address") or "unknown", job.get("user_agent"))
        await self.auth.events.record(_id(user), Kind.PASSWORD_RESET_REQUESTED, client)
        letter = letters.password_reset(
            user.email, user.username, self.settings.public_url, token, ttl
        )
        return letter, _id(user)

    # --- deletion ------------------------------------------------------------------------

    async def delete_account(self, principal: Principal, password: str, client: ClientInfo) -> bool:
        """Delete the user first (every token then fails its user lookup at once), then what
        was theirs. Queued mail to them that no worker holds is cancelled."""
        user = principal.user
        await self.auth.prove_password(user, password, client)
        if Role.ADMIN in user.roles:
            admins = {"roles": Role.ADMIN.value, "_id": {"$ne": user.id}}
            if await User.get_pymongo_collection().count_documents(admins) == 0:
                raise BadUserInput("The last admin cannot delete their account")
        user_id = principal.user_id
        await User.get_pymongo_collection().delete_one({"_id": user_id})
        await sessions.delete_all(user_id)
        await todos.delete_all(user_id)
        await security_events.delete_all(user_id)
        await email_tokens.void(user_id)
        await self.mail.cancel_for(user_id)
        await self.auth.throttle.clear_username(user.username)
        return True

    # --- two-factor ----------------------------------------------------------------------

    async def begin_totp_setup(self, principal: Principal) -> tuple[str, str]:
        """A new secret, pending until confirmed with a code: (secret, otpauth URI)."""
        if principal.user.totp_enabled:
            raise BadUserInput("Two-factor is already on: disable it first")
        secret = totp.new_secret()
        await User.get_pymongo_collection().update_one(
            {"_id": principal.user_id}, {"$set": {"totp_pending_secret": secret}}
        )
        return secret, totp.provisioning_uri(secret, principal.user.username)

    async def confirm_totp_setup(
        self, principal: Principal, code: str, client: ClientInfo
    ) -> list[str]:
        """Turn two-factor on with a code of the pending secret; return the recovery codes
        (shown this once: only their hashes are kept)."""
        user = principal.user
        pending = user.totp_pending_secret
        if user.totp_enabled or pending is None:
            raise BadUserInput("No two-factor set-up is pending: call beginTotpSetup")
        step = totp.matching_step(pending, code.strip())
        if step is None:
            raise BadUserInput("The code is incorrect")
        codes, salt = totp.new_recovery_codes(), totp.new_salt()
        done = await User.get_pymongo_collection().update_one(
            {"_id": user.id, "totp_pending_secret": pending, "totp_secret": None},
            {
                "$set": {
                    "totp_secret": pending,
                    "totp_pending_secret": None,
                    "totp_last_step": step,
                    "recovery_salt": salt,
                    "recovery_codes": [totp.recovery_hash(c, salt) for c in codes],
                }
            },
        )
        if done.modified_count != 1:
            raise BadUserInput("The set-up changed meanwhile: call beginTotpSetup again")
        await self.auth.events.record(principal.user_id, Kind.MFA_ENABLED, client)
        return codes

    async def disable_totp(self, principal: Principal, code: str, client: ClientInfo) -> bool:
        """With a current code or a recovery code; a wrong one counts as a failed login."""
        user = principal.user
        if not user.totp_enabled:
            raise BadUserInput("Two-factor is not on")
        await self.auth.throttle.check(user.username, client.address)
        used = await totp.accept(user, code)
        if used is None:
            await self.auth.failed_proof(user.username, user, client)
            raise BadUserInput("The code is incorrect")
        if used is totp.Used.RECOVERY_CODE:
            await self.auth.events.record(principal.user_id, Kind.RECOVERY_CODE_USED, client)
        await User.get_pymongo_collection().update_one(
            {"_id": user.id},
            {
                "$set": {
                    "totp_secret": None,
                    "totp_pending_secret": None,
                    "recovery_salt": None,
                    "recovery_codes": [],
                }
            },
        )
        await self.auth.events.record(principal.user_id, Kind.MFA_DISABLED, client)
        return True


def _id(user: User) -> PydanticObjectId:
    assert user.id is not None, "a stored user has an id"  # noqa: S101
    return user.id
