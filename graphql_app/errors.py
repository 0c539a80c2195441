"""Domain exceptions named after states. No GraphQL import: services and the CLI raise these,
and one Strawberry extension (`api.error_codes`) maps them to `extensions.code`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class Reason(StrEnum):
    """Why a request is not authenticated: `extensions.reason` in UNAUTHENTICATED errors."""

    MISSING_TOKEN = "MISSING_TOKEN"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_REVOKED = "TOKEN_REVOKED"
    BAD_CREDENTIALS = "BAD_CREDENTIALS"
    MFA_REQUIRED = "MFA_REQUIRED"
    REAUTHENTICATION_REQUIRED = "REAUTHENTICATION_REQUIRED"


class DomainError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    messages: ClassVar[dict[Reason, str]] = {
        Reason.MISSING_TOKEN: "Authentication required",
        Reason.TOKEN_EXPIRED: "Token expired",
        Reason.TOKEN_INVALID: "Invalid token",
        Reason.TOKEN_REVOKED: "Token revoked",
        Reason.BAD_CREDENTIALS: "Invalid username or password",
        Reason.MFA_REQUIRED: "A two-factor code is required",
        Reason.REAUTHENTICATION_REQUIRED: "This operation needs a recent password proof",
    }

    def __init__(self, reason: Reason) -> None:
        super().__init__(self.messages[reason])
        self.reason = reason

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason.value}


class ReauthenticationRequired(Unauthenticated):
    """A valid token whose password proof is older than `max_age` seconds."""

    def __init__(self, max_age: int) -> None:
        super().__init__(Reason.REAUTHENTICATION_REQUIRED)
        self.max_age = max_age

    @property
    def extensions(self) -> dict[str, Any]:
        return {**super().extensions, "maxAge": self.max_age}


class Forbidden(DomainError):
    code = "FORBIDDEN"


class BadUserInput(DomainError):
    code = "BAD_USER_INPUT"


class NotFound(DomainError):
    code = "NOT_FOUND"


class SubscriptionOverflow(DomainError):
    """A subscriber fell too far behind its events; it was ended rather than left to grow."""

    code = "SUBSCRIPTION_OVERFLOW"


class RateLimited(DomainError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed attempts, try again later")
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": self.retry_after}


class ServiceUnavailable(DomainError):
    """The database did not answer in time (down, frozen, unreachable): retry shortly."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, retry_after: int) -> None:
        super().__init__("Service temporarily unavailable, try again shortly")
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": self.retry_after}
