"""Refresh-token families ("sessions") in MongoDB.

Every state change is one conditional update with the expected state in the filter, so two
concurrent refreshes with the same token cannot both win, and every check compares the expiry
in the query itself (TTL deletion only keeps the collection small).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from beanie import PydanticObjectId

from ..errors import Reason, Unauthenticated
from ..models import Session, User, utcnow


async def open_session(user_id: PydanticObjectId, ttl: int) -> tuple[str, str]:
    """Start a family; return its id and the jti its first refresh token must carry."""
    sid, jti = secrets.token_urlsafe(16), uuid.uuid4().hex
    expires_at = utcnow() + timedelta(seconds=ttl)
    await Session(id=sid, user_id=user_id, refresh_jti=jti, expires_at=expires_at).insert()
    return sid, jti


async def rotate(
    sid: str, user_id: PydanticObjectId, used_jti: str, *, refresh_ttl: int, access_ttl: int
) -> str:
    """Swap the family's current refresh token for a new one; return the new jti.

    A token that is not the current one was already used: the family is revoked at once,
    so both the thief's and the victim's newest tokens stop working.
    """
    now = utcnow()
    new_jti = uuid.uuid4().hex
    rotated = await Session.get_pymongo_collection().find_one_and_update(
        {
            "_id": sid,
            "user_id": user_id,
            "refresh_jti": used_jti,
            "revoked": False,
            "expires_at": {"$gt": now},
        },
        {"$set": {"refresh_jti": new_jti, "expires_at": now + timedelta(seconds=refresh_ttl)}},
        projection={"_id": 1},
    )
    if rotated is None:
        await revoke(sid, user_id, access_ttl)
        raise Unauthenticated(Reason.TOKEN_REVOKED)
    return new_jti


async def revoke(sid: str, user_id: PydanticObjectId, access_ttl: int) -> None:
    """End a session: its refresh token at once, and the access tokens issued in it through
    the user's list of recently revoked sessions, which they are checked against."""
    now = utcnow()
    users = User.get_pymongo_collection()
    # Entries older than an access token's lifetime protect nothing any more.
    await users.update_one(
        {"_id": user_id}, {"$pull": {"revoked_sessions": {"until": {"$lte": now}}}}
    )
    until = now + timedelta(seconds=access_ttl)
    await users.update_one(
        {"_id": user_id}, {"$push": {"revoked_sessions": {"sid": sid, "until": until}}}
    )
    await Session.get_pymongo_collection().update_one({"_id": sid}, {"$set": {"revoked": True}})


async def revoke_all(user_id: PydanticObjectId) -> None:
    await Session.get_pymongo_collection().update_many(
        {"user_id": user_id, "revoked": False}, {"$set": {"revoked": True}}
    )
