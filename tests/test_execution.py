"""The compiled plan of a document answers exactly what graphql-core's executor does, or
hands the operation back to it (`Fallback`) when the answer is anything but plain success:
wrong stored data, a missing attribute, a refused permission, variables that do not coerce.
Constructs it does not compile (introspection, mutations, abstract types) are `Unsupported`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql import parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from graphql_app.api.compiled import (
    Fallback,
    Unsupported,
    coerce_variables,
    compile_plan,
    supported,
)
from graphql_app.permissions import IsAuthenticated

WHEN = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)


@strawberry.type
class Item:
    name: str
    count: int
    note: str | None
    when: datetime
    secret: str = strawberry.field(permission_classes=[IsAuthenticated], default="")

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times

    @strawberry.field
    async def later(self) -> str:
        return self.name + "!"


ROWS: list[Any] = []


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Thing(Named):
    weight: int


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return ROWS

    @strawberry.field
    async def first(self) -> Item | None:
        return ROWS[0] if ROWS else None

    @strawberry.field
    def named(self) -> Named:
        return Thing(name="t", weight=3)


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> int:
        return 1


SCHEMA = strawberry.Schema(Query, Mutation, types=[Thing])


def _item(**overrides: Any) -> Item:
    values: dict[str, Any] = {"name": "a", "count": 1, "note": None, "when": WHEN, **overrides}
    return Item(**values)


async def _both(query: str, variables: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """The plan's data (or the exception it raised) and graphql-core's result."""
    document = parse(query)
    expected = await SCHEMA.execute(query, variable_values=variables)
    try:
        plan = compile_plan(SCHEMA._schema, document, None, variables or {})
        coerced = coerce_variables(SCHEMA._schema, plan.operation, variables)
        return await plan.execute(None, coerced), expected
    except (Fallback, Unsupported) as signal:
        return signal, expected


def test_the_pinned_libraries_are_the_ones_installed() -> None:
    assert supported(SCHEMA)


def test_a_schema_with_resolver_middleware_is_not_compiled() -> None:
    class Audit(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            return _next(root, info, *args, **kwargs)

    @strawberry.type
    class Other:  # its own types: Strawberry keeps a schema's resolvers on them
        answer: int = 42

    assert supported(strawberry.Schema(Other))
    assert not supported(strawberry.Schema(Other, extensions=[Audit]))
    subscript = StrawberryConfig(default_resolver=lambda source, name: source[name])
    assert not supported(strawberry.Schema(Other, config=subscript))


QUERIES = [
    "{ items { name n2: name count note when shout } }",
    "{ items { ...F } } fragment F on Item { name count shout(times: 2) }",
    "{ items { name ... on Item { name count } } first { later note } }",
    "query ($t: Int) { items { shout(times: $t) x: shout } }",
    "query ($yes: Boolean!) { items { name note @include(if: $yes) count @skip(if: $yes) } }",
    "{ __typename items { __typename name } }",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("variables", [{"t": 3, "yes": True}, {"t": 1, "yes": False}])
async def test_values_are_those_of_graphql_cores_path(
    query: str, variables: dict[str, Any]
) -> None:
    ROWS[:] = [_item(), _item(name="b", count=-7, note="hello")]
    used = {k: v for k, v in variables.items() if f"${k}" in query}
    data, expected = await _both(query, used)
    assert expected.errors is None
    assert data == expected.data
    assert list(data) == list(expected.data)  # the keys in the document's order


@pytest.mark.parametrize(
    "bad",
    [{"name": None}, {"count": 2**40}, {"count": "many"}],
)
async def test_bad_stored_values_are_left_to_graphql_core(bad: dict[str, Any]) -> None:
    ROWS[:] = [_item(), _item(**bad)]
    data, expected = await _both("{ items { name count } }")
    assert isinstance(data, Fallback)
    assert expected.errors is not None  # graphql-core answers it, with its path
    assert expected.errors[0].path == ["items", 1, next(iter(bad))]


class _NoNote:
    """A source object lacking the nullable `note` attribute (a stale or wrong object)."""

    name, count, when = "x", 1, WHEN


async def test_a_missing_attribute_is_left_to_graphql_core() -> None:
    ROWS[:] = [_item(), _NoNote()]
    data, expected = await _both("{ items { name note } }")
    assert isinstance(data, Fallback), "a missing attribute became null"
    assert expected.errors is not None


async def test_a_refused_permission_is_left_to_graphql_core() -> None:
    ROWS[:] = [_item()]
    data, expected = await _both("{ items { secret } }")
    assert isinstance(data, Fallback)
    assert expected.errors is not None


async def test_variables_that_do_not_coerce_are_left_to_graphql_core() -> None:
    ROWS[:] = [_item()]
    data, expected = await _both("query ($t: Int) { items { shout(times: $t) } }", {"t": "x"})
    assert isinstance(data, Fallback)
    assert expected.errors is not None


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { queryType { name } } }",
        '{ items { name } __type(name: "Item") { name } }',
        "mutation { touch }",
        "{ named { name } }",
    ],
)
async def test_what_the_compiler_does_not_handle_is_unsupported(query: str) -> None:
    data, expected = await _both(query)
    assert isinstance(data, Unsupported)
    assert expected.errors is None
