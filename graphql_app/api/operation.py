"""Everything the schema does around an operation, as one Strawberry extension.

Query limits, the parse and validation caches, error codes and the log line were six
extensions; Strawberry wraps each hook of each extension in its own context manager on
every request, which cost about 15 % of a `me` query. One extension with three hooks does
the same work.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types.graphql import OperationType

from .. import metrics
from ..database import request_budget
from ..tracing import OperationSpan
from .error_codes import shape_errors, validation_failures
from .operation_metrics import record_operation
from .request_log import log_operation

CACHE_SIZE = 512  # distinct query texts kept parsed and validated


def validate_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    """Strawberry's validation (its own two rules added), with graphql-core's option to leave
    suggestions out, and the failures shaped once (GRAPHQL_VALIDATION_FAILED)."""
    rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    errors = validate(schema, document, rules, hide_suggestions=hide_suggestions)
    return validation_failures(errors, hide_suggestions)


# Module-level caches shared by every request. Validation keys on the parsed document
# (identical for a cached text), the schema and the rule classes, which are built once.
cached_parse = lru_cache(maxsize=CACHE_SIZE)(parse)
cached_validate = lru_cache(maxsize=CACHE_SIZE)(validate_document)


class Operation(SchemaExtension):
    def __init__(
        self,
        max_tokens: int,
        rules: tuple[type[ASTValidationRule], ...],
        *,
        budget: float,
        hide_suggestions: bool = False,
        names: metrics.OperationNames | None = None,
        span: OperationSpan | None = None,
    ) -> None:
        """`rules`: the complete validation rule set (graphql-core's and the limits'), built
        once, so no request assembles it again. `budget`: REQUEST_TIMEOUT.
        `hide_suggestions`: no "Did you mean" in validation messages (production: they would
        reveal the schema). `names`: the metrics' operation labels (None: METRICS off).
        `span`: the operation's trace span (None: no tracing)."""
        self.max_tokens = max_tokens
        self.rules = rules
        self.budget = budget
        self.hide_suggestions = hide_suggestions
        self.names = names
        self.span = span
        self.subscribed = False

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = self.rules
        with self.span(context) if self.span is not None else contextlib.nullcontext():
            try:
                yield
            finally:
                if self.subscribed:
                    metrics.ACTIVE_SUBSCRIPTIONS.dec()
            shape_errors(context)
            log_operation(context, started)
            if self.names is not None:
                record_operation(self.names, context, started)

    def on_execute(self) -> Iterator[None]:
        """All the database work of a query or mutation shares one deadline. Here rather than
        in `on_operation`, which spans a whole subscription's life."""
        with request_budget(self.budget):
            yield

    def on_parse(self) -> Iterator[None]:
        """Parse through the cache; a syntax error (never cached) is left to Strawberry's own
        parse. Raised from this hook, it would skip the end of `on_operation` (measured with
        strawberry-graphql 0.341.2): no `extensions.code`, no log line."""
        context = self.execution_context
        options: Any = context.parse_options
        with contextlib.suppress(GraphQLError):
            context.graphql_document = cached_parse(context.query, **options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            context.pre_execution_errors = cached_validate(
                context.schema._schema, document, context.validation_rules, self.hide_suggestions
            )
        yield
        if self.names is not None and not context.pre_execution_errors:
            self.subscribed = context.operation_type is OperationType.SUBSCRIPTION
            if self.subscribed:
                metrics.ACTIVE_SUBSCRIPTIONS.inc()
