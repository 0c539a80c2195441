"""Permission classes. Every root field carries one: closed by default, public by mark."""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission
from strawberry.types import Info

from .context import Context
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
