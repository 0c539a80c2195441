"""The mail worker: one per process, started in the app's lifespan. It claims one queue
entry at a time (`queue.claim`: any number of workers, each message to one of them), sends
it, and on failure retries with exponential backoff; nothing is lost across restarts,
because the queue is in MongoDB and an abandoned claim becomes due again after its lease.

Delivery is at least once: a worker that dies between the server's acceptance and its own
`finish` leaves a message that is sent again after the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from beanie import PydanticObjectId

from ..models import OutgoingMail
from . import queue
from .queue import Letter, MailQueue
from .transport import Transport, compose

log = logging.getLogger(__name__)

# A job kind's handler: the letter it becomes (and its user), or None to drop it.
Prepare = Callable[[dict[str, Any]], Awaitable[tuple[Letter, PydanticObjectId] | None]]
MAX_DELAY = 3600.0  # seconds: backoff stops doubling here
LEASE = 120.0  # seconds a claim lasts; longer than an SMTP attempt may take
STOP_WAIT = 10.0  # seconds a stopping worker may take to finish the message in hand
POLL = 1.0  # seconds between looks at the queue for other processes' messages and retries


class MailWorker:
    def __init__(
        self,
        mail: MailQueue,
        transport: Transport,
        sender: str,
        jobs: Mapping[str, Prepare],
        *,
        retry_seconds: float,
        max_attempts: int,
        lease: float = LEASE,
    ) -> None:
        self.mail = mail
        self.transport = transport
        self.sender = sender
        self.jobs = jobs
        self.retry_seconds = retry_seconds
        self.max_attempts = max_attempts
        self.lease = lease
        self.poll = min(POLL, retry_seconds)
        self.stopping = False

    async def run(self) -> None:
        """Until `stop`: a flag rather than cancellation alone, because the drivers may turn
        a cancellation in the middle of their I/O into an ordinary error (PyMongo does)."""
        while not self.stopping:
            self.mail.wake.clear()
            try:
                while not self.stopping and await self.work_once():
                    pass
            except Exception:  # the database away for a while: keep the worker alive
                log.exception("mail worker: the queue could not be read")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await self.mail.wake.wait()

    def stop(self) -> None:
        """Finish the message in hand, then return from `run`."""
        self.stopping = True
        self.mail.wake.set()

    async def work_once(self) -> bool:
        """Handle one due entry; False when none is due."""
        claimed = await queue.claim(self.lease)
        if claimed is None:
            return False
        entry, token = claimed
        if entry.kind != "message":
            prepared = await self._prepare(entry, token)
            if prepared is None:
                return True
            entry = prepared
        try:
            await self.transport.deliver(compose(entry, self.sender))
        except Exception as exc:  # any failure to hand over is retried; the class is logged
            await self._failed(entry, token, type(exc).__name__)
            return True
        await queue.finish(entry, token, "sent")
        log.info("mail sent", extra={"mail_id": str(entry.id), "attempts": entry.attempts})
        return True

    async def _prepare(self, entry: OutgoingMail, token: str) -> OutgoingMail | None:
        """The job turned into its message, or None if it was dropped."""
        prepare = self.jobs.get(entry.kind)
        result = await prepare(entry.job) if prepare else None
        if result is None:
            await queue.finish(entry, token, "dropped")
            return None
        letter, user_id = result
        return await queue.prepared(entry, token, letter, user_id)

    async def _failed(self, entry: OutgoingMail, token: str, error: str) -> None:
        if entry.attempts >= self.max_attempts:
            await queue.finish(entry, token, "failed", error)
            log.error("mail given up", extra={"mail_id": str(entry.id), "error": error})
            return
        delay = min(MAX_DELAY, self.retry_seconds * 2 ** (entry.attempts - 1))
        await queue.retry_later(entry, token, delay, error)
        log.warning(
            "mail not sent, will retry",
            extra={"mail_id": str(entry.id), "error": error, "retry_in": delay},
        )


@contextlib.asynccontextmanager
async def running(worker: MailWorker) -> AsyncIterator[None]:
    """Run the worker for the app's lifetime. At the end it may finish the message in hand
    (STOP_WAIT seconds at most, then it is cancelled: that message is sent again after its
    lease)."""
    task = asyncio.create_task(worker.run(), name="mail-worker")
    try:
        yield
    finally:
        worker.stop()
        try:
            async with asyncio.timeout(STOP_WAIT):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
