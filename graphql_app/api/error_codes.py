"""The one place where errors get their `extensions.code`.

Domain exceptions carry their code; errors Strawberry raised with extensions keep them;
parse and validation failures get GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED; anything
else is an unexpected failure: logged in full with a request id, answered with
"Internal server error" and that id only.
"""

from __future__ import annotations

import logging
import uuid

from graphql import GraphQLError
from strawberry.types import ExecutionContext

from ..database import unavailable
from ..errors import DomainError

log = logging.getLogger("graphql_app.errors")


def shape_errors(execution_context: ExecutionContext) -> None:
    """Give every error of the operation's result its code (run as the operation ends)."""
    result = execution_context.result
    if result is None or not result.errors:
        return
    parsed = execution_context.graphql_document is not None
    result.errors = [_shape(execution_context, error, parsed) for error in result.errors]


def _shape(execution_context: ExecutionContext, error: GraphQLError, parsed: bool) -> GraphQLError:
    original = unavailable(error.original_error) or error.original_error
    if isinstance(original, DomainError):
        return _with(error, original.message, original.extensions)
    if error.extensions and "code" in error.extensions:
        return error
    if original is None:
        if not parsed:
            return _with(error, error.message, {"code": "GRAPHQL_PARSE_FAILED"})
        if error.path is None:
            variable = error.message.startswith("Variable ")
            code = "BAD_USER_INPUT" if variable else "GRAPHQL_VALIDATION_FAILED"
            return _with(error, error.message, {"code": code})
    context = execution_context.context
    request_id = getattr(context, "request_id", None) or uuid.uuid4().hex
    log.error(
        "unexpected error",
        exc_info=original or error,
        extra={
            "request_id": request_id,
            "operation": execution_context.operation_name,
        },
    )
    return _with(
        error,
        "Internal server error",
        {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


def _with(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )
