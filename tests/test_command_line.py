"""The `graphql-app` console script as a user runs it: `create-user` (against MONGODB_URL and
against a running server's embedded database), `unlock`, `serve` with data that survives a
restart, its banner, one owner per DATA_DIR, several workers on the embedded database, a
graceful SIGTERM, `export-schema`, `--help`/`--version`, secrets from files, and every
refusal as one line without a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest

from .conftest import SCRIPT, TEST_SECRET, AppRunner, free_port, serve, serve_env
from .factories import AUTH_FIELDS, PASSWORD, GraphQLClient

ROOT = Path(__file__).resolve().parent.parent
LOGIN = (
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p)"
    f" {{ {AUTH_FIELDS} }} }}"
)


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
    return serve_env(tmp_path, MONGODB_URL=mongodb_url, MONGODB_DB=db_name, JWT_SECRET=TEST_SECRET)


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
    code, out, _ = await _run("export-schema", env=serve_env(tmp_path))
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
    code, _, err = await _run(*args, "--port", str(free_port()), env=serve_env(tmp_path, **extra))
    assert code == 1
    assert variable in err
    assert "Traceback" not in err


# --- a live `graphql-app serve` with its embedded database ---------------------------------


def _output(base: str, tmp_path: Path) -> tuple[str, str]:
    logs = tmp_path / f"serve-{urlsplit(base).port}"
    return logs.with_suffix(".out").read_text(), logs.with_suffix(".err").read_text()


def _refuses_connections(url: str) -> bool:
    address = urlsplit(url)
    with socket.socket() as sock:
        return sock.connect_ex((address.hostname or "", address.port or 0)) != 0


async def test_serve_embedded_create_user_restart_and_sigterm(tmp_path: Path) -> None:
    env = serve_env(tmp_path, BCRYPT_ROUNDS="12")
    async with serve(env) as (process, base), httpx.AsyncClient(base_url=base) as http:
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
    async with serve(env) as (_, base), httpx.AsyncClient(base_url=base) as http:
        client = GraphQLClient(http)
        assert "server" not in (await http.get("/healthz")).headers  # names no software
        assert (await client.me(session["accessToken"])).data["me"]["username"] == "alice"
        assert (await client.refresh(session["refreshToken"])).errors == []
        assert (await client.execute(LOGIN, {"u": "BOB", "p": PASSWORD})).errors == []


async def test_the_embedded_database_dies_with_a_killed_server(tmp_path: Path) -> None:
    async with serve(serve_env(tmp_path)) as (process, _):
        db_url = (tmp_path / "data" / "embedded-db.url").read_text()
        process.kill()  # no chance to clean up
        await process.wait()
        deadline = time.monotonic() + 10
        while not _refuses_connections(db_url):
            assert time.monotonic() < deadline, "an orphaned embedded database kept running"
            await asyncio.sleep(0.2)


async def test_serve_says_where_to_go_and_a_second_serve_is_refused(tmp_path: Path) -> None:
    env = serve_env(tmp_path)
    async with serve(env) as (process, base), httpx.AsyncClient(base_url=base) as http:
        out, err = _output(base, tmp_path)
        data_dir = (tmp_path / "data").resolve()
        assert f"{base}/graphql" in out
        assert f"data directory: {data_dir}" in out
        assert f"(files in {data_dir / 'db'})" in out
        # No colour codes, raw or escaped inside a JSON log line (uvicorn's `color_message`).
        assert "\x1b" not in out + err
        assert "\\u001b" not in err
        assert "Uvicorn running on" in err
        assert (await http.get("/graphql", headers={"Accept": "text/html"})).status_code == 200
        url_file = tmp_path / "data" / "embedded-db.url"
        db_url = url_file.read_text()

        started = time.monotonic()
        code, second_out, second_err = await _run("serve", "--port", str(free_port()), env=env)
        assert code == 1
        assert time.monotonic() - started < 15  # no database started, no port bound
        assert second_err.count("\n") == 1
        assert "Traceback" not in second_err
        assert f"in use by a running graphql-app (pid {process.pid})" in second_err
        assert str(data_dir) in second_err
        assert "graphql/" not in second_out, "the refused server announced itself"

        # The first one is untouched: still serving, its address still recorded.
        assert url_file.read_text() == db_url
        client = GraphQLClient(http)
        await client.register("alice")
        code, _, err = await _run("create-user", "bob", "--password-stdin", env=env, stdin=PASSWORD)
        assert (code, err) == (0, "")
        assert (await client.login("bob")).errors == []


def _children(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def _server_side_owner(server_port: int, client_port: int, candidates: set[int]) -> int:
    """The process holding the server side of a loopback TCP connection: its socket inode
    from /proc/net/tcp, then whose file descriptors point at it."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        if (local, remote) == (server_port, client_port):
            inode = fields[9]
    assert inode is not None, "connection not found in /proc/net/tcp"
    for pid in candidates:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):  # a descriptor closed meanwhile
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
    raise AssertionError("no worker holds the connection")


