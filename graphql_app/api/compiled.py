"""Execution plans for known query documents, compiled once per document.

graphql-core executes any document generically: for every field of every object it looks
the field up, builds a resolve-info object, finds its arguments, resolves and completes by
inspecting the type, which is most of a small query's execution time. A plan does that
work once for one operation of one validated document: the fields are collected and merged
by graphql-core's own `collect_fields` (fragments, `@include`/`@skip`, aliases), then each
field becomes a small closure specialised to its type: plain attributes are read directly,
arguments without variables are coerced once, completion is chosen per type, and the
response dict is built as the fields complete.

A plan only ever produces a whole success. At the first thing that is not plain success
(a resolver or permission error, a null in a non-null position, a value a scalar refuses, a
variable that does not coerce) it raises `Fallback`, and the caller executes the operation
with graphql-core from the start, in the same request context, so the answer -- `data`,
errors, paths, null propagation -- is exactly graphql-core's. Plans are built for queries
only (resolvers without side effects, so running the start of one twice is harmless), and a
document using anything the compiler does not handle (abstract types, introspection,
`@defer`/`@stream`, fragment variables) is simply not compiled.

It uses graphql-core's `Executor.build`/`collect_fields` (internal API) and Strawberry's
resolve-info class; both libraries are pinned, and `supported()` keeps plans off for any
other version (and for a schema with resolver middleware).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, cast

import graphql
import strawberry
from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeNameMetaFieldDef,
    VariableNode,
    visit,
)
from graphql.execution.collect_fields import FieldDetails, collect_fields, collect_subfields
from graphql.execution.executor import Executor
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import Visitor
from graphql.pyutils import Path, Undefined, is_awaitable
from strawberry.schema.base import BaseSchema
from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo as ResolveInfo
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

VERSIONS = {"graphql-core": "3.3.2", "strawberry-graphql": "0.341.2"}
MISSING = object()

Completer = Callable[[Any, Path, "Request"], Any]  # value, its path -> completed or awaitable


class Fallback(Exception):  # a signal, not an error
    """The plan met something other than plain success: execute with graphql-core."""


class Unsupported(Exception):  # a signal, not an error
    """The document uses something the compiler does not handle."""


def supported(schema: BaseSchema) -> bool:
    """True for the pinned graphql-core and Strawberry, whose internals this module uses,
    and a schema whose fields only its resolvers see: the default resolver `getattr` (read
    directly here), no schema extension or directive with a `resolve` hook (middleware that
    a plan would skip)."""
    from importlib.metadata import version

    if graphql.version != VERSIONS["graphql-core"]:
        return False
    if version("strawberry-graphql") != VERSIONS["strawberry-graphql"]:
        return False
    if not isinstance(schema, strawberry.Schema) or schema.directives:
        return False
    if schema.config.default_resolver is not getattr:
        return False
    return not any(extension._implements_resolve() for extension in schema.get_extensions())


class Request:
    """What one execution of a plan shares: the resolve-info parts of this request."""

    __slots__ = ("coerced", "context", "plan", "variables")

    def __init__(self, plan: Plan, context: Any, variables: VariableValues) -> None:
        self.plan = plan
        self.context = context
        self.variables = variables
        self.coerced = variables.coerced


class Plan:
    """One operation of one document, for one set of `@include`/`@skip` conditions."""

    def __init__(self, compiler: _Compiler) -> None:
        self.schema = compiler.schema
        self.operation = compiler.operation
        self.fragments = compiler.fragment_definitions
        root = self.schema.query_type
        if root is None:
            raise Unsupported
        grouped, _defer, _forbidden = collect_fields(
            self.schema, compiler.fragments, compiler.variables, root, self.operation
        )
        self.root = compiler.fields(root, grouped)

    async def execute(self, context: Any, variables: VariableValues) -> dict[str, Any]:
        """The operation's `data`; `Fallback` for anything but plain success."""
        request = Request(self, context, variables)
        try:
            result = _execute_fields(self.root, None, None, request)
            if is_awaitable(result):
                result = await result
        except Fallback:
            raise
        except Exception as exc:  # a resolver's or a scalar's error: graphql-core reports it
            raise Fallback(type(exc).__name__) from exc
        return cast(dict[str, Any], result)


