"""Todo events across app processes: two `graphql-app serve` processes on one database with
polling forced, every event delivered once and in order; the sequence's gap handling; a slow
subscriber ended without holding up the others."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from graphql_app.embedded import stop_process

from .conftest import TEST_SECRET, free_port
from .factories import GraphQLClient
from .test_subscriptions import _next, _socket, _subscribe

SCRIPT = str(Path(sys.executable).with_name("graphql-app"))
TODOS = 30


@contextlib.asynccontextmanager
async def serve_process(env: dict[str, str]) -> AsyncIterator[tuple[int, str]]:
    """A `graphql-app serve` subprocess; yields its pid and host:port once /healthz answers."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        SCRIPT,
        "serve",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=f"http://{address}") as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                assert process.returncode is None, "serve exited before answering"
                assert time.monotonic() < deadline, "serve did not answer /healthz"
                await asyncio.sleep(0.1)
        yield process.pid, address
    finally:
        await stop_process(process, grace=15)


@pytest.fixture
def serve_env(tmp_path: Path, mongodb_url: str, db_name: str) -> dict[str, str]:
    """The environment of a server process on the test database, polling forced."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "JWT_", "APP_"))}
    return {
        **env,
        "DATA_DIR": str(tmp_path / "data"),
        "BCRYPT_ROUNDS": "4",
        "MONGODB_URL": mongodb_url,
        "MONGODB_DB": db_name,
        "JWT_SECRET": TEST_SECRET,
        "EVENTS_POLLING": "true",
    }


@contextlib.asynccontextmanager
async def _clients(*addresses: str) -> AsyncIterator[list[GraphQLClient]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            GraphQLClient(
                await stack.enter_async_context(httpx.AsyncClient(base_url=f"http://{a}"))
            )
            for a in addresses
        ]


async def _titles(ws: ClientConnection, count: int) -> list[str]:
    titles = []
    for _ in range(count):
        message = await _next(ws)
        assert message["type"] == "next", message
        titles.append(message["payload"]["data"]["todoChanged"]["todo"]["title"])
    return titles


async def test_two_processes_alternating_every_event_in_order(serve_env: dict[str, str]) -> None:
    async with (
        serve_process(serve_env) as (_, first),
        serve_process(serve_env) as (_, second),
        _clients(first, second) as clients,
    ):
        token = (await clients[0].register("alice"))["accessToken"]
        async with _socket(first) as ws:
            await _subscribe(ws, token)
            titles = [f"todo {i}" for i in range(TODOS)]
            for i, title in enumerate(titles):
                await clients[i % 2].create_todo(token, title)
            assert await _titles(ws, TODOS) == titles
            with pytest.raises(TimeoutError):
                await _next(ws, wait=1)  # and nothing twice


async def test_two_processes_concurrent_every_event_once(serve_env: dict[str, str]) -> None:
    async with (
        serve_process(serve_env) as (_, first),
        serve_process(serve_env) as (_, second),
        _clients(first, second) as clients,
    ):
        token = (await clients[0].register("alice"))["accessToken"]
        async with _socket(first) as ws:
            await _subscribe(ws, token)
            titles = [f"todo {i}" for i in range(TODOS)]
            await asyncio.gather(
                *(clients[i % 2].create_todo(token, t) for i, t in enumerate(titles))
            )
            assert sorted(await _titles(ws, TODOS)) == sorted(titles)
            with pytest.raises(TimeoutError):
                await _next(ws, wait=1)
