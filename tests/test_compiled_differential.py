"""Compiled execution answers exactly as graphql-core does: the same status, headers and body
bytes, for hundreds of seeded operations over the real schema (tests/operation_generator.py)
and the hand-written cases beside them, sent by users, an admin, a user whose stored documents
the schema refuses, and callers without a valid token, to two apps on one database, one with
COMPILED_EXECUTION on and one with it off. Each operation goes several times to each app (a
document is compiled once it is known), under both response media types, then again with
others at once to the compiled app alone; the project's own client operations go by hash to
two apps in trusted-documents mode. Only the random request id of an "Internal server error"
is masked before comparing. A warning Python could only print (a coroutine never awaited)
fails the test too, naming the request."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from bson import ObjectId
from graphql import parse, validate
from pymongo import AsyncMongoClient

from graphql_app.api.manifest import manifest
from graphql_app.settings import Settings

from .conftest import TEST_SECRET, AppRunner
from .factories import GraphQLClient, make_admin
from .operation_generator import IDENTITIES, Operation, World, cases, generate, schema

SEED = 18  # the number: change it to explore other operations
GENERATED = 150
REPEATS = 3  # to each app, under the first media type
LATER_REPEATS = 1  # under the others: the document is known, and compiled, by then
RETRIES = 10  # more asks to graphql-core for an answer it has not given yet (races)
BURST = 16  # operations sent at once, after the sequential comparison
ACCEPTS = (None, "application/graphql-response+json")
OPERATIONS = Path(__file__).resolve().parents[1] / "schema" / "operations"
HANDOVER_LOGGER = "graphql_app.api.compiled_http"
REQUEST_ID = re.compile(rb'"requestId":"[0-9a-f]{32}"')


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # all of them: content type, length, caching
    body: bytes

    def show(self) -> str:
        headers = ", ".join(f"{name.decode()}: {value.decode()}" for name, value in self.headers)
        return f"{self.status} {headers}\n{self.body.decode(errors='replace')}"


async def send(
    client: GraphQLClient, operation: Operation, authorization: str | None, accept: str | None
) -> Answer:
    headers = {"content-type": operation.content_type}
    if authorization is not None:
        headers["authorization"] = authorization
    if accept is not None:
        headers["accept"] = accept
    try:
        response = await client.http.post("/graphql", content=operation.payload(), headers=headers)
    except Exception as exc:  # raised by the app through httpx's ASGI transport: a 500
        return Answer(500, (), f"the app raised {type(exc).__name__}: {exc}".encode())
    body = REQUEST_ID.sub(b'"requestId":"<masked>"', response.content)
    return Answer(response.status_code, tuple(response.headers.raw), body)


@dataclass
class Comparison:
    """Sends operations to both apps and keeps what differs, described in full.

    graphql-core itself may answer a document in more than one way: when sibling fields
    fail on database answers, it reports the one that fails first and cancels the others
    (graphql-core 3.3), so which error an answer holds depends on the order the database
    replies in. The generator avoids such documents (see LATE_FIELDS); should one slip
    through, the compiled answer must be one that graphql-core gives for the same request:
    it is asked again, up to RETRIES times, for an answer it has not given yet.
    """

    plain: GraphQLClient
    compiled: GraphQLClient
    headers: dict[str, str | None]
    failures: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)  # graphql-core's first, per media type
    races: int = 0  # (operation, media type) pairs graphql-core answered in several ways
    # graphql-core's answer under each operation's first media type, where it gave only one
    settled: dict[int, Answer] = field(default_factory=dict)
    doing: str = ""  # what the apps are answering, for `watching`

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Exceptions Python could not raise (a coroutine never awaited, a socket never
        closed: it only warns, at garbage collection) kept as failures, with the request
        that was being answered (`compare` collects the young garbage after each request)."""

        def hook(unraisable: sys.UnraisableHookArgs) -> None:
            error = f"{unraisable.exc_type.__name__}: {unraisable.exc_value}"
            self.failures.append(f"{self.doing}\n--- unraisable {error}")

        previous, sys.unraisablehook = sys.unraisablehook, hook
        try:
            yield
        finally:
            gc.collect()
            sys.unraisablehook = previous

    async def run(self, operations: Sequence[Operation]) -> None:
        for number, operation in enumerate(operations):  # one at a time: no races
            for index, accept in enumerate(operation.accepts or ACCEPTS):
                repeats = LATER_REPEATS if index else REPEATS
                given = await self.compare(operation, accept, repeats, number % 2 == 1)
                if index == 0 and len(given) == 1:
                    self.settled[number] = given[0]

    async def burst(self, operations: Sequence[Operation], size: int) -> None:
        """Every operation again, `size` at a time, concurrently, to the compiled app only,
        each answer compared with graphql-core's: concurrent requests share the plans."""
        await self.warm(size)
        numbered = [
            (n, operation)
            for n, operation in enumerate(operations)
            if n in self.settled and "extensions" not in operation.body  # APQ: in order
        ]
        for start in range(0, len(numbered), size):
            chunk = numbered[start : start + size]
            self.doing = f"compiled answering {size} at once, from {chunk[0][1].describe()}"
            answers = await asyncio.gather(
                *(
                    send(self.compiled, op, self.headers[op.identity], (op.accepts or ACCEPTS)[0])
                    for _, op in chunk
                )
            )
            gc.collect(1)
            for (number, operation), answer in zip(chunk, answers, strict=True):
                if answer != self.settled[number]:
                    self.failures.append(
                        f"{operation.describe()}\nAccept: {(operation.accepts or ACCEPTS)[0]}\n"
                        f"--- graphql-core:\n{self.settled[number].show()}\n"
                        f"--- compiled, {size} requests at once:\n{answer.show()}"
                    )

    async def warm(self, size: int) -> None:
        """Both apps' database connection pools grown to `size` connections beforehand, by
        answers that cancel nothing: a task cancelled while PyMongo opens a connection
        leaves its socket unclosed (PYTHON-5867), which a concurrent burst of operations
        that fail (graphql-core then cancels their siblings) could otherwise run into."""
        operation = Operation("alice", {"query": "{ me { id } }"})
        for client in (self.plain, self.compiled):
            for _ in range(2):
                auth = self.headers["alice"]
                await asyncio.gather(*(send(client, operation, auth, None) for _ in range(size)))

    async def compare(
        self, operation: Operation, accept: str | None, repeats: int, compiled_first: bool
    ) -> list[Answer]:
        """The operation sent `repeats` times to each app, alternately, starting with either
        (a document is known, and compiled, from its first request on)."""
        given: list[Answer] = []  # graphql-core's distinct answers
        for attempt in range(repeats):
            if compiled_first:
                answer = await self.ask("compiled", operation, accept)
                given.append(await self.ask("graphql-core", operation, accept))
            else:
                given.append(await self.ask("graphql-core", operation, accept))
                answer = await self.ask("compiled", operation, accept)
            given[:] = list(dict.fromkeys(given))  # distinct, in order
            if answer not in given and not await self.reproduced(operation, accept, answer, given):
                shown = "\n".join(f"--- graphql-core:\n{a.show()}" for a in given[:3])
                self.failures.append(
                    f"{operation.describe()}\nAccept: {accept}\n{shown}\n"
                    f"--- compiled (answer {attempt + 1}), which graphql-core did not give "
                    f"in {RETRIES} more tries:\n{answer.show()}"
                )
        self.answers.append(given[0])
        self.races += len(given) > 1
        return given

    async def ask(self, app: str, operation: Operation, accept: str | None) -> Answer:
        self.doing = f"{app} answering {operation.describe()}\nAccept: {accept}"
        client = self.compiled if app == "compiled" else self.plain
        answer = await send(client, operation, self.headers[operation.identity], accept)
        gc.collect(1)  # its garbage in cycles collected now: unraisables are its own
        return answer

    async def reproduced(
        self, operation: Operation, accept: str | None, wanted: Answer, given: list[Answer]
    ) -> bool:
        for _ in range(RETRIES):
            answer = await self.ask("graphql-core", operation, accept)
            if answer not in given:
                given.append(answer)
            if answer == wanted:
                return True
        return False

    def report(self, sent: int) -> str:
        """The first failure of each of the first operations that failed."""
        firsts = {failure.split("\n--- ", 1)[0]: failure for failure in reversed(self.failures)}
        shown = "\n\n".join(list(reversed(firsts.values()))[:5])
        unraised = sum("\n--- unraisable " in failure for failure in self.failures)
        return (
            f"{len(self.failures) - unraised} compiled answers unlike graphql-core's and "
            f"{unraised} exceptions left unraised, for {len(firsts)} requests of {sent} "
            "operations; the first of each of the first ones:"
            f"\n\n{shown}"
        )


