"""The compiled plans of the query documents this process has seen and validated.

A document becomes known the first time it is sent: it is parsed and validated through the
same caches as the ordinary path (so with the same limits), its cost is checked against the
heavy-query lane, and its operation is compiled (`api.compiled`); the documents of the
persisted-query manifest are known from the start and never forgotten. Later requests with the
same text and operation name go straight to the plan. Invalid texts are never kept; valid
ones that cannot be compiled are remembered as such, so they are not tried again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    get_operation_ast,
)
from graphql.execution.values import VariableValues

from .compiled import (
    Fallback,
    Plan,
    Unsupported,
    coerce_variables,
    compile_plan,
    condition_variables,
)
from .cost import CostBook, estimate
from .operation import CACHE_SIZE, cached_parse, cached_validate

MAX_VARIANTS = 16  # plans per operation, one per combination of @include/@skip variables


class _Known:
    __slots__ = ("conditions", "document", "maybe_heavy", "operation", "variants")

    def __init__(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        conditions: list[str],
        maybe_heavy: bool,
    ) -> None:
        self.document = document
        self.operation = operation
        self.conditions = conditions
        self.maybe_heavy = maybe_heavy  # heavy for some variables: estimated per request
        self.variants: dict[tuple[Any, ...], Plan] = {}


NOT_COMPILED = object()  # a valid document the compiler does not handle


class KnownDocuments:
    def __init__(
        self,
        schema: GraphQLSchema,
        rules: tuple[type[ASTValidationRule], ...],
        *,
        hide_suggestions: bool,
        max_tokens: int,
        costs: CostBook,
        heavy_cost: int,
    ) -> None:
        self.schema = schema
        self.rules = rules
        self.hide_suggestions = hide_suggestions
        self.max_tokens = max_tokens
        self.costs = costs
        self.heavy_cost = heavy_cost
        self._known: OrderedDict[tuple[str, str | None], _Known | object] = OrderedDict()
        self._pinned: dict[tuple[str, str | None], _Known | object] = {}

    def prepare(self, text: str, operation_name: str | None) -> None:
        """Know a persisted (manifest) document from the start, for good."""
        known = self._learn(text, operation_name)
        if known is not None:
            self._pinned[text, operation_name] = known

    def plan(
        self, text: str, operation_name: str | None, raw_variables: Mapping[str, Any] | None
    ) -> tuple[Plan, VariableValues] | None:
        """The plan for this request and its coerced variables; None: execute it the ordinary
        way (unknown, invalid, not compiled, or its variables do not coerce)."""
        key = (text, operation_name)
        known = self._pinned.get(key) or self._known.get(key)
        if known is None:
            known = self._learn(text, operation_name)
            if known is None:
                return None
            self._known[key] = known
            if len(self._known) > CACHE_SIZE:
                self._known.popitem(last=False)
        if not isinstance(known, _Known):
            return None
        if known.maybe_heavy and self._heavy(known, raw_variables):
            return None
        try:
            variables = coerce_variables(self.schema, known.operation, raw_variables)
            condition = tuple(variables.coerced.get(name) for name in known.conditions)
            plan = known.variants.get(condition)
            if plan is None:
                if len(known.variants) >= MAX_VARIANTS:
                    return None
                plan = known.variants[condition] = compile_plan(
                    self.schema, known.document, operation_name, raw_variables or {}
                )
        except (Fallback, GraphQLError):  # e.g. a null `@skip(if:)`: graphql-core reports it
            return None
        except Unsupported:
            (self._pinned if key in self._pinned else self._known)[key] = NOT_COMPILED
            return None
        return plan, variables

    def _learn(self, text: str, operation_name: str | None) -> _Known | object | None:
        try:
            document = cached_parse(text, max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        if cached_validate(self.schema, document, self.rules, self.hide_suggestions):
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return None
        name = operation.name.value if operation.name else None
        cost = self.costs.costs(self.schema, document).get(name)
        if cost is None:
            return None
        maybe_heavy = cost.worst > self.heavy_cost
        if maybe_heavy and not cost.variable:
            return NOT_COMPILED  # the heavy lane's, on the ordinary path
        try:
            conditions = condition_variables(document)
        except Unsupported:
            return NOT_COMPILED
        return _Known(document, operation, conditions, maybe_heavy)

    def _heavy(self, known: _Known, raw_variables: Mapping[str, Any] | None) -> bool:
        """As the heavy lane judges it: the cost for these variables."""
        cost = estimate(self.schema, known.document, known.operation, raw_variables or {})
        return cost > self.heavy_cost