class _Field:
    """One response key of a selection set."""

    __slots__ = (
        "args",
        "attribute",
        "complete",
        "field_def",
        "key",
        "leaf",
        "name",
        "nodes",
        "non_null",
        "parent",
        "resolve",
        "return_type",
        "typename",
    )

    def __init__(
        self,
        key: str,
        nodes: list[FieldNode],
        parent: GraphQLObjectType,
        field_def: GraphQLField,
        complete: Completer,
    ) -> None:
        self.key = key
        self.nodes = nodes
        self.parent = parent
        self.name = nodes[0].name.value
        self.field_def = field_def
        self.return_type = field_def.type
        self.non_null = isinstance(field_def.type, GraphQLNonNull)
        self.complete = complete
        self.typename: str | None = None  # __typename: the parent's name
        self.attribute: str | None = None  # a plain attribute read directly
        self.leaf: GraphQLLeafType | None = None  # ... and its scalar or enum, if one
        self.args: dict[str, Any] | None = None  # None: coerced per request (variables)
        self.resolve: Callable[..., Any] = field_def.resolve or graphql.default_field_resolver


class _Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        raw_variables: Mapping[str, Any],
    ) -> None:
        built = Executor.build(schema, document, None, None, dict(raw_variables), operation_name)
        if isinstance(built, list):
            raise Fallback  # an unknown operation or variables that do not coerce
        if built.operation.operation is not OperationType.QUERY:
            raise Unsupported
        if any(details.variable_signatures for details in built.fragments.values()):
            raise Unsupported  # fragment variables
        self.schema = schema
        self.operation: OperationDefinitionNode = built.operation
        self.fragments = built.fragments
        self.fragment_definitions = built.fragment_definitions
        self.variables: VariableValues = built.variable_values

    def fields(
        self, parent: GraphQLObjectType, grouped: Mapping[str, list[FieldDetails]]
    ) -> list[_Field]:
        compiled = []
        for key, details in grouped.items():
            if any(d.fragment_variable_values for d in details):
                raise Unsupported
            compiled.append(self.field(key, details, parent))
        return compiled

    def field(self, key: str, details: list[FieldDetails], parent: GraphQLObjectType) -> _Field:
        nodes = [d.node for d in details]
        name = nodes[0].name.value
        if name == "__typename":
            field = _Field(key, nodes, parent, TypeNameMetaFieldDef, _unsupported)
            field.typename = parent.name
            return field
        field_def = self.schema.get_field(parent, name)
        if field_def is None or name.startswith("__"):
            raise Unsupported  # introspection
        field = _Field(key, nodes, parent, field_def, self.completer(field_def.type, details))
        attribute = _plain_attribute(field_def)
        if attribute is not None:
            field.attribute = attribute
            leaf = graphql.get_nullable_type(field_def.type)
            if isinstance(leaf, GraphQLLeafType):
                field.leaf = leaf
        elif not _uses_variables(nodes[0]):
            field.args = get_argument_values(field_def, nodes[0], self.variables)
        return field

    def completer(self, return_type: GraphQLOutputType, details: list[FieldDetails]) -> Completer:
        if isinstance(return_type, GraphQLNonNull):
            inner = self.completer(return_type.of_type, details)

            def non_null(value: Any, path: Path, request: Request) -> Any:
                completed = inner(value, path, request)
                if completed is None:
                    raise Fallback
                if is_awaitable(completed):
                    return _non_null_later(completed)
                return completed

            return non_null
        if isinstance(return_type, GraphQLList):
            return self.list_completer(self.completer(return_type.of_type, details))
        if isinstance(return_type, GraphQLLeafType):
            coerce = return_type.coerce_output_value

            def leaf(value: Any, path: Path, request: Request) -> Any:
                if value is None:
                    return None
                coerced = coerce(value)
                if coerced is None or coerced is Undefined:
                    raise Fallback
                return coerced

            return leaf
        if isinstance(return_type, GraphQLObjectType):
            if return_type.is_type_of is not None:
                raise Unsupported
            grouped, _defer, _forbidden = collect_subfields(
                self.schema, self.fragments, self.variables, self.operation, return_type, details
            )
            fields = self.fields(return_type, grouped)

            def object_(value: Any, path: Path, request: Request) -> Any:
                if value is None:
                    return None
                return _execute_fields(fields, value, path, request)

            return object_
        raise Unsupported  # an interface or a union

    @staticmethod
    def list_completer(item: Completer) -> Completer:
        def list_(value: Any, path: Path, request: Request) -> Any:
            if value is None:
                return None
            if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
                raise Fallback
            completed: list[Any] = []
            pending: list[int] = []
            try:
                for index, element in enumerate(value):
                    if is_awaitable(element):
                        completed.append(element)
                        raise Fallback("an awaitable list item")
                    result = item(element, Path(path, index, None), request)
                    if is_awaitable(result):
                        pending.append(index)
                    completed.append(result)
            except Exception as error:
                if pending:
                    return _settle([completed[i] for i in pending], error)
                raise
            if not pending:
                return completed
            return _gather_list(completed, pending)

        return list_


def _unsupported(value: Any, path: Path, request: Request) -> Any:
    raise Unsupported


