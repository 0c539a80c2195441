"""Subscriptions over graphql-transport-ws, authenticated in `connection_init`."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from enum import StrEnum

import strawberry
from strawberry.types import Info

from ..context import Context
from ..permissions import IsAuthenticated
from .types import Todo


@strawberry.enum
class TodoEventKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


@strawberry.type
class TodoEvent:
    kind: TodoEventKind
    todo: Todo


@strawberry.type
class Subscription:
    @strawberry.subscription(permission_classes=[IsAuthenticated])
    async def todo_changed(self, info: Info[Context, None]) -> AsyncGenerator[TodoEvent, None]:
        """The caller's own todo changes. Ends when the token expires or is revoked."""
        principal = await info.context.require_principal()
        with info.context.services.events.subscribe(principal) as subscriber:
            while True:
                event = await subscriber.next()
                todo = Todo.from_document(event.todo)
                yield TodoEvent(kind=TodoEventKind(event.kind), todo=todo)
