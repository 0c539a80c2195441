"""Permission classes. Every root field carries one: closed by default, public by mark."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from strawberry.permission import BasePermission
from strawberry.types import Info

from .context import Context
from .errors import ReauthenticationRequired
from .models import Role


class AllowAny(BasePermission):
    """The explicit mark of a public field (register, login, refresh, logout)."""

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        return True


class IsAuthenticated(BasePermission):
    message = "Authentication required"
    error_extensions = {"code": "UNAUTHENTICATED"}  # noqa: RUF012  # Strawberry's own attribute

    async def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        # Raises Unauthenticated with the precise reason (expired, revoked, ...).
        await info.context.require_principal()
        return True


class HasRole(BasePermission):
    """Authorizes from the stored user, so a role change applies on the next request."""

    role: ClassVar[Role]
    message = "Not allowed"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012  # Strawberry's own attribute

    async def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        principal = await info.context.require_principal()
        return self.role in principal.user.roles


class IsAdmin(HasRole):
    role = Role.ADMIN
    message = "Admin role required"


class RequiresRecentAuth(BasePermission):
    """A password proof newer than REAUTH_MAX_AGE seconds (`auth_time`), so that a stolen
    access token alone cannot make the change. Refused with UNAUTHENTICATED, reason
    REAUTHENTICATION_REQUIRED and `maxAge`: call `reauthenticate`, then retry.

    `RequiresRecentAuth.within(60)` demands a stricter age for one field; a class per age
    (rather than an argument) keeps the SDL free of permission directives.
    """

    max_age: ClassVar[int | None] = None  # None: REAUTH_MAX_AGE

    async def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        principal = await info.context.require_principal()
        max_age = self.max_age or info.context.services.settings.reauth_max_age
        # Whole seconds on both sides (auth_time is one): a proof is never judged older than
        # it is because its fraction of a second was dropped.
        if int(time.time()) - principal.claims.auth_time > max_age:
            raise ReauthenticationRequired(max_age)
        return True

    @classmethod
    def within(cls, seconds: int) -> type[RequiresRecentAuth]:
        return type(f"RequiresRecentAuthWithin{seconds}", (cls,), {"max_age": seconds})
