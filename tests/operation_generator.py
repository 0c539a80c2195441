"""Seeded GraphQL operations over the real schema (schema/schema.graphql, which the contract
test keeps equal to the live one), for the differential test of compiled execution.

Valid by construction, with a share of deliberate mistakes: a field with arguments is either
under an alias of its own or repeated with the very same arguments (so repeated fields
merge), fragments only spread fragments defined before them (no cycles), and at most
`MAX_ALIASES` aliases per document (the server's limit is 15). Argument values are drawn from
the test's data (`World`): ids of every user's todos, real cursors, and broken ones.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from graphql import (
    GraphQLField,
    GraphQLInputType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_named_type,
    get_nullable_type,
    is_non_null_type,
)

SDL = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"
MAX_ALIASES = 14

# Who sends an operation: the test maps each name to an Authorization header (or none).
IDENTITIES = {
    "alice": 34,  # a user with a dozen todos, some done
    "root": 24,  # an admin with a few todos
    "carol": 14,  # a user whose stored documents were damaged behind the API's back
    "anonymous": 8,
    "expired": 5,
    "garbage": 5,
    "revoked": 5,
    "basic": 5,  # an Authorization header of another scheme
}
ROOT_FIELDS = {
    "me": 4,
    "todos": 7,
    "todo": 4,
    "users": 3,
    "sessions": 2,
    "securityEvents": 3,
    "__typename": 1,
}
# Root fields that may fail only once the database has answered, by identity (for the others
# they answer, or fail before reading: no token, FORBIDDEN, BAD_USER_INPUT). graphql-core
# runs root fields concurrently and reports the first failure, cancelling the rest: with two
# late failures, the error reported depends on which database reply comes first, for
# graphql-core itself. So an operation holds at most one late failure (`todo` of an id its
# sender cannot read counts as one), and every answer is deterministic.
LATE_FIELDS = {
    "carol": ("todos", "sessions", "securityEvents"),  # her damaged documents
    "root": ("securityEvents",),  # carol's, as an admin
}
UNKNOWN_ID = "0" * 24
TOKENLESS = ("anonymous", "expired", "revoked", "garbage")  # every field refused at once
T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """What the operations name: every user's todo ids, the users' ids, real cursors."""

    todo_ids: tuple[str, ...]  # every user's
    readable: dict[str, tuple[str, ...]]  # by identity: the todo ids `todo` reads without error
    user_ids: tuple[str, ...]
    cursors: tuple[str, ...]
    named: dict[str, str]  # the ids the hand-written cases name: "alice's todo", ...


@dataclass(frozen=True)
class Operation:
    identity: str  # a key of IDENTITIES
    body: dict[str, Any]  # the JSON body
    content: bytes | None = None  # sent instead of `body`, as is
    content_type: str = "application/json"
    accepts: tuple[str | None, ...] | None = None  # Accept headers to try (None: the test's)

    def payload(self) -> bytes:
        return self.content if self.content is not None else json.dumps(self.body).encode()

    def describe(self) -> str:
        head = f"as {self.identity}, Content-Type: {self.content_type}"
        if self.content is not None:
            return f"{head}, body:\n{self.content.decode(errors='replace')}"
        query = self.body.get("query")
        rest = {key: value for key, value in self.body.items() if key != "query"}
        return f"{head}, body {json.dumps(rest)}, query:\n{query}"


def schema() -> GraphQLSchema:
    return build_schema(SDL.read_text())


def generate(world: World, seed: int, count: int) -> list[Operation]:
    """`count` documents, the same ones for the same seed and world, each followed now and
    then by the same document with other variable values (another plan for other
    `@include`/`@skip` values, the same plan with other arguments), or sent without a valid
    token (the same plan, another caller)."""
    rng = random.Random(seed)  # noqa: S311  # repeatable test data, not a secret
    sdl = schema()
    operations = []
    for _ in range(count):
        operation = _document(rng, world, sdl)
        operations.append(operation)
        if operation.body.get("variables") and rng.random() < 0.6:
            operations.append(_vary(rng, world, operation))
        if rng.random() < 0.15:
            operations.append(Operation(rng.choice(TOKENLESS), operation.body))
    return operations


def _vary(rng: random.Random, world: World, operation: Operation) -> Operation:
    """The same document and sender, with other variable values: booleans flipped, other
    numbers, cursors, users, and ids the sender reads (so it still fails late at most once:
    see LATE_FIELDS)."""
    readable = world.readable[operation.identity]

    def other(value: Any) -> Any:
        if isinstance(value, bool):
            return not value
        if isinstance(value, int):
            return rng.choice([1, 2, 3, 5, 20, 100, 0])
        if isinstance(value, str):
            if value in world.cursors or not value:
                return rng.choice(world.cursors)
            if value in world.user_ids:
                return rng.choice(world.user_ids)
            return rng.choice(readable)
        return value  # null, and values the type refuses

    values = {name: other(value) for name, value in operation.body["variables"].items()}
    return Operation(operation.identity, {**operation.body, "variables": values})


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _pick(rng: random.Random, choices: Sequence[tuple[T, int]]) -> T:
    values = [value for value, _ in choices]
    return rng.choices(values, weights=[weight for _, weight in choices])[0]


def literal(value: Any) -> str:
    """A GraphQL literal of a JSON value (strings escape alike in both)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


