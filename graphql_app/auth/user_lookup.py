"""The users that requests authenticate as, read by `_id` in batches.

A lookup joins the batch that has not been sent yet, or starts one, which is sent once the
requests already running in this turn of the event loop have had their turn: under load,
many requests share one database operation (its fixed cost, in the driver and in the
database, is most of what authenticating a request costs), and a lone request costs one
operation, as before. Every request still reads the database after it arrived, since a batch
already sent is never joined: revocation is exactly as fresh as with a query per request.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from bson import ObjectId

from ..models import User

Raw = dict[str, Any]
MAX_BATCH = 100  # ids per query: the answer fits in the first batch of a cursor (101)


Batch = list[tuple[ObjectId, asyncio.Future[Raw | None]]]


class UserLookup:
    """One per app (one event loop)."""

    def __init__(self) -> None:
        self._open: Batch | None = None
        self._sending: set[asyncio.Task[None]] = set()  # referenced until done

    async def get(self, user_id: ObjectId) -> Raw | None:
        """The stored user, as the database has it now; None if there is none."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Raw | None] = loop.create_future()
        batch = self._open
        if batch is None or len(batch) >= MAX_BATCH:
            # The task copies this request's context: its database deadline applies.
            batch = self._open = []
            task = loop.create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(functools.partial(self._sent, batch))
        batch.append((user_id, future))
        return await future

    async def _send(self, batch: Batch) -> None:
        if self._open is batch:
            self._open = None  # from now on, lookups start a new batch
        ids = list({user_id for user_id, _ in batch})
        collection = User.get_pymongo_collection()
        try:
            if len(ids) == 1:
                one = await collection.find_one({"_id": ids[0]})
                found = {ids[0]: one} if one is not None else {}
            else:
                cursor = collection.find({"_id": {"$in": ids}})
                found = {raw["_id"]: raw for raw in await cursor.to_list(None)}
        except Exception as error:  # each waiting request fails with it, as if it had asked
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for user_id, future in batch:
            if not future.done():  # not a request cancelled meanwhile
                future.set_result(found.get(user_id))

    def _sent(self, batch: Batch, task: asyncio.Task[None]) -> None:
        """However the task ended (even cancelled before it started): no lookup joins this
        batch any more, and none waits for it forever."""
        self._sending.discard(task)
        if self._open is batch:
            self._open = None
        for _, future in batch:
            future.cancel()  # a no-op for those answered
