"""HTTP transport rules of the contract: requests that never reach GraphQL get a JSON 4xx body
with a code, oversized bodies 413 without being read whole, GET for queries only, batching
off by default, production mode (no playground, no introspection, masked failures), health,
and CORS only for listed origins. After every refusal the server keeps serving."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from graphql_app.embedded import embedded_database

from .conftest import AppRunner
from .factories import GraphQLClient

JSON = {"Content-Type": "application/json"}


async def _still_serving(client: GraphQLClient) -> None:
    result = await client.execute("{ me { id } }")
    assert (result.status, result.reasons) == (200, ["MISSING_TOKEN"])


def _bad_request(response: Any, code: str = "BAD_REQUEST") -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == code
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"query": "{ me { id } }"', JSON),  # malformed JSON
        (b"", JSON),
        (b'"just a string"', JSON),
        (b"42", JSON),
        (b'[{"query": "{ me { id } }"}]', JSON),  # a batch, not enabled
        (b'{"variables": {}}', JSON),  # no query
        (b'{"query": 42}', JSON),
        (b'{"query": "query A { me { id } }", "operationName": "B"}', JSON),
        (b'{"query": "{ me { id } }"}', {"Content-Type": "text/plain"}),
        (b"query=%7B+me+%7B+id+%7D+%7D", {"Content-Type": "application/x-www-form-urlencoded"}),
    ],
    ids=[
        "malformed",
        "empty",
        "string",
        "number",
        "batch",
        "no-query",
        "query-not-string",
        "unknown-operation",
        "text-plain",
        "form",
    ],
)
async def test_requests_that_never_reach_graphql_get_a_json_4xx(
    client: GraphQLClient, content: bytes, headers: dict[str, str]
) -> None:
    response = await client.http.post("/graphql", content=content, headers=headers)
    _bad_request(response)
    await _still_serving(client)


async def test_a_body_over_the_limit_is_413(client: GraphQLClient) -> None:
    body = json.dumps({"query": "{ me { id } }", "variables": {"x": "a" * 2_000_000}})
    response = await client.http.post("/graphql", content=body, headers=JSON)
    assert response.status_code == 413
    _bad_request(response, "PAYLOAD_TOO_LARGE")
    await _still_serving(client)


async def test_a_chunked_body_is_cut_at_the_limit(run_app: AppRunner) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ me { id } }", "variables": {"x": "'
        for _ in range(1000):  # 64 MB if it were read whole
            sent += 65536
            yield b"a" * 65536

    async with run_app(max_body_bytes=2000) as client:
        response = await client.http.post("/graphql", content=chunks(), headers=JSON)
        assert response.status_code == 413
        _bad_request(response, "PAYLOAD_TOO_LARGE")
        small = await client.execute("{ me { id } }")
        assert small.status == 200


async def test_get_serves_queries_but_not_mutations(client: GraphQLClient) -> None:
    query = await client.http.get("/graphql", params={"query": "{ me { id } }"})
    assert query.status_code == 200
    assert query.json()["errors"][0]["extensions"]["reason"] == "MISSING_TOKEN"
    mutation = await client.http.get(
        "/graphql",
        params={"query": 'mutation { login(username: "a", password: "b") { tokenType } }'},
    )
    assert 400 <= mutation.status_code < 500
    assert "Traceback" not in mutation.text


async def test_batching_when_enabled(run_app: AppRunner) -> None:
    async with run_app(allow_batching=True) as client:
        response = await client.http.post(
            "/graphql",
            json=[{"query": "{ me { id } }"}, {"query": "{ todos { totalCount } }"}],
        )
        assert response.status_code == 200
        answers = response.json()
        assert [a["errors"][0]["extensions"]["code"] for a in answers] == ["UNAUTHENTICATED"] * 2
        too_many = await client.http.post("/graphql", json=[{"query": "{ me { id } }"}] * 11)
        _bad_request(too_many)


async def test_graphiql_page_in_development(client: GraphQLClient) -> None:
    response = await client.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    for host in ("cdn", "unpkg", "jsdelivr", "googleapis"):
        assert host not in response.text


async def test_production_mode(run_app: AppRunner) -> None:
    introspection = "{ __schema { queryType { name } } }"
    async with run_app(app_env="production") as client:
        page = await client.http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 404
        refused = await client.execute(introspection)
        assert refused.data is None
        assert set(refused.codes) == {"GRAPHQL_VALIDATION_FAILED"}
        await _still_serving(client)
    async with run_app(app_env="production", graphiql=True) as client:
        page = await client.http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
    async with run_app() as client:
        allowed = await client.execute(introspection)
        assert allowed.data == {"__schema": {"queryType": {"name": "Query"}}}


async def test_an_unexpected_failure_is_masked_and_logged(
    run_app: AppRunner,
    mongodb_url: str,
    db_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    async with run_app(app_env="production") as client:
        session = await client.register("alice")
        # Corrupt data written behind the service's back: a todo without a title.
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
        todo = await client.create_todo(session["accessToken"], "fine")
        await mongo[db_name]["todos"].update_one(
            {"_id": ObjectId(todo["id"])}, {"$unset": {"title": ""}}
        )
        await mongo.close()
        result = await client.execute(
            "query Broken { todos { edges { node { id title } } } }",
            token=session["accessToken"],
        )
    assert result.status == 200
    (error,) = result.errors
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]
    assert request_id
    assert "title" not in json.dumps(error).lower()
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert logged, "the failure was not logged with its request id"
    assert logged[0].exc_info is not None  # the full exception is in the server's log


async def test_healthz_follows_the_database(run_app: AppRunner) -> None:
    database = embedded_database(":memory:", None)
    url = await database.__aenter__()
    async with run_app(mongodb_url=url, mongodb_db="health") as client:
        response = await client.http.get("/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
        await database.__aexit__(None, None, None)  # the database goes away
        response = await client.http.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] != "ok"
        await _still_serving(client)


@pytest.mark.parametrize(
    ("origin", "allowed"), [("https://app.example", True), ("https://evil.example", False)]
)
async def test_cors_only_for_listed_origins(run_app: AppRunner, origin: str, allowed: bool) -> None:
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with run_app(cors_origins="https://app.example, https://other.example") as client:
        response = await client.http.options("/graphql", headers=preflight)
        simple = await client.http.post(
            "/graphql", json={"query": "{ me { id } }"}, headers={"Origin": origin}
        )
    if allowed:
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["access-control-allow-credentials"] == "true"
        assert simple.headers["access-control-allow-origin"] == origin
    else:
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-origin" not in simple.headers


async def test_no_cors_headers_by_default(client: GraphQLClient) -> None:
    response = await client.http.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Origin": "https://app.example"}
    )
    assert "access-control-allow-origin" not in response.headers
