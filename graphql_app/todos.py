"""Todos: every operation is scoped to its owner, so another user's todo is NOT_FOUND."""

from __future__ import annotations

from typing import Any, cast

from beanie import PydanticObjectId
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument

from . import events, validation
from .errors import NotFound
from .models import Todo, utcnow
from .pagination import NEWEST_FIRST, Page, after_filter, check_first, encode_cursor


def _own(owner_id: PydanticObjectId, todo_id: str) -> dict[str, Any]:
    try:
        oid = ObjectId(todo_id)
    except (InvalidId, TypeError):
        raise NotFound("Todo not found") from None
    return {"_id": oid, "owner_id": owner_id}


def _scope(owner_id: PydanticObjectId, done: bool | None) -> dict[str, Any]:
    query: dict[str, Any] = {"owner_id": owner_id}
    if done is not None:
        query["done"] = done
    return query


async def create(owner_id: PydanticObjectId, title: str) -> Todo:
    now = utcnow()  # one instant: a new todo's createdAt equals its updatedAt
    todo = Todo(owner_id=owner_id, title=validation.title(title), created_at=now, updated_at=now)
    await todo.insert()
    await events.publish("CREATED", todo)
    return todo


async def get(owner_id: PydanticObjectId, todo_id: str) -> Todo:
    todo = await Todo.find_one(_own(owner_id, todo_id))
    if todo is None:
        raise NotFound("Todo not found")
    return todo


async def update(
    owner_id: PydanticObjectId, todo_id: str, title: str | None, done: bool | None
) -> Todo:
    changes: dict[str, Any] = {"updated_at": utcnow()}
    if title is not None:
        changes["title"] = validation.title(title)
    if done is not None:
        changes["done"] = done
    raw = await Todo.get_pymongo_collection().find_one_and_update(
        _own(owner_id, todo_id), {"$set": changes}, return_document=ReturnDocument.AFTER
    )
    if raw is None:
        raise NotFound("Todo not found")
    todo = cast(Todo, Todo.model_validate(raw))
    await events.publish("UPDATED", todo)
    return todo


async def delete(owner_id: PydanticObjectId, todo_id: str) -> bool:
    raw = await Todo.get_pymongo_collection().find_one_and_delete(_own(owner_id, todo_id))
    if raw is None:
        raise NotFound("Todo not found")
    await events.publish("DELETED", cast(Todo, Todo.model_validate(raw)))
    return True


async def page(
    owner_id: PydanticObjectId, first: int | None, after: str | None, done: bool | None
) -> Page[dict[str, Any]]:
    """A page of raw documents: they were validated when written, and skipping a model per
    document keeps a page of 100 cheap."""
    limit = check_first(first)
    query = {**_scope(owner_id, done), **after_filter(after)}
    cursor = Todo.get_pymongo_collection().find(query).sort(NEWEST_FIRST).limit(limit + 1)
    docs = await cursor.to_list(limit + 1)
    items = [(encode_cursor(doc["created_at"], doc["_id"]), doc) for doc in docs[:limit]]
    return Page(items, has_next_page=len(docs) > limit)


async def count(owner_id: PydanticObjectId, done: bool | None) -> int:
    return await Todo.get_pymongo_collection().count_documents(_scope(owner_id, done))