def _plain_attribute(field_def: GraphQLField) -> str | None:
    """The Python attribute of a field Strawberry resolves with a bare `getattr`: no
    resolver, no extension or permission, no arguments."""
    definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if isinstance(definition, StrawberryField) and definition.is_basic_field and not field_def.args:
        return definition.python_name
    return None


def _uses_variables(node: FieldNode) -> bool:
    found = False

    class Finder(Visitor):
        def enter_variable(self, *_: Any) -> None:
            nonlocal found
            found = True

    for argument in node.arguments or ():
        visit(argument, Finder())
    return found


def condition_variables(document: DocumentNode) -> list[str]:
    """The variables that `@include`/`@skip` read anywhere in the document: a plan is
    compiled for each combination of their values."""
    names: set[str] = set()

    class Finder(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in ("include", "skip"):
                for argument in node.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        names.add(argument.value.name.value)
            elif node.name.value in ("defer", "stream"):
                raise Unsupported

    visit(document, Finder())  # every fragment may be spread: the whole document
    return sorted(names)


def _execute_fields(fields: list[_Field], source: Any, path: Path | None, request: Request) -> Any:
    results: dict[str, Any] = {}
    pending: list[tuple[str, Awaitable[Any]]] = []
    try:
        for field in fields:
            key = field.key
            if field.typename is not None:
                results[key] = field.typename
                continue
            attribute = field.attribute
            if attribute is not None:
                value = getattr(source, attribute, MISSING)
                if value is MISSING:
                    raise Fallback
                leaf = field.leaf
                if leaf is not None:
                    if value is None:
                        if field.non_null:
                            raise Fallback
                        results[key] = None
                        continue
                    coerced = leaf.coerce_output_value(value)
                    if coerced is None or coerced is Undefined:
                        raise Fallback
                    results[key] = coerced
                    continue
                field_path = Path(path, key, field.parent.name)
                completed = field.complete(value, field_path, request)
            else:
                field_path = Path(path, key, field.parent.name)
                info = _info(field, field_path, request)
                args = field.args
                if args is None:
                    args = get_argument_values(field.field_def, field.nodes[0], request.variables)
                value = field.resolve(source, info, **args)
                if is_awaitable(value):
                    completed = _complete_later(field, value, field_path, request)
                else:
                    completed = field.complete(value, field_path, request)
            if is_awaitable(completed):
                pending.append((key, completed))
            results[key] = completed
    except Exception as error:
        if pending:
            return _settle([awaitable for _, awaitable in pending], error)
        raise
    if not pending:
        return results
    return _gather_fields(results, pending)


def _info(field: _Field, path: Path, request: Request) -> Any:
    plan = request.plan
    return ResolveInfo(
        field.name,
        field.nodes,
        field.return_type,
        field.parent,
        path,
        plan.schema,
        plan.fragments,
        None,
        plan.operation,
        request.coerced,
        request.context,
        is_awaitable,
        None,
        None,
        {},
    )


async def _complete_later(
    field: _Field, value: Awaitable[Any], path: Path, request: Request
) -> Any:
    completed = field.complete(await value, path, request)
    if is_awaitable(completed):
        return await completed
    return completed


async def _non_null_later(completed: Awaitable[Any]) -> Any:
    value = await completed
    if value is None:
        raise Fallback
    return value


async def _gather_fields(
    results: dict[str, Any], pending: list[tuple[str, Awaitable[Any]]]
) -> dict[str, Any]:
    if len(pending) == 1:
        key, awaitable = pending[0]
        results[key] = await awaitable
        return results
    settled = await asyncio.gather(*(a for _, a in pending), return_exceptions=True)
    for (key, _), value in zip(pending, settled, strict=True):
        if isinstance(value, BaseException):
            raise value
        results[key] = value
    return results


async def _gather_list(completed: list[Any], pending: list[int]) -> list[Any]:
    settled = await asyncio.gather(*(completed[i] for i in pending), return_exceptions=True)
    for index, value in zip(pending, settled, strict=True):
        if isinstance(value, BaseException):
            raise value
        completed[index] = value
    return completed


async def _settle(started: list[Awaitable[Any]], error: Exception) -> Any:
    """Let what already started finish (as graphql-core does), then hand over."""
    await asyncio.gather(*started, return_exceptions=True)
    raise error


def compile_plan(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    raw_variables: Mapping[str, Any],
) -> Plan:
    """The plan of one operation for the `@include`/`@skip` values of `raw_variables`;
    `Unsupported` if the compiler does not handle the document, `Fallback` if these
    variables do not coerce."""
    return Plan(_Compiler(schema, document, operation_name, raw_variables))


def coerce_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, raw: Mapping[str, Any] | None
) -> VariableValues:
    """graphql-core's coercion of this request's variables; `Fallback` if they fail (the
    ordinary path then reports it)."""
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(raw or {}))
    if isinstance(coerced, list):
        raise Fallback
    return coerced
