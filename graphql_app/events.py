"""Todo change events, carried through MongoDB so every worker and replica sees them.

Each process runs one watcher (`EventHub.running`, in the app's lifespan): a change stream
where the server offers one, else a poller that reads events by their sequence number. It
fans every event out in memory to the subscribers of its owner, so an open subscription
holds no database connection and costs no query of its own; one query a second re-checks
the tokens of all the process's subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

from beanie import PydanticObjectId
from pydantic import ValidationError
from pymongo import ReturnDocument
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure, PyMongoError

from .auth.service import Principal
from .database import make_client
from .errors import DomainError, Reason, SubscriptionOverflow, Unauthenticated
from .models import EventCounter, Todo, TodoEvent

log = logging.getLogger(__name__)
COUNTER_ID = "todo_events"
POLL_SECONDS = 0.25
BATCH = 500  # events read per poll
# A sequence number taken but not yet visible holds back the ones after it this long (its
# publisher is between its $inc and its insert); then they go ahead, and the missing one is
# still looked for, and delivered late, for LATE_SECONDS.
GAP_GRACE_SECONDS = 2.0
LATE_SECONDS = 60.0
RECHECK_SECONDS = 1.0
SHUTDOWN_SECONDS = 2.0
QUEUE_SIZE = 100  # undelivered events a subscriber may have before it is ended
CHANGES = [{"$match": {"operationType": "insert"}}]
AWAIT_SECONDS = 1.0  # a change stream's getMore waits this long for news (DB_TIMEOUT allowing)

Raw = Mapping[str, Any]
Collection = AsyncCollection[dict[str, Any]]
ChangeStream = AsyncChangeStream[dict[str, Any]]
Recheck = Callable[[Sequence[Principal]], Awaitable[list[DomainError | None]]]


async def publish(kind: str, todo: Todo) -> None:
    await record(kind, todo, await next_seq())


async def next_seq() -> int:
    """Take the next sequence number: one atomic $inc, so numbers are unique across processes
    (though two publishers may make theirs visible in the other order)."""
    counter = await EventCounter.get_pymongo_collection().find_one_and_update(
        {"_id": COUNTER_ID},
        {"$inc": {"value": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert counter is not None, "an upsert returning the document after it"  # noqa: S101
    return int(counter["value"])


async def record(kind: str, todo: Todo, seq: int) -> None:
    snapshot = todo.model_dump(by_alias=True)
    await TodoEvent(owner_id=todo.owner_id, kind=kind, todo=snapshot, seq=seq).insert()


async def last_seq(counters: Collection) -> int:
    counter = await counters.find_one({"_id": COUNTER_ID})
    return int(counter["value"]) if counter else 0


class Subscriber:
    """One subscription's events, queued by the watcher until the subscription reads them."""

    def __init__(self, principal: Principal, capacity: int) -> None:
        self.principal = principal
        self._capacity = capacity
        self._events: deque[TodoEvent] = deque()
        self._ready = asyncio.Event()
        self._error: DomainError | None = None

    def deliver(self, event: TodoEvent) -> None:
        if len(self._events) >= self._capacity:
            self.end(SubscriptionOverflow("Too many undelivered events: subscribe again"))
        elif self._error is None:
            self._events.append(event)
            self._ready.set()

    def end(self, error: DomainError) -> None:
        if self._error is None:
            self._error = error
            self._events.clear()
            self._ready.set()

    async def next(self) -> TodoEvent:
        """The next event; raises once the subscription must end: at the token's expiry to
        the second, on a revocation found by the re-check, or on overflow."""
        while True:
            if self._error is not None:
                raise self._error
            remaining = self.principal.claims.exp - time.time()
            if remaining <= 0:
                raise Unauthenticated(Reason.TOKEN_EXPIRED)
            if self._events:
                return self._events.popleft()
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._ready.wait()


