"""The estimated cost of an operation (API.md, "Cost"), and the validation rule that refuses
an operation costing more than `MAX_QUERY_COST` before any resolver runs.

Every field costs 1; a field that takes `first` (a connection) costs 1 plus `first` times
the cost of its selection; fragments are expanded; introspection fields (`__schema`,
`__type`, `__typename`) are free, so GraphiQL's own introspection always passes. A `first`
outside 1..100 counts as at most 100: the resolver refuses it (BAD_USER_INPUT) before
reading anything.

Variables: the rule runs once per document (it is cached with the validation), so a
`first: $n` counts as 100, the most it can be. The limit is then a property of the
document: no variable can make a validated document heavier. The heavy-query lane, which
needs no such guarantee, re-estimates such a document with the request's variables
(`estimate(..., variables)`), so a `first: $n` page of 20 is not treated as a page of 100.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)

from ..pagination import MAX_PAGE


@dataclass(frozen=True, slots=True)
class Cost:
    operation: OperationDefinitionNode
    worst: int  # every `first` given by a variable counted as MAX_PAGE
    variable: bool  # some `first` is given by a variable: a request may cost less


def estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """The cost of `operation`; with `variables` None, its worst case over all variables."""
    return _Estimate(schema, document, operation, variables).operation()


class CostBook:
    """The worst-case cost of each operation of each document, computed once per document.

    Keyed by the document's identity: the parse cache hands out the same document for the
    same text, and an AST node hashes deeply (about 16 µs for `{ me { id } }`, 350 µs for a
    page of aliased connections), which a per-request lookup should not pay.
    """

    def __init__(self) -> None:
        self._costs: dict[int, dict[str | None, Cost]] = {}

    def costs(self, schema: GraphQLSchema, document: DocumentNode) -> dict[str | None, Cost]:
        key = id(document)
        costs = self._costs.get(key)
        if costs is None:
            costs = {}
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    walk = _Estimate(schema, document, definition, None)
                    name = definition.name.value if definition.name else None
                    costs[name] = Cost(definition, walk.operation(), walk.uses_variables)
            self._costs[key] = costs
            weakref.finalize(document, self._costs.pop, key, None)  # before the id is reused
        return costs


def cost_rule(max_cost: int, book: CostBook) -> type[ValidationRule]:
    """A validation rule refusing each operation whose worst-case cost exceeds `max_cost`."""

    class QueryCostLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            costs = book.costs(context.schema, document)
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                cost = costs[definition.name.value if definition.name else None].worst
                if cost > max_cost:
                    context.report_error(
                        GraphQLError(
                            f"The operation's estimated cost {cost} exceeds the maximum"
                            f" of {max_cost}",
                            definition,
                            extensions={
                                "code": "GRAPHQL_VALIDATION_FAILED",
                                "cost": cost,
                                "maxCost": max_cost,
                            },
                        )
                    )

    return QueryCostLimit


class _Estimate:
    """One walk over one operation, fragments expanded (each fragment's cost computed once,
    so nested spreads cannot make the walk exponential)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
    ) -> None:
        self.schema = schema
        self.operation_node = operation
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.defaults = {
            d.variable.name.value: d.default_value
            for d in operation.variable_definitions or ()
            if d.default_value is not None
        }
        self.fragment_costs: dict[str, int] = {}
        self.visiting: set[str] = set()
        self.uses_variables = False

    def operation(self) -> int:
        root = self.schema.get_root_type(self.operation_node.operation)
        return self.selections(self.operation_node.selection_set, root)

    def selections(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None) -> int:
        total = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> int:
        known = self.fragment_costs.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self.visiting:
            return 0  # unknown or cyclic: other rules refuse the document
        self.visiting.add(name)
        condition = self.schema.get_type(definition.type_condition.name.value)
        cost = self.selections(definition.selection_set, condition)
        self.visiting.discard(name)
        self.fragment_costs[name] = cost
        return cost

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0  # introspection is free
        fields = (
            parent.fields if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else {}
        )
        definition = fields.get(name)
        if definition is None:
            return 1  # unknown: other rules refuse it
        inner = self.selections(node.selection_set, get_named_type(definition.type))
        first = definition.args.get("first")
        if first is None:
            return 1 + inner
        return 1 + self.first(node, first) * inner

    def first(self, node: FieldNode, argument: GraphQLArgument) -> int:
        value: Any = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
        if isinstance(value, VariableNode):
            self.uses_variables = True
            name = value.name.value
            if self.variables is None:
                return MAX_PAGE
            value = self.variables[name] if name in self.variables else self.defaults.get(name)
        if isinstance(value, IntValueNode):
            value = int(value.value)
        if value is None or isinstance(value, NullValueNode):
            value = argument.default_value
        if not isinstance(value, int) or isinstance(value, bool):
            return MAX_PAGE  # not an Int: other rules refuse it
        return min(max(value, 0), MAX_PAGE)
