"""What one GraphQL operation adds to the metrics: its outcome and duration, the reasons of
its UNAUTHENTICATED errors, the outcome of each `login` field it ran."""

from __future__ import annotations

import time
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.types import ExecutionContext

from .. import metrics


def outcome(errors: list[GraphQLError] | None) -> str:
    for error in errors or ():
        return str((error.extensions or {}).get("code", "INTERNAL_SERVER_ERROR"))
    return "ok"


def record(
    names: metrics.OperationNames,
    name: str | None,
    errors: list[GraphQLError] | None,
    started: float,
    *,
    parsed: bool = True,
) -> None:
    label = names.label(name, parsed=parsed)
    metrics.OPERATIONS.labels(label, outcome(errors)).inc()
    metrics.DURATION.labels(label).observe(time.perf_counter() - started)
    for reason in {
        str((e.extensions or {}).get("reason"))
        for e in errors or ()
        if (e.extensions or {}).get("code") == "UNAUTHENTICATED"
    }:
        metrics.AUTH_FAILURES.labels(reason).inc()


def record_operation(
    names: metrics.OperationNames, context: ExecutionContext, started: float
) -> None:
    result = context.result
    errors = result.errors if result is not None else None
    operation = _operation(context)
    record(names, operation.name.value if operation and operation.name else None, errors, started)
    if operation is not None and operation.operation.value == "mutation":
        _record_logins(operation, result.data if result is not None else None, errors)


def _operation(context: ExecutionContext) -> OperationDefinitionNode | None:
    document = context.graphql_document
    if document is None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    wanted = context.operation_name
    for operation in operations:
        if wanted is None or (operation.name and operation.name.value == wanted):
            return operation
    return None


def _record_logins(
    operation: OperationDefinitionNode, data: Any, errors: list[GraphQLError] | None
) -> None:
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.name.value != "login":
            continue
        key = selection.alias.value if selection.alias else "login"
        if isinstance(data, dict) and data.get(key) is not None:
            metrics.LOGINS.labels("ok").inc()
            continue
        error = next((e for e in errors or () if e.path and e.path[0] == key), None)
        if error is None:  # refused before execution: no login was attempted
            continue
        extensions = error.extensions or {}
        code = extensions.get("code")
        reason = extensions.get("reason") if code == "UNAUTHENTICATED" else code
        metrics.LOGINS.labels(str(reason)).inc()