@dataclass
class _Names:
    """Counters shared by every operation of one document, so no two names collide."""

    aliases: int = 0
    variables: int = 0
    fragments: int = 0


@dataclass
class _OperationWriter:
    rng: random.Random
    world: World
    identity: str
    names: _Names
    definitions: list[str] = field(default_factory=list)  # "$v1: Int = 2"
    values: dict[str, Any] = field(default_factory=dict)  # the variables sent
    fragments: list[str] = field(default_factory=list)  # this operation's definitions
    fragment_types: dict[str, str] = field(default_factory=dict)  # name -> type condition
    unaliased: dict[str, str] = field(default_factory=dict)  # "Type.field" -> its arguments
    budget: int = 12  # fields to write before selection sets shrink to one field each
    late_failures: int = 1  # see LATE_FIELDS

    def separator(self) -> str:
        return "\n  " if self.rng.random() < 0.3 else " "

    def selection_set(self, parent: GraphQLObjectType, depth: int) -> str:
        count = self.rng.randint(1, 3) if self.budget > 0 else 1
        parts = [self.selection(parent, depth) for _ in range(count)]
        sep = self.separator()
        return "{" + sep + sep.join(parts) + " }"

    def selection(self, parent: GraphQLObjectType, depth: int) -> str:
        roll = self.rng.random() if self.budget > 0 else 1.0
        if roll < 0.08:
            condition = f"on {parent.name} " if self.rng.random() < 0.7 else ""
            return f"... {condition}{self.directives()}{self.selection_set(parent, depth)}"
        if roll < 0.16:
            return self.spread(parent, depth)
        return self.field(parent, depth)

    def spread(self, parent: GraphQLObjectType, depth: int) -> str:
        known = [name for name, on in self.fragment_types.items() if on == parent.name]
        if known and self.rng.random() < 0.5:
            name = self.rng.choice(known)
        else:
            body = self.selection_set(parent, depth)  # may spread earlier fragments only
            self.names.fragments += 1
            name = f"F{self.names.fragments}"
            self.fragments.append(f"fragment {name} on {parent.name} {body}")
            self.fragment_types[name] = parent.name
        return f"...{name}{self.directives()}"

    def field(self, parent: GraphQLObjectType, depth: int) -> str:
        self.budget -= 1
        name = self.field_name(parent, depth)
        coordinate = f"{parent.name}.{name}"
        late = depth == 0 and name in LATE_FIELDS.get(self.identity, ())
        if late and self.late_failures == 0 and coordinate not in self.unaliased:
            name, coordinate, late = "me", "Query.me", False
        definition = parent.fields.get(name)
        takes_arguments = bool(definition and definition.args)
        head = name
        may_alias = self.names.aliases < MAX_ALIASES and not (late and self.late_failures == 0)
        if may_alias and self.rng.random() < (0.75 if takes_arguments else 0.1):
            self.names.aliases += 1
            head = f"a{self.names.aliases}: {name}"
            arguments = self.arguments(name, definition) if definition else ""
        elif coordinate in self.unaliased:  # one response key: the same arguments everywhere
            arguments = self.unaliased[coordinate]
            late = False  # merged with the first: no new execution
        else:
            arguments = self.arguments(name, definition) if definition else ""
            self.unaliased[coordinate] = arguments
        if late:
            self.late_failures -= 1
        text = f"{head}{arguments}{self.directives()}"
        named = get_named_type(definition.type) if definition else None
        if isinstance(named, GraphQLObjectType):
            text += " " + self.selection_set(named, depth + 1)
        return text

    def field_name(self, parent: GraphQLObjectType, depth: int) -> str:
        if depth == 0:
            return _weighted(self.rng, ROOT_FIELDS)
        if self.rng.random() < 0.06:
            return "__typename"
        names: list[str] = list(parent.fields)
        return self.rng.choice(names)

    def arguments(self, field_name: str, definition: GraphQLField) -> str:
        parts = []
        for name, argument in definition.args.items():
            required = is_non_null_type(argument.type)
            if not required and self.rng.random() < 0.4:
                continue  # left out: the argument's default applies
            value = self.value(field_name, name)
            if self.rng.random() < 0.4:
                parts.append(f"{name}: {self.variable(argument.type, value, required)}")
            else:
                parts.append(f"{name}: {literal(value)}")
        return f"({', '.join(parts)})" if parts else ""

    def value(self, field_name: str, argument: str) -> Any:
        rng, world = self.rng, self.world
        if argument == "first":
            return _pick(rng, [(rng.choice([1, 2, 3, 5, 20, 100]), 12), (0, 1), (101, 1)])
        if argument == "after":
            return _pick(
                rng,
                [
                    (rng.choice(world.cursors), 12),
                    ("", 1),
                    ("bm9wZQ", 1),  # base64 of "nope"
                    ("not a cursor", 1),
                    (None, 1),
                ],
            )
        if argument == "done":
            return rng.choice([True, False, None])
        if argument == "userId":
            return _pick(rng, [(rng.choice(world.user_ids), 6), ("nope", 1), (None, 1)])
        return self.todo_id()

    def todo_id(self) -> str:
        """An id `todo` reads, or refuses before any database read ("nope"); while the
        operation may still fail late, also another user's or an unknown one."""
        readable = self.world.readable[self.identity]
        choices = [(self.rng.choice(readable), 8), ("nope", 1)]
        if self.late_failures > 0:
            choices += [(self.rng.choice(self.world.todo_ids), 3), (UNKNOWN_ID, 1)]
        chosen = _pick(self.rng, choices)
        if chosen not in readable and chosen != "nope":
            self.late_failures -= 1
        return chosen

    def variable(self, argument_type: GraphQLInputType, value: Any, required: bool) -> str:
        """A variable standing for `value`: sent, sent as null, left out (to its default,
        or to the argument's), or now and then sent as what its type refuses."""
        self.names.variables += 1
        name = f"v{self.names.variables}"
        base = str(get_nullable_type(argument_type))
        roll = self.rng.random()
        if required or roll < 0.3:
            self.definitions.append(f"${name}: {base}!")
            if self.rng.random() < 0.97:
                self.values[name] = value
            return f"${name}"
        if roll < 0.55 and value is not None:
            self.definitions.append(f"${name}: {base} = {literal(value)}")
            if self.rng.random() < 0.5:
                self.values[name] = self.value_like(base)
            return f"${name}"
        self.definitions.append(f"${name}: {base}")
        mode = self.rng.random()
        if mode < 0.6:
            self.values[name] = value
        elif mode < 0.75:
            self.values[name] = None
        elif mode < 0.95:
            pass  # left out
        else:
            self.values[name] = {"Int": "many", "Boolean": "yes"}.get(base, 7)  # refused
        return f"${name}"

    def value_like(self, type_name: str) -> Any:
        """Another value of a scalar type (to override a variable's default)."""
        if type_name == "Int":
            return self.rng.choice([1, 2, 4, None])
        if type_name == "Boolean":
            return self.rng.choice([True, False, None])
        readable = self.world.readable[self.identity][:2]
        return self.rng.choice([*self.world.cursors[:2], *readable, None])

    def directives(self) -> str:
        if self.rng.random() < 0.88:
            return ""
        found = []
        for directive in self.rng.sample(["include", "skip"], self.rng.randint(1, 2)):
            found.append(f" @{directive}(if: {self.condition()})")
        return "".join(found) + " "

    def condition(self) -> str:
        condition = self.rng.choice([True, False])
        if self.rng.random() < 0.4:
            return literal(condition)
        self.names.variables += 1
        name = f"v{self.names.variables}"
        if self.rng.random() < 0.5:
            self.definitions.append(f"${name}: Boolean!")
            self.values[name] = condition
        else:
            self.definitions.append(f"${name}: Boolean = {literal(condition)}")
            if self.rng.random() < 0.5:
                self.values[name] = not condition
        return f"${name}"