# --- the data the operations read ----------------------------------------------------------


async def todos_of(
    client: GraphQLClient, token: str, titles: list[str], done: set[int]
) -> list[str]:
    ids = []
    for index, title in enumerate(titles):
        todo = await client.create_todo(token, title)
        ids.append(todo["id"])
        if index in done:
            result = await client.execute(
                "mutation($id: ID!) { updateTodo(id: $id, input: {done: true}) { id } }",
                {"id": todo["id"]},
                token=token,
            )
            assert result.errors == [], result.errors
    return ids


async def cursors_of(client: GraphQLClient, token: str) -> list[str]:
    result = await client.execute("{ todos(first: 100) { edges { cursor } } }", token=token)
    return [edge["cursor"] for edge in result.data["todos"]["edges"]]


async def populate(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]], db_name: str
) -> tuple[World, dict[str, str | None]]:
    """alice: 12 todos (5 done), an email; root, an admin: 4 (1 done); carol: 5, two damaged
    in the database (a null title, a `done` that is no Boolean), like her two sessions' user
    agents and her security events' addresses (values no String can represent). Returns what
    the operations name, and each identity's Authorization header."""
    alice = await client.register("alice")
    carol = await client.register("carol")
    root = await make_admin(client, "root")
    titles = [f"alice {i}" for i in range(11)] + ['élan "vital" 🚀 \\ </script>']
    alice_todos = await todos_of(client, alice["accessToken"], titles, {0, 3, 4, 8, 11})
    root_todos = await todos_of(client, root, [f"root {i}" for i in range(4)], {2})
    carol_todos = await todos_of(
        client, carol["accessToken"], [f"carol {i}" for i in range(5)], {1}
    )
    db = mongo[db_name]
    alice_id = ObjectId(alice["user"]["id"])
    await db.users.update_one({"_id": alice_id}, {"$set": {"email": "alice@example.com"}})
    await db.todos.update_one({"_id": ObjectId(carol_todos[1])}, {"$set": {"title": None}})
    await db.todos.update_one({"_id": ObjectId(carol_todos[3])}, {"$set": {"done": "maybe"}})
    carol_id = ObjectId(carol["user"]["id"])
    assert (await client.login("carol")).errors == []  # a second session: two errors in a list
    await db.sessions.update_many({"user_id": carol_id}, {"$set": {"user_agent": {"a": 1}}})
    await db.security_events.update_many({"owner_id": carol_id}, {"$set": {"address": ["x"]}})

    second = (await client.login("alice")).data["login"]
    logout = await client.execute(
        "mutation($t: String) { logout(refreshToken: $t) }", {"t": second["refreshToken"]}
    )
    assert logout.data == {"logout": True}, logout.errors
    header, claims = (
        jwt.get_unverified_header(alice["accessToken"]),
        jwt.decode(alice["accessToken"], options={"verify_signature": False}),
    )
    now = int(time.time())
    expired = jwt.encode(
        {**claims, "iat": now - 3600, "nbf": now - 3600, "exp": now - 60},
        TEST_SECRET,
        algorithm="HS256",
        headers={"kid": header["kid"]},
    )
    headers: dict[str, str | None] = {
        "alice": f"Bearer {alice['accessToken']}",
        "root": f"Bearer {root}",
        "carol": f"Bearer {carol['accessToken']}",
        "anonymous": None,
        "expired": f"Bearer {expired}",
        "garbage": "Bearer not.a.token",
        "revoked": f"Bearer {second['accessToken']}",
        "basic": "Basic YWxpY2U6cGFzc3dvcmQ=",
    }
    assert set(headers) == set(IDENTITIES)
    cursors = await cursors_of(client, alice["accessToken"]) + await cursors_of(client, root)
    every = tuple(alice_todos + root_todos + carol_todos)
    readable = {identity: every for identity in IDENTITIES}  # refused before any reading
    readable |= {
        "alice": tuple(alice_todos),
        "root": tuple(root_todos),
        "carol": (carol_todos[0], carol_todos[2], carol_todos[4]),
    }
    world = World(
        todo_ids=every,
        readable=readable,
        user_ids=(
            alice["user"]["id"],
            root_id := await _user_id(client, root),
            carol["user"]["id"],
        ),
        cursors=tuple(cursors),
        named={
            "alice_todo": alice_todos[0],
            "root_todo": root_todos[0],
            "carol_bad_title": carol_todos[1],
            "carol_bad_done": carol_todos[3],
            "alice_id": alice["user"]["id"],
            "root_id": root_id,
            "alice_cursor": cursors[2],
        },
    )
    return world, headers


