"""Persisted queries and trusted documents: Apollo's protocol over POST and GET, the hash
checked, the per-process cache, the manifest validated at start-up and run by hash even
with APQ off, TRUSTED_DOCUMENTS_ONLY refusing everything else before parsing (HTTP and
WebSocket), `export-manifest` byte for byte equal to Apollo's own generator, and Apollo
Client's persisted-queries link end to end."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from graphql import parse

from graphql_app.api.manifest import manifest, render
from graphql_app.api.persisted import APQ_MAX_DOCUMENTS, PersistedDocuments, sha256_hex

from .conftest import TEST_SECRET, AppRunner, Live, run_node
from .factories import PASSWORD

ROOT = Path(__file__).parent.parent
OPERATIONS = ROOT / "schema" / "operations"
CLIENTS = Path(__file__).parent / "clients" / "persisted-queries"
ME = "query Me { me { username } }"

# Not valid against the schema (Apollo's generator does not check it): every printing rule
# that differs between graphql-js 16 and graphql-core 3.3 or that Apollo's transforms touch.
TRICKY = '''
query Tricky($ids: [ID!] = ["a", "b"], $flag: Boolean = true) {
  a: todos(first: 10, after: "q\\"uote\\\\ é", done: $flag) {
    edges { node { ... on Todo { id } ...Deep } }
  }
  users(first: 100, after: "a cursor long enough to push this line well past eighty columns") {
    totalCount
  }
  todo(id: "1") @include(if: $flag) { id __typename }
  plain: me { ...Deep }
}
fragment Deep on Todo { owner { ...Deeper } }
fragment Deeper on User { id roles }
mutation Objects {
  createTodo(input: {title: """block
  text""", nested: {a: [1, 2.5, null, ENUM, {b: true}]}}) { id }
}
'''


def _body(query: str, hash_: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, **extra}
    if hash_ is not None:
        body["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": hash_}}
    return body


def _codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest(OPERATIONS.glob("*.graphql"))))
    return path


def _by_name(name: str) -> dict[str, str]:
    operations = manifest(OPERATIONS.glob("*.graphql"))["operations"]
    found: dict[str, str] = next(op for op in operations if op["name"] == name)
    return found


async def _token(gql: Any) -> str:
    return str((await gql.register("pq_user"))["accessToken"])


# --- the manifest: Apollo's generator, the command line, start-up validation ---------------


async def test_export_manifest_equals_apollos_generator(tmp_path: Path) -> None:
    """Apollo's generator needs one operation per file: each definition gets its own."""
    (tmp_path / "tricky.graphql").write_text(TRICKY)
    split = tmp_path / "split"
    split.mkdir()
    sources = [*OPERATIONS.glob("*.graphql"), tmp_path / "tricky.graphql"]
    for source in sources:
        text = source.read_text()
        for definition in parse(text).definitions:
            location = definition.loc
            assert location is not None
            name = definition.name.value  # type: ignore[attr-defined]  # every one is named
            (split / f"{name}.graphql").write_text(text[location.start : location.end])
    code, output = await run_node(CLIENTS / "generate.mjs", str(split))
    assert code == 0, output
    ours = manifest(sources)
    assert len(ours["operations"]) == 32
    assert ours == json.loads(output)
    assert render(ours) == output  # the file, byte for byte


async def test_export_manifest_command_prints_the_manifest_of_schema_operations() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "graphql_app", "export-manifest", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0
    printed = json.loads(output)
    assert printed == manifest(OPERATIONS.glob("*.graphql"))
    for operation in printed["operations"]:
        assert operation["id"] == sha256_hex(operation["body"])


@pytest.mark.parametrize(
    ("manifest_text", "trusted", "message"),
    [
        (None, "true", "TRUSTED_DOCUMENTS_ONLY=true needs PERSISTED_DOCUMENTS"),
        ("{not json", "false", "is not JSON"),
        ('{"format": "something-else", "version": 1}', "false", "is not a"),
        (
            json.dumps(
                {
                    "format": "apollo-persisted-query-manifest",
                    "version": 1,
                    "operations": [
                        {"id": "x", "name": "Bad", "type": "query", "body": "query Bad { nope }"}
                    ],
                }
            ),
            "false",
            "PERSISTED_DOCUMENTS: operation Bad fails validation: Cannot query field 'nope'",
        ),
    ],
)
async def test_serve_refuses_a_bad_manifest_in_one_line(
    tmp_path: Path, manifest_text: str | None, trusted: str, message: str
) -> None:
    env = {**os.environ, "JWT_SECRET": TEST_SECRET, "DATA_DIR": str(tmp_path / "data")}
    env["TRUSTED_DOCUMENTS_ONLY"] = trusted
    if manifest_text is not None:
        (tmp_path / "m.json").write_text(manifest_text)
        env["PERSISTED_DOCUMENTS"] = str(tmp_path / "m.json")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "graphql_app", "serve", "--port", "1", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, error = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    lines = error.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("graphql-app: configuration error: ")
    assert message in lines[0]


# --- APQ over HTTP ---------------------------------------------------------------------------


