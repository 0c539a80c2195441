"""Refresh-token families ("sessions") in MongoDB.

Every state change is one conditional update with the expected state in the filter, so two
concurrent refreshes with the same token cannot both win, and every check compares the expiry
in the query itself (TTL deletion only keeps the collection small).
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument

from ..client_address import ClientInfo
from ..errors import Reason, Unauthenticated
from ..models import Session, User, utcnow


@dataclass(frozen=True, slots=True)
class Current:
    """What the session's current refresh token is made of."""

    sid: str
    refresh_jti: str
    refresh_iat: int
    auth_time: int


def _seen(client: ClientInfo) -> dict[str, Any]:
    return {"last_used_at": utcnow(), "user_agent": client.user_agent, "address": client.address}


def _current(doc: dict[str, Any]) -> Current:
    return Current(doc["_id"], doc["refresh_jti"], doc["refresh_iat"], doc["auth_time"])


def _live(sid: str, user_id: PydanticObjectId) -> dict[str, Any]:
    return {"_id": sid, "user_id": user_id, "revoked": False, "expires_at": {"$gt": utcnow()}}


async def open_session(
    user_id: PydanticObjectId, client: ClientInfo, *, refresh_ttl: int, auth_time: int
) -> Current:
    """Start a family whose password proof is `auth_time`."""
    sid, jti, iat = secrets.token_urlsafe(16), uuid.uuid4().hex, int(time.time())
    seen = _seen(client)
    await Session(
        id=sid,
        user_id=user_id,
        refresh_jti=jti,
        refresh_iat=iat,
        auth_time=auth_time,
        created_at=seen["last_used_at"],
        expires_at=seen["last_used_at"] + timedelta(seconds=refresh_ttl),
        **seen,
    ).insert()
    return Current(sid, jti, iat, auth_time)


async def rotate(
    sid: str,
    user_id: PydanticObjectId,
    used_jti: str,
    client: ClientInfo,
    *,
    refresh_ttl: int,
    grace: int,
) -> Current | None:
    """Swap the family's current refresh token for a new one and return it.

    The immediately previous token, presented again within `grace` seconds of its rotation
    (two tabs refreshing at once), gets the current token back, unchanged. Anything else
    that is not the current token was already used: None, and the caller revokes.
    """
    now, iat = utcnow(), int(time.time())
    new = {"refresh_jti": uuid.uuid4().hex, "refresh_iat": iat}
    collection = Session.get_pymongo_collection()
    rotated = await collection.find_one_and_update(
        {**_live(sid, user_id), "refresh_jti": used_jti},
        {
            "$set": {
                **new,
                **_seen(client),
                "previous_jti": used_jti,
                "rotated_at": now,
                "expires_at": now + timedelta(seconds=refresh_ttl),
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if rotated is None and grace > 0:
        rotated = await collection.find_one_and_update(
            {
                **_live(sid, user_id),
                "previous_jti": used_jti,
                "rotated_at": {"$gt": now - timedelta(seconds=grace)},
            },
            {"$set": _seen(client)},
            return_document=ReturnDocument.AFTER,
        )
    return None if rotated is None else _current(rotated)


async def renew(
    sid: str, user_id: PydanticObjectId, client: ClientInfo, *, refresh_ttl: int, auth_time: int
) -> Current:
    """A fresh refresh token in the same session with a new password proof (reauthenticate);
    the previous token gets no grace."""
    now, iat = utcnow(), int(time.time())
    renewed = await Session.get_pymongo_collection().find_one_and_update(
        _live(sid, user_id),
        {
            "$set": {
                "refresh_jti": uuid.uuid4().hex,
                "refresh_iat": iat,
                "previous_jti": None,
                "auth_time": auth_time,
                "expires_at": now + timedelta(seconds=refresh_ttl),
                **_seen(client),
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if renewed is None:
        raise Unauthenticated(Reason.TOKEN_REVOKED)
    return _current(renewed)


async def active(user_id: PydanticObjectId) -> list[dict[str, Any]]:
    """The user's sessions that are neither revoked nor expired, newest first."""
    query = {"user_id": user_id, "revoked": False, "expires_at": {"$gt": utcnow()}}
    cursor = Session.get_pymongo_collection().find(query).sort([("created_at", -1), ("_id", -1)])
    return await cursor.to_list(None)


async def revoke(sid: str, user_id: PydanticObjectId, access_ttl: int) -> bool:
    """End one of the user's sessions: its refresh token at once, and the access tokens
    issued in it through the user's list of recently revoked sessions, which they are checked
    against. False (and nothing changed) if it is not the user's or was already revoked."""
    ended = await Session.get_pymongo_collection().update_one(
        {"_id": sid, "user_id": user_id, "revoked": False}, {"$set": {"revoked": True}}
    )
    if ended.modified_count == 0:
        return False
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
    return True


async def revoke_all(user_id: PydanticObjectId) -> None:
    await Session.get_pymongo_collection().update_many(
        {"user_id": user_id, "revoked": False}, {"$set": {"revoked": True}}
    )


async def delete_all(user_id: PydanticObjectId) -> None:
    await Session.get_pymongo_collection().delete_many({"user_id": user_id})
