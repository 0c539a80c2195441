"""Fixtures: one real MongoDB wire-protocol server per session (the embedded one, or
MONGODB_URL), one database per run (dropped at the end), collections emptied per test,
and the real ASGI app driven through httpx."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from graphql_app.app import create_app
from graphql_app.database import make_client
from graphql_app.embedded import embedded_database
from graphql_app.models import DOCUMENT_MODELS
from graphql_app.server import server_options
from graphql_app.settings import Settings

from .factories import JWT, PASSWORD, GraphQLClient

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


@pytest.fixture(scope="session")
async def mongodb_url() -> AsyncIterator[str]:
    url = os.environ.get("MONGODB_URL")
    if url:
        yield url
        return
    async with embedded_database(":memory:", None) as embedded:
        yield embedded


@pytest.fixture(scope="session")
async def db_name(mongodb_url: str) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    client = make_client(mongodb_url)
    await client.drop_database(name)
    await client.close()


@pytest.fixture
def settings_factory(mongodb_url: str, db_name: str, tmp_path: Any) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "mongodb_url": mongodb_url,
            "mongodb_db": db_name,
            "data_dir": tmp_path / "data",
            "jwt_secret": TEST_SECRET,
            "bcrypt_rounds": 4,
            **overrides,
        }
        return Settings(**values)

    return make


AppRunner = Callable[..., contextlib.AbstractAsyncContextManager[GraphQLClient]]


@pytest.fixture
def run_app(settings_factory: Callable[..., Settings]) -> AppRunner:
    """`async with run_app(**settings) as client:` runs an app with its lifespan."""

    @contextlib.asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[GraphQLClient]:
        app = create_app(settings_factory(**overrides))
        async with app.router.lifespan_context(app), _http(app) as http:
            yield GraphQLClient(http)

    return run


@contextlib.asynccontextmanager
async def _http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


Live = Callable[..., contextlib.AbstractAsyncContextManager[str]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run_node(script: Path, *args: str) -> tuple[int, str]:
    """Run a Node script of tests/clients/ without blocking the loop the live server runs in;
    return its exit code and its output."""
    node = shutil.which("node")
    if node is None:
        pytest.skip(f"node is not installed: {script.parent.name} needs Node.js")
    assert (script.parent / "node_modules").exists(), f"run `npm ci` in {script.parent}"
    process = await asyncio.create_subprocess_exec(
        node,
        str(script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode()


@pytest.fixture
def live_server(settings_factory: Callable[..., Settings]) -> Live:
    """`async with live_server(**settings) as base_url:` a real uvicorn in this event loop."""

    @contextlib.asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[str]:
        port = free_port()
        settings = settings_factory(**overrides)
        config = uvicorn.Config(
            create_app(settings),
            port=port,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
            **server_options(settings),
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110  # uvicorn exposes a flag, not an event
            await asyncio.sleep(0.02)
        try:
            yield f"127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task

    return run


@pytest.fixture
async def mongo(mongodb_url: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """A driver of its own on the test database's server (to look behind the API)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    yield client
    await client.close()


@pytest.fixture
async def client(run_app: AppRunner) -> AsyncIterator[GraphQLClient]:
    async with run_app() as gql:
        yield gql


@pytest.fixture(autouse=True)
def _logs_leak_nothing(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test's logs, at INFO: no token, no test password, no bcrypt hash."""
    caplog.set_level(logging.INFO)
    yield
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert not JWT.search(text), "a token was logged"
    assert PASSWORD not in text, "a password was logged"
    assert "$2b$" not in text, "a password hash was logged"


@pytest.fixture(autouse=True)
async def _clean_collections(mongodb_url: str, db_name: str) -> AsyncIterator[None]:
    yield
    mongo = make_client(mongodb_url)
    try:
        for model in DOCUMENT_MODELS:
            await mongo[db_name][model.Settings.name].delete_many({})  # type: ignore[attr-defined]
    finally:
        await mongo.close()