async def _user_id(client: GraphQLClient, token: str) -> str:
    user_id: str = (await client.me(token)).data["me"]["id"]
    return user_id


# --- the tests ------------------------------------------------------------------------------


async def test_compiled_execution_answers_byte_for_byte_as_graphql_core(
    run_app: AppRunner,
    mongo: AsyncMongoClient[dict[str, Any]],
    db_name: str,
    report: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert "compiled_execution" in Settings.model_fields, "COMPILED_EXECUTION is not a setting"
    caplog.set_level(logging.DEBUG, logger=HANDOVER_LOGGER)
    async with (
        run_app(compiled_execution=False) as plain,
        run_app(compiled_execution=True) as compiled,
    ):
        world, headers = await populate(plain, mongo, db_name)
        operations = cases(world) + generate(world, SEED, GENERATED)
        comparison = Comparison(plain, compiled, headers)
        started = time.perf_counter()
        with comparison.watching():
            await comparison.run(operations)
            await comparison.burst(operations, BURST)
        elapsed = time.perf_counter() - started
    codes = _codes(comparison.answers)
    report(
        f"compiled vs graphql-core: {len(operations)} operations x {len(ACCEPTS)} media types "
        f"x {REPEATS}/{LATER_REPEATS} to each app, then {BURST} at a time, in {elapsed:.1f} s: "
        f"{len(comparison.failures)} failures; answered in several ways by graphql-core "
        f"itself (racing errors): {comparison.races}; graphql-core's answers by error code: "
        f"{dict(sorted(codes.items()))}; compiled plans handed {_handovers(caplog.records)} "
        "requests over to graphql-core"
    )
    assert not comparison.failures, comparison.report(len(operations))
    # The data was what the operations needed: every kind of outcome happened.
    for code in (
        "none",
        "BAD_USER_INPUT",
        "NOT_FOUND",
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "INTERNAL_SERVER_ERROR",
        "GRAPHQL_VALIDATION_FAILED",
        "GRAPHQL_PARSE_FAILED",
    ):
        assert codes[code] > 0, f"no answer with {code}: {codes}"


def _handovers(records: list[logging.LogRecord]) -> int:
    """Requests a plan met something other than plain success in (its debug log line)."""
    return sum(
        record.name == HANDOVER_LOGGER and "handed" in record.getMessage() for record in records
    )


def _codes(answers: list[Answer]) -> collections.Counter[str]:
    """How many answers carry each error code ("none": answers without errors)."""
    counted: collections.Counter[str] = collections.Counter()
    for answer in answers:
        try:
            body = json.loads(answer.body)
        except ValueError:
            counted["not JSON"] += 1
            continue
        codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
        counted.update(str(code) for code in codes or {"none"})
    return counted


async def test_the_comparison_reports_a_visible_difference(run_app: AppRunner) -> None:
    """The harness is not blind: two apps that do answer differently (suggestions shown, and
    hidden as in production) are caught, with the operation and both bodies shown."""
    async with run_app(introspection=True) as shown, run_app(introspection=False) as hidden:
        token = (await shown.register("alice"))["accessToken"]
        typo = Operation("alice", {"query": "{ me { usernme } }"})
        same = Operation("alice", {"query": "{ me { username } }"})
        comparison = Comparison(shown, hidden, {"alice": f"Bearer {token}"})
        await comparison.run([typo, same])
    assert len(comparison.failures) == REPEATS + LATER_REPEATS, comparison.failures
    failure = comparison.failures[0]
    assert "{ me { usernme } }" in failure
    assert "Cannot query field 'usernme' on type 'User'. Did you mean 'username'?" in failure
    assert "Cannot query field 'usernme' on type 'User'.\"" in failure


def test_the_generated_operations_are_valid_and_repeatable() -> None:
    """Random operations are valid by construction (so the compiled path runs them), the
    same seed gives the same ones (a failure can be replayed), and they hold the shapes the
    differential test is about."""
    ids = ("1" * 24, "2" * 24, "3" * 24)
    readable: dict[str, tuple[str, ...]] = {identity: ids[:1] for identity in IDENTITIES}
    world = World(ids, readable, ("4" * 24,), ("Y3Vyc29y",), {})
    operations = generate(world, SEED, GENERATED)
    assert operations == generate(world, SEED, GENERATED)
    sdl = schema()
    for operation in operations:
        errors = validate(sdl, parse(operation.body["query"]))
        assert errors == [], f"{operation.describe()}\n{errors}"
    text = "\n".join(json.dumps(operation.body) for operation in operations)
    for shape in (
        "...F",  # named fragments
        "... on ",  # inline fragments
        "... {",  # inline fragments without a type condition
        "@include(if: $",
        "@skip(if: true)",
        "= false",  # a variable's default
        "a1: todos(",  # aliases
        "query Op1",  # several operations in a document
        '"operationName": null',
        '"v1": null',
    ):
        assert shape in text, shape


# --- trusted documents: the project's own client operations ----------------------------------


def manifest_operations(manifest: dict[str, Any], world: World) -> list[Operation]:
    """Each query of the manifest, by hash and by its text, with a few sets of variables,
    as several callers; and requests trusted mode refuses."""
    cursor, todo = world.named["alice_cursor"], world.named["alice_todo"]
    variables: dict[str, list[dict[str, Any]]] = {
        "Users": [{}, {"first": 2}, {"first": 1, "after": cursor}, {"first": 0}],
        "SecurityEvents": [{}, {"first": 1}, {"after": "bad"}, {"first": None}],
        "TodosPage": [{}, {"first": 3, "done": True}, {"after": cursor}, {"first": 101}],
        "Todo": [{"id": todo}, {"id": world.named["root_todo"]}, {"id": "nope"}, {}],
    }
    found = []
    for entry in manifest["operations"]:
        if entry["type"] != "query":
            continue
        by_hash = {"persistedQuery": {"version": 1, "sha256Hash": entry["id"]}}
        for values in variables.get(entry["name"], [{}]):
            for identity in ("alice", "root", "carol", "anonymous", "expired"):
                body = {"operationName": entry["name"], "extensions": by_hash, "variables": values}
                found.append(Operation(identity, body))
            found.append(Operation("alice", {"query": entry["body"], "variables": values}))
    refused: list[dict[str, Any]] = [
        {"query": "{ me { id } }"},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "b" * 64}}},
    ]
    return found + [Operation("alice", body) for body in refused]


