"""The `graphql-app` console script as a user runs it: `create-user` (against MONGODB_URL and
against a running server's embedded database), `serve` with data that survives a restart,
a graceful SIGTERM, `export-schema`, and the start-up refusals."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from graphql_app.embedded import stop_process

from .conftest import TEST_SECRET, AppRunner, free_port
from .factories import AUTH_FIELDS, PASSWORD, GraphQLClient

SCRIPT = str(Path(sys.executable).with_name("graphql-app"))
ROOT = Path(__file__).resolve().parent.parent
LOGIN = (
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p)"
    f" {{ {AUTH_FIELDS} }} }}"
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "JWT_", "APP_"))}
    return {**env, "DATA_DIR": str(tmp_path / "data"), "BCRYPT_ROUNDS": "4", **extra}


async def _run(*args: str, env: dict[str, str], stdin: str = "") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        SCRIPT,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def db_env(tmp_path: Path, mongodb_url: str, db_name: str) -> dict[str, str]:
    return _env(tmp_path, MONGODB_URL=mongodb_url, MONGODB_DB=db_name, JWT_SECRET=TEST_SECRET)


async def test_create_user_and_admin(db_env: dict[str, str], run_app: AppRunner) -> None:
    code, out, err = await _run(
        "create-user", "Alice", "--password-stdin", env=db_env, stdin=f"{PASSWORD}\n"
    )
    assert (code, err) == (0, "")
    assert "alice" in out
    code, out, _ = await _run(
        "create-user", "root", "--admin", "--password-stdin", env=db_env, stdin=f" {PASSWORD} \r\n"
    )
    assert code == 0
    async with run_app() as client:
        alice = await client.login("alice")
        assert alice.data["login"]["user"]["roles"] == ["USER"]
        # Only the line ending is stripped: the spaces are part of the password.
        assert (await client.login("root")).codes == ["UNAUTHENTICATED"]
        root = await client.login("root", f" {PASSWORD} ")
        assert root.data["login"]["user"]["roles"] == ["USER", "ADMIN"]


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("taken", PASSWORD, "already taken"),
        ("weak", "short", "password"),
        ("bad name!", PASSWORD, "username"),
    ],
)
async def test_create_user_refusals(
    db_env: dict[str, str], username: str, password: str, message: str
) -> None:
    assert (await _run("create-user", "taken", "--password-stdin", env=db_env, stdin=PASSWORD))[
        0
    ] == 0
    code, out, err = await _run(
        "create-user", username, "--password-stdin", env=db_env, stdin=password
    )
    assert code == 1
    assert message in err.lower()
    assert "Traceback" not in err
    assert password not in err + out


async def test_export_schema_matches_the_committed_sdl(tmp_path: Path) -> None:
    code, out, _ = await _run("export-schema", env=_env(tmp_path))
    assert code == 0
    assert out.strip() == (ROOT / "schema" / "schema.graphql").read_text().strip()


@pytest.mark.parametrize(
    ("args", "extra", "variable"),
    [
        (["serve"], {"APP_ENV": "production", "JWT_SECRET": TEST_SECRET}, "MONGODB_URL"),
        (
            ["serve"],
            {"APP_ENV": "production", "MONGODB_URL": "mongodb://127.0.0.1:1"},
            "JWT_SECRET",
        ),
        (["serve", "--workers", "2"], {}, "MONGODB_URL"),
        (
            ["serve"],
            {"JWT_ALGORITHM": "RS256", "JWT_PRIVATE_KEY_FILE": "/nope.pem"},
            "JWT_PRIVATE_KEY_FILE",
        ),
    ],
)
async def test_serve_refuses_a_bad_configuration(
    tmp_path: Path, args: list[str], extra: dict[str, str], variable: str
) -> None:
    code, _, err = await _run(*args, "--port", str(free_port()), env=_env(tmp_path, **extra))
    assert code == 1
    assert variable in err
    assert "Traceback" not in err


# --- a live `graphql-app serve` with its embedded database ---------------------------------


@contextlib.asynccontextmanager
async def _serve(env: dict[str, str]) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
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
        await stop_process(process, grace=15)  # the way a process manager would


def _refuses_connections(url: str) -> bool:
    address = urlsplit(url)
    with socket.socket() as sock:
        return sock.connect_ex((address.hostname or "", address.port or 0)) != 0


async def test_serve_embedded_create_user_restart_and_sigterm(tmp_path: Path) -> None:
    env = _env(tmp_path, BCRYPT_ROUNDS="12")
    async with _serve(env) as (process, base), httpx.AsyncClient(base_url=base) as http:
        client = GraphQLClient(http)
        session = await client.register("alice")
        # create-user finds the running server's embedded database through DATA_DIR.
        code, _, err = await _run("create-user", "bob", "--password-stdin", env=env, stdin=PASSWORD)
        assert (code, err) == (0, "")
        assert (await client.login("bob")).errors == []
        db_url = (tmp_path / "data" / "embedded-db.url").read_text()

        # SIGTERM while a login (bcrypt at cost 12) is in flight: it still completes.
        in_flight = asyncio.create_task(client.login("alice"))
        await asyncio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        assert (await in_flight).errors == []
        assert await asyncio.wait_for(process.wait(), timeout=15) == 0
        assert time.monotonic() - stopped_at < 10
    assert _refuses_connections(db_url), "the embedded database outlived the server"
    assert not (tmp_path / "data" / "embedded-db.url").exists()

    # Restart on the same DATA_DIR: the users, the session and the signing key survived.
    async with _serve(env) as (_, base), httpx.AsyncClient(base_url=base) as http:
        client = GraphQLClient(http)
        assert "server" not in (await http.get("/healthz")).headers  # names no software
        assert (await client.me(session["accessToken"])).data["me"]["username"] == "alice"
        assert (await client.refresh(session["refreshToken"])).errors == []
        assert (await client.execute(LOGIN, {"u": "BOB", "p": PASSWORD})).errors == []


async def test_the_embedded_database_dies_with_a_killed_server(tmp_path: Path) -> None:
    async with _serve(_env(tmp_path)) as (process, _):
        db_url = (tmp_path / "data" / "embedded-db.url").read_text()
        process.kill()  # no chance to clean up
        await process.wait()
        deadline = time.monotonic() + 10
        while not _refuses_connections(db_url):
            assert time.monotonic() < deadline, "an orphaned embedded database kept running"
            await asyncio.sleep(0.2)
