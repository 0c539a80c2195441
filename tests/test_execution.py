"""The short path for plain scalar fields answers exactly what graphql-core's own path does:
the same values, and the same errors at the same paths when stored data is wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry

from graphql_app.api.execution import PLAIN, PlainScalarExecutor, mark_plain_scalars
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
    def shout(self) -> str:
        return self.name.upper()


ROWS: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return ROWS


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    fast = strawberry.Schema(Query, execution_context_class=PlainScalarExecutor)
    mark_plain_scalars(fast)
    return fast, strawberry.Schema(Query)


def _item(**overrides: Any) -> Item:
    values: dict[str, Any] = {"name": "a", "count": 1, "note": None, "when": WHEN, **overrides}
    return Item(**values)


QUERY = "{ items { name n2: name count note when shout } }"


def test_only_plain_attribute_fields_are_marked() -> None:
    fast, _ = _schemas()
    fields = fast._schema.type_map["Item"].fields  # type: ignore[union-attr]
    assert {name for name, field in fields.items() if PLAIN in field.extensions} == {
        "name",
        "count",
        "note",
        "when",
    }


async def test_values_are_those_of_graphql_cores_path() -> None:
    ROWS[:] = [_item(), _item(name="b", count=-7, note="hello")]
    fast, reference = _schemas()
    result = await fast.execute(QUERY)
    assert result.errors is None
    assert result.data == (await reference.execute(QUERY)).data
    assert result.data == {
        "items": [
            {"name": "a", "n2": "a", "count": 1, "note": None, "when": WHEN.isoformat()}
            | {"shout": "A"},
            {"name": "b", "n2": "b", "count": -7, "note": "hello", "when": WHEN.isoformat()}
            | {"shout": "B"},
        ]
    }


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"name": None}, "Cannot return null for non-nullable field Item.name."),
        ({"count": 2**40}, "Int cannot represent non 32-bit signed integer value"),
        ({"count": "many"}, "Int cannot represent non-integer value"),
    ],
)
async def test_bad_stored_values_fail_as_in_graphql_core(bad: dict[str, Any], message: str) -> None:
    ROWS[:] = [_item(), _item(**bad)]
    fast, reference = _schemas()
    result, expected = await fast.execute(QUERY), await reference.execute(QUERY)
    assert result.errors is not None
    assert expected.errors is not None
    assert [e.formatted for e in result.errors] == [e.formatted for e in expected.errors]
    assert message in result.errors[0].message
    assert result.errors[0].path == ["items", 1, next(iter(bad))]
    assert result.data == expected.data


class _NoNote:
    """A source object lacking the nullable `note` attribute (a stale or wrong object)."""

    name, count, when = "x", 1, WHEN


async def test_missing_attribute_fails_as_in_graphql_core() -> None:
    ROWS[:] = [_item(), _NoNote()]
    fast, reference = _schemas()
    query = "{ items { name note } }"
    result, expected = await fast.execute(query), await reference.execute(query)
    assert expected.errors is not None
    assert result.errors is not None, "a missing attribute became null"
    assert [e.formatted for e in result.errors] == [e.formatted for e in expected.errors]
    assert result.errors[0].path == ["items", 1, "note"]