async def test_serve_with_two_workers_on_the_embedded_database(tmp_path: Path) -> None:
    """Both workers answer (told apart by which process holds each connection, from /proc),
    on the one database the parent started: a user registered through one logs in
    through the other."""
    env = serve_env(tmp_path)
    async with contextlib.AsyncExitStack() as stack:
        process, base = await stack.enter_async_context(serve(env, "--workers", "2"))
        port = urlsplit(base).port
        assert port is not None
        children = _children(process.pid)
        by_worker: dict[int, tuple[GraphQLClient, str]] = {}
        for attempt in range(60):
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=base))
            client = GraphQLClient(http)
            username = f"user{attempt}"
            registered = await client.execute(
                f"mutation($u: String!, $p: String!) {{ register(input: {{username: $u,"
                f" password: $p}}) {{ {AUTH_FIELDS} }} }}",
                {"u": username, "p": PASSWORD},
            )
            assert registered.errors == []
            stream: Any = registered.response.extensions["network_stream"]
            client_port = stream.get_extra_info("client_addr")[1]
            worker = _server_side_owner(port, client_port, children)
            by_worker.setdefault(worker, (client, username))
            if len(by_worker) == 2:
                break
        assert len(by_worker) == 2, "one worker answered every connection"
        assert process.pid not in by_worker
        (first, first_user), (second, second_user) = by_worker.values()
        assert (await first.login(second_user)).errors == []
        assert (await second.login(first_user)).errors == []
        db_url = (tmp_path / "data" / "embedded-db.url").read_text()

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
    assert _refuses_connections(db_url), "the embedded database outlived the server"


async def test_help_and_version(tmp_path: Path) -> None:
    env = serve_env(tmp_path)
    code, out, _ = await _run("--version", env=env)
    assert (code, out.strip()) == (0, f"graphql-app {importlib.metadata.version('graphql-app')}")
    code, out, _ = await _run("--help", env=env)
    assert code == 0
    for command in ("serve", "create-user", "unlock", "export-schema"):
        assert command in out
    expected = {
        "serve": [
            "(default: 8000)",
            "(default: 127.0.0.1)",
            "--workers",
            "MONGODB_URL",
            "DATA_DIR",
            "JWT_SECRET_FILE",
            "APP_ENV",
        ],
        "create-user": ["--password-stdin", "--admin", "MONGODB_URL", "DATA_DIR", "BCRYPT_ROUNDS"],
        "unlock": ["failed logins", "MONGODB_URL", "DATA_DIR"],
        "export-schema": ["schema"],
    }
    for command, fragments in expected.items():
        code, out, _ = await _run(command, "--help", env=env)
        assert code == 0
        for fragment in fragments:
            assert fragment in out, (command, fragment)
    code, _, err = await _run("serve", "--port", "eighty", env=env)
    assert code == 2
    assert "invalid int value" in err


def _unreachable_url() -> str:
    return f"mongodb://admin:hunter2-secret@127.0.0.1:{free_port()}/?directConnection=true"


