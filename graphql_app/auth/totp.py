"""Two-factor: TOTP codes (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of clock
drift either way) and recovery codes. The only importer of `pyotp`.

Recovery codes carry 80 random bits, so a fast keyed hash (HMAC-SHA256 with a per-user salt)
is enough to store them: unlike a password, such a code cannot be found by trying guesses
against its hash. The per-user salt keeps equal codes of two users from hashing alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from enum import StrEnum

import pyotp

from ..models import User

ISSUER = "graphql-app"
RECOVERY_CODES = 10
_SIX_DIGITS = re.compile(r"\d{6}")


class Used(StrEnum):
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def is_totp_code(code: str) -> bool:
    return bool(_SIX_DIGITS.fullmatch(code))


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time-step (now, or one either side) whose code this is; None if none."""
    if not is_totp_code(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(time.time() if now is None else now) // totp.interval
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes like `k3fa-9qzp-2mxc-7tbe` (80 bits each)."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def new_salt() -> str:
    return secrets.token_hex(16)


def recovery_hash(code: str, salt: str) -> str:
    """The stored form; spaces, dashes and case do not matter when the user types it."""
    canonical = re.sub(r"[\s-]", "", code).lower()
    return hmac.new(bytes.fromhex(salt), canonical.encode(), hashlib.sha256).hexdigest()


async def accept(user: User, code: str) -> Used | None:
    """Use a second factor of a user with two-factor on: a TOTP code whose time-step is
    later than the last one accepted (so each code works once), or an unused recovery code.
    Each is one conditional update, so two concurrent uses cannot both succeed."""
    code, secret, users = code.strip(), user.totp_secret, User.get_pymongo_collection()
    if secret is None:
        return None
    step = matching_step(secret, code)
    if step is not None:
        done = await users.update_one(
            {"_id": user.id, "totp_secret": secret, "totp_last_step": {"$lt": step}},
            {"$set": {"totp_last_step": step}},
        )
        return Used.TOTP if done.modified_count == 1 else None
    if user.recovery_salt is None or is_totp_code(code):
        return None
    digest = recovery_hash(code, user.recovery_salt)
    done = await users.update_one(
        {"_id": user.id, "recovery_codes": digest}, {"$pull": {"recovery_codes": digest}}
    )
    return Used.RECOVERY_CODE if done.modified_count == 1 else None
