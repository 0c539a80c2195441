"""Todo events across app processes: two `graphql-app serve` processes on one database with
polling forced, every event delivered once and in order; the sequence's gap handling; a slow
subscriber ended without holding up the others."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from beanie import PydanticObjectId
from websockets.asyncio.client import ClientConnection

from graphql_app import events
from graphql_app.auth.service import Principal
from graphql_app.client_address import ClientInfo
from graphql_app.database import init_database, make_client
from graphql_app.errors import SubscriptionOverflow
from graphql_app.events import EventHub, Subscriber
from graphql_app.models import Todo
from graphql_app.services import Services
from graphql_app.settings import Settings

from .conftest import TEST_SECRET, Live, serve, serve_env
from .factories import PASSWORD, GraphQLClient
from .test_subscriptions import _next, _socket, _subscribe

TODOS = 30


@contextlib.asynccontextmanager
async def serve_process(env: dict[str, str]) -> AsyncIterator[tuple[int, str]]:
    """A `graphql-app serve` subprocess; yields its pid and host:port once /healthz answers."""
    async with serve(env) as (process, base_url):
        yield process.pid, base_url.removeprefix("http://")


@pytest.fixture
def polling_env(tmp_path: Path, mongodb_url: str, db_name: str) -> dict[str, str]:
    """The environment of a server process on the test database, polling forced."""
    return serve_env(
        tmp_path,
        MONGODB_URL=mongodb_url,
        MONGODB_DB=db_name,
        JWT_SECRET=TEST_SECRET,
        EVENTS_POLLING="true",
    )


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


@pytest.mark.parametrize("polling", ["true", "false"], ids=["polling", "change-stream"])
async def test_two_processes_alternating_every_event_in_order(
    polling_env: dict[str, str], polling: str
) -> None:
    env = {**polling_env, "EVENTS_POLLING": polling}
    async with (
        serve_process(env) as (_, first),
        serve_process(env) as (_, second),
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


async def test_two_processes_concurrent_every_event_once(polling_env: dict[str, str]) -> None:
    async with (
        serve_process(polling_env) as (_, first),
        serve_process(polling_env) as (_, second),
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


# --- the sequence and the fan-out, driven directly against the test database --------------


@pytest.fixture
async def services(settings_factory: Callable[..., Settings]) -> AsyncIterator[Services]:
    settings = settings_factory(events_polling=True)
    assert settings.mongodb_url is not None
    client = make_client(settings.mongodb_url)
    await init_database(client, settings.mongodb_db)
    yield Services.build(settings)
    await client.close()


async def _principal(services: Services) -> Principal:
    session = await services.auth.register("alice", PASSWORD, ClientInfo("203.0.113.7"))
    return await services.auth.authenticate(session.access_token)


def _todo(principal: Principal, title: str) -> Todo:
    return Todo(id=PydanticObjectId(), owner_id=principal.user_id, title=title)


async def _titles_of(subscriber: Subscriber, count: int, wait: float = 5) -> list[str]:
    return [(await asyncio.wait_for(subscriber.next(), wait)).todo["title"] for _ in range(count)]


async def test_a_number_taken_but_not_yet_visible_holds_back_the_next(
    services: Services, mongodb_url: str
) -> None:
    principal = await _principal(services)
    async with services.events.running(mongodb_url):
        with services.events.subscribe(principal) as subscriber:
            slow = await events.next_seq()  # a publisher between its $inc and its insert
            await events.publish("CREATED", _todo(principal, "second"))  # visible first
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(subscriber.next(), events.GAP_GRACE_SECONDS / 2)
            await events.record("CREATED", _todo(principal, "first"), slow)
            assert await _titles_of(subscriber, 2) == ["first", "second"]


async def test_a_number_never_filled_delays_the_next_by_the_grace_only(
    services: Services, mongodb_url: str
) -> None:
    principal = await _principal(services)
    async with services.events.running(mongodb_url):
        with services.events.subscribe(principal) as subscriber:
            lost = await events.next_seq()  # its publisher died before its insert
            started = time.monotonic()
            await events.publish("CREATED", _todo(principal, "after the gap"))
            assert await _titles_of(subscriber, 1) == ["after the gap"]
            waited = time.monotonic() - started
            assert events.GAP_GRACE_SECONDS <= waited < events.GAP_GRACE_SECONDS + 2
            # Should it turn up after all, it is delivered late rather than lost.
            await events.record("CREATED", _todo(principal, "late"), lost)
            assert await _titles_of(subscriber, 1) == ["late"]


async def test_a_slow_subscriber_is_ended_and_holds_up_no_one(
    services: Services, mongodb_url: str
) -> None:
    principal = await _principal(services)
    hub = EventHub(services.auth.recheck_many, polling=True, db_timeout=5, capacity=3)
    async with hub.running(mongodb_url):
        with hub.subscribe(principal) as slow, hub.subscribe(principal) as reader:
            for i in range(10):  # one at a time, each read at once by the reader
                await events.publish("CREATED", _todo(principal, f"todo {i}"))
                assert await _titles_of(reader, 1) == [f"todo {i}"]
            with pytest.raises(SubscriptionOverflow):
                await slow.next()


async def test_an_idle_change_stream_outlasts_the_database_timeout(
    live_server: Live, caplog: pytest.LogCaptureFixture
) -> None:
    """Each getMore of the watcher answers within DB_TIMEOUT, so a quiet stream neither
    fails nor falls back on a one-second reopen."""
    async with live_server(db_timeout=1) as address, _clients(address) as [api]:
        token = (await api.register("alice"))["accessToken"]
        async with _socket(address) as ws:
            await _subscribe(ws, token)
            await asyncio.sleep(3)  # three DB_TIMEOUTs without an event
            started = time.monotonic()
            await api.create_todo(token, "after a quiet spell")
            assert await _titles(ws, 1) == ["after a quiet spell"]
            assert time.monotonic() - started < 0.5
    assert not [r for r in caplog.records if r.name == "graphql_app.events"]
