"""Subscriptions over graphql-transport-ws against a live uvicorn server: authentication in
connection_init, own events only, streams that end on revocation and expiry, and events
carried between app instances through MongoDB."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from graphql_app import users
from graphql_app.models import Role

from .conftest import Live
from .factories import PASSWORD, GraphQLClient

SUBSCRIBE = "subscription { todoChanged { kind todo { id title done } } }"


@contextlib.asynccontextmanager
async def _http(address: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        yield GraphQLClient(http)


@contextlib.asynccontextmanager
async def _socket(
    address: str, subprotocol: str = "graphql-transport-ws"
) -> AsyncIterator[ClientConnection]:
    async with websockets.connect(
        f"ws://{address}/graphql",
        subprotocols=[subprotocol],  # type: ignore[list-item]
    ) as ws:
        yield ws


async def _subscribe(ws: ClientConnection, token: str) -> None:
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert (await _next(ws))["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    await asyncio.sleep(0.5)  # let the server start watching


async def _next(ws: ClientConnection, wait: float = 5) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), wait)
    # A text frame (str): the graphql-ws client refuses binary ones with 4004.
    assert isinstance(frame, str), frame
    message: dict[str, Any] = json.loads(frame)
    return message


async def test_own_events_only(live_server: Live) -> None:
    async with live_server() as address, _http(address) as client:
        alice = (await client.register("alice"))["accessToken"]
        bob = (await client.register("bob"))["accessToken"]
        async with _socket(address) as ws:
            await _subscribe(ws, alice)
            await client.create_todo(bob, "bob's todo")
            todo = await client.create_todo(alice, "alice's todo")
            await client.execute(
                "mutation($id: ID!) { updateTodo(id: $id, input: {done: true}) { id } }",
                {"id": todo["id"]},
                token=alice,
            )
            await client.execute(
                "mutation($id: ID!) { deleteTodo(id: $id) }", {"id": todo["id"]}, token=alice
            )
            received = [await _next(ws) for _ in range(3)]
            events = [m["payload"]["data"]["todoChanged"] for m in received]
            assert [e["kind"] for e in events] == ["CREATED", "UPDATED", "DELETED"]
            assert {e["todo"]["id"] for e in events} == {todo["id"]}
            assert events[1]["todo"]["done"] is True
            with pytest.raises(TimeoutError):
                await _next(ws, wait=1.5)  # bob's event never arrives


@pytest.mark.parametrize("payload", [{}, {"Authorization": "Bearer garbage"}, None, "x"])
async def test_bad_token_closes_with_4401(live_server: Live, payload: Any) -> None:
    async with live_server() as address, _socket(address) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _next(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


async def test_subscribe_without_init_is_refused(live_server: Live) -> None:
    async with live_server() as address, _socket(address) as ws:
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _next(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


async def test_legacy_graphql_ws_protocol_is_refused(live_server: Live) -> None:
    async with live_server() as address:
        with contextlib.suppress(websockets.InvalidHandshake, websockets.ConnectionClosed):
            async with _socket(address, "graphql-ws") as ws:
                assert ws.subprotocol != "graphql-ws"
                await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await _next(ws)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code != 1000


async def test_logout_ends_the_stream(live_server: Live) -> None:
    async with live_server() as address, _http(address) as client:
        session = await client.register("alice")
        async with _socket(address) as ws:
            await _subscribe(ws, session["accessToken"])
            result = await client.execute(
                "mutation($t: String) { logout(refreshToken: $t) }",
                {"t": session["refreshToken"]},
            )
            assert result.data == {"logout": True}
            ended = await _next(ws, wait=5)
            assert ended["type"] == "next"
            assert ended["payload"]["errors"][0]["extensions"]["reason"] == "TOKEN_REVOKED"
            assert (await _next(ws))["type"] == "complete"


async def test_logout_all_ends_every_stream(live_server: Live) -> None:
    async with live_server() as address, _http(address) as client:
        token = (await client.register("alice"))["accessToken"]
        async with _socket(address) as one, _socket(address) as two:
            await _subscribe(one, token)
            await _subscribe(two, token)
            assert (await client.execute("mutation { logoutAll }", token=token)).data
            for ws in (one, two):
                ended = await _next(ws, wait=3)
                assert ended["payload"]["errors"][0]["extensions"]["reason"] == "TOKEN_REVOKED"
                assert (await _next(ws))["type"] == "complete"


async def test_a_role_change_ends_the_stream(live_server: Live) -> None:
    async with live_server() as address, _http(address) as client:
        alice = await client.register("alice")
        await users.create_user("root", PASSWORD, 4, [Role.ADMIN])
        root = (await client.login("root")).data["login"]["accessToken"]
        async with _socket(address) as ws:
            await _subscribe(ws, alice["accessToken"])
            granted = await client.execute(
                "mutation($id: ID!) { setUserRoles(userId: $id, roles: [USER, ADMIN]) { id } }",
                {"id": alice["user"]["id"]},
                token=root,
            )
            assert granted.errors == []
            ended = await _next(ws, wait=3)
            assert ended["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert (await _next(ws))["type"] == "complete"


async def test_expiry_ends_the_stream(live_server: Live) -> None:
    async with live_server(access_token_ttl=2) as address, _http(address) as client:
        token = (await client.register("alice"))["accessToken"]
        async with _socket(address) as ws:
            await _subscribe(ws, token)
            ended = await _next(ws, wait=6)
            assert ended["payload"]["errors"][0]["extensions"]["reason"] == "TOKEN_EXPIRED"
            assert _exp(token) <= time.time() < _exp(token) + 0.5  # at exp, not at a tick after
            assert (await _next(ws))["type"] == "complete"


def _exp(token: str) -> int:
    """The token's `exp` claim, read without verifying (the server did that)."""
    claims = token.split(".")[1]
    exp: int = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["exp"]
    return exp


async def test_events_cross_app_instances(live_server: Live) -> None:
    async with live_server() as first, live_server() as second, _http(second) as client:
        token = (await client.register("alice"))["accessToken"]
        async with _socket(first) as ws:
            await _subscribe(ws, token)
            await client.create_todo(token, "made on the other instance")
            event = (await _next(ws))["payload"]["data"]["todoChanged"]
            assert event["kind"] == "CREATED"
            assert event["todo"]["title"] == "made on the other instance"
