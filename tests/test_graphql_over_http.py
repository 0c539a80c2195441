"""GraphQL over HTTP as the contract's transport says: graphql-http's audit suite
(tests/clients/graphql-http/) against a live uvicorn server; the two response media types
and their statuses; 406 for a media type the client does not accept; no `server` header."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from graphql_app.api.media_types import graphql_response, preferred

from .conftest import AppRunner, Live, run_node
from .factories import GraphQLClient

AUDIT = Path(__file__).parent / "clients" / "graphql-http" / "audit.mjs"
GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_graphql_http_audit(live_server: Live) -> None:
    async with live_server() as address:
        code, output = await run_node(AUDIT, f"http://{address}/graphql")
    assert code == 0, output
    assert "counts ok=61 warn=0 error=0 notice=0" in output, output
    assert "graphql-http audit passed" in output


async def test_no_response_names_the_server(live_server: Live) -> None:
    async with live_server() as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        for response in (
            await http.get("/healthz"),
            await http.post("/graphql", json={"query": "{ me { id } }"}),
            await http.post("/graphql", content=b"{", headers={"Content-Type": "application/json"}),
            await http.get("/nowhere"),
        ):
            assert "server" not in response.headers


async def _post(client: GraphQLClient, accept: str | None, body: dict[str, Any]) -> httpx.Response:
    headers = {} if accept is None else {"Accept": accept}
    return await client.http.post("/graphql", json=body, headers=headers)


# Requests that fail before execution: (body, code)
REQUEST_ERRORS = [
    ({"query": "{ me { id }"}, "GRAPHQL_PARSE_FAILED"),
    ({"query": "{ nothingHere }"}, "GRAPHQL_VALIDATION_FAILED"),
    ({"query": "query($x: Int) { me { id } }"}, "GRAPHQL_VALIDATION_FAILED"),
    (
        {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(20)) + " }"},
        "GRAPHQL_VALIDATION_FAILED",
    ),  # query limit: aliases
    ({"query": "query($id: ID!) { todo(id: $id) { id } }"}, "BAD_USER_INPUT"),
    (
        {"query": "query($f: Int) { todos(first: $f) { totalCount } }", "variables": {"f": "x"}},
        "BAD_USER_INPUT",
    ),
]


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
async def test_graphql_response_json_answers_a_request_error_with_400_and_no_data(
    client: GraphQLClient, body: dict[str, Any], code: str
) -> None:
    response = await _post(client, GRAPHQL_RESPONSE, body)
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    answer = response.json()
    assert "data" not in answer
    assert answer["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/*"])
@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
async def test_application_json_answers_every_graphql_error_with_200(
    client: GraphQLClient, accept: str | None, body: dict[str, Any], code: str
) -> None:
    response = await _post(client, accept, body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == code


async def test_once_execution_started_both_types_answer_200(client: GraphQLClient) -> None:
    for accept in (GRAPHQL_RESPONSE, "application/json"):
        refused = await _post(client, accept, {"query": "{ me { id } }"})
        assert refused.status_code == 200
        assert refused.headers["content-type"] == accept
        assert refused.json()["data"] is None  # execution ran: `me` is non-null
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        bad_input = await _post(client, accept, {"query": "{ todos(first: 1000) { totalCount } }"})
        assert bad_input.status_code == 200
        assert bad_input.json()["errors"][0]["path"] == ["todos"]
        fine = await _post(client, accept, {"query": "{ __typename }"})
        assert (fine.status_code, fine.json()) == (200, {"data": {"__typename": "Query"}})


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json;q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.5, application/json", "application/json"),
        (f"application/json, {GRAPHQL_RESPONSE}", "application/json"),
        (f"text/html, {GRAPHQL_RESPONSE};q=0.8, */*;q=0.1", GRAPHQL_RESPONSE),
        ("text/html, application/xhtml+xml, */*;q=0.8", "application/json"),
        ("application/xml", None),
        ("text/html", None),
        (f"{GRAPHQL_RESPONSE};q=0, application/json;q=0", None),
        ("application/json;q=nonsense", None),
        ("application/json;q=0, */*", GRAPHQL_RESPONSE),  # the named range decides
        (f"*/*, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.2, application/*;q=0.3", "application/json"),
    ],
)
def test_the_preferred_media_type(accept: str | None, chosen: str | None) -> None:
    assert preferred(accept) == chosen


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "application/json;q=0"])
async def test_a_media_type_the_client_does_not_accept_is_406(
    client: GraphQLClient, accept: str
) -> None:
    response = await _post(client, accept, {"query": "mutation { logoutAll }"})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    get = await client.http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Accept": accept}
    )
    assert get.status_code == 406
    still = await _post(client, None, {"query": "{ __typename }"})
    assert still.status_code == 200


async def test_the_playground_page_is_not_negotiated(run_app: AppRunner) -> None:
    async with run_app() as client:
        page = await client.http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
    async with run_app(app_env="production") as client:
        page = await client.http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 404


async def test_requests_that_never_reach_graphql_stay_json_4xx(client: GraphQLClient) -> None:
    for accept in (GRAPHQL_RESPONSE, "application/json"):
        headers = {"Accept": accept, "Content-Type": "application/json"}
        malformed = await client.http.post("/graphql", content=b"{", headers=headers)
        unknown = await client.http.post(
            "/graphql",
            json={"query": "query A { me { id } }", "operationName": "B"},
            headers=headers,
        )
        for response in (malformed, unknown):
            assert response.status_code == 400
            assert response.headers["content-type"] == "application/json"
            assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_the_status_is_decided_by_the_error_code() -> None:
    """SERVICE_UNAVAILABLE (raised when the database stalls) is 503 under
    application/graphql-response+json, data or not; application/json answers 200 (above)."""
    unavailable = {"message": "m", "extensions": {"code": "SERVICE_UNAVAILABLE"}}
    assert graphql_response({"data": None, "errors": [unavailable]}) == (
        503,
        {"errors": [unavailable]},
    )
    at_field = {**unavailable, "path": ["me"]}
    assert graphql_response({"data": None, "errors": [at_field]})[0] == 503
    partial = {"data": {"me": None, "other": 1}, "errors": [at_field]}
    assert graphql_response(partial) == (200, partial)  # data: always 2xx
