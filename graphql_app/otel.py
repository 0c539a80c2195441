"""OpenTelemetry traces over OTLP/HTTP (imported only when `tracing.enabled()`): a span for
each HTTP request (the ASGI instrumentation), each GraphQL operation and each database
command (PyMongo's command monitoring). The standard OTEL_* variables configure the exporter,
the sampler, the batch processor and the resource.

What a span never holds: a query string (GET /graphql carries its variables there), a header
that carries a credential, a document's text (inline literals), variables, a database
command's contents or its error message (a duplicate-key message quotes the value).

The tracer provider and the command listener are process-wide in OpenTelemetry and PyMongo,
so they are set up once per process.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from graphql import OperationDefinitionNode
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from pymongo import monitoring
from starlette.types import ASGIApp, Receive, Scope, Send

SECRET_HEADERS = ["authorization", "cookie", "set-cookie", "proxy-authorization"]
_QUERY_STRING = "graphql_app.query_string"
_lock = threading.Lock()
_tracer: trace.Tracer | None = None


def tracer() -> trace.Tracer:
    """The app's tracer; the first call sets up the process's provider and listener."""
    global _tracer
    with _lock:
        if _tracer is None:
            named = bool(os.environ.get("OTEL_SERVICE_NAME"))  # else ours, not unknown_service
            resource = Resource.create({} if named else {"service.name": "graphql-app"})
            provider = TracerProvider(resource=resource)
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(provider)
            monitoring.register(CommandSpans(trace.get_tracer("graphql_app.database")))
            _tracer = trace.get_tracer("graphql_app")
        return _tracer


def instrument(app: FastAPI) -> None:
    tracer()
    sanitize = os.environ.get("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "")
    fields = [f.strip() for f in sanitize.split(",") if f.strip()] + SECRET_HEADERS
    app.add_middleware(WithoutQueryString)
    app.add_middleware(
        OpenTelemetryMiddleware,
        exclude_spans=["receive", "send"],
        http_capture_headers_sanitize_fields=fields,
    )
    app.add_middleware(HideQueryString)


class HideQueryString:
    """Outside the instrumentation: it sees the request without its query string..."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("query_string"):
            scope = {**scope, "query_string": b"", _QUERY_STRING: scope["query_string"]}
        await self.app(scope, receive, send)


class WithoutQueryString:
    """... and inside it, the app gets the query string back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _QUERY_STRING in scope:
            scope = {**scope, "query_string": scope.pop(_QUERY_STRING)}
        await self.app(scope, receive, send)


@contextlib.contextmanager
def operation_span(context: Any) -> Iterator[None]:
    """A span around a GraphQL operation, named and described once it is parsed."""
    with tracer().start_as_current_span(
        "graphql.operation", record_exception=False, set_status_on_exception=False
    ) as span:
        yield
        operation = _operation(context.graphql_document, context.operation_name)
        kind = operation.operation.value if operation else "unknown"
        name = operation.name.value if operation and operation.name else None
        span.update_name(f"{kind} {name}" if name else kind)
        span.set_attribute("graphql.operation.type", kind)
        if name:
            span.set_attribute("graphql.operation.name", name)
        result = context.result
        errors = (result.errors if result is not None else None) or []
        codes = [str((e.extensions or {}).get("code")) for e in errors]
        if codes:
            span.set_attribute("graphql.error.codes", codes)
            span.set_status(Status(StatusCode.ERROR, codes[0]))


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    for definition in document.definitions if document is not None else ():
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name and definition.name.value == name)
        ):
            return definition
    return None


class CommandSpans(monitoring.CommandListener):
    """A client span per database command: its name, database and collection, never its
    contents."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self.spans: dict[tuple[Any, int], trace.Span] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        attributes: dict[str, Any] = {
            "db.system": "mongodb",
            "db.name": event.database_name,
            "db.operation": event.command_name,
        }
        if isinstance(collection, str):
            attributes["db.mongodb.collection"] = collection
        host, port = event.connection_id
        attributes |= {"server.address": str(host), "server.port": int(port or 0)}
        name = f"{event.command_name} {collection}" if isinstance(collection, str) else None
        span = self.tracer.start_span(
            name or event.command_name, kind=SpanKind.CLIENT, attributes=attributes
        )
        self.spans[(event.connection_id, event.request_id)] = span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        span = self.spans.pop((event.connection_id, event.request_id), None)
        if span is not None:
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        span = self.spans.pop((event.connection_id, event.request_id), None)
        if span is not None:
            code = event.failure.get("codeName") if isinstance(event.failure, dict) else None
            span.set_status(Status(StatusCode.ERROR, str(code or "failed")))
            span.end()
