"""The embedded database for development: `secantusd-py` as a child process.

Never imported (its licence is GPL-2.0): it runs as a separate process on a free loopback
port with its files under DATA_DIR. The process that runs it owns DATA_DIR (an exclusive
lock, released by the kernel however that process ends) and records the database's address
there, so that `graphql-app create-user` and `unlock` use the same data and a second
`serve` refuses at once instead of fighting over the files.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from .database import make_client, ping

log = logging.getLogger(__name__)
ADDRESS_FILE = "embedded-db.url"
LOCK_FILE = "serve.lock"
LOG_FILE = "embedded-db.log"
START_TIMEOUT = 30.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database cannot run; the message is one line for the user."""


def _executable() -> str:
    sibling = Path(sys.executable).with_name("secantusd-py")
    found = str(sibling) if sibling.exists() else shutil.which("secantusd-py")
    if found is None:
        raise EmbeddedDatabaseError(
            "MONGODB_URL is not set and the embedded database is not installed: "
            "pip install '.[embedded]' or set MONGODB_URL"
        )
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def owning(data_dir: Path) -> Iterator[None]:
    """Hold DATA_DIR for as long as this block runs: an exclusive `flock` on a file in it,
    which the kernel releases when the process ends, even by SIGKILL; the lock file names
    the owner's pid for the refusal message."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 20, 0).decode(errors="replace").strip() or "unknown"
            raise EmbeddedDatabaseError(
                f"DATA_DIR {data_dir.resolve()} is in use by a running graphql-app "
                f"(pid {owner}): stop that one, or set DATA_DIR to another directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


async def running_url(data_dir: Path) -> str | None:
    """The address of an embedded database a running server recorded, if it answers."""
    path = data_dir / ADDRESS_FILE
    if not path.exists():
        return None
    url = path.read_text().strip()
    client = make_client(url, 1.0)
    try:
        return url if await ping(client) else None
    finally:
        await client.close()


class _Server:
    """One `secantusd-py` process; `storage` is a directory, or ":memory:" (tests). With a
    `data_dir`, its log goes there and, once it answers, its address too."""

    def __init__(self, storage: Path | str, data_dir: Path | None) -> None:
        port = _free_port()
        self.url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        self.data_dir = data_dir
        self.log_path = data_dir / LOG_FILE if data_dir else None
        command = [_executable(), "--host", "127.0.0.1", "--port", str(port)]
        command += ["--storage-path", str(storage), "--log-level", "WARNING"]
        output: Any = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self._log_start = output.tell() if self.log_path else 0
        try:
            self.process = subprocess.Popen(  # noqa: S603  # our own executable, fixed arguments
                command,
                stdout=output,
                stderr=output,
                start_new_session=True,  # Ctrl-C reaches the app, which then stops the database
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        finally:
            if self.log_path:
                output.close()  # the child keeps its own descriptor

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        client: MongoClient[dict[str, Any]] = MongoClient(self.url, serverSelectionTimeoutMS=500)
        try:
            while True:
                if self.process.poll() is not None:
                    raise EmbeddedDatabaseError(
                        f"the embedded database exited with code {self.process.returncode}"
                        f"{self._last_log_line()}"
                    )
                with contextlib.suppress(PyMongoError):
                    client.admin.command("ping")
                    break
                if time.monotonic() > deadline:
                    raise EmbeddedDatabaseError(
                        f"the embedded database did not answer within {START_TIMEOUT:.0f} s"
                        f"{self._last_log_line()}"
                    )
                time.sleep(0.1)
        finally:
            client.close()
        if self.data_dir:
            (self.data_dir / ADDRESS_FILE).write_text(self.url)
        log.info("embedded database listening on %s", self.url)

    def _last_log_line(self) -> str:
        if self.log_path is None:
            return ""
        with self.log_path.open("rb") as file:
            file.seek(self._log_start)
            lines = file.read().decode(errors="replace").strip().splitlines()
        last = f": {lines[-1].strip()}" if lines else ""
        return f"{last} (log: {self.log_path.resolve()})"

    def stop(self, grace: float = 5) -> None:
        """Forget the address (only the owner of DATA_DIR ever wrote it), then SIGTERM, and
        SIGKILL if it has not exited within `grace` seconds."""
        if self.data_dir:
            (self.data_dir / ADDRESS_FILE).unlink(missing_ok=True)
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def embedded_database_sync(data_dir: Path) -> Iterator[str]:
    """Own DATA_DIR, run the database on its files, yield its URL, stop it on exit: for the
    `serve` process, whose workers share the one database through MONGODB_URL."""
    with owning(data_dir):
        server = _Server(data_dir / "db", data_dir)
        try:
            server.wait_until_up()
            yield server.url
        finally:
            server.stop()


@dataclass(frozen=True)
class EmbeddedServer:
    url: str
    pid: int  # for tests that freeze it (SIGSTOP) to see how the app copes


@contextlib.asynccontextmanager
async def embedded_database(storage: Path | str, data_dir: Path | None) -> AsyncIterator[str]:
    """The same from an event loop: start the server, wait until it answers a ping, yield
    its URL, stop it on exit. With a `data_dir`, this process owns it meanwhile."""
    async with embedded_server(storage, data_dir) as server:
        yield server.url


@contextlib.asynccontextmanager
async def embedded_server(
    storage: Path | str, data_dir: Path | None
) -> AsyncIterator[EmbeddedServer]:
    """`embedded_database`, yielding the server's process id with its URL."""
    with owning(data_dir) if data_dir else contextlib.nullcontext():
        # Started from the loop's own thread: the database dies with that thread (prctl).
        server = _Server(storage, data_dir)
        try:
            await asyncio.to_thread(server.wait_until_up)
            yield EmbeddedServer(server.url, server.process.pid)
        finally:
            await asyncio.to_thread(server.stop)


def _die_with_parent() -> None:
    """In the child, before exec: kill it when the server dies without stopping it (a
    SIGKILL, a crash), so that no orphaned database keeps its port and files. SIGKILL rather
    than SIGTERM: the embedded server's SIGTERM handler can deadlock (seen with
    secantusdb 0.7.0b3), and then nobody would be left to follow up."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
