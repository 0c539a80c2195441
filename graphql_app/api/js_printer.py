"""graphql-js 16's `print` for executable documents, the text Apollo's tools hash.

graphql-core 3.3 prints like graphql-js 17 (`{ a: 1 }` with spaces, long lists and objects
wrapped), which would give other persisted-query ids than Apollo Client 3 and its manifest
generator compute. Only executable definitions occur in operations, so only they are here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import Node
from graphql.language.block_string import print_block_string
from graphql.language.print_string import print_string

MAX_LINE_LENGTH = 80


def print_js(node: Any) -> str:
    kind = node.kind
    if kind == "document":
        return _join((print_js(d) for d in node.definitions), "\n\n")
    if kind == "operation_definition":
        prefix = _join(
            (
                node.operation.value,
                _join((_name(node), _wrap("(", _list(node.variable_definitions, ", "), ")"))),
                _list(node.directives, " "),
            ),
            " ",
        )
        selections = print_js(node.selection_set)
        return selections if prefix == "query" else f"{prefix} {selections}"
    if kind == "variable_definition":
        return (
            f"{print_js(node.variable)}: {print_js(node.type)}"
            + _wrap(" = ", print_js(node.default_value) if node.default_value else "")
            + _wrap(" ", _list(node.directives, " "))
        )
    if kind == "selection_set":
        return _block(print_js(s) for s in node.selections)
    if kind == "field":
        prefix = _wrap("", node.alias.value if node.alias else "", ": ") + node.name.value
        line = prefix + _wrap("(", _list(node.arguments, ", "), ")")
        if len(line) > MAX_LINE_LENGTH:
            line = prefix + _wrap("(\n", _indent(_list(node.arguments, "\n")), "\n)")
        selections = print_js(node.selection_set) if node.selection_set else ""
        return _join((line, _list(node.directives, " "), selections), " ")
    if kind in ("argument", "object_field"):
        return f"{node.name.value}: {print_js(node.value)}"
    if kind == "fragment_spread":
        return f"...{node.name.value}" + _wrap(" ", _list(node.directives, " "))
    if kind == "inline_fragment":
        condition = print_js(node.type_condition) if node.type_condition else ""
        parts = ("...", _wrap("on ", condition), _list(node.directives, " "))
        return _join((*parts, print_js(node.selection_set)), " ")
    if kind == "fragment_definition":
        return (
            f"fragment {node.name.value}"
            + _wrap("(", _list(node.variable_definitions or (), ", "), ")")
            + f" on {print_js(node.type_condition)} "
            + _wrap("", _list(node.directives, " "), " ")
            + print_js(node.selection_set)
        )
    return _value_or_type(node)


def _value_or_type(node: Any) -> str:
    kind = node.kind
    if kind in ("int_value", "float_value", "enum_value"):
        return str(node.value)
    if kind == "string_value":
        return print_block_string(node.value) if node.block else print_string(node.value)
    if kind == "boolean_value":
        return "true" if node.value else "false"
    if kind == "null_value":
        return "null"
    if kind == "variable":
        return f"${node.name.value}"
    if kind == "list_value":
        return "[" + _list(node.values, ", ") + "]"
    if kind == "object_value":
        return "{" + _list(node.fields, ", ") + "}"
    if kind == "directive":
        return f"@{node.name.value}" + _wrap("(", _list(node.arguments, ", "), ")")
    if kind == "named_type":
        return str(node.name.value)
    if kind == "list_type":
        return f"[{print_js(node.type)}]"
    if kind == "non_null_type":
        return f"{print_js(node.type)}!"
    raise ValueError(f"not an executable-document node: {kind}")


def _name(node: Any) -> str:
    return str(node.name.value) if node.name else ""


def _list(nodes: Iterable[Node] | None, separator: str) -> str:
    return _join((print_js(n) for n in nodes or ()), separator)


def _join(parts: Iterable[str], separator: str = "") -> str:
    return separator.join(part for part in parts if part)


def _wrap(start: str, text: str, end: str = "") -> str:
    return f"{start}{text}{end}" if text else ""


def _indent(text: str) -> str:
    return _wrap("  ", text.replace("\n", "\n  "))


def _block(parts: Iterable[str]) -> str:
    return _wrap("{\n", _indent(_join(parts, "\n")), "\n}")
