"""Tracing: `graphql-app serve` with the otel extra and OTEL_EXPORTER_OTLP_ENDPOINT exports
spans over the real OTLP/HTTP path to a receiver in this test (decoded with opentelemetry's
own protobuf classes): the request, the GraphQL operation under it and the database commands
under that, one trace; no password, token, variable or query string in any of it; and
nothing from opentelemetry imported without the endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .conftest import TEST_SECRET, free_port, serve, serve_env
from .factories import PASSWORD

trace_service = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    reason="the otel extra is not installed",
)

GET_SECRET = "a-variable-sent-in-a-url"


class Receiver:
    """An OTLP/HTTP trace endpoint: every export request, raw and decoded."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.spans: list[tuple[dict[str, Any], Any]] = []  # (resource attributes, span)

    async def export(self, request: Request) -> Response:
        body = await request.body()
        self.raw.append(body)
        message = trace_service.ExportTraceServiceRequest()
        message.ParseFromString(body)
        for resource_spans in message.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend((resource, span) for span in scope_spans.spans)
        answer = trace_service.ExportTraceServiceResponse().SerializeToString()
        return Response(answer, media_type="application/x-protobuf")

    def named(self, name: str) -> list[Any]:
        return [span for _, span in self.spans if span.name == name]


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[tuple[Receiver, int]]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/v1/traces", receiver.export, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn exposes a flag, not an event
        await asyncio.sleep(0.02)
    try:
        yield receiver, port
    finally:
        server.should_exit = True
        await task


async def test_request_operation_and_database_spans_over_otlp(
    tmp_path: Path, mongodb_url: str, db_name: str
) -> None:
    async with receiving() as (receiver, receiver_port):
        env = {
            **serve_env(tmp_path, MONGODB_URL=mongodb_url, MONGODB_DB=db_name),
            "JWT_SECRET": TEST_SECRET,
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver_port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # the standard variables apply
            "OTEL_SERVICE_NAME": "graphql-app-under-test",
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "authorization,user-agent",
        }
        async with serve(env) as (_, base), httpx.AsyncClient(base_url=base) as http:
            registered = await http.post(
                "/graphql",
                json={
                    "query": "mutation Register($u: String!, $p: String!) "
                    "{ register(input: {username: $u, password: $p}) "
                    "{ accessToken refreshToken } }",
                    "variables": {"u": "tracer", "p": PASSWORD},
                },
            )
            tokens = registered.json()["data"]["register"]
            auth = {"Authorization": f"Bearer {tokens['accessToken']}"}
            me = await http.get(
                "/graphql",
                params={
                    "query": "query Me($v: String) "
                    "{ me { username } todos(after: $v) { totalCount } }",
                    "variables": json.dumps({"v": GET_SECRET}),
                },
                headers=auth,
            )
            # ran with the token, its variable refused (a cursor it is not) and not echoed
            assert [e["extensions"]["code"] for e in me.json()["errors"]] == ["BAD_USER_INPUT"]
            assert GET_SECRET not in me.text
            login = f'login(username: "tracer", password: "{PASSWORD}")'
            inline = f"mutation Login {{ {login} {{ tokenType }} }}"
            assert (await http.post("/graphql", json={"query": inline})).status_code == 200
            deadline = time.monotonic() + 30
            while not (receiver.named("query Me") and receiver.named("mutation Login")):
                assert time.monotonic() < deadline, [s.name for _, s in receiver.spans]
                await asyncio.sleep(0.1)

    register = receiver.named("mutation Register")[0]
    assert {a.key: a.value.string_value for a in register.attributes}["graphql.operation.name"] == (
        "Register"
    )
    by_id = {span.span_id: span for _, span in receiver.spans}
    request = by_id[register.parent_span_id]
    assert request.kind == request.SPAN_KIND_SERVER
    assert request.trace_id == register.trace_id
    commands = [s for _, s in receiver.spans if s.parent_span_id == register.span_id]
    names = {s.name for s in commands}
    assert "insert users" in names, names
    assert all(s.kind == s.SPAN_KIND_CLIENT for s in commands)
    db = {a.key: a.value.string_value for a in commands[0].attributes}
    assert db["db.system"] == "mongodb"
    assert db["db.name"] == db_name
    me_operation = receiver.named("query Me")[0]
    assert by_id[me_operation.parent_span_id].kind == request.SPAN_KIND_SERVER
    assert {resource["service.name"] for resource, _ in receiver.spans} == {
        "graphql-app-under-test"
    }

    exported = b"".join(receiver.raw)
    for secret in (PASSWORD, tokens["accessToken"], tokens["refreshToken"], GET_SECRET, "$2b$"):
        assert secret.encode() not in exported, f"{secret[:12]}... reached a span"
    assert b"me { username }" not in exported  # no document text (inline literals)


async def test_nothing_from_opentelemetry_is_imported_without_the_endpoint(
    tmp_path: Path,
) -> None:
    """Nothing of the extra is imported unless the endpoint is set."""
    script = (
        "import sys\n"
        "WATCHED = ('graphql_app.otel', 'opentelemetry.sdk', 'opentelemetry.exporter',"
        " 'opentelemetry.instrumentation')\n"
        "from graphql_app.app import create_app\n"
        "from graphql_app.settings import Settings\n"
        f"create_app(Settings(jwt_secret='{TEST_SECRET}', metrics=True))\n"
        "print(sorted(m for m in sys.modules if m.startswith(WATCHED)))\n"
    )
    found = {}
    for endpoint in ("", "http://127.0.0.1:9"):
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "DATA_DIR": str(tmp_path)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        output, _ = await process.communicate()
        assert process.returncode == 0
        found[endpoint] = output.decode().strip()
    # (FastAPI itself imports the opentelemetry API when it is installed, for its own
    # optional telemetry; the SDK, the exporter, the instrumentation and ours stay out.)
    assert found[""] == "[]"
    for module in ("graphql_app.otel", "opentelemetry.sdk", "opentelemetry.exporter"):
        assert f"'{module}" in found["http://127.0.0.1:9"]
