"""Subscription limits per connection and per user (refused with RATE_LIMITED, the socket
kept for its other subscriptions), and a server that stays responsive with 1,000 open."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from graphql_app.app import create_app
from graphql_app.database import make_client
from graphql_app.events import QUEUE_SIZE
from graphql_app.settings import Settings

from .conftest import Live
from .factories import GraphQLClient
from .test_event_delivery import polling_env, serve_process  # noqa: F401  # fixture, helper
from .test_subscriptions import SUBSCRIBE, _next, _socket

OPS = ("insert", "query", "update", "delete", "getmore", "command")
CONNECTIONS = 10
PER_CONNECTION = 100


async def _init(ws: ClientConnection, token: str) -> None:
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await ws.send(json.dumps(init))
    assert (await _next(ws))["type"] == "connection_ack"


async def _start(ws: ClientConnection, op_id: str) -> None:
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": SUBSCRIBE}}))


async def _assert_refused(ws: ClientConnection, op_id: str) -> None:
    message = await _next(ws)
    assert message["type"] == "error", message
    assert message["id"] == op_id
    [error] = message["payload"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "subscriptions" in error["message"]


async def _assert_open(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    assert (await _next(ws))["type"] == "pong"


async def _events(ws: ClientConnection, count: int) -> dict[str, str]:
    """The next `count` messages: operation id -> todo title."""
    received = {}
    for _ in range(count):
        message = await _next(ws)
        assert message["type"] == "next", message
        received[message["id"]] = message["payload"]["data"]["todoChanged"]["todo"]["title"]
    return received


async def _events_in_order(ws: ClientConnection, count: int) -> list[str]:
    return [next(iter((await _events(ws, 1)).values())) for _ in range(count)]


@contextlib.asynccontextmanager
async def _http(address: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        yield GraphQLClient(http)


async def test_per_connection_limit(live_server: Live) -> None:
    async with live_server(max_subscriptions_per_connection=3) as address, _http(address) as api:
        token = (await api.register("alice"))["accessToken"]
        async with _socket(address) as ws:
            await _init(ws, token)
            for op_id in "123":
                await _start(ws, op_id)
            await _start(ws, "4")
            await _assert_refused(ws, "4")
            await asyncio.sleep(0.5)  # let the server start watching
            await api.create_todo(token, "first")
            assert await _events(ws, 3) == {"1": "first", "2": "first", "3": "first"}
            # Completing one frees its place.
            await ws.send(json.dumps({"id": "1", "type": "complete"}))
            await _start(ws, "4")
            await asyncio.sleep(0.5)
            await api.create_todo(token, "second")
            assert await _events(ws, 3) == {"2": "second", "3": "second", "4": "second"}


async def test_per_user_limit(live_server: Live) -> None:
    async with live_server(max_subscriptions_per_user=2) as address, _http(address) as api:
        alice = (await api.register("alice"))["accessToken"]
        bob = (await api.register("bob"))["accessToken"]
        async with _socket(address) as one, _socket(address) as two, _socket(address) as other:
            await _init(one, alice)
            await _init(two, alice)
            await _init(other, bob)
            await _start(one, "1")
            await _start(two, "1")
            await _start(two, "2")
            await _assert_refused(two, "2")
            await _start(other, "1")  # another user's count is their own
            await asyncio.sleep(0.5)
            await api.create_todo(alice, "alice's")
            await api.create_todo(bob, "bob's")
            assert await _events(one, 1) == {"1": "alice's"}
            assert await _events(two, 1) == {"1": "alice's"}
            assert await _events(other, 1) == {"1": "bob's"}
            # Closing a socket frees its subscriptions.
            await one.close()
            deadline = time.monotonic() + 5
            while True:
                await _start(two, "3")
                try:
                    reply = await _next(two, wait=0.5)
                except TimeoutError:
                    break  # accepted: a subscription answers only with events
                assert reply["type"] == "error", reply
                assert time.monotonic() < deadline, "the closed socket's place was not freed"
            await asyncio.sleep(0.5)
            await api.create_todo(alice, "again")
            assert await _events(two, 2) == {"1": "again", "3": "again"}


async def _p95(api: GraphQLClient, token: str, runs: int = 60) -> float:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await api.me(token)
        durations.append(time.perf_counter() - started)
        assert result.errors == []
    return statistics.quantiles(durations, n=20)[-1]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time the process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _database_ops_per_second(url: str, seconds: float = 3) -> float:
    """Operations the database serves per second (serverStatus), while no request runs."""
    client = make_client(url)
    try:
        before = (await client.admin.command("serverStatus"))["opcounters"]
        await asyncio.sleep(seconds)
        after = (await client.admin.command("serverStatus"))["opcounters"]
    finally:
        await client.close()
    return sum(int(after[k]) - int(before[k]) for k in OPS) / seconds


async def test_a_thousand_subscriptions_keep_the_server_responsive(
    polling_env: dict[str, str],  # noqa: F811  # the fixture imported above
    mongodb_url: str,
) -> None:
    env = {**polling_env, "MAX_SUBSCRIPTIONS_PER_USER": "1000"}  # the worst case: one user
    async with serve_process(env) as (pid, address), _http(address) as api:
        alice = (await api.register("alice"))["accessToken"]
        bob = (await api.register("bob"))["accessToken"]
        await _p95(api, alice, runs=20)  # warm up
        idle = await _p95(api, alice)
        rss_before = _rss_mib(pid)
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(_socket(address)) for _ in range(11)]
            for ws in sockets:
                await _init(ws, alice)
            for ws in sockets[:CONNECTIONS]:
                for i in range(PER_CONNECTION):
                    await _start(ws, str(i))
            await _start(sockets[-1], "over")  # the 1,001st of this user
            await _assert_refused(sockets[-1], "over")
            await _assert_open(sockets[-1])
            watcher = await stack.enter_async_context(_socket(address))
            await _init(watcher, bob)
            await _start(watcher, "bob")
            await asyncio.sleep(1)  # let the server start watching
            loaded = await _p95(api, alice)
            ops_per_second = await _database_ops_per_second(mongodb_url)
            healthz = await api.http.get("/healthz")
            assert healthz.status_code == 200

            started = time.perf_counter()
            await api.create_todo(bob, "for bob")
            assert await _events(watcher, 1) == {"bob": "for bob"}
            delivered = time.perf_counter() - started

            started, cpu = time.perf_counter(), _cpu_seconds(pid)
            await api.create_todo(alice, "for all of alice's")
            for ws in sockets[:CONNECTIONS]:
                assert len(await _events(ws, PER_CONNECTION)) == PER_CONNECTION
            fanned_out, fan_out_cpu = time.perf_counter() - started, _cpu_seconds(pid) - cpu
            rss_after = _rss_mib(pid)
        print(
            f"\n1,000 subscriptions of one user: me p95 idle {idle * 1000:.1f} ms, loaded"
            f" {loaded * 1000:.1f} ms; an event to another user's one subscriber"
            f" {delivered * 1000:.0f} ms; one event to all 1,000: {fanned_out * 1000:.0f} ms until"
            f" all were read, server CPU {fan_out_cpu * 1000:.0f} ms; server RSS"
            f" {rss_before:.0f} -> {rss_after:.0f} MiB; database operations {ops_per_second:.1f}/s"
        )
        # Heartbeats, the poller and one token re-check a second: not one per subscriber.
        assert ops_per_second < 30
        assert loaded < 3 * idle, (idle, loaded)
        assert delivered < 2


@contextlib.asynccontextmanager
async def _server_with_small_send_buffers(settings: Settings) -> AsyncIterator[str]:
    """A live uvicorn whose sockets buffer little (so a client that stops reading holds up
    its sends after a few events, not after megabytes) and that sends no keepalive pings
    (which would close a socket that stops reading)."""
    listening = socket.socket()
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)  # inherited when accepted
    listening.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(settings), log_level="warning", ws="websockets-sansio", ws_ping_interval=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    while not server.started:  # noqa: ASYNC110  # uvicorn exposes a flag, not an event
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{listening.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        listening.close()


async def test_a_client_that_stops_reading_is_ended_and_holds_up_no_one(
    settings_factory: Callable[..., Settings],
) -> None:
    """Each subscription of a socket whose client reads nothing falls behind by more than its
    queue and is ended with SUBSCRIPTION_OVERFLOW; another socket of the same user gets
    every event meanwhile."""
    settings = settings_factory(max_subscriptions_per_user=200)
    async with _server_with_small_send_buffers(settings) as address, _http(address) as api:
        token = (await api.register("alice"))["accessToken"]
        async with (
            websockets.connect(
                f"ws://{address}/graphql",
                subprotocols=[Subprotocol("graphql-transport-ws")],
                max_queue=1,  # the client library stops reading the socket too
                compression=None,  # else the repeated titles would fit the buffers many times
                ping_interval=None,  # its pongs would wait behind the unread events
            ) as stalled,
            _socket(address) as reader,
        ):
            await _init(stalled, token)
            await _init(reader, token)
            for i in range(PER_CONNECTION):
                await _start(stalled, str(i))
            await _start(reader, "reader")
            await asyncio.sleep(0.5)  # let the server start watching
            titles = [f"todo {i:03} " + "x" * 180 for i in range(QUEUE_SIZE + 50)]
            reading = asyncio.create_task(_events_in_order(reader, len(titles)))
            for title in titles:
                await api.create_todo(token, title)
            assert await reading == titles
            ended: dict[str, str] = {}
            while len(ended) < PER_CONNECTION:
                message = await _next(stalled)
                if message["type"] == "next" and "errors" in message["payload"]:
                    ended[message["id"]] = message["payload"]["errors"][0]["extensions"]["code"]
            assert set(ended.values()) == {"SUBSCRIPTION_OVERFLOW"}
