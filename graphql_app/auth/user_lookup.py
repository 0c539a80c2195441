"""The users that requests authenticate as, read by `_id` in batches.

A lookup joins the batch that has not been sent yet, or starts one, which is sent once the
requests already running in this turn of the event loop have had their turn: under load,
many requests share one database operation (its fixed cost, in the driver and in the
database, is most of what authenticating a request costs), and a lone request costs one
operation, as before. Every request still reads the database after it arrived, since a batch
already sent is never joined: revocation is exactly as fresh as with a query per request.

Each request keeps its own database deadline (REQUEST_TIMEOUT, see `database.request_budget`):
the query runs until the latest deadline of its batch, and each request waits for it only
until its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import math
import time
from dataclasses import dataclass
from typing import Any

import pymongo
from bson import ObjectId

# Private, to read a request's deadline (there is no public reader): pymongo is pinned
# exactly, and tests/test_user_lookup.py fails if this stops reflecting `pymongo.timeout`.
from pymongo import _csot
from pymongo.errors import NetworkTimeout

from ..models import User

Raw = dict[str, Any]
MAX_BATCH = 100  # ids per query: the answer fits in the first batch of a cursor (101)


@dataclass(frozen=True, slots=True)
class _Wanted:
    user_id: ObjectId
    future: asyncio.Future[Raw | None]
    deadline: float  # time.monotonic(); inf: none but the client's timeoutMS


Batch = list[_Wanted]


class UserLookup:
    """One per app (one event loop)."""

    def __init__(self) -> None:
        self._open: Batch | None = None
        self._sending: set[asyncio.Task[None]] = set()  # referenced until done

    async def get(self, user_id: ObjectId) -> Raw | None:
        """The stored user, as the database has it now; None if there is none."""
        loop = asyncio.get_running_loop()
        wanted = _Wanted(user_id, loop.create_future(), _csot.get_deadline())
        batch = self._open
        if batch is None or len(batch) >= MAX_BATCH:
            batch = self._open = []
            # A context of its own: no request's deadline (or anything else) leaks into it.
            task = loop.create_task(self._send(batch), context=contextvars.Context())
            self._sending.add(task)
            task.add_done_callback(functools.partial(self._sent, batch))
        batch.append(wanted)
        if math.isinf(wanted.deadline):
            return await wanted.future
        try:
            async with asyncio.timeout(max(wanted.deadline - time.monotonic(), 0)):
                return await wanted.future
        except TimeoutError:  # as the driver fails past a deadline (SERVICE_UNAVAILABLE)
            raise NetworkTimeout("timed out waiting for the user lookup") from None

    async def _send(self, batch: Batch) -> None:
        if self._open is batch:
            self._open = None  # from now on, lookups start a new batch
        latest = max(wanted.deadline for wanted in batch)
        seconds = None if math.isinf(latest) else max(latest - time.monotonic(), 1e-6)
        ids = list({wanted.user_id for wanted in batch})
        collection = User.get_pymongo_collection()
        try:
            with pymongo.timeout(seconds):
                if len(ids) == 1:
                    one = await collection.find_one({"_id": ids[0]})
                    found = {ids[0]: one} if one is not None else {}
                else:
                    cursor = collection.find({"_id": {"$in": ids}})
                    found = {raw["_id"]: raw for raw in await cursor.to_list(None)}
        except Exception as error:  # each waiting request fails with it, as if it had asked
            for wanted in batch:
                if not wanted.future.done():
                    wanted.future.set_exception(error)
            return
        for wanted in batch:
            if not wanted.future.done():  # not a request cancelled or timed out meanwhile
                wanted.future.set_result(found.get(wanted.user_id))

    def _sent(self, batch: Batch, task: asyncio.Task[None]) -> None:
        """However the task ended (even cancelled before it started): no lookup joins this
        batch any more, and none waits for it forever."""
        self._sending.discard(task)
        if self._open is batch:
            self._open = None
        for wanted in batch:
            wanted.future.cancel()  # a no-op for those answered
