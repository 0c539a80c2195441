"""Todos: every operation goes through the owner-scoped layer, so another user's todo is
NOT_FOUND."""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId

from . import events, validation
from .models import Todo, TodoEvent, utcnow
from .owned import Owned
from .pagination import Page

store = Owned(Todo, not_found="Todo not found")


def _where(done: bool | None) -> dict[str, Any]:
    return {} if done is None else {"done": done}


async def create(owner_id: PydanticObjectId, title: str) -> Todo:
    now = utcnow()  # one instant: a new todo's createdAt equals its updatedAt
    todo = await store.create(
        owner_id, title=validation.title(title), created_at=now, updated_at=now
    )
    await events.publish("CREATED", todo)
    return todo


async def get(owner_id: PydanticObjectId, todo_id: str) -> Todo:
    return await store.get(owner_id, todo_id)


async def update(
    owner_id: PydanticObjectId, todo_id: str, title: str | None, done: bool | None
) -> Todo:
    changes: dict[str, Any] = {"updated_at": utcnow()}
    if title is not None:
        changes["title"] = validation.title(title)
    if done is not None:
        changes["done"] = done
    todo = await store.update(owner_id, todo_id, changes)
    await events.publish("UPDATED", todo)
    return todo


async def delete(owner_id: PydanticObjectId, todo_id: str) -> bool:
    todo = await store.delete(owner_id, todo_id)
    await events.publish("DELETED", todo)
    return True


async def page(
    owner_id: PydanticObjectId, first: int | None, after: str | None, done: bool | None
) -> Page[dict[str, Any]]:
    return await store.page(owner_id, first, after, _where(done))


async def count(owner_id: PydanticObjectId, done: bool | None) -> int:
    return await store.count(owner_id, _where(done))


async def delete_all(owner_id: PydanticObjectId) -> None:
    """The owner's todos and their change events (the account is being deleted)."""
    await store.delete_all(owner_id)
    await TodoEvent.get_pymongo_collection().delete_many({"owner_id": owner_id})