async def test_trusted_documents_answer_byte_for_byte_as_graphql_core(
    run_app: AppRunner,
    mongo: AsyncMongoClient[dict[str, Any]],
    db_name: str,
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    """TRUSTED_DOCUMENTS_ONLY with the manifest of schema/operations: documents sent by hash,
    known before their first request, answer alike compiled or not."""
    documents = manifest(OPERATIONS.glob("*.graphql"))
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_text(json.dumps(documents))
    async with run_app() as setup:  # trusted mode would refuse the test's own mutations
        world, headers = await populate(setup, mongo, db_name)
    trusted = {"trusted_documents_only": True, "persisted_documents": manifest_file}
    async with (
        run_app(compiled_execution=False, **trusted) as plain,
        run_app(compiled_execution=True, **trusted) as compiled,
    ):
        operations = manifest_operations(documents, world)
        comparison = Comparison(plain, compiled, headers)
        with comparison.watching():
            await comparison.run(operations)
            await comparison.burst(operations, BURST)
    report(
        f"trusted documents, compiled vs graphql-core: {len(operations)} operations, "
        f"{len(comparison.failures)} failures"
    )
    assert not comparison.failures, comparison.report(len(operations))
    codes = _codes(comparison.answers)
    for code in ("none", "UNAUTHENTICATED", "NOT_FOUND", "BAD_USER_INPUT", "FORBIDDEN"):
        assert codes[code] > 0, f"no answer with {code}: {codes}"
