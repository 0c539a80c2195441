"""`graphql-app export-manifest`: the persisted-query manifest of a directory of operations,
byte for byte what Apollo's `@apollo/generate-persisted-query-manifest` writes for them.

Apollo's generator runs each named operation through Apollo Client (its cache adds
`__typename` to every selection set but the operation's own, its fragment registry appends
the fragments the operation uses), sorts the top-level definitions (operations before
fragments, then by name), prints the document with graphql-js and takes the SHA-256 of that
text as the id. So a client's hash of the document it sends equals the manifest's id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from graphql import (
    DefinitionNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    visit,
)
from graphql.language import Visitor

from .js_printer import print_js
from .persisted import MANIFEST_FORMAT, sha256_hex


def manifest(paths: Iterable[Path]) -> dict[str, Any]:
    """The manifest of the named operations in these `.graphql` files, sorted by name."""
    operations: dict[str, OperationDefinitionNode] = {}
    fragments: dict[str, FragmentDefinitionNode] = {}
    for path in sorted(paths):
        for definition in parse(path.read_text(encoding="utf-8")).definitions:
            if isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = definition
            elif isinstance(definition, OperationDefinitionNode) and definition.name:
                operations[definition.name.value] = definition
    entries = []
    for name in sorted(operations):
        operation = operations[name]
        body = print_js(_with_typename(_sorted([operation, *_used(operation, fragments)])))
        entries.append(
            {"id": sha256_hex(body), "name": name, "type": operation.operation.value, "body": body}
        )
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": entries}


def render(manifest: dict[str, Any]) -> str:
    """As Apollo's generator writes it: `JSON.stringify(manifest, null, 2)`."""
    return json.dumps(manifest, indent=2, ensure_ascii=False)


def _used(
    node: DefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> list[FragmentDefinitionNode]:
    """The fragments `node` spreads, directly or through other fragments."""
    found: dict[str, FragmentDefinitionNode] = {}
    pending = [node]
    while pending:
        for name in _spreads(pending.pop()):
            if name not in found and name in fragments:
                found[name] = fragments[name]
                pending.append(fragments[name])
    return list(found.values())


def _spreads(node: DefinitionNode) -> list[str]:
    names: list[str] = []

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: object) -> None:
            names.append(spread.name.value)

    visit(node, Spreads())
    return names


def _sorted(definitions: list[DefinitionNode]) -> DocumentNode:
    """Apollo's `sortTopLevelDefinitions`: by kind descending (operations first), then name."""

    def name(definition: DefinitionNode) -> str:
        named = getattr(definition, "name", None)
        return named.value if named else ""

    ordered = sorted(definitions, key=name)
    ordered.sort(key=lambda d: _JS_KIND[d.kind], reverse=True)  # stable: names stay sorted
    return DocumentNode(definitions=tuple(ordered))


_JS_KIND = {  # graphql-js's names of the kinds, which Apollo compares
    "operation_definition": "OperationDefinition",
    "fragment_definition": "FragmentDefinition",
}
_TYPENAME = FieldNode(name=NameNode(value="__typename"), arguments=(), directives=())


def _with_typename(document: DocumentNode) -> DocumentNode:
    """Apollo Client's `addTypenameToDocument`: `__typename` last in every selection set
    that is not an operation's own and holds no `__`-field yet."""

    class AddTypename(Visitor):
        def enter_selection_set(
            self, node: SelectionSetNode, _key: Any, parent: Any, *_: object
        ) -> SelectionSetNode | None:
            if isinstance(parent, OperationDefinitionNode):
                return None
            if any(
                isinstance(s, FieldNode) and s.name.value.startswith("__") for s in node.selections
            ):
                return None
            if isinstance(parent, FieldNode) and any(
                d.name.value == "export" for d in parent.directives or ()
            ):
                return None
            return SelectionSetNode(selections=(*node.selections, _TYPENAME))

    result: DocumentNode = visit(document, AddTypename())
    return result
