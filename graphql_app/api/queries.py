"""Query resolvers: arguments → service call → GraphQL type."""

from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from .. import security_events, todos, users
from ..context import Context
from ..errors import Forbidden
from ..models import Role
from ..permissions import IsAdmin, IsAuthenticated
from .types import Connection, SecurityEvent, Session, Todo, User, connection


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsAuthenticated])
    async def me(self, info: Info[Context, None]) -> User:
        principal = await info.context.require_principal()
        return User.from_model(principal.user)

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def todos(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = UNSET,
        done: bool | None = UNSET,
    ) -> Connection[Todo]:
        """The caller's own todos, newest first."""
        owner_id = (await info.context.require_principal()).user_id
        done = None if done is UNSET else done
        page = await todos.page(owner_id, first, after or None, done)
        return connection(page, Todo.from_document, lambda: todos.count(owner_id, done))

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def todo(self, info: Info[Context, None], id: strawberry.ID) -> Todo:
        owner_id = (await info.context.require_principal()).user_id
        return Todo.from_model(await todos.get(owner_id, id))

    @strawberry.field(permission_classes=[IsAdmin])
    async def users(self, first: int | None = 20, after: str | None = UNSET) -> Connection[User]:
        return connection(await users.page(first, after or None), User.from_model, users.count)

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def sessions(self, info: Info[Context, None]) -> list[Session]:
        """The caller's active sessions, newest first; `current` marks this request's."""
        principal = await info.context.require_principal()
        found = await info.context.services.auth.active_sessions(principal)
        return [Session.from_document(doc, principal.claims.sid) for doc in found]

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def security_events(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = UNSET,
        user_id: strawberry.ID | None = UNSET,
    ) -> Connection[SecurityEvent]:
        """The caller's own security events, newest first; another user's for admins."""
        principal = await info.context.require_principal()
        owner_id = principal.user_id
        if user_id and user_id != str(owner_id):
            if Role.ADMIN not in principal.user.roles:
                raise Forbidden("Admin role required")
            owner_id = users.parse_id(user_id)
        page = await security_events.page(owner_id, first, after or None)
        count = security_events.count
        return connection(page, SecurityEvent.from_document, lambda: count(owner_id))
