"""The mail queue in MongoDB: written in the request that causes a message, read by the
workers (`mail.worker`). Every state change is one conditional update naming the claim, so
two workers never both own a message."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.utils import make_msgid
from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument

from ..models import OutgoingMail, utcnow

KEEP_FINISHED = timedelta(days=7)  # sent/failed entries (bodies removed) kept for inspection


@dataclass(frozen=True, slots=True)
class Letter:
    """What a message says; the queue adds the envelope."""

    to: str
    subject: str
    body: str


class MailQueue:
    """Enqueues messages and jobs; `wake` tells this process's worker without waiting for
    its next poll (workers of other processes poll)."""

    def __init__(self) -> None:
        self.wake = asyncio.Event()

    async def send(self, letter: Letter, user_id: PydanticObjectId | None) -> None:
        await OutgoingMail(kind="message", user_id=user_id, **_fields(letter)).insert()
        self.wake.set()

    async def job(self, kind: str, **job: Any) -> None:
        """A job the worker turns into a message, or drops (see `MailWorker`)."""
        await OutgoingMail(kind=kind, job=job).insert()
        self.wake.set()

    async def cancel_for(self, user_id: PydanticObjectId) -> None:
        """Drop the user's messages no live worker holds (one being sent may still go)."""
        unheld = [{"claim": None}, {"available_at": {"$lte": utcnow()}}]
        await OutgoingMail.get_pymongo_collection().delete_many(
            {"user_id": user_id, "state": "pending", "$or": unheld}
        )


def _fields(letter: Letter) -> dict[str, Any]:
    return {
        "to": letter.to,
        "subject": letter.subject,
        "body": letter.body,
        "message_id": make_msgid(domain="graphql-app"),  # one per message, kept on retries
    }


async def claim(lease: float) -> tuple[OutgoingMail, str] | None:
    """Take the next due entry for `lease` seconds: one conditional update, so one worker
    wins. A claim left by a crashed worker is due again when its lease runs out."""
    now, token = utcnow(), uuid.uuid4().hex
    raw = await OutgoingMail.get_pymongo_collection().find_one_and_update(
        {"state": "pending", "available_at": {"$lte": now}},
        {
            "$set": {"claim": token, "available_at": now + timedelta(seconds=lease)},
            "$inc": {"attempts": 1},
        },
        sort=[("available_at", 1)],
        return_document=ReturnDocument.AFTER,
    )
    return None if raw is None else (OutgoingMail.model_validate(raw), token)


async def prepared(
    entry: OutgoingMail, token: str, letter: Letter, user_id: PydanticObjectId
) -> OutgoingMail | None:
    """A job became a message, kept under the same claim so retries send this very letter;
    None if the claim was lost."""
    raw = await OutgoingMail.get_pymongo_collection().find_one_and_update(
        {"_id": entry.id, "claim": token},
        {"$set": {"kind": "message", "user_id": user_id, "job": {}, **_fields(letter)}},
        return_document=ReturnDocument.AFTER,
    )
    return None if raw is None else OutgoingMail.model_validate(raw)


async def finish(entry: OutgoingMail, token: str, state: str, error: str | None = None) -> bool:
    """sent, failed or dropped: the body (which may hold a token) is removed."""
    now = utcnow()
    changes = {"state": state, "claim": None, "expires_at": now + KEEP_FINISHED}
    if error:
        changes["last_error"] = error
    return await _update(entry, token, {"$set": changes, "$unset": {"body": "", "job": ""}})


async def retry_later(entry: OutgoingMail, token: str, delay: float, error: str) -> bool:
    when = utcnow() + timedelta(seconds=delay)
    changes = {"available_at": when, "claim": None, "last_error": error}
    return await _update(entry, token, {"$set": changes})


async def _update(entry: OutgoingMail, token: str, update: dict[str, Any]) -> bool:
    """Only while `token` still holds the claim."""
    done = await OutgoingMail.get_pymongo_collection().update_one(
        {"_id": entry.id, "claim": token}, update
    )
    return done.modified_count == 1
