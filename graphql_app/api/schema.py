"""The Strawberry schema, with the query limits and caches of the settings."""

from __future__ import annotations

from collections.abc import Callable

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
    extensions: list[Callable[[], SchemaExtension]] = [
        RequestLog,
        ErrorCodes,
        lambda: MaxTokensLimiter(max_token_count=tokens),
        lambda: QueryDepthLimiter(max_depth=depth),
        lambda: MaxAliasesLimiter(max_alias_count=aliases),
    ]
    if not settings.introspection_enabled:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    # Module-level LRU caches shared by every request: parse and validate a query text once.
    extensions += [lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)]
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
