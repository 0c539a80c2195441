"""The Strawberry schema, with the query limits and caches of the settings."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from ..settings import Settings
from .cost import CostBook, cost_rule
from .execution import PlainScalarExecutor, mark_plain_scalars
from .heavy_lane import HeavyLane
from .input_errors import specified_rules
from .mutations import Mutation
from .operation import Operation
from .queries import Query
from .subscriptions import Subscription

MAX_BATCH = 10  # operations per batched request, when ALLOW_BATCHING is on


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Silence Strawberry's traceback per error: `error_codes` logs the unexpected ones."""


def build_schema(settings: Settings | None = None) -> Schema:
    settings = settings or Settings()
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
            Operation.factory(
                settings.max_query_tokens,
                tuple(rules),
                budget=settings.request_timeout,
                hide_suggestions=not settings.introspection_enabled,
            ),
            HeavyLane(
                costs,
                settings.heavy_query_cost,
                settings.heavy_query_concurrency,
                settings.heavy_query_wait,
            ).factory(),
        ],
        config=config,
        execution_context_class=PlainScalarExecutor,
    )
    mark_plain_scalars(schema)
    return schema
