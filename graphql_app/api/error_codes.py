"""The one place where errors get their `extensions.code`.

Domain exceptions carry their code; errors Strawberry raised with extensions keep them;
parse failures get GRAPHQL_PARSE_FAILED, every validation rule's failure
GRAPHQL_VALIDATION_FAILED (as validation ends, see `validation_failures`), a variable that
fails coercion BAD_USER_INPUT with a message that never holds its value; anything else is an
unexpected failure: logged in full with a request id, answered with "Internal server error"
and that id only.
"""

from __future__ import annotations

import logging
import re
import uuid

from graphql import GraphQLError
from strawberry.types import ExecutionContext

from ..database import unavailable
from ..errors import DomainError
from .input_errors import variable_message

log = logging.getLogger("graphql_app.errors")

# The parts of graphql-core's syntax errors that quote the document: a string or number
# token ("found String '<value>'."), an escape sequence, a number it suggests.
_QUOTED_IN_SYNTAX_ERROR = (
    (re.compile(r"((?:found|Unexpected) (?:Block)?(?:String|Int|Float)) '.*'\.$", re.S), r"\1."),
    (re.compile(r"(escape sequence): '.*'\.$", re.S), r"\1."),
    (re.compile(r", did you mean '[\d.]*'\?$"), "."),
)


# graphql-core's messages for an argument it cannot coerce while executing (execution/values.py).
_ARGUMENT_REFUSED = re.compile(
    r"(Argument '\w+') (?:has invalid value|of required type '.*' was not provided\.$)"
)


def validation_failures(errors: list[GraphQLError], hide_suggestions: bool) -> list[GraphQLError]:
    """Every validation failure as GRAPHQL_VALIDATION_FAILED (a rule's own extensions kept).
    With `hide_suggestions`, any "Did you mean" is cut too: graphql-core's ScalarLeafsRule
    suggests without asking."""
    return [
        _with(
            error,
            error.message.split(" Did you mean", 1)[0] if hide_suggestions else error.message,
            {**(error.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"},
        )
        for error in errors
    ]


def shape_errors(execution_context: ExecutionContext) -> None:
    """Give every error of the operation's result its code (run as the operation ends)."""
    result = execution_context.result
    if result is not None and result.errors:
        shape_in_place(execution_context, result.errors)


def shape_in_place(execution_context: ExecutionContext, errors: list[GraphQLError]) -> None:
    """Give each error its code where the list stands: a subscription's event is sent long
    before its operation ends, so its errors are shaped as they are produced."""
    parsed = execution_context.graphql_document is not None
    errors[:] = [_shape(execution_context, error, parsed) for error in errors]


def _shape(execution_context: ExecutionContext, error: GraphQLError, parsed: bool) -> GraphQLError:
    original = unavailable(error.original_error) or error.original_error
    if isinstance(original, DomainError):
        return _with(error, original.message, original.extensions)
    if error.extensions and "code" in error.extensions:
        return error
    if original is None and not parsed:
        return _with(error, _syntax_message(error.message), {"code": "GRAPHQL_PARSE_FAILED"})
    variable = variable_message(error, execution_context.schema._schema)
    if variable is not None:
        return _with(error, variable, {"code": "BAD_USER_INPUT"})
    argument = _invalid_argument(original)
    if argument is not None:
        return _with(error, f"{argument} has an invalid value.", {"code": "BAD_USER_INPUT"})
    if original is None and error.path is None:  # a request error as execution starts
        coercion = error.message.startswith("Too many errors processing variables")
        code = "BAD_USER_INPUT" if coercion else "GRAPHQL_VALIDATION_FAILED"
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


def _invalid_argument(original: BaseException | None) -> str | None:
    """ "Argument 'x'" when graphql-core refused an argument as it executed: a variable that
    passed its own coercion but not the argument's (null for `$s: Boolean = false` given to
    `@skip(if: $s)`). The client's input, not a failure of ours; its details are not kept."""
    if not isinstance(original, GraphQLError) or original.original_error is not None:
        return None
    found = _ARGUMENT_REFUSED.match(original.message)
    return found.group(1) if found else None


def _syntax_message(message: str) -> str:
    for pattern, replacement in _QUOTED_IN_SYNTAX_ERROR:
        message = pattern.sub(replacement, message)
    return message


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