def _document(rng: random.Random, world: World, sdl: GraphQLSchema) -> Operation:
    """A document of one operation (sometimes several, one chosen by `operationName`)."""
    names = _Names()
    identity = _weighted(rng, IDENTITIES)
    query = sdl.query_type
    assert query is not None
    count = 1 if rng.random() < 0.85 else rng.randint(2, 3)
    texts: list[str] = []
    fragments: list[str] = []
    variables: list[dict[str, Any]] = []
    for index in range(count):
        writer = _OperationWriter(rng, world, identity, names, budget=rng.randint(3, 24))
        selection = writer.selection_set(query, 0)
        name = f"Op{index}" if count > 1 or rng.random() < 0.5 else ""
        defined = f"({', '.join(writer.definitions)})" if writer.definitions else ""
        if not name and not defined and rng.random() < 0.5:
            texts.append(selection)  # the shorthand form
        else:
            texts.append(f"query {name}{defined} {selection}".replace("query (", "query("))
        fragments += writer.fragments
        variables.append(writer.values)
    body: dict[str, Any] = {"query": "\n".join(texts + fragments)}
    chosen = rng.randrange(count)
    if count > 1:
        body["operationName"] = _pick(rng, [(f"Op{chosen}", 16), (None, 2), ("Missing", 2)])
    elif "query Op0" in texts[0] and rng.random() < 0.5:
        body["operationName"] = "Op0"
    elif rng.random() < 0.1:
        body["operationName"] = None
    if variables[chosen] or rng.random() < 0.5:
        body["variables"] = variables[chosen]
    return Operation(identity, body)