async def test_apq_miss_then_text_then_hit_by_hash_over_get(run_app: AppRunner) -> None:
    async with run_app() as gql:
        token = await _token(gql)
        auth = {"Authorization": f"Bearer {token}"}
        digest = sha256_hex(ME)
        extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}})
        miss = await gql.http.get("/graphql", params={"extensions": extensions}, headers=auth)
        assert (miss.status_code, _codes(miss)) == (200, ["PERSISTED_QUERY_NOT_FOUND"])
        assert miss.headers["cache-control"] == "private, no-cache, must-revalidate"
        sent = await gql.http.post("/graphql", json=_body(ME, digest), headers=auth)
        assert sent.json() == {"data": {"me": {"username": "pq_user"}}}
        hit = await gql.http.get("/graphql", params={"extensions": extensions}, headers=auth)
        assert hit.json() == {"data": {"me": {"username": "pq_user"}}}
        # Under application/graphql-response+json a miss is no client error either.
        accept = {**auth, "Accept": "application/graphql-response+json"}
        other = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}})
        miss = await gql.http.get("/graphql", params={"extensions": other}, headers=accept)
        assert (miss.status_code, _codes(miss)) == (200, ["PERSISTED_QUERY_NOT_FOUND"])


async def test_apq_refuses_a_wrong_hash_a_bad_version_and_mutations_over_get(
    run_app: AppRunner,
) -> None:
    async with run_app() as gql:
        token = await _token(gql)
        auth = {"Authorization": f"Bearer {token}"}
        wrong = await gql.http.post("/graphql", json=_body(ME, "a" * 64), headers=auth)
        assert _codes(wrong) == ["BAD_REQUEST"]
        assert "data" not in wrong.json() or wrong.json()["data"] is None
        # ... and the wrong hash was not remembered
        hash_only = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}}
        again = await gql.http.post("/graphql", json=hash_only, headers=auth)
        assert _codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]
        for persisted in ({"version": 2, "sha256Hash": sha256_hex(ME)}, {"version": 1}):
            bad = {"query": ME, "extensions": {"persistedQuery": persisted}}
            refused = await gql.http.post("/graphql", json=bad, headers=auth)
            assert _codes(refused) == ["BAD_REQUEST"]
        # A mutation known by hash is still never run by GET.
        logout_all = "mutation LogoutAll { logoutAll }"
        digest = sha256_hex(logout_all)
        stored = await gql.http.post("/graphql", json=_body(logout_all, digest), headers={})
        assert _codes(stored) == ["UNAUTHENTICATED"]  # ran (without a token): now known
        extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}})
        by_get = await gql.http.get("/graphql", params={"extensions": extensions}, headers=auth)
        assert by_get.status_code >= 400
        assert (await gql.execute(ME, token=token)).data == {"me": {"username": "pq_user"}}


async def test_apq_off_answers_not_supported_and_remembers_nothing(run_app: AppRunner) -> None:
    async with run_app(apq=False) as gql:
        token = await _token(gql)
        auth = {"Authorization": f"Bearer {token}"}
        digest = sha256_hex(ME)
        sent = await gql.http.post("/graphql", json=_body(ME, digest), headers=auth)
        assert sent.json() == {"data": {"me": {"username": "pq_user"}}}
        hash_only = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
        refused = await gql.http.post("/graphql", json=hash_only, headers=auth)
        assert _codes(refused) == ["PERSISTED_QUERY_NOT_SUPPORTED"]


def test_the_cache_of_remembered_documents_is_bounded() -> None:
    documents = PersistedDocuments()
    texts = [f"query Q{i} {{ me {{ id }} }}" for i in range(APQ_MAX_DOCUMENTS + 1)]
    for text in texts:
        documents.remember({"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(text)}}, text)
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(texts[-1])}}
    assert documents.resolve(None, extensions) == texts[-1]
    oldest = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(texts[0])}}
    with pytest.raises(Exception, match="PersistedQueryNotFound"):
        documents.resolve(None, oldest)


# --- the manifest and trusted documents ------------------------------------------------------


async def test_manifest_documents_run_by_hash_even_with_apq_off(
    run_app: AppRunner, manifest_file: Path
) -> None:
    async with run_app(apq=False, persisted_documents=manifest_file) as gql:
        token = await _token(gql)
        me = _by_name("Me")
        hash_only = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": me["id"]}}}
        response = await gql.http.post(
            "/graphql", json=hash_only, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.json()["data"]["me"]["username"] == "pq_user"
        unknown = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "b" * 64}}}
        refused = await gql.http.post("/graphql", json=unknown)
        assert _codes(refused) == ["PERSISTED_QUERY_NOT_IN_LIST"]
        # Other texts still run: this is not trusted-only mode.
        assert (await gql.execute(ME, token=token)).data == {"me": {"username": "pq_user"}}


