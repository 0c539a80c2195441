"""Database operations per request, counted by the database itself (serverStatus
opcounters): a performance budget that does not depend on the machine's speed. `me` costs
one operation (the user by `_id`, the token checked against it; a refused token too), a page
of todos three whatever its size (user, page, count; owners come from the DataLoader), a
forged token none, a refresh two (three when a concurrent refresh is answered in its grace)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from graphql_app.pagination import NEWEST_FIRST

from .factories import GraphQLClient

TODOS = """query($first: Int!) {
  todos(first: $first) {
    totalCount
    edges { node { id title done owner { id username } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
OPS = ("insert", "query", "update", "delete", "getmore", "command")


async def _ops(
    mongo: AsyncMongoClient[dict[str, Any]], request: Callable[[], Awaitable[Any]]
) -> int:
    """Operations one request costs; the minimum of three tries, so that a driver heartbeat
    landing in the middle of one cannot inflate the count."""

    async def total() -> int:
        counters = (await mongo.admin.command("serverStatus"))["opcounters"]
        return sum(int(counters[name]) for name in OPS)

    counts = []
    for _ in range(3):
        before = await total()
        await request()
        counts.append(await total() - before - 1)  # minus the second serverStatus
    return min(counts)


async def test_me_costs_one_operation(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    token = (await client.register("alice"))["accessToken"]

    async def me() -> None:
        assert (await client.me(token)).errors == []

    assert await _ops(mongo, me) == 1


@pytest.mark.parametrize("first", [1, 20, 100])
async def test_a_page_of_todos_costs_three_operations(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]], first: int
) -> None:
    token = (await client.register("alice"))["accessToken"]
    for i in range(first + 1):
        await client.create_todo(token, f"todo {i}")

    async def page() -> None:
        result = await client.execute(TODOS, {"first": first}, token=token)
        assert result.errors == []
        assert len(result.data["todos"]["edges"]) == first
        assert result.data["todos"]["pageInfo"]["hasNextPage"]

    assert await _ops(mongo, page) == 3


async def test_a_refused_token_costs_nothing(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    token = (await client.register("alice"))["accessToken"]

    async def forged() -> None:
        assert (await client.me(token[:-3] + "AAA")).codes == ["UNAUTHENTICATED"]

    async def anonymous() -> None:
        assert (await client.me(None)).codes == ["UNAUTHENTICATED"]

    assert await _ops(mongo, forged) == 0
    assert await _ops(mongo, anonymous) == 0


async def test_a_revoked_token_is_refused_with_its_reason_in_one_operation(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    """The user is read by `_id` whatever the token's state, and the token checked against
    it: a refusal names its reason without a second lookup."""
    alice = await client.register("alice")
    phone = (await client.login("alice")).data["login"]
    logout = "mutation($t: String) { logout(refreshToken: $t) }"
    assert (await client.execute(logout, {"t": phone["refreshToken"]})).errors == []

    async def revoked_session() -> None:
        assert (await client.me(phone["accessToken"])).reasons == ["TOKEN_REVOKED"]

    assert await _ops(mongo, revoked_session) == 1
    assert (await client.me(alice["accessToken"])).errors == []  # only that session ended
    everywhere = await client.execute("mutation { logoutAll }", token=alice["accessToken"])
    assert everywhere.errors == []

    async def older_token_version() -> None:
        assert (await client.me(alice["accessToken"])).reasons == ["TOKEN_REVOKED"]

    assert await _ops(mongo, older_token_version) == 1


async def test_a_deleted_users_token_is_refused_as_invalid_in_one_operation(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]], db_name: str
) -> None:
    token = (await client.register("alice"))["accessToken"]
    await mongo[db_name]["users"].delete_one({"username": "alice"})

    async def gone() -> None:
        assert (await client.me(token)).reasons == ["TOKEN_INVALID"]

    assert await _ops(mongo, gone) == 1


async def test_concurrent_requests_share_the_user_lookup_each_with_its_own_answer(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]], db_name: str
) -> None:
    """Lookups asked for while a batch has not been sent join it: one operation for many
    requests, each still refused or answered by its own user's stored state."""
    alice = await client.register("alice")
    bob = await client.register("bob")
    phone = (await client.login("bob")).data["login"]
    logout = "mutation($t: String) { logout(refreshToken: $t) }"
    assert (await client.execute(logout, {"t": phone["refreshToken"]})).errors == []
    carol = await client.register("carol")
    await mongo[db_name]["users"].delete_one({"username": "carol"})
    tokens = [alice["accessToken"]] * 3 + [bob["accessToken"], phone["accessToken"]]
    tokens.append(carol["accessToken"])

    async def together() -> None:
        results = await asyncio.gather(*(client.me(token) for token in tokens))
        names = [r.data["me"]["username"] if r.data and r.data["me"] else None for r in results]
        assert names == ["alice", "alice", "alice", "bob", None, None]
        reasons = [r.reasons for r in results]
        assert reasons == [[], [], [], [], ["TOKEN_REVOKED"], ["TOKEN_INVALID"]]

    assert await _ops(mongo, together) == 1


def _index_names(plan: dict[str, Any]) -> set[str]:
    names = {plan["indexName"]} if plan.get("stage") == "IXSCAN" else set()
    for child in (plan.get("inputStage"), *plan.get("inputStages", [])):
        if child:
            names |= _index_names(child)
    return names


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ({"owner_id": "OWNER"}, "owner_newest"),
        ({"owner_id": "OWNER", "done": True}, "owner_done_newest"),
    ],
)
async def test_pages_are_served_by_an_index(
    client: GraphQLClient,
    mongo: AsyncMongoClient[dict[str, Any]],
    db_name: str,
    query: dict[str, Any],
    index: str,
) -> None:
    payload = await client.register("alice")
    for i in range(30):
        await client.create_todo(payload["accessToken"], f"todo {i}")
    owner = (await mongo[db_name]["todos"].find_one({}))["owner_id"]
    filter_ = {k: owner if v == "OWNER" else v for k, v in query.items()}
    cursor = mongo[db_name]["todos"].find(filter_).sort(NEWEST_FIRST).limit(21)
    plan = (await cursor.explain())["queryPlanner"]["winningPlan"]
    assert index in _index_names(plan)


async def test_login_finds_the_user_by_its_unique_index(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]], db_name: str
) -> None:
    await client.register("alice")
    plan = (await mongo[db_name]["users"].find({"username": "alice"}).explain())["queryPlanner"]
    assert "username_unique" in _index_names(plan["winningPlan"])


async def test_a_refresh_costs_two_operations(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    tokens = {"refresh": (await client.register("alice"))["refreshToken"]}

    async def refresh() -> None:
        result = await client.refresh(tokens["refresh"])
        assert result.errors == []
        tokens["refresh"] = result.data["refresh"]["refreshToken"]

    assert await _ops(mongo, refresh) == 2  # the user (with its session check), the rotation


async def test_a_refresh_in_its_grace_costs_three_operations(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    parent = (await client.register("alice"))["refreshToken"]
    assert (await client.refresh(parent)).errors == []

    async def again() -> None:  # the immediately previous token, within the interval
        assert (await client.refresh(parent)).errors == []

    assert await _ops(mongo, again) == 3  # the user, the missed rotation, the grace lookup


async def test_the_sessions_query_costs_two_operations(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    token = (await client.register("alice"))["accessToken"]
    for _ in range(3):
        await client.login("alice")

    async def sessions() -> None:
        result = await client.execute("{ sessions { id current } }", token=token)
        assert len(result.data["sessions"]) == 4

    assert await _ops(mongo, sessions) == 2  # the user, the sessions
