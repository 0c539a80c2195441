"""Todo change events, carried through MongoDB so every worker and replica sees them.

A change stream where the server supports one (a replica set), else polling by `_id`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from beanie import PydanticObjectId
from bson import ObjectId
from pymongo.errors import OperationFailure

from .models import Todo, TodoEvent

log = logging.getLogger(__name__)
POLL_SECONDS = 0.25


async def publish(kind: str, todo: Todo) -> None:
    snapshot = todo.model_dump(by_alias=True)
    await TodoEvent(owner_id=todo.owner_id, kind=kind, todo=snapshot).insert()


async def watch(owner_id: PydanticObjectId, tick: float = 1.0) -> AsyncIterator[TodoEvent | None]:
    """The owner's events from now on; yields None every `tick` seconds without one, so the
    caller can re-check the subscriber's token."""
    collection = TodoEvent.get_pymongo_collection()
    pipeline = [{"$match": {"operationType": "insert", "fullDocument.owner_id": owner_id}}]
    try:
        stream = await collection.watch(pipeline, max_await_time_ms=int(tick * 1000))
    except OperationFailure:
        log.info("change streams unavailable: polling todo events")
        async for event in _poll(owner_id, tick):
            yield event
        return
    async with stream:
        while True:
            change = await stream.try_next()
            yield None if change is None else TodoEvent.model_validate(change["fullDocument"])


async def _poll(owner_id: PydanticObjectId, tick: float) -> AsyncIterator[TodoEvent | None]:
    collection = TodoEvent.get_pymongo_collection()
    last = ObjectId()  # only what happens from now on
    idle = 0.0
    while True:
        query: dict[str, Any] = {"owner_id": owner_id, "_id": {"$gt": last}}
        found = [doc async for doc in collection.find(query).sort("_id", 1)]
        for doc in found:
            last = doc["_id"]
            yield TodoEvent.model_validate(doc)
        if not found:
            idle += POLL_SECONDS
            if idle >= tick:
                idle = 0.0
                yield None
        await asyncio.sleep(POLL_SECONDS)