USERS = ("alice", "root", "carol")
# costs 1 + 100 x 10: five of them are over MAX_QUERY_COST (5000)
HEAVY = (
    "todos(first: 100) { edges { node { id title done createdAt updatedAt"
    " owner { id username } } } }"
)
EVERYONE = tuple(IDENTITIES)


def cases(world: World) -> list[Operation]:
    """Written out: the shapes that random operations reach only by luck, each sent as
    several identities. `world.named` holds "alice_todo", "root_todo", "carol_bad_title",
    "carol_bad_done", "alice_id", "root_id" and "alice_cursor"."""
    n = world.named
    bodies: list[tuple[tuple[str, ...], dict[str, Any]]] = [
        (EVERYONE, {"query": "{ me { id username roles email } }"}),
        (EVERYONE, {"query": "query Me { me { __typename id } }", "operationName": "Me"}),
        # resolver errors in a non-null root field: data is null
        (USERS, {"query": '{ todo(id: "nope") { id } }'}),
        (USERS, {"query": f'{{ todo(id: "{n["root_todo"]}") {{ id title }} }}'}),
        (USERS, {"query": "{ todos(first: 0) { totalCount } me { id } }"}),
        (USERS, {"query": '{ todos(after: "not a cursor") { totalCount } }'}),
        (USERS, {"query": '{ todos(after: "bm9wZQ", first: 101) { totalCount } }'}),
        # several errors in one answer
        (
            USERS,
            {
                "query": f'{{ a: todo(id: "{n["alice_todo"]}") {{ id }}\n'
                'b: todo(id: "nope") { id }\n'
                "c: todos(first: -1) { totalCount }\n"
                "me { username } users { totalCount } }"
            },
        ),
        # permissions
        (EVERYONE, {"query": "{ users { totalCount edges { node { id username email } } } }"}),
        (USERS, {"query": f'{{ securityEvents(userId: "{n["root_id"]}") {{ totalCount }} }}'}),
        (USERS, {"query": '{ securityEvents(userId: "nope") { totalCount } }'}),
        (
            USERS,
            {
                "query": f'{{ securityEvents(userId: "{n["alice_id"]}", first: 2) '
                "{ edges { cursor node { kind address userAgent sessionId } } "
                "pageInfo { hasNextPage endCursor } } }"
            },
        ),
        # stored values the schema refuses: null propagation, errors inside lists
        (
            ("carol", "alice"),
            {"query": "{ todos(first: 10) { edges { node { id title done } } } me { id } }"},
        ),
        (("carol",), {"query": "{ todos(done: true) { totalCount edges { node { id } } } }"}),
        (("carol",), {"query": "{ todos(first: 10) { totalCount edges { node { id done } } } }"}),
        (("carol",), {"query": f'{{ todo(id: "{n["carol_bad_title"]}") {{ id title }} }}'}),
        (("carol",), {"query": f'{{ todo(id: "{n["carol_bad_done"]}") {{ id done }} }}'}),
        (("carol", "alice"), {"query": "{ sessions { id current userAgent address } }"}),
        (
            ("carol", "root"),
            {"query": "{ securityEvents { edges { node { kind address userAgent } } } }"},
        ),
        # named operations chosen by operationName
        *(
            (
                ("alice", "anonymous"),
                {
                    "query": "query A { me { id } }\n"
                    "query B($n: Int) { todos(first: $n) { totalCount pageInfo { hasNextPage } } }",
                    "operationName": chosen,
                    "variables": {"n": 2},
                },
            )
            for chosen in ("A", "B", None, "C")
        ),
        # variables: given, null, left out (the argument's default), refused, missing
        *(
            (
                ("alice",),
                {
                    "query": "query($n: Int, $d: Boolean) { todos(first: $n, done: $d) "
                    "{ totalCount edges { node { title done } } } }",
                    "variables": variables,
                },
            )
            for variables in ({"n": 2}, {"n": None}, {}, {"n": "many"}, {"d": None}, {"d": 1})
        ),
        (("alice",), {"query": "query($id: ID!) { todo(id: $id) { id } }", "variables": {}}),
        (("alice",), {"query": "query($id: ID!) { todo(id: $id) { id } }", "variables": None}),
        (
            ("alice",),
            {
                "query": "query($after: String = null) { todos(first: 2, after: $after) "
                "{ edges { cursor } pageInfo { endCursor hasNextPage } } }",
                "variables": {"after": n["alice_cursor"]},
            },
        ),
        # merging: the same field in fragments, inline fragments and directly
        (
            ("alice", "root"),
            {
                "query": "{ todos(first: 3) { edges { node { id } } } ...F\n"
                "... on Query { todos(first: 3) { edges { node { done owner { username } } } } }"
                " }\n"
                "fragment F on Query { todos(first: 3) { edges { node { title owner { id } } } "
                "pageInfo { hasNextPage } } }"
            },
        ),
        # directives: everything skipped, and both on one field
        (("alice",), {"query": "{ me @skip(if: true) { id } }"}),
        *(
            (
                ("alice",),
                {
                    "query": "query($i: Boolean!, $s: Boolean = false) { me { id "
                    "username @include(if: $i) @skip(if: $s) roles @skip(if: $i) } }",
                    "variables": variables,
                },
            )
            for variables in ({"i": True}, {"i": False, "s": True}, {"i": True, "s": None})
        ),
        # a plan per combination of conditions, up to a limit: 5 variables, 20 combinations
        *(
            (
                ("alice",),
                {
                    "query": "query($a: Boolean!, $b: Boolean!, $c: Boolean!, $d: Boolean!, "
                    "$e: Boolean!) { me { id @include(if: $a) username @skip(if: $b) "
                    "roles @include(if: $c) createdAt @skip(if: $d) email @include(if: $e) } }",
                    "variables": dict(
                        zip("abcde", (bit == "1" for bit in f"{n:05b}"), strict=True)
                    ),
                },
            )
            for n in range(0, 32, 3)
        ),
        # a cost that depends on a variable: light (compiled) or heavy (the heavy lane)
        *(
            (
                ("alice",),
                {
                    "query": "query($n: Int) { todos(first: $n) { edges { node { id title done "
                    "createdAt updatedAt owner { id username createdAt } } } } }",
                    "variables": {"n": n},
                },
            )
            for n in (2, 100, 3)
        ),
        # a query beside a mutation and a subscription, chosen by name; ids of other types
        (
            ("alice", "anonymous"),
            {
                "query": "query Q { me { id } } mutation M { logoutAll }\n"
                "subscription S { todoChanged { kind } }",
                "operationName": "Q",
            },
        ),
        (("alice",), {"query": "{ todo(id: 123) { id } }"}),
        (("alice", "root"), {"query": "{ me { id: username username: id roles: __typename } }"}),
        (("alice",), {"query": "query($id: ID!) { todo(id: $id) { id } }", "variables": {"id": 7}}),
        (("alice",), {"query": "{ me { id } }", "extensions": {}}),
        (("alice",), {"query": "{ me { id } }", "extensions": {"persistedQuery": None}}),
        # request errors: parse, validation, limits, introspection, not a query
        (("alice",), {"query": "{ me { id }"}),
        (("alice",), {"query": '{ me { nope } todo(id: 1, x: "y") { id } }'}),
        (("alice",), {"query": "{ " + " ".join(f"m{i}: me {{ id }}" for i in range(16)) + " }"}),
        (("alice",), {"query": "{ " + " ".join(f"t{i}: {HEAVY}" for i in range(5)) + " }"}),
        (("alice",), {"query": '{ __typename __type(name: "Todo") { name fields { name } } }'}),
        (("alice",), {"query": "subscription { todoChanged { kind } }"}),
        (("alice",), {"query": ""}),
        (("alice",), {"query": "query Q { me { id } }", "operationName": 3}),
    ]
    written = [Operation(who, body) for identities, body in bodies for who in identities]
    return written + _persisted() + _requests()


