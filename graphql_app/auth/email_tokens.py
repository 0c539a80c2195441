"""Tokens sent by mail (email verification, password reset): 256 random bits, URL-safe,
stored only as their SHA-256 (a fast hash suffices for a random value that long: it
cannot be guessed from the hash), single use, expiring."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from enum import StrEnum

from beanie import PydanticObjectId

from ..errors import BadUserInput
from ..models import EmailToken, utcnow


class Purpose(StrEnum):
    VERIFY = "verify"
    RESET = "reset"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(user_id: PydanticObjectId, purpose: Purpose, email: str, ttl: int) -> str:
    """A new token; the user's earlier tokens of this purpose stop working."""
    await void(user_id, purpose)
    token = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=ttl)
    await EmailToken(
        id=_digest(token), user_id=user_id, purpose=purpose.value, email=email, expires_at=expires
    ).insert()
    return token


async def consume(token: str, purpose: Purpose) -> EmailToken:
    """Use a token up (one conditional delete: two uses cannot both succeed)."""
    raw = await EmailToken.get_pymongo_collection().find_one_and_delete(
        {"_id": _digest(token), "purpose": purpose.value, "expires_at": {"$gt": utcnow()}}
    )
    if raw is None:
        raise BadUserInput("The link is invalid, expired or already used")
    used: EmailToken = EmailToken.model_validate(raw)
    return used


async def void(user_id: PydanticObjectId, purpose: Purpose | None = None) -> None:
    where: dict[str, object] = {"user_id": user_id}
    if purpose is not None:
        where["purpose"] = purpose.value
    await EmailToken.get_pymongo_collection().delete_many(where)
