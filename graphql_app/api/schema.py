"""The Strawberry schema, with the query limits and caches of the settings, and the
persisted documents resolved before anything parses."""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncGenerator, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from starlette.responses import Response
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from .. import tracing
from ..metrics import OperationNames
from ..settings import Settings
from .compiled import supported
from .cost import CostBook, cost_rule
from .error_codes import shape_in_place
from .heavy_lane import HeavyLane
from .input_errors import specified_rules
from .known_documents import KnownDocuments
from .mutations import Mutation
from .operation import Operation, validate_document
from .operation_metrics import record
from .persisted import (
    PersistedDocuments,
    PersistedQueryError,
    PersistedQueryNotFound,
    load_documents,
)
from .queries import Query
from .request_log import log_refusal
from .subscriptions import Subscription

MAX_BATCH = 10  # operations per batched request, when ALLOW_BATCHING is on


class Schema(strawberry.Schema):
    documents: PersistedDocuments
    known: KnownDocuments | None  # None: every request takes the ordinary path
    names: OperationNames | None  # None: METRICS off

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        started = time.perf_counter()
        try:
            text = self.documents.resolve(query, operation_extensions)
        except PersistedQueryError as exc:
            return self._refuse(exc, operation_name, context_value, started)
        result = await super().execute(
            text,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )
        if query is not None and (result.data is not None or _executed(result.errors)):
            self.documents.remember(operation_extensions, query)
        return result

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> Any:
        """Subscriptions over WebSocket: the same refusals (trusted documents only)."""
        started = time.perf_counter()
        try:
            text = self.documents.resolve(query, operation_extensions)
        except PersistedQueryError as exc:
            refusal = self._refuse(exc, operation_name, context_value, started)
            return _single(PreExecutionError(data=None, errors=refusal.errors))
        return await super().stream(
            text,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )

    def _refuse(
        self, exc: PersistedQueryError, name: str | None, context: Any, started: float
    ) -> ExecutionResult:
        error = GraphQLError(exc.message, extensions=exc.extensions)
        known = name if name in self.documents.operation_names else None
        log_refusal(context, known, exc.code, started)
        if self.names is not None:
            record(self.names, name, [error], started, parsed=False)
        response = getattr(context, "response", None)
        if isinstance(exc, PersistedQueryNotFound) and isinstance(response, Response):
            response.headers["cache-control"] = "private, no-cache, must-revalidate"  # no CDN
        return ExecutionResult(data=None, errors=[error])

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Silence Strawberry's traceback per error: `error_codes` logs the unexpected ones,
        as the operation ends -- or, for a subscription's events, here, before each is sent."""
        if (
            execution_context is not None
            and execution_context.graphql_document is not None
            and execution_context.operation_type is OperationType.SUBSCRIPTION
        ):
            shape_in_place(execution_context, errors)


def _executed(errors: list[GraphQLError] | None) -> bool:
    return any(error.path for error in errors or ())


async def _single(result: PreExecutionError) -> AsyncGenerator[PreExecutionError, None]:
    yield result


def build_schema(settings: Settings | None = None) -> Schema:
    """The schema; a `ConfigError` for a manifest that does not load or validate."""
    settings = settings or Settings()
    names = OperationNames(set()) if settings.metrics else None
    costs = CostBook()  # shared by the cost rule and the heavy-query lane
    # The limiters' rule classes are built once: the validation cache keys on the rule
    # classes, and a limiter constructed per request makes new ones each time.
    rules = [
        *specified_rules,
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        cost_rule(settings.max_query_cost, costs),
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Batches (a JSON array body) are refused by Strawberry unless configured.
    config = StrawberryConfig(
        batching_config={"max_operations": MAX_BATCH} if settings.allow_batching else None
    )
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            functools.partial(  # Strawberry builds an extension per operation
                Operation,
                settings.max_query_tokens,
                tuple(rules),
                budget=settings.request_timeout,
                hide_suggestions=not settings.introspection_enabled,
                names=names,
                span=tracing.operation_span(),
            ),
            HeavyLane(
                costs,
                settings.heavy_query_cost,
                settings.heavy_query_concurrency,
                settings.heavy_query_wait,
            ).factory(),
        ],
        config=config,
    )
    hide = not settings.introspection_enabled
    span = tracing.operation_span()
    compiled = settings.compiled_execution and span is None and supported(schema)
    schema.known = (
        KnownDocuments(
            schema._schema,
            tuple(rules),
            hide_suggestions=hide,
            max_tokens=settings.max_query_tokens,
            costs=costs,
            heavy_cost=settings.heavy_query_cost,
        )
        if compiled
        else None
    )
    schema.documents = load_documents(
        settings, lambda document: validate_document(schema._schema, document, tuple(rules), hide)
    )
    schema.names = names
    if schema.known is not None:
        for operation in schema.documents.manifest.values():
            schema.known.prepare(operation.body, operation.name)
            schema.known.prepare(operation.body, None)  # a single operation, sent unnamed
    if names is not None:
        names.known |= schema.documents.operation_names
    return schema