def _persisted() -> list[Operation]:
    """Automatic persisted queries: refused before registration, registered, then sent by
    hash alone (a known document without its text); a hash that does not match."""
    text = "query Persisted($n: Int) { todos(first: $n) { edges { node { id title } } } }"
    digest = hashlib.sha256(text.encode()).hexdigest()
    by_hash = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    return [
        Operation("alice", {"extensions": by_hash, "variables": {"n": 1}}),
        Operation("alice", {"query": text, "extensions": by_hash, "variables": {"n": 2}}),
        Operation("alice", {"extensions": by_hash, "variables": {"n": 3}}),
        Operation("anonymous", {"extensions": by_hash}),
        Operation("alice", {"query": text, "extensions": wrong}),
        Operation(
            "alice", {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": digest}}}
        ),
    ]


NUMBERS = (b"2.0", b"1e300", b"true", b"-0", b"2.5")  # as JSON writes them, for an Int


def _requests() -> list[Operation]:
    """Requests the compiled path reads itself before handing them over (or not): odd
    bodies, other content types, Accept headers."""
    me = {"query": "{ me { id username } }"}
    odd = [
        b'{"query": "{ me { id } }", "variables": []}',
        b'{"query": "{ me { id } }", "variables": null, "operationName": null}',
        b'{"query": "{ me { id } }", "operationName": ""}',
        b'{"query": "{ me { id } }", "extensions": "x"}',
        b'{"query": "{ __typename }", "query": "{ me { id } }"}',
        b'{"query": 5}',
        b"{}",
        b'[{"query": "{ me { id } }"}]',
        b'"{ me { id } }"',
        b"{ me { id } }",
        b"",
        '{"query": "{ todo(id: \\"\u00e9\\") { id } }"}'.encode(),
    ]
    page = "query($n: Int) { todos(first: $n) { totalCount } }"
    odd += [b'{"query": "%s", "variables": {"n": %s}}' % (page.encode(), n) for n in NUMBERS]
    return [
        *(Operation("alice", {}, content=content) for content in odd),
        *(
            Operation("alice", me, content_type=content_type)
            for content_type in (
                "application/json; charset=utf-8",
                "Application/JSON",
                "text/plain",
                "application/graphql",
                "application/x-www-form-urlencoded",
            )
        ),
        Operation(
            "alice",
            me,
            accepts=(
                "*/*",
                "application/*",
                "text/html",
                "application/json;q=0.5, application/graphql-response+json",
                "application/graphql-response+json;q=0",
                "text/html, application/json;q=0.1",
            ),
        ),
        Operation(
            "anonymous",
            me,
            accepts=("application/graphql-response+json, application/json;q=0.9", "*/*;q=0.2"),
        ),
    ]
