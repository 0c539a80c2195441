"""Beanie documents: what is stored in MongoDB, and the indexes that serve each query."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from .owned import OwnedDocument


class Role(StrEnum):
    USER = "USER"
    ADMIN = "ADMIN"


def utcnow() -> datetime:
    """Now, truncated to MongoDB's millisecond precision so stored and returned values agree."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class RevokedSession(BaseModel):
    """A session ended while access tokens issued in it may still be unexpired (until)."""

    sid: str
    until: datetime


class User(Document):
    username: str  # lower-cased
    password_hash: str
    roles: list[Role] = Field(default_factory=lambda: [Role.USER])
    # Bumped by logoutAll and changePassword: every token carrying an older value is dead.
    token_version: int = 0
    # Sessions revoked within the last access-token lifetime: checking an access token is
    # then one indexed lookup of the user (see auth/service.py), not two.
    revoked_sessions: list[RevokedSession] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "users"
        indexes = [
            IndexModel([("username", ASCENDING)], unique=True, name="username_unique"),
            IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="created_desc"),
        ]


class Session(Document):
    """A refresh-token family. Access tokens name it in `sid`; revoking it revokes them."""

    id: str  # type: ignore[assignment]  # the sid, a random string rather than an ObjectId
    user_id: PydanticObjectId
    refresh_jti: str  # the only refresh token of this family that may still be used
    refresh_iat: int = 0  # its `iat`: with the jti, it re-issues that exact token (refresh grace)
    # The token it replaced, and when: presented again within REFRESH_REUSE_INTERVAL it is a
    # concurrent refresh (answered with the current token), not a theft.
    previous_jti: str | None = None
    rotated_at: datetime | None = None
    auth_time: int = 0  # the latest password proof in this session (epoch seconds; 0: none)
    revoked: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    user_agent: str | None = None  # of its latest use
    address: str | None = None  # of its latest use

    class Settings:
        name = "sessions"
        indexes = [
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl"),
            IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="by_user_newest"),
        ]


class Todo(OwnedDocument):
    title: str
    done: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "todos"
        indexes = [
            IndexModel(
                [("owner_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="owner_newest",
            ),
            IndexModel(
                [
                    ("owner_id", ASCENDING),
                    ("done", ASCENDING),
                    ("created_at", DESCENDING),
                    ("_id", DESCENDING),
                ],
                name="owner_done_newest",
            ),
        ]


class LoginFailures(Document):
    """Failed logins of one key (username and address, or address alone) in a window."""

    id: str  # type: ignore[assignment]  # the key (username and address), not an ObjectId
    failures: int = 0
    expires_at: datetime

    class Settings:
        name = "login_failures"
        indexes = [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")]


class TodoEvent(Document):
    """A change to a todo, for subscribers on any worker (read by change stream or polling).

    `seq` comes from `EventCounter`, so pollers read events in one order across processes.
    """

    owner_id: PydanticObjectId
    kind: str  # CREATED, UPDATED, DELETED
    todo: dict[str, Any]  # the todo after the change (before it, for DELETED)
    seq: int
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "todo_events"
        indexes = [
            IndexModel([("seq", ASCENDING)], name="seq_order"),
            IndexModel([("at", ASCENDING)], expireAfterSeconds=3600, name="ttl"),
        ]


class EventCounter(Document):
    """The last sequence number handed out to a todo event (one document, `_id` "todo_events")."""

    id: str  # type: ignore[assignment]  # a fixed name rather than an ObjectId
    value: int = 0

    class Settings:
        name = "counters"


class SecurityEvent(OwnedDocument):
    """Something that happened to a user's account, shown to that user (and to admins)."""

    kind: str  # a SecurityEventKind
    created_at: datetime = Field(default_factory=utcnow)
    address: str | None = None
    user_agent: str | None = None
    session_id: str | None = None
    expires_at: datetime  # SECURITY_EVENT_TTL after it happened

    class Settings:
        name = "security_events"
        indexes = [
            IndexModel(
                [("owner_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="owner_newest",
            ),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl"),
        ]


DOCUMENT_MODELS: list[type[Document]] = [
    User,
    Session,
    Todo,
    LoginFailures,
    TodoEvent,
    EventCounter,
    SecurityEvent,
]