class EventHub:
    """The process's one watcher and its subscribers, by owner."""

    def __init__(
        self, recheck: Recheck, polling: bool, db_timeout: float, capacity: int = QUEUE_SIZE
    ) -> None:
        self._recheck = recheck
        self._polling = polling
        self._db_timeout = db_timeout
        # Each getMore must answer within the client's timeoutMS (DB_TIMEOUT), idle or not.
        self._await_ms = int(min(AWAIT_SECONDS, db_timeout / 2) * 1000)
        self._capacity = capacity
        self._subscribers: dict[PydanticObjectId, set[Subscriber]] = {}
        self._operations: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def running(self, url: str) -> AsyncIterator[None]:
        """Watch from now on: every event published once this is entered is dispatched. The
        watcher reads through a client of its own, with one connection, so that its waiting
        reads never take a connection from the requests' pool."""
        client = make_client(url, self._db_timeout, maxPoolSize=1)
        try:
            database = client[TodoEvent.get_pymongo_collection().database.name]
            events = database[TodoEvent.get_pymongo_collection().name]
            source = await self._open(events, database[EventCounter.get_pymongo_collection().name])
            if isinstance(source, SequenceReader):
                watch = self._poll(events, source)
            else:
                watch = self._follow(events, source)
            tasks = [asyncio.create_task(watch), asyncio.create_task(self._recheck_all())]
            for task in tasks:
                task.add_done_callback(_report_crash)
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_SECONDS)
                if stuck:
                    log.warning("todo event watcher did not stop within %s s", SHUTDOWN_SECONDS)
        finally:
            with contextlib.suppress(TimeoutError):  # a shutdown never waits for ever
                async with asyncio.timeout(SHUTDOWN_SECONDS):
                    await client.close()

    @contextlib.contextmanager
    def subscribe(self, principal: Principal) -> Iterator[Subscriber]:
        """Registered at once (no await), so it sees every event dispatched from now on."""
        subscriber = Subscriber(principal, self._capacity)
        group = self._subscribers.setdefault(principal.user_id, set())
        group.add(subscriber)
        try:
            yield subscriber
        finally:
            group.discard(subscriber)
            if not group:
                self._subscribers.pop(principal.user_id, None)

    def reserve(self, user_id: str, limit: int) -> bool:
        """Count one more WebSocket operation of this user, unless they already have `limit`."""
        if self._operations[user_id] >= limit:
            return False
        self._operations[user_id] += 1
        return True

    def release(self, user_id: str) -> None:
        self._operations[user_id] -= 1
        if self._operations[user_id] <= 0:
            del self._operations[user_id]

    def _dispatch(self, raw: Raw) -> None:
        group = self._subscribers.get(raw["owner_id"])
        if not group:
            return
        try:
            event = TodoEvent.model_validate(raw)
        except ValidationError:  # e.g. written by an older version during a rolling upgrade
            log.warning("unreadable todo event %s skipped", raw.get("_id"))
            return
        for subscriber in list(group):
            subscriber.deliver(event)

    async def _open(
        self, events: Collection, counters: Collection
    ) -> ChangeStream | SequenceReader:
        """A change stream where the server has them (and polling is not forced), else a
        reader of the sequence from its current end."""
        if not self._polling:
            try:
                return await events.watch(CHANGES, max_await_time_ms=self._await_ms)
            except OperationFailure:
                log.info("change streams unavailable: polling todo events")
        return SequenceReader(await last_seq(counters))

    async def _follow(self, events: Collection, stream: ChangeStream) -> None:
        while True:
            try:
                async with stream:
                    while True:  # one getMore at a time: each within the client's timeoutMS
                        change = await stream.try_next()
                        if change is not None:
                            self._dispatch(change["fullDocument"])
            except PyMongoError:
                _stop_if_cancelled()
                log.warning("todo event change stream failed: resuming", exc_info=True)
            stream = await self._reopen(events, stream.resume_token)

    async def _poll(self, events: Collection, reader: SequenceReader) -> None:
        while True:
            try:
                cursor = events.find(reader.query()).sort("seq", 1).limit(BATCH)
                for raw in reader.accept(await cursor.to_list(), time.monotonic()):
                    self._dispatch(raw)
                    await asyncio.sleep(0)  # subscribers drain a burst as it is dispatched
            except PyMongoError:
                _stop_if_cancelled()
                log.warning("polling todo events failed", exc_info=True)
            await asyncio.sleep(POLL_SECONDS)

    async def _reopen(
        self, events: Collection, resume_token: Mapping[str, Any] | None
    ) -> ChangeStream:
        """The change stream again, from where it stopped (from now on if it cannot resume)."""
        while True:
            await asyncio.sleep(1)
            try:
                return await events.watch(
                    CHANGES, resume_after=resume_token, max_await_time_ms=self._await_ms
                )
            except OperationFailure:
                _stop_if_cancelled()
                log.error("todo event change stream cannot resume: events may have been missed")
                resume_token = None
            except PyMongoError:
                _stop_if_cancelled()
                log.warning("todo event change stream unavailable: retrying", exc_info=True)

    async def _recheck_all(self) -> None:
        """End the subscriptions whose token was revoked: one query for all of them."""
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            subscribers = [s for group in self._subscribers.values() for s in group]
            if not subscribers:
                continue
            try:
                verdicts = await self._recheck([s.principal for s in subscribers])
            except PyMongoError:
                _stop_if_cancelled()
                log.warning("re-checking subscribers' tokens failed", exc_info=True)
                continue
            for subscriber, verdict in zip(subscribers, verdicts, strict=True):
                if verdict is not None:
                    subscriber.end(verdict)


def _stop_if_cancelled() -> None:
    """PyMongo may report the cancellation of a pending read as a PyMongoError: the watcher's
    loops, which go on after those, must still stop when cancelled (at shutdown)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("todo event watcher stopped: subscriptions get no events", exc_info=error)


class SequenceReader:
    """Events in sequence order, none skipped: an event after a missing number waits until
    that number shows up, or GAP_GRACE_SECONDS have passed."""

    def __init__(self, last: int) -> None:
        self.last = last  # every event up to here was delivered or given up on
        self._gap: tuple[int, float] | None = None  # (last, when the gap after it was seen)
        self._late: dict[int, float] = {}  # skipped number -> when to stop looking for it

    def query(self) -> dict[str, Any]:
        newer = {"seq": {"$gt": self.last}}
        if not self._late:
            return newer
        return {"$or": [newer, {"seq": {"$in": sorted(self._late)}}]}

    def accept(self, found: Sequence[Raw], now: float) -> list[Raw]:
        """Those of `found` (sorted by seq) to deliver now, in order."""
        self._late = {seq: until for seq, until in self._late.items() if until > now}
        ready: list[Raw] = []
        for raw in found:
            seq = raw["seq"]
            if seq <= self.last:
                if self._late.pop(seq, None) is not None:
                    log.warning("todo event %d delivered late, out of order", seq)
                    ready.append(raw)
                continue
            if seq > self.last + 1:
                if not self._gap_expired(now):
                    break
                log.warning("todo events %d to %d missing: going on", self.last + 1, seq - 1)
                for missing in range(max(self.last + 1, seq - BATCH), seq):
                    self._late[missing] = now + LATE_SECONDS
            self.last = seq
            ready.append(raw)
        return ready

    def _gap_expired(self, now: float) -> bool:
        if self._gap is None or self._gap[0] != self.last:
            self._gap = (self.last, now)
        return now - self._gap[1] >= GAP_GRACE_SECONDS
