"""Owner scoping is a mechanism, not a convention: no module of the package touches an
owner-scoped collection except through `graphql_app.owned`, which adds the owner itself."""

from __future__ import annotations

import ast
from pathlib import Path

from graphql_app import models
from graphql_app.owned import OwnedDocument

PACKAGE = Path(models.__file__).parent
LAYER = {PACKAGE / "owned.py", PACKAGE / "models.py"}


def _owned_models() -> dict[str, str]:
    """Class name -> collection name of every owner-scoped document."""
    found: dict[str, str] = {}
    pending = list(OwnedDocument.__subclasses__())
    while pending:
        model = pending.pop()
        pending += model.__subclasses__()
        found[model.__name__] = model.Settings.name  # type: ignore[attr-defined]  # Beanie's inner class
    return found


def bypasses(source: str, owned: dict[str, str]) -> list[str]:
    """Where `source` reaches an owned model's class or collection other than by the layer:
    an attribute of the class (`Todo.find`, `models.Todo.get_pymongo_collection`, ...) or
    the collection by name (`db["todos"]`)."""
    tree = ast.parse(source)
    local = {  # names bound to an owned model by `from ...models import X [as Y]`
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("models")
        for alias in node.names
        if alias.name in owned
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            target = node.value
            if isinstance(target, ast.Name) and target.id in local:
                found.append(f"line {node.lineno}: {target.id}.{node.attr}")
            if isinstance(target, ast.Attribute) and target.attr in owned:
                found.append(f"line {node.lineno}: {target.attr}.{node.attr}")
        if isinstance(node, ast.Constant) and node.value in owned.values():
            found.append(f"line {node.lineno}: the collection name {node.value!r}")
    return found


def test_todos_and_security_events_are_owner_scoped() -> None:
    assert _owned_models() == {"Todo": "todos", "SecurityEvent": "security_events"}


def test_no_module_queries_an_owned_collection_without_the_layer() -> None:
    owned = _owned_models()
    offenders = {
        str(path.relative_to(PACKAGE)): hits
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in LAYER and (hits := bypasses(path.read_text(), owned))
    }
    assert offenders == {}, f"query owner-scoped collections through graphql_app.owned: {offenders}"


def test_the_check_catches_each_kind_of_bypass() -> None:
    owned = {"Todo": "todos"}
    assert bypasses("from .models import Todo\nTodo.find({})", owned)
    assert bypasses("from ..models import Todo as T\nT.get_pymongo_collection()", owned)
    assert bypasses("from . import models\nmodels.Todo.find_one({})", owned)
    assert bypasses("def f(db):\n    return db['todos'].find()", owned)
    # The GraphQL type of the same name, and the layer's own calls, are fine.
    assert not bypasses("from .types import Todo\nTodo.from_document({})", owned)
    assert not bypasses("from .owned import Owned\nstore.page(owner, 20, None)", owned)
