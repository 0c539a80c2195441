"""Fixtures: one real MongoDB wire-protocol server per session (the embedded one, or
MONGODB_URL), one database per run (dropped at the end), collections emptied per test,
and the real ASGI app driven through httpx."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import signal
import socket
import sys
import time
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
    return its exit code and its output. Its project is installed first if need be."""
    node = await ready_node(script.parent)
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


_INSTALLED: set[Path] = set()
INSTALL_STAMP = ".installed-lock-sha256"  # in node_modules: the package-lock.json it came from


async def ready_node(project: Path) -> str:
    """The `node` executable, with the tests/clients/ `project` installed: `npm ci` once per
    session, when its node_modules is missing or was installed from another
    package-lock.json. An exclusive lock on the lockfile makes a parallel caller (another
    pytest process) wait, then find it done. Skips, with the reason, without Node.js."""
    node = shutil.which("node")
    if node is None:
        pytest.skip(f"node is not installed: tests/clients/{project.name} needs Node.js")
    if project in _INSTALLED:
        return node
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed: {project.name} needs it to install its packages")
    lockfile = project / "package-lock.json"
    wanted = hashlib.sha256(lockfile.read_bytes()).hexdigest()
    stamp = project / "node_modules" / INSTALL_STAMP
    with lockfile.open("rb") as held:
        await asyncio.to_thread(fcntl.flock, held, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != wanted:
            process = await asyncio.create_subprocess_exec(
                npm,
                "ci",
                "--no-audit",
                "--no-fund",
                cwd=project,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
            assert process.returncode == 0, f"npm ci in {project} failed:\n{output.decode()}"
            stamp.write_text(wanted)
    _INSTALLED.add(project)
    return node


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


_MEASURED = pytest.StashKey[list[str]]()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """`report(line)`: a figure a test measured, printed in the run's summary."""
    return request.config.stash.setdefault(_MEASURED, []).append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = terminalreporter.config.stash.get(_MEASURED, [])
    if lines:
        terminalreporter.section("measured")
        for line in lines:
            terminalreporter.write_line(line)


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


# --- `graphql-app` as a subprocess, the way a user or process manager runs it -------------

SCRIPT = str(Path(sys.executable).with_name("graphql-app"))


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `graphql-app` subprocess: this one's, without its database, key
    and mode settings, with its own DATA_DIR."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "JWT_", "APP_"))}
    return {**env, "DATA_DIR": str(tmp_path / "data"), "BCRYPT_ROUNDS": "4", **extra}


@contextlib.asynccontextmanager
async def serve(
    env: dict[str, str], *args: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`graphql-app serve` until it answers /healthz; its stdout and stderr go to
    serve-PORT.out / .err beside DATA_DIR."""
    port = free_port()
    logs = Path(env["DATA_DIR"]).parent / f"serve-{port}"
    with logs.with_suffix(".out").open("wb") as out, logs.with_suffix(".err").open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            SCRIPT, "serve", "--port", str(port), *args, env=env, stdout=out, stderr=err
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                assert process.returncode is None, "serve exited before answering"
                assert time.monotonic() < deadline, "serve did not answer /healthz"
                await asyncio.sleep(0.2)
        yield process, base
    finally:
        await stop(process, grace=15)  # the way a process manager would


async def stop(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=grace)
    except TimeoutError:
        process.kill()
        await process.wait()