@pytest.mark.parametrize(
    ("args", "extra", "stdin", "code", "fragments"),
    [
        pytest.param(
            ["create-user", "alice"],
            {},
            PASSWORD,
            2,
            ["no terminal", "--password-stdin"],
            id="no-terminal-for-the-password",
        ),
        pytest.param(
            ["serve"],
            {"APP_ENV": "production", "JWT_SECRET": TEST_SECRET, "MONGODB_URL": "UNREACHABLE"},
            "",
            1,
            ["the database at 127.0.0.1:", "did not answer within 3 s"],
            id="production-database-unreachable",
        ),
        pytest.param(
            ["create-user", "alice", "--password-stdin"],
            {"MONGODB_URL": "UNREACHABLE"},
            PASSWORD,
            1,
            ["the database at 127.0.0.1:", "MONGODB_URL"],
            id="create-user-database-unreachable",
        ),
        pytest.param(
            ["serve"],
            {"APP_ENV": "production"},
            "",
            1,
            ["APP_ENV=production", "MONGODB_URL is required", "JWT_SECRET must be set"],
            id="every-missing-production-setting-at-once",
        ),
        pytest.param(
            ["serve"],
            {"JWT_SECRET": TEST_SECRET, "JWT_SECRET_FILE": "/etc/hostname"},
            "",
            1,
            ["set JWT_SECRET or JWT_SECRET_FILE, not both"],
            id="secret-and-secret-file",
        ),
        pytest.param(
            ["serve"],
            {"JWT_SECRET_FILE": "/nonexistent/jwt-secret"},
            "",
            1,
            ["JWT_SECRET_FILE: cannot read /nonexistent/jwt-secret"],
            id="unreadable-secret-file",
        ),
        pytest.param(
            ["unlock", "alice"],
            {"MONGODB_URL_FILE": "/nonexistent/url"},
            "",
            1,
            ["MONGODB_URL_FILE"],
            id="unreadable-url-file",
        ),
    ],
)
async def test_every_refusal_is_one_line(
    tmp_path: Path,
    args: list[str],
    extra: dict[str, str],
    stdin: str,
    code: int,
    fragments: list[str],
) -> None:
    extra = {k: _unreachable_url() if v == "UNREACHABLE" else v for k, v in extra.items()}
    if args[0] == "serve":
        args = [*args, "--port", str(free_port())]
    started = time.monotonic()
    returned, out, err = await _run(*args, env=serve_env(tmp_path, **extra), stdin=stdin)
    assert returned == code
    # At most 3 s of waiting for a database, plus the interpreter's start on a busy machine.
    assert time.monotonic() - started < 15
    assert err.startswith("graphql-app: ")
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err
    assert "hunter2" not in out + err, "a password in the database URL was shown"
    assert PASSWORD not in out + err


async def test_unlock_ends_a_lockout(db_env: dict[str, str], run_app: AppRunner) -> None:
    async with run_app() as client:
        for username in ("alice", "alice2"):
            await client.register(username)
            for _ in range(5):
                assert (await client.login(username, "wrong password")).reasons == [
                    "BAD_CREDENTIALS"
                ]
            assert (await client.login(username)).codes == ["RATE_LIMITED"]

        code, out, err = await _run("unlock", "ALICE", env=db_env)
        assert (code, err) == (0, "")
        assert "unlocked alice" in out
        assert (await client.login("alice")).errors == []
        # Only that username: another one, even sharing its first letters, stays locked.
        assert (await client.login("alice2")).codes == ["RATE_LIMITED"]

        # Idempotent for a user that is not locked; a username nobody has is refused.
        assert (await _run("unlock", "alice", env=db_env))[0] == 0
        code, out, err = await _run("unlock", "nobody", env=db_env)
        assert (code, out) == (1, "")
        assert err == "graphql-app: User not found: nobody\n"


async def test_secrets_from_files(
    tmp_path: Path, mongodb_url: str, db_name: str, db_env: dict[str, str]
) -> None:
    """JWT_SECRET_FILE and MONGODB_URL_FILE, the Docker-secrets way: the trailing newline is
    not part of the value."""
    secret_file, url_file = tmp_path / "jwt_secret", tmp_path / "mongodb_url"
    secret_file.write_text(f"{TEST_SECRET}-from-a-file\n")
    url_file.write_text(f"{mongodb_url}\n")
    env = {k: v for k, v in db_env.items() if k not in {"JWT_SECRET", "MONGODB_URL"}}
    env |= {"JWT_SECRET_FILE": str(secret_file), "MONGODB_URL_FILE": str(url_file)}
    async with serve(env) as (_, base), httpx.AsyncClient(base_url=base) as http:
        session = await GraphQLClient(http).register("alice")
    claims = jwt.decode(
        session["accessToken"],
        f"{TEST_SECRET}-from-a-file",
        algorithms=["HS256"],
        audience="graphql-app",
    )
    assert claims["type"] == "access"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            session["accessToken"],
            f"{TEST_SECRET}-from-a-file\n",
            algorithms=["HS256"],
            audience="graphql-app",
        )
    out, _ = _output(base, tmp_path)
    assert "on MongoDB at 127.0.0.1:" in out, "MONGODB_URL_FILE was not used"
