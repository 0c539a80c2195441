"""Todos: the caller's own only, strict newest-first pages, validation, batched owners."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from bson import ObjectId
from pymongo import monitoring

from graphql_app.models import Todo

from .factories import GraphQLClient

PAGE = """query($first: Int, $after: String, $done: Boolean) {
  todos(first: $first, after: $after, done: $done) {
    totalCount
    edges { cursor node { id title done owner { id username } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
TODO = "query($id: ID!) { todo(id: $id) { id title done } }"
UPDATE = """mutation($id: ID!, $title: String, $done: Boolean) {
  updateTodo(id: $id, input: {title: $title, done: $done}) { id title done updatedAt }
}"""
DELETE = "mutation($id: ID!) { deleteTodo(id: $id) }"


async def _token(client: GraphQLClient, name: str = "alice") -> str:
    token: str = (await client.register(name))["accessToken"]
    return token


async def test_create_trims_and_validates_titles(client: GraphQLClient) -> None:
    token = await _token(client)
    todo = await client.create_todo(token, "  write tests  ")
    assert todo["title"] == "write tests"
    assert todo["done"] is False
    assert todo["createdAt"] == todo["updatedAt"]
    await client.create_todo(token, "x" * 200)
    for bad in ["", "   ", "x" * 201]:
        result = await client.execute(
            "mutation($t: String!) { createTodo(input: {title: $t}) { id } }",
            {"t": bad},
            token=token,
        )
        assert result.data is None
        assert result.codes == ["BAD_USER_INPUT"]
    assert await Todo.find_all().count() == 2


async def test_update_and_delete_own_todo(client: GraphQLClient) -> None:
    token = await _token(client)
    todo = await client.create_todo(token, "draft")
    done = await client.execute(UPDATE, {"id": todo["id"], "done": True}, token=token)
    assert done.data["updateTodo"]["done"] is True
    assert done.data["updateTodo"]["title"] == "draft"
    renamed = await client.execute(UPDATE, {"id": todo["id"], "title": " final "}, token=token)
    assert renamed.data["updateTodo"] == {
        **done.data["updateTodo"],
        "title": "final",
        "updatedAt": renamed.data["updateTodo"]["updatedAt"],
    }
    bad = await client.execute(UPDATE, {"id": todo["id"], "title": "  "}, token=token)
    assert bad.codes == ["BAD_USER_INPUT"]
    assert (await client.execute(TODO, {"id": todo["id"]}, token=token)).data["todo"][
        "title"
    ] == "final"
    deleted = await client.execute(DELETE, {"id": todo["id"]}, token=token)
    assert deleted.data == {"deleteTodo": True}
    again = await client.execute(DELETE, {"id": todo["id"]}, token=token)
    assert again.codes == ["NOT_FOUND"]
    assert (await client.execute(TODO, {"id": todo["id"]}, token=token)).codes == ["NOT_FOUND"]


async def test_another_users_todo_is_not_found(client: GraphQLClient) -> None:
    alice, bob = await _token(client, "alice"), await _token(client, "bob")
    todo = await client.create_todo(alice, "alice's secret")
    for query, variables in [
        (TODO, {"id": todo["id"]}),
        (UPDATE, {"id": todo["id"], "done": True}),
        (DELETE, {"id": todo["id"]}),
    ]:
        result = await client.execute(query, variables, token=bob)
        assert result.data is None
        assert result.codes == ["NOT_FOUND"]
        assert "secret" not in str(result.body)
    page = await client.execute(PAGE, {"first": 10}, token=bob)
    assert page.data["todos"]["totalCount"] == 0
    stored = await Todo.get(ObjectId(todo["id"]))
    assert stored is not None
    assert stored.done is False


@pytest.mark.parametrize("bad_id", ["nope", "", "0" * 24, "zz" * 12, "1" * 100])
async def test_malformed_or_unknown_ids_are_not_found(client: GraphQLClient, bad_id: str) -> None:
    token = await _token(client)
    result = await client.execute(TODO, {"id": bad_id}, token=token)
    assert result.status == 200
    assert result.codes[0] in {"NOT_FOUND", "BAD_USER_INPUT"}


async def test_pages_are_strictly_newest_first(client: GraphQLClient) -> None:
    token = await _token(client)
    created = [await client.create_todo(token, f"todo {i}") for i in range(7)]
    seen: list[str] = []
    after = None
    while True:
        result = await client.execute(PAGE, {"first": 3, "after": after}, token=token)
        connection = result.data["todos"]
        assert connection["totalCount"] == 7
        seen += [edge["node"]["title"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert after == connection["edges"][-1]["cursor"]
    assert seen == [t["title"] for t in reversed(created)]


async def test_done_filter_and_total_count(client: GraphQLClient) -> None:
    token = await _token(client)
    todos = [await client.create_todo(token, f"t{i}") for i in range(4)]
    for todo in todos[:3]:
        await client.execute(UPDATE, {"id": todo["id"], "done": True}, token=token)
    done = (await client.execute(PAGE, {"done": True}, token=token)).data["todos"]
    assert done["totalCount"] == 3
    assert [e["node"]["title"] for e in done["edges"]] == ["t2", "t1", "t0"]
    open_ = (await client.execute(PAGE, {"done": False}, token=token)).data["todos"]
    assert [e["node"]["title"] for e in open_["edges"]] == ["t3"]
    empty = (await client.execute(PAGE, {"first": 2, "done": False}, token=token)).data["todos"]
    assert empty["pageInfo"] == {"hasNextPage": False, "endCursor": empty["edges"][-1]["cursor"]}


async def test_empty_page(client: GraphQLClient) -> None:
    token = await _token(client)
    page = (await client.execute(PAGE, {}, token=token)).data["todos"]
    assert page == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"first": 101},
        {"first": -1},
        {"first": None},
        {"after": "garbage"},
        {"after": base64.urlsafe_b64encode(b'{"a": 1}').decode()},
        {"after": base64.urlsafe_b64encode(b"[1, 2]").decode()},
    ],
)
async def test_bad_pagination_arguments(client: GraphQLClient, variables: dict[str, Any]) -> None:
    token = await _token(client)
    await client.create_todo(token, "one")
    result = await client.execute(PAGE, variables, token=token)
    assert result.status == 200
    assert result.data is None
    assert result.codes == ["BAD_USER_INPUT"]


async def test_first_accepts_1_and_100(client: GraphQLClient) -> None:
    token = await _token(client)
    await client.create_todo(token, "one")
    for first in (1, 100):
        result = await client.execute(PAGE, {"first": first}, token=token)
        assert result.errors == []


@pytest.mark.parametrize(
    "query",
    [
        "{ me { id } }",
        "{ todos { totalCount } }",
        '{ todo(id: "000000000000000000000000") { id } }',
        "{ users { totalCount } }",
        'mutation { createTodo(input: {title: "x"}) { id } }',
        'mutation { updateTodo(id: "000000000000000000000000", input: {done: true}) { id } }',
        'mutation { deleteTodo(id: "000000000000000000000000") }',
        "mutation { logoutAll }",
        'mutation { changePassword(currentPassword: "a", newPassword: "b") { accessToken } }',
        'mutation { setUserRoles(userId: "000000000000000000000000", roles: [ADMIN]) { id } }',
    ],
)
async def test_protected_fields_without_a_token(client: GraphQLClient, query: str) -> None:
    result = await client.execute(query)
    assert result.status == 200
    assert result.data is None
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.reasons == ["MISSING_TOKEN"]
    assert await Todo.find_all().count() == 0


class CommandCounter(monitoring.CommandListener):
    def __init__(self, database: str) -> None:
        self.database = database
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        collection = command.get("collection") or command.get(event.command_name)
        # The process's todo-event watcher reads in the background, not for the request.
        if event.database_name == self.database and collection != "todo_events":
            self.commands.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def command_counter(db_name: str) -> Iterator[CommandCounter]:
    counter = CommandCounter(db_name)
    # Registered globally: applies to the clients the app creates after this point.
    monitoring.register(counter)
    yield counter
    counter.database = "-"  # listeners cannot be unregistered; silence it


@pytest.mark.parametrize("first", [1, 20, 100])
async def test_owner_lookups_are_batched(
    command_counter: CommandCounter, run_app: Any, first: int
) -> None:
    async with run_app() as client:
        token = await _token(client)
        for i in range(min(first, 25)):
            await client.create_todo(token, f"todo {i}")
        command_counter.commands.clear()
        result = await client.execute(PAGE, {"first": first}, token=token)
        assert result.errors == []
        owners = {e["node"]["owner"]["username"] for e in result.data["todos"]["edges"]}
        assert owners == {"alice"}
        # the user (authentication, revocation included), the page, the count: owners cost
        # nothing more.
        assert sorted(command_counter.commands) == ["aggregate", "find", "find"]
