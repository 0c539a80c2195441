"""The app factory: FastAPI + the GraphQL router, health, JWKS; no import-time singletons."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import orjson
from cross_web import HTTPException
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from . import metrics, tracing
from .api import compiled_http, media_types
from .api.graphiql import render_graphiql, static_files
from .api.schema import build_schema
from .api.websocket import AuthenticatingTransportWSHandler
from .client_address import ClientInfo
from .context import Context
from .database import Client, init_database, make_client, ping
from .embedded import embedded_database
from .http_limits import BodySizeLimit
from .mail.worker import running
from .services import Services
from .settings import Settings

log = logging.getLogger(__name__)
SUB_RESPONSE = "graphql_app.sub_response"  # scope key: the response a context already holds


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    """Every WebSocket message as a text frame. Strawberry sends `encode_json`'s bytes as
    binary frames, which the `graphql-ws` client (Apollo's GraphQLWsLink, urql, GraphiQL)
    refuses, closing with 4004; HTTP responses keep the bytes."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view, with JSON 4xx bodies and a GraphiQL page that needs no CDN.

    Added to FastAPI as a plain route rather than a `GraphQLRouter`: the router solves FastAPI
    dependencies on every request (about 8 % of a `me` query's CPU) for a context that
    needs none of them.
    """

    def __init__(self, services: Services, **options: Any) -> None:
        super().__init__(build_schema(services.settings), **options)
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = Context(
            self.services,
            request.headers.get("authorization"),
            ClientInfo.of(request, self.services.settings.trusted_proxy_list),
        )
        context.request, context.response = request, response
        return context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A POST may be for a known document, which its compiled plan answers."""
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await super().__call__(scope, receive, send)
        request = Request(scope, receive)
        response = await compiled_http.answer(
            self, request, lambda context: self._ordinary(request, context)
        )
        await response(scope, receive, send)
        return None

    async def _ordinary(self, request: Request, context: Context | None) -> Response:
        """Strawberry's path; with the context (and its response) a plan already used."""
        if context is None:
            return cast(Response, await self.run(request))
        request.scope[SUB_RESPONSE] = context.response
        return cast(Response, await self.run(request, context=context))

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        """The response that resolvers may add cookies to (Strawberry's own deletes a header
        it just made, which costs more than making none), in the media type the client
        prefers (406 before anything runs when it accepts neither; a GET without a query
        is left to the GraphiQL page or its 404)."""
        stashed = request.scope.pop(SUB_RESPONSE, None)
        if stashed is not None:
            return cast(Response, stashed)
        media_type = media_types.preferred(request.headers.get("accept"))
        asks_for_page = _asks_for_page(request.scope.get("method"), request.query_params)
        if media_type is None and not asks_for_page:
            raise HTTPException(406, media_types.NOT_ACCEPTABLE)
        return self.sub_response(media_type)

    @staticmethod
    def sub_response(media_type: str | None) -> Response:
        """An empty response whose status and headers resolvers may set."""
        response = Response(media_type=media_type)
        response.status_code = None  # type: ignore[assignment]  # unset: Strawberry's 200
        response.raw_headers = []
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """Strawberry's, in the negotiated media type, with that type's status."""
        media_type = sub_response.media_type or media_types.JSON
        status = 200
        body: object = response_data
        if media_type == media_types.GRAPHQL_RESPONSE and isinstance(response_data, dict):
            status, body = media_types.graphql_response(dict(response_data))
        response = Response(
            self.encode_json(body),
            status_code=sub_response.status_code or status,
            media_type=media_type,
        )
        response.raw_headers.extend(sub_response.raw_headers)
        response.background = sub_response.background
        return response

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as exc:
            code = "BAD_REQUEST" if exc.status_code < 500 else "INTERNAL_SERVER_ERROR"
            return JSONResponse(
                {"errors": [{"message": exc.reason, "extensions": {"code": code}}]},
                status_code=exc.status_code,
            )

    def decode_json(self, data: str | bytes) -> object:
        """orjson: about 3x faster than `json` both ways; its errors are `JSONDecodeError`s."""
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)  # a batch (list) is refused unless ALLOW_BATCHING
        if not isinstance(parsed, (dict, list)):
            raise HTTPException(400, "The request body must be a JSON object")
        return parsed

    async def render_graphql_ide(self, request: Request) -> Any:
        return render_graphiql(request)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Not for a persisted query sent by GET (no `query`, its hash in `extensions`)."""
        page = _asks_for_page(request.method, request.query_params)
        return page and super().should_render_graphql_ide(request)

    graphql_transport_ws_handler_class = AuthenticatingTransportWSHandler
    websocket_adapter_class = TextFrameWebSocketAdapter


class App(FastAPI):
    """FastAPI, with `/graphql` HTTP requests sent through the app's own middleware straight
    to the GraphQL view: FastAPI's exception, exit-stack and body-limit layers and the
    router are for its path operations, and cost about 8 % of a `me` query."""

    graphql_stack: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stack = self.graphql_stack
        if stack is not None and scope["type"] == "http" and scope["path"] == "/graphql":
            scope["app"] = self
            await stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def build_graphql_stack(self, view: ASGIApp) -> None:
        """The view inside the user middleware (CORS, body limits, tracing) as added so far,
        and Starlette's 500 for an unhandled error, as for any route."""
        stack = view
        for middleware in reversed(self.user_middleware):
            stack = middleware.cls(stack, *middleware.args, **middleware.kwargs)
        self.graphql_stack = ServerErrorMiddleware(stack)


def _asks_for_page(method: str | None, params: Mapping[str, str]) -> bool:
    return method == "GET" and "query" not in params and "extensions" not in params


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    services = Services.build(settings)
    state: dict[str, Client] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            url = settings.mongodb_url
            if url is None:
                data_dir = settings.data_dir
                url = await stack.enter_async_context(embedded_database(data_dir / "db", data_dir))
            client = make_client(url, settings.db_timeout)
            stack.push_async_callback(client.close)
            await init_database(client, settings.mongodb_db)
            await stack.enter_async_context(services.events.running(url))
            state["client"] = client
            await stack.enter_async_context(running(services.mail_worker()))
            yield

    app = App(
        title="graphql-app",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # Spans come from `tracing` (OTEL_ENABLED); FastAPI's own telemetry would look up
        # OpenTelemetry's providers on every request, about 3 % of a `me` query.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    graphql = GraphQLApp(
        services,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )
    app.router.routes += [Route("/graphql", graphql), WebSocketRoute("/graphql", graphql)]
    if settings.graphiql_enabled:
        app.mount("/static", static_files(), name="static")
    if settings.metrics:
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        app.router.routes.append(Route("/metrics", metrics.endpoint(token), methods=["GET"]))

    @app.get("/healthz")
    async def healthz() -> Response:
        client = state.get("client")
        healthy = client is not None and await ping(client)
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable"}, status_code=200 if healthy else 503
        )

    @app.get("/.well-known/jwks.json")
    async def jwks() -> Response:
        keys = services.codec.jwks()
        if keys is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return Response(json.dumps(keys), media_type="application/json")

    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_credentials=True,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, timeout=settings.http_body_timeout
    )
    tracing.instrument(app)  # last: the outermost middleware
    app.build_graphql_stack(graphql)
    return app
