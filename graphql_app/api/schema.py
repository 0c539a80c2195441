"""The Strawberry schema, with the query limits and caches of the settings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from ..settings import Settings
from .extensions import ErrorCodes
from .mutations import Mutation
from .queries import Query
from .request_log import RequestLog
from .subscriptions import Subscription


class SyntaxSafeParserCache(ParserCache):
    """Strawberry's ParserCache, except that a syntax error is left to Strawberry's own parse.

    Raised from this hook, the error skips the exit of every `on_operation` (measured with
    strawberry-graphql 0.341.2): no `extensions.code`, no log line. Failed parses are not
    cached by the LRU anyway, so parsing them once more costs nothing extra.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


MAX_BATCH = 10  # operations per batched request, when ALLOW_BATCHING is on


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Silence Strawberry's traceback per error: ErrorCodes logs the unexpected ones."""


def build_schema(settings: Settings | None = None) -> Schema:
    settings = settings or Settings()
    depth, aliases = settings.max_query_depth, settings.max_aliases
    tokens = settings.max_query_tokens
    # Limits first: their validation rules must be in place before ValidationCache runs.
    # The limiters' rule classes are built once: ValidationCache keys on the rule classes, and
    # a limiter constructed per request makes new ones each time, so nothing would ever hit.
    rules = [
        *QueryDepthLimiter(max_depth=depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=aliases).validation_rules,
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[Callable[[], SchemaExtension]] = [
        RequestLog,
        ErrorCodes,
        lambda: MaxTokensLimiter(max_token_count=tokens),
        lambda: AddValidationRules(rules),
    ]
    # Module-level LRU caches shared by every request: parse and validate a query text once.
    extensions += [lambda: SyntaxSafeParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)]
    # Batches (a JSON array body) are refused by Strawberry unless configured.
    config = StrawberryConfig(
        batching_config={"max_operations": MAX_BATCH} if settings.allow_batching else None
    )
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=config,
    )
