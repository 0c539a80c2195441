"""Security events: what happened to an account, kept SECURITY_EVENT_TTL seconds and shown
to its user (and to admins), through the owner-scoped layer."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from beanie import PydanticObjectId

from . import metrics
from .client_address import ClientInfo
from .models import SecurityEvent, utcnow
from .owned import Owned
from .pagination import Page

store = Owned(SecurityEvent, not_found="Security event not found")


class Kind(StrEnum):
    REGISTERED = "REGISTERED"
    LOGIN_SUCCEEDED = "LOGIN_SUCCEEDED"
    LOGIN_FAILED = "LOGIN_FAILED"
    LOGIN_LOCKED = "LOGIN_LOCKED"
    LOGGED_OUT = "LOGGED_OUT"
    SESSION_REVOKED = "SESSION_REVOKED"
    LOGGED_OUT_EVERYWHERE = "LOGGED_OUT_EVERYWHERE"
    REFRESH_REUSE_DETECTED = "REFRESH_REUSE_DETECTED"
    REAUTHENTICATED = "REAUTHENTICATED"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    ROLES_CHANGED = "ROLES_CHANGED"
    UNLOCKED = "UNLOCKED"
    EMAIL_VERIFIED = "EMAIL_VERIFIED"
    EMAIL_CHANGED = "EMAIL_CHANGED"
    PASSWORD_RESET_REQUESTED = "PASSWORD_RESET_REQUESTED"
    PASSWORD_RESET = "PASSWORD_RESET"
    MFA_ENABLED = "MFA_ENABLED"
    MFA_DISABLED = "MFA_DISABLED"
    RECOVERY_CODE_USED = "RECOVERY_CODE_USED"


class SecurityLog:
    def __init__(self, ttl: int) -> None:
        self.ttl = timedelta(seconds=ttl)

    async def record(
        self,
        user_id: PydanticObjectId,
        kind: Kind,
        client: ClientInfo | None,
        session_id: str | None = None,
    ) -> None:
        if kind is Kind.REFRESH_REUSE_DETECTED:
            metrics.REFRESH_REUSE.inc()
        now = utcnow()
        await store.create(
            user_id,
            kind=kind.value,
            created_at=now,
            expires_at=now + self.ttl,
            address=client.address if client else None,
            user_agent=client.user_agent if client else None,
            session_id=session_id,
        )

    async def nothing(self) -> None:
        """A lookup of what cannot exist: the same database round trip as `record`, for a
        path that must take the same time as one that records (a login of an unknown user)."""
        await store.count(PydanticObjectId(), {"_id": None})


async def page(
    owner_id: PydanticObjectId, first: int | None, after: str | None
) -> Page[dict[str, Any]]:
    return await store.page(owner_id, first, after)


async def count(owner_id: PydanticObjectId) -> int:
    return await store.count(owner_id)


async def delete_all(owner_id: PydanticObjectId) -> None:
    await store.delete_all(owner_id)
