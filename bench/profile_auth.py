"""Micro-benchmark of the per-request authentication and read path, in process.

    PYTHONPATH=. .venv/bin/python bench/profile_auth.py [--scale 1.0]

Starts the embedded database (in memory), seeds a user with 25 todos and a few revoked
sessions, then times each step many times and prints microseconds per call: the app's CPU
(`time.process_time`, this whole process) and, for steps that query the database, the
database's CPU (utime+stime of its process, from /proc/<pid>/stat). The database runs on
the other core when `taskset` allows it, so the two figures do not disturb each other.
Compare figures from one run only: the VM is noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop
from bson import ObjectId
from strawberry.types import ExecutionContext

from graphql_app import todos
from graphql_app.api.request_log import log_operation
from graphql_app.api.schema import build_schema
from graphql_app.auth import sessions
from graphql_app.auth.tokens import TokenType
from graphql_app.client_address import ClientInfo
from graphql_app.context import Context
from graphql_app.database import init_database, make_client
from graphql_app.embedded import embedded_server
from graphql_app.logs import JsonFormatter
from graphql_app.models import User
from graphql_app.pagination import encode_cursor
from graphql_app.services import Services
from graphql_app.settings import Settings

SECRET = "benchmark-secret-that-is-long-enough-0123456789"
TICK = os.sysconf("SC_CLK_TCK")


def db_cpu(pid: int) -> float:
    """Seconds of CPU the process has used (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


ROUNDS = 3
CONCURRENT = 32


def report(name: str, n: int, app: list[float], db: list[float] | None = None) -> None:
    """Medians over the rounds, per call."""
    db_text = f"  DB {statistics.median(db) / n * 1e6:8.1f} µs" if db else ""
    app_us = statistics.median(app) / n * 1e6
    print(f"{name:<58} app {app_us:8.1f} µs{db_text}   ({ROUNDS}x{n})", flush=True)


def sync_bench(name: str, fn: Callable[[], object], n: int) -> None:
    for _ in range(min(n // 10, 1000)):
        fn()
    app = []
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(n):
            fn()
        app.append(time.process_time() - start)
    report(name, n, app)


async def async_bench(
    name: str, fn: Callable[[], Awaitable[object]], n: int, pid: int | None = None, per: int = 1
) -> None:
    """`per`: requests one call of `fn` serves (figures are per request)."""
    for _ in range(min(n // 10, 200)):
        await fn()
    app, db = [], []
    for _ in range(ROUNDS):
        db_start = db_cpu(pid) if pid else 0.0
        start = time.process_time()
        for _ in range(n):
            await fn()
        app.append(time.process_time() - start)
        db.append(db_cpu(pid) - db_start if pid else 0.0)
    report(name, n * per, app, db if pid else None)


def log_bench(services: Services, scale: float) -> None:
    """The operation's log line, through the production formatter into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    context = Context(services, None, ClientInfo("203.0.113.7"))
    execution = ExecutionContext(
        query="query Me { me { id username } }",
        schema=build_schema(),
        allowed_operations=(),
        context=context,
        provided_operation_name="Me",
    )
    started = time.perf_counter()
    sync_bench(
        "log_operation (one JSON line)",
        lambda: log_operation(execution, started),
        int(20000 * scale),
    )
    buffer.seek(0)
    print("   sample:", buffer.readline().strip())
    record = logging.makeLogRecord(
        {
            "name": "graphql_app.requests",
            "levelname": "INFO",
            "levelno": logging.INFO,
            "msg": "graphql operation",
            "request_id": "0" * 32,
            "operation": "Me",
            "user_id": "6" * 24,
            "duration_ms": 1.23,
            "outcome": "ok",
        }
    )
    formatter = JsonFormatter()
    sync_bench("JsonFormatter.format", lambda: formatter.format(record), int(20000 * scale))


async def main(scale: float) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        async with embedded_server(":memory:", None) as server:
            os.sched_setaffinity(server.pid, {1})  # the database on one core, the app on
            os.sched_setaffinity(0, {0})  # the other, as bench/run.py places them
            settings = Settings(
                mongodb_url=server.url,
                mongodb_db="bench",
                data_dir=Path(data_dir),
                jwt_secret=SECRET,
                bcrypt_rounds=4,
            )
            client = make_client(server.url)
            await init_database(client, "bench")
            await run(settings, server.pid, scale)
            await client.close()


async def run(settings: Settings, pid: int, scale: float) -> None:
    services = Services.build(settings)
    auth, codec = services.auth, services.codec
    where = ClientInfo("203.0.113.7", "bench")
    result = await auth.register("bench", "benchmark password", where)
    user_id = result.user.id
    assert user_id is not None
    for _ in range(3):  # a few recently revoked sessions, as after some logouts
        other = await sessions.open_session(user_id, where, refresh_ttl=3600, auth_time=0)
        await sessions.revoke(other.sid, user_id, settings.access_token_ttl)
    for i in range(25):
        await todos.create(user_id, f"todo {i}")
    token = result.access_token
    claims = codec.verify(token, TokenType.ACCESS)
    print(f"revoked sessions stored: 3; access token {len(token)} bytes")

    n = int(50000 * scale)
    sync_bench(
        "codec.verify (cached, steady state)", lambda: codec.verify(token, TokenType.ACCESS), n
    )
    sync_bench(
        "codec._verify (PyJWT, first sight of a token)",
        lambda: codec._verify(token, TokenType.ACCESS, allow_expired=False),
        int(5000 * scale),
    )

    collection = User.get_pymongo_collection()
    raw = await collection.find_one({"_id": user_id})
    assert raw is not None
    sync_bench(
        "User.model_validate(whole stored user)",
        lambda: User.model_validate(raw),
        int(20000 * scale),
    )

    db_n = int(3000 * scale)
    await async_bench(
        "auth._load (the user, revocation checked)", lambda: auth._load(claims), db_n, pid
    )
    await async_bench(
        "auth.authenticate (token + _load)", lambda: auth.authenticate(token), db_n, pid
    )

    async def concurrently() -> None:  # as under load: 32 requests in flight
        await asyncio.gather(*(auth.authenticate(token) for _ in range(CONCURRENT)))

    await async_bench(
        f"auth.authenticate x{CONCURRENT} concurrent (per request)",
        concurrently,
        db_n // CONCURRENT,
        pid,
        per=CONCURRENT,
    )
    others = [
        (await auth.register(f"bench{i}", "benchmark password", where)).access_token
        for i in range(CONCURRENT)
    ]

    async def concurrently_many_users() -> None:
        await asyncio.gather(*(auth.authenticate(other) for other in others))

    await async_bench(
        f"auth.authenticate x{CONCURRENT} concurrent, as many users",
        concurrently_many_users,
        db_n // CONCURRENT,
        pid,
        per=CONCURRENT,
    )
    header = f"Bearer {token}"

    async def per_request() -> None:
        context = Context(services, header, where)
        await context.require_principal()

    await async_bench("Context + require_principal (a request's auth)", per_request, db_n, pid)
    sync_bench("Context(...) alone", lambda: Context(services, header, where), int(20000 * scale))

    variants: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
        "find_one {_id} (no projection)": ({"_id": user_id}, None),
        "find_one {_id, tv, sid $ne} proj {revoked_sessions: 0}": (
            {
                "_id": user_id,
                "token_version": claims.tv,
                "revoked_sessions.sid": {"$ne": claims.sid},
            },
            {"revoked_sessions": 0},
        ),
        "find_one {_id} proj {revoked_sessions.until: 0}": (
            {"_id": user_id},
            {"revoked_sessions.until": 0},
        ),
    }
    for name, (filter_, projection) in variants.items():
        await async_bench(
            name, lambda f=filter_, p=projection: collection.find_one(f, projection=p), db_n, pid
        )

    owner = ObjectId(str(user_id))
    page_n = int(1000 * scale)
    await async_bench(
        "todos.page(first=20)", lambda: todos.page(owner, 20, None, None), page_n, pid
    )
    docs = await todos.page(owner, 20, None, None)
    cursor = docs.items[-1][0]
    newest = await todos.store.model.get_pymongo_collection().find_one({"owner_id": owner})
    assert newest is not None
    sync_bench(
        "encode_cursor (one edge)",
        lambda: encode_cursor(newest["created_at"], newest["_id"]),
        int(50000 * scale),
    )
    await async_bench(
        "todos.page(first=20, after=cursor)",
        lambda: todos.page(owner, 20, cursor, None),
        page_n,
        pid,
    )
    log_bench(services, scale)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="multiply iteration counts")
    uvloop.run(main(parser.parse_args().scale))  # as uvicorn runs the app
