"""Known query documents over HTTP: the second request of a document is answered by its
compiled plan, with the same body, log line and metrics as the ordinary path; anything
but plain success is handed to the ordinary path in the same request context; what must
not be compiled (mutations, heavy documents, invalid texts) never is, and
COMPILED_EXECUTION=false turns the whole path off."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from graphql_app.api.known_documents import KnownDocuments
from graphql_app.api.manifest import manifest
from graphql_app.app import GraphQLApp, create_app
from graphql_app.logs import JsonFormatter
from graphql_app.settings import Settings

from .factories import GraphQLClient

ME = "query Me { me { id username } }"
TODOS = """query Todos($first: Int, $withDone: Boolean!) {
  todos(first: $first) {
    edges { cursor node { id title done @include(if: $withDone) owner { username } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
TODO = "query Todo($id: ID!) { todo(id: $id) { id title } }"
HANDED_OVER = "compiled plan handed over"
ROOT = Path(__file__).parent.parent

Served = tuple[GraphQLClient, KnownDocuments | None]


@pytest.fixture
def served(
    settings_factory: Callable[..., Settings],
) -> Callable[..., contextlib.AbstractAsyncContextManager[Served]]:
    @contextlib.asynccontextmanager
    async def serve(**overrides: Any) -> AsyncIterator[Served]:
        # On unless a test turns it off, whatever COMPILED_EXECUTION the suite runs with.
        app = create_app(settings_factory(**{"compiled_execution": True, **overrides}))
        view = next(
            route.app
            for route in app.router.routes
            if isinstance(route, Route) and isinstance(route.app, GraphQLApp)
        )
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        ):
            yield GraphQLClient(http), view.schema.known  # type: ignore[attr-defined]  # our Schema

    return serve


def _compiled(known: KnownDocuments | None, text: str, variables: dict[str, Any]) -> bool:
    assert known is not None
    return known.plan(text, None, variables) is not None


async def test_a_known_query_is_answered_by_its_plan(
    served: Callable[..., contextlib.AbstractAsyncContextManager[Served]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="graphql_app")
    async with served() as (client, known):
        auth = await client.register()
        token = auth["accessToken"]
        for i in range(3):
            await client.create_todo(token, f"todo {i}")
        answers = []
        for with_done in (True, False, True):
            result = await client.execute(TODOS, {"first": 2, "withDone": with_done}, token=token)
            assert result.errors == []
            answers.append(result.data)
        assert _compiled(known, TODOS, {"first": 2, "withDone": True})
        assert answers[0] == answers[2]
        edges = answers[0]["todos"]["edges"]
        assert [e["node"]["title"] for e in edges] == ["todo 2", "todo 1"]
        assert edges[0]["node"]["done"] is False
        assert "done" not in answers[1]["todos"]["edges"][0]["node"]  # its own plan
        assert answers[0]["todos"]["pageInfo"]["hasNextPage"] is True
        me = [await client.execute(ME, token=token) for _ in range(3)]
        assert all(r.data == {"me": {"id": auth["user"]["id"], "username": "alice"}} for r in me)
    assert HANDED_OVER not in caplog.text
    lines = [
        json.loads(JsonFormatter().format(record))
        for record in caplog.records
        if record.getMessage() == "graphql operation"
    ]
    last = lines[-1]  # a plan's line is the ordinary path's
    assert (last["operation"], last["outcome"]) == ("Me", "ok")
    assert last["user_id"] == auth["user"]["id"]
    assert set(last) >= {"request_id", "duration_ms"}


async def test_errors_on_a_known_query_are_graphql_cores(
    served: Callable[..., contextlib.AbstractAsyncContextManager[Served]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="graphql_app")
    async with served() as (client, known):
        token = (await client.register())["accessToken"]
        todo = await client.create_todo(token, "mine")
        for _ in range(2):
            found = await client.execute(TODO, {"id": todo["id"]}, token=token)
            assert found.data == {"todo": {"id": todo["id"], "title": "mine"}}
        assert _compiled(known, TODO, {"id": todo["id"]})
        missing = await client.execute(TODO, {"id": "0" * 24}, token=token)
        malformed = await client.execute(TODO, {"id": "nope"}, token=token)
        anonymous = await client.execute(ME)
        await client.execute(ME)
    assert HANDED_OVER in caplog.text
    assert missing.data is None
    assert [(e["path"], e["extensions"]["code"]) for e in missing.errors] == [
        (["todo"], "NOT_FOUND")
    ]
    assert malformed.errors[0]["extensions"]["code"] == "NOT_FOUND"  # never says which
    assert anonymous.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert anonymous.data is None


async def test_the_same_answers_with_compiled_execution_off(
    served: Callable[..., contextlib.AbstractAsyncContextManager[Served]],
) -> None:
    bodies: dict[bool, list[bytes]] = {}
    for compiled in (True, False):
        async with served(compiled_execution=compiled) as (client, known):
            assert (known is not None) is compiled
            token = (await client.login()).data["login"]["accessToken"] if not compiled else None
            if token is None:
                token = (await client.register())["accessToken"]
                for i in range(3):
                    await client.create_todo(token, f"todo {i}")
            bodies[compiled] = []
            for variables in ({"first": 2, "withDone": True}, {"first": 5, "withDone": False}):
                for _ in range(2):
                    response = await client.http.post(
                        "/graphql",
                        json={"query": TODOS, "variables": variables},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    bodies[compiled].append(response.content)
    assert bodies[True] == bodies[False]


async def test_mutations_and_invalid_documents_are_never_compiled(
    served: Callable[..., contextlib.AbstractAsyncContextManager[Served]],
) -> None:
    create = "mutation ($t: String!) { createTodo(input: {title: $t}) { title } }"
    async with served() as (client, known):
        token = (await client.register())["accessToken"]
        for i in range(2):
            created = await client.execute(create, {"t": f"t{i}"}, token=token)
            assert created.errors == []
        assert not _compiled(known, create, {"t": "x"})
        for _ in range(2):
            invalid = await client.execute("{ me { nope } }", token=token)
            assert invalid.errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert not _compiled(known, "{ me { nope } }", {})


async def test_heavy_documents_stay_in_the_heavy_lane(
    served: Callable[..., contextlib.AbstractAsyncContextManager[Served]],
) -> None:
    heavy = "{ todos(first: 100) { edges { node { id owner { username } } } } }"
    async with served(heavy_query_cost=50) as (client, known):
        token = (await client.register())["accessToken"]
        for _ in range(2):
            assert (await client.execute(heavy, token=token)).errors == []
        assert not _compiled(known, heavy, {})
        assert _compiled(known, ME, {})


async def test_persisted_documents_are_compiled_from_the_start(
    served: Callable[..., contextlib.AbstractAsyncContextManager[Served]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    operations = manifest((ROOT / "schema" / "operations").glob("*.graphql"))["operations"]
    path = tmp_path / "manifest.json"
    path.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    me = next(op for op in operations if op["type"] == "query" and "me {" in op["body"])
    caplog.set_level(logging.DEBUG, logger="graphql_app")
    async with served() as (client, _):
        token = (await client.register())["accessToken"]
    async with served(persisted_documents=path, trusted_documents_only=True) as (client, known):
        assert known is not None
        assert known.plan(me["body"], me["name"], {}) is not None  # before any request
        by_hash = await client.http.post(
            "/graphql",
            json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": me["id"]}}},
            headers={"Authorization": f"Bearer {token}"},
        )
        refused = await client.http.post(
            "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
        )
    assert by_hash.status_code == 200
    assert by_hash.json()["data"]["me"]["username"] == "alice"
    assert refused.json()["errors"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
    assert HANDED_OVER not in caplog.text
