"""A shorter path through graphql-core for plain scalar fields.

A page of 20 todos asks for 60 scalars (`id`, `title`, `done`) that are attributes of
objects already in memory. graphql-core resolves each one like any field: a resolve-info
object, Strawberry's default resolver, then completion, about 5 µs apiece and the largest
cost of the page. Fields marked by `mark_plain_scalars` (an attribute with no resolver,
arguments or permission) are read and coerced directly instead. Anything unusual (a null,
a value the scalar refuses, field middleware) takes graphql-core's own path, so errors and
their paths are exactly what graphql-core produces.
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_nullable_type,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

PLAIN = "graphql_app.plain_attribute"  # key in GraphQLField.extensions: a Plain
MISSING = object()  # an attribute the source lacks: graphql-core's path reports the error


class Plain(NamedTuple):
    attribute: str  # the Python name
    leaf: GraphQLLeafType
    non_null: bool


def mark_plain_scalars(schema: strawberry.Schema) -> None:
    """Mark every scalar or enum field that Strawberry resolves with a bare attribute read.

    Recognised by Strawberry's public description of such a field (`is_basic_field`: no
    resolver, no field extension or permission), on a schema whose default resolver is
    `getattr` and that has no exception handlers (which would wrap every field).
    """
    if schema.config.default_resolver is not getattr or schema.exception_handlers:
        return
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field in graphql_type.fields.values():
            definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            leaf = get_nullable_type(field.type)
            if (
                isinstance(definition, StrawberryField)
                and definition.is_basic_field
                and not field.args
                and isinstance(leaf, GraphQLScalarType | GraphQLEnumType)
            ):
                non_null = isinstance(field.type, GraphQLNonNull)
                field.extensions[PLAIN] = Plain(definition.python_name, leaf, non_null)


class PlainScalarExecutor(StrawberryGraphQLCoreExecutionContext):
    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        manager = self.middleware_manager  # Strawberry passes one, empty without `resolve` hooks
        if manager is None or not manager.middlewares:
            field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
            plain: Plain | None = field_def.extensions.get(PLAIN) if field_def else None
            if plain is not None:
                value = getattr(source, plain.attribute, MISSING)
                if value is None and not plain.non_null:
                    return None
                if value is not None and value is not MISSING:
                    with contextlib.suppress(Exception):  # graphql-core's path reports it
                        coerced = plain.leaf.coerce_output_value(value)
                        if coerced is not None and coerced is not Undefined:
                            return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
