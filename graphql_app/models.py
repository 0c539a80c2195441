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
    email: str | None = None  # lower-cased; replaced by a pending one once that is verified
    email_verified: bool = False
    pending_email: str | None = None  # asked for by changeEmail, not verified yet
    # Two-factor (RFC 6238): the base32 secret once on, the one being set up, the last
    # time-step accepted (a code is accepted once), and the recovery codes' keyed hashes.
    totp_secret: str | None = None
    totp_pending_secret: str | None = None
    totp_last_step: int = 0
    recovery_salt: str | None = None
    recovery_codes: list[str] = Field(default_factory=list)

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret is not None

    class Settings:
        name = "users"
        indexes = [
            IndexModel([("username", ASCENDING)], unique=True, name="username_unique"),
            IndexModel(  # unique among the users that have one
                [("email", ASCENDING)],
                unique=True,
                partialFilterExpression={"email": {"$type": "string"}},
                name="email_unique",
            ),
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


class EmailToken(Document):
    """A verification or password-reset token, stored only as its SHA-256: single use
    (deleted when used), expiring."""

    id: str  # type: ignore[assignment]  # the token's hash, not an ObjectId
    user_id: PydanticObjectId
    purpose: str  # "verify" or "reset"
    email: str  # the address the link was sent to (for "verify": the one it verifies)
    expires_at: datetime

    class Settings:
        name = "email_tokens"
        indexes = [
            IndexModel([("user_id", ASCENDING), ("purpose", ASCENDING)], name="by_user"),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl"),
        ]


class OutgoingMail(Document):
    """A message in the mail queue, or a job that may become one (a password-reset request,
    resolved by the worker so the mutation takes the same time for any address).

    `available_at` is when a worker may next claim it: a claim moves it a lease ahead, so a
    crashed worker's message becomes claimable again when the lease runs out.
    """

    kind: str  # "message", or the job kind ("password_reset")
    state: str = "pending"  # pending, sent, failed, dropped
    to: str | None = None
    subject: str | None = None
    body: str | None = None  # removed once sent (it may hold a token)
    message_id: str | None = None
    user_id: PydanticObjectId | None = None
    job: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 0
    available_at: datetime = Field(default_factory=utcnow)
    claim: str | None = None
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None  # set when finished: kept a while, then removed

    class Settings:
        name = "mail_queue"
        indexes = [
            IndexModel([("state", ASCENDING), ("available_at", ASCENDING)], name="due"),
            IndexModel([("user_id", ASCENDING)], name="by_user"),
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
    EmailToken,
    OutgoingMail,
]