async def test_trusted_documents_only_runs_the_manifest_and_refuses_the_rest_before_parsing(
    run_app: AppRunner, manifest_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with run_app(trusted_documents_only=True, persisted_documents=manifest_file) as gql:
        register = _by_name("Register")
        variables = {"username": "pq_user", "password": PASSWORD}
        by_hash = {
            "variables": variables,
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": register["id"]}},
        }
        registered = await gql.http.post("/graphql", json=by_hash)
        token = registered.json()["data"]["register"]["accessToken"]
        auth = {"Authorization": f"Bearer {token}"}
        me = _by_name("Me")
        identical = await gql.http.post("/graphql", json={"query": me["body"]}, headers=auth)
        assert identical.json()["data"]["me"]["username"] == "pq_user"
        with_hash = await gql.http.post("/graphql", json=_body(me["body"], me["id"]), headers=auth)
        assert with_hash.json()["data"]["me"]["username"] == "pq_user"

        for text, code in [
            (ME, "QUERY_NOT_IN_SAFELIST"),
            ("{{{ not even GraphQL", "QUERY_NOT_IN_SAFELIST"),  # refused before parsing
            (me["body"] + " ", "QUERY_NOT_IN_SAFELIST"),
        ]:
            refused = await gql.http.post("/graphql", json={"query": text}, headers=auth)
            assert (refused.status_code, _codes(refused)) == (200, [code])
            assert refused.json().get("data") is None
        # APQ is off: a text sent with its own hash is neither run nor remembered.
        digest = sha256_hex(ME)
        refused = await gql.http.post("/graphql", json=_body(ME, digest), headers=auth)
        assert _codes(refused) == ["QUERY_NOT_IN_SAFELIST"]
        hash_only = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
        refused = await gql.http.post("/graphql", json=hash_only, headers=auth)
        assert _codes(refused) == ["PERSISTED_QUERY_NOT_IN_LIST"]
        extensions = json.dumps(hash_only["extensions"])
        refused = await gql.http.get("/graphql", params={"extensions": extensions}, headers=auth)
        assert _codes(refused) == ["PERSISTED_QUERY_NOT_IN_LIST"]
        accept = {**auth, "Accept": "application/graphql-response+json"}
        refused = await gql.http.post("/graphql", json={"query": ME}, headers=accept)
        assert (refused.status_code, _codes(refused)) == (400, ["QUERY_NOT_IN_SAFELIST"])
    logged = [r.__dict__ for r in caplog.records if r.name == "graphql_app.requests"]
    outcomes = [(line["operation"], line["outcome"]) for line in logged]
    assert (None, "QUERY_NOT_IN_SAFELIST") in outcomes  # refusals are logged like operations
    assert ("Me", "ok") in outcomes


async def test_trusted_documents_only_refuses_subscriptions_outside_the_manifest(
    live_server: Live, manifest_file: Path
) -> None:
    async with (
        live_server(trusted_documents_only=True, persisted_documents=manifest_file) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        register = _by_name("Register")
        variables = {"username": "pq_user", "password": PASSWORD}
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": register["id"]}}
        registered = await http.post(
            "/graphql", json={"variables": variables, "extensions": extensions}
        )
        token = registered.json()["data"]["register"]["accessToken"]
        async with websockets.connect(
            f"ws://{address}/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        ) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            query = "subscription { todoChanged { kind } }"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert message["type"] == "error"
            assert [e["extensions"]["code"] for e in message["payload"]] == [
                "QUERY_NOT_IN_SAFELIST"
            ]


# --- Apollo Client's link, end to end ----------------------------------------------------------


def _exchanges(output: str) -> list[dict[str, Any]]:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


async def test_apollo_persisted_query_link(live_server: Live) -> None:
    async with live_server() as address:
        code, output = await run_node(CLIENTS / "link.mjs", "apq", f"http://{address}", "apq_user")
    assert code == 0, output
    seen = [(e["method"], e["query"], e["status"], e["codes"]) for e in _exchanges(output)]
    assert seen == [
        ("POST", False, 200, ["PERSISTED_QUERY_NOT_FOUND"]),  # register: a miss ...
        ("POST", True, 200, []),  # ... the retry with the text
        ("GET", False, 200, ["PERSISTED_QUERY_NOT_FOUND"]),  # me: a miss by GET ...
        ("POST", True, 200, []),  # ... the retry with the text (by POST, as the link does)
        ("GET", False, 200, []),  # another client: a hit by hash only, over GET
    ]
    assert all(e["hash"] for e in _exchanges(output))
    assert "me: apq_user" in output
    assert "me again: apq_user" in output


async def test_apollo_link_with_the_manifest_in_trusted_mode(
    live_server: Live, manifest_file: Path
) -> None:
    async with live_server(
        trusted_documents_only=True, persisted_documents=manifest_file
    ) as address:
        code, output = await run_node(
            CLIENTS / "link.mjs", "trusted", f"http://{address}", str(manifest_file), "pq_user"
        )
    assert code == 0, output
    exchanges = _exchanges(output)
    assert [e["hash"] for e in exchanges[:2]] == [_by_name("Register")["id"], _by_name("Me")["id"]]
    assert [(e["query"], e["codes"]) for e in exchanges[:2]] == [(False, []), (False, [])]
    assert "me: pq_user" in output
    assert "ad hoc refused: PERSISTED_QUERY_NOT_IN_LIST" in output
    assert "ad hoc refused: QUERY_NOT_IN_SAFELIST" in output
    assert "ad hoc: ran" not in output
