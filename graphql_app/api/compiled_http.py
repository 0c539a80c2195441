"""POST requests for known query documents, answered by their compiled plan.

Strawberry's view and schema run a request through about twenty layers (request adapter,
body parsing, an execution context, each extension hook as a context manager, graphql-core's
executor) that a request for an already validated query needs none of. Here such a request
is read, its plan looked up (`KnownDocuments`) and executed, and the answer built by the
view's own `create_response`; it does what the ordinary path does for it: persisted-query
resolution and refusals, the media type, the request budget, the log line, the metrics.

Everything else -- another content type, a batch, an unknown or invalid document, a
mutation, tracing on -- and every answer that is not a plain success goes to the ordinary
path, the latter with the same request context (its user already loaded), so errors are
exactly what graphql-core and Strawberry produce.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..database import request_budget
from . import media_types
from .compiled import Fallback
from .operation_metrics import record
from .persisted import PersistedQueryError
from .request_log import log_success

if TYPE_CHECKING:
    from ..app import GraphQLApp
    from .schema import Schema

log = logging.getLogger(__name__)


async def answer(
    view: GraphQLApp, request: Request, ordinary: Callable[[Any], Awaitable[Response]]
) -> Response:
    """The response to a POST; `ordinary(context)` runs the ordinary path (context None:
    a new one)."""
    schema = cast("Schema", view.schema)
    known = schema.known
    if known is None or not _json(request.headers.get("content-type")):
        return await ordinary(None)
    media_type = media_types.preferred(request.headers.get("accept"))
    if media_type is None:
        return await ordinary(None)
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return await ordinary(None)
    if type(data) is not dict:
        return await ordinary(None)
    query, variables = data.get("query"), data.get("variables")
    name, extensions = data.get("operationName"), data.get("extensions")
    if not (
        (query is None or type(query) is str)
        and (variables is None or type(variables) is dict)
        and (name is None or type(name) is str)
        and (extensions is None or type(extensions) is dict)
    ):
        return await ordinary(None)
    try:
        text = schema.documents.resolve(query, extensions)
    except PersistedQueryError:
        return await ordinary(None)
    found = known.plan(text, name, variables) if text is not None else None
    if found is None:
        return await ordinary(None)
    plan, coerced = found
    sub_response = view.sub_response(media_type)
    context = await view.get_context(request, sub_response)
    started = time.perf_counter()
    try:
        with request_budget(view.services.settings.request_timeout):
            result = await plan.execute(context, coerced)
    except Fallback as signal:  # anything but success: the ordinary path answers it
        log.debug("compiled plan handed over", extra={"reason": str(signal) or "Fallback"})
        return await ordinary(context)
    operation = plan.operation.name.value if plan.operation.name else None
    if query is not None:
        schema.documents.remember(extensions, query)
    log_success(context, operation, started)
    if schema.names is not None:
        record(schema.names, operation, None, started)
    return view.create_response({"data": result}, sub_response)


def _json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    # Exactly as Strawberry's view reads it (case-sensitive), so both paths accept the same.
    return content_type.partition(";")[0].strip() == media_types.JSON
