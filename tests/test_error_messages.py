"""Error messages as the contract says: a variable that fails coercion is BAD_USER_INPUT naming
the variable, never its value, and nothing is logged with it; validation messages never
echo an inline literal; every validation rule's failure is GRAPHQL_VALIDATION_FAILED; with
introspection off, no message suggests a name of the schema."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from .conftest import AppRunner
from .factories import PASSWORD, GraphQLClient

TOKEN_LIKE = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtdmFsdWUifQ.c2lnbmF0dXJlLXZhbHVl"
ODD_VALUE = "a-value-only-the-client-knows"

COERCION_FAILURES = [
    # (operation, variables, variable named in the message)
    ("query($id: ID!) { todo(id: $id) { id } }", {}, "$id"),
    ("query($f: Int) { todos(first: $f) { totalCount } }", {"f": ODD_VALUE}, "$f"),
    ("query($f: Int) { todos(first: $f) { totalCount } }", {"f": 2**40}, "$f"),
    (
        "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
        {"i": {"usernme": "alice", "password": PASSWORD}},
        "$i",
    ),
    (
        "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
        {"i": {"username": None, "password": PASSWORD}},
        "$i",
    ),
    (
        "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
        {"i": PASSWORD},
        "$i",
    ),
    (
        "mutation($t: String) { refresh(refreshToken: $t) { accessToken } }",
        {"t": {"token": TOKEN_LIKE}},
        "$t",
    ),
    (
        'mutation($r: [Role!]!) { setUserRoles(userId: "x", roles: $r) { id } }',
        {"r": ["USER", ODD_VALUE]},
        "$r",
    ),
    ("query($d: Boolean) { todos(done: $d) { totalCount } }", {"d": [ODD_VALUE]}, "$d"),
]


@pytest.mark.parametrize(("query", "variables", "name"), COERCION_FAILURES)
async def test_a_variable_that_fails_coercion_is_bad_user_input_without_its_value(
    client: GraphQLClient,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any],
    name: str,
) -> None:
    result = await client.execute(query, variables)
    assert result.status == 200
    assert result.data is None
    assert result.errors, result.body
    assert set(result.codes) == {"BAD_USER_INPUT"}
    text = json.dumps(result.errors)
    for error in result.errors:
        assert name in error["message"]
    for secret in (ODD_VALUE, PASSWORD, TOKEN_LIKE, "usernme", str(2**40)):
        assert secret not in text
        assert secret not in caplog.text
    assert "found" not in text.lower()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_the_coercion_message_says_what_is_wrong(client: GraphQLClient) -> None:
    missing = await client.execute("query($id: ID!) { todo(id: $id) { id } }")
    assert missing.errors[0]["message"] == "Variable '$id' of non-null type 'ID!' was not provided."
    field = await client.execute(
        "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
        {"i": {"username": "alice"}},
    )
    assert field.errors[0]["message"] == (
        "Variable '$i' has an invalid value: required field 'password' of 'RegisterInput'"
        " is missing."
    )
    wrong = await client.execute(
        'mutation($r: [Role!]!) { setUserRoles(userId: "x", roles: $r) { id } }',
        {"r": ["USER", "ADMN"]},
    )
    assert wrong.errors[0]["message"] == (
        "Variable '$r' has an invalid value at [1]: expected a value of type 'Role'."
    )


async def test_a_valid_variable_still_runs(client: GraphQLClient) -> None:
    session = await client.register("alice")
    result = await client.execute(
        "query($f: Int) { todos(first: $f) { totalCount } }",
        {"f": 5},
        token=session["accessToken"],
    )
    assert result.errors == []
    assert result.data == {"todos": {"totalCount": 0}}


async def test_an_argument_refused_during_execution_is_bad_user_input(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    """null for a nullable variable with a default, given to the non-null `if` of @skip:
    variable coercion accepts it, the argument does not. Found by the differential test."""
    session = await client.register("alice")
    query = "query($s: Boolean = false) { me { username @skip(if: $s) } }"
    for _ in range(2):  # the second time, a known document (a compiled plan hands it over)
        result = await client.execute(query, {"s": None}, token=session["accessToken"])
        assert result.data is None  # `me` is non-null
        assert [(e["message"], e["extensions"], e["path"]) for e in result.errors] == [
            ("Argument 'if' has an invalid value.", {"code": "BAD_USER_INPUT"}, ["me"])
        ]
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


LITERAL_FAILURES = [
    f'mutation {{ register(input: {{usernme: "al", password: "{PASSWORD}"}}) {{ accessToken }} }}',
    f'mutation {{ register(input: {{username: "alice"}}) {{ accessToken }} }} # "{PASSWORD}"',
    f'mutation {{ register(input: "{PASSWORD}") {{ accessToken }} }}',
    f'mutation {{ login(username: "alice", password: ["{PASSWORD}"]) {{ accessToken }} }}',
    f'{{ todos(first: "{ODD_VALUE}") {{ totalCount }} }}',
    "{ todos(first: 1099511627776) { totalCount } }",
    f'mutation {{ setUserRoles(userId: "x", roles: [{ODD_VALUE.replace("-", "_")}]) {{ id }} }}',
]


@pytest.mark.parametrize("query", LITERAL_FAILURES)
async def test_validation_never_echoes_a_literal(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture, query: str
) -> None:
    result = await client.execute(query)
    assert result.status == 200
    assert result.data is None
    assert result.errors
    assert set(result.codes) == {"GRAPHQL_VALIDATION_FAILED"}
    text = json.dumps(result.errors)
    for literal in (PASSWORD, ODD_VALUE, ODD_VALUE.replace("-", "_"), "1099511627776"):
        assert literal not in text
    assert "found" not in text.lower()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    "query",
    [
        "query($x: Int) { me { id } }",  # never used
        "{ todos(first: $n) { totalCount } }",  # not defined
        "query($x: Int, $x: Int) { todos(first: $x) { totalCount } }",  # twice
        "query($x: String) { todos(first: $x) { totalCount } }",  # wrong position
        "query($x: CreateTodoInput) { me { id } }",  # never used, of an input type
        "query($x: User) { me { id } }",  # an output type
    ],
)
async def test_every_variable_rule_is_a_validation_failure(
    client: GraphQLClient, query: str
) -> None:
    result = await client.execute(query)
    assert result.data is None
    assert result.errors
    assert set(result.codes) == {"GRAPHQL_VALIDATION_FAILED"}


# A misspelled name of every kind: (operation, variables, the name a suggestion would give)
PROBES: list[tuple[str, dict[str, Any], str]] = [
    ("{ mee { id } }", {}, "'me'"),
    ("{ me { usernme } }", {}, "username"),
    ('mutation { logn(username: "a", password: "b") { accessToken } }', {}, "login"),
    ("subscription { todoChange { kind } }", {}, "todoChanged"),
    ("{ todos(frist: 1) { totalCount } }", {}, "first"),
    ("{ me @skip(iff: true) { id } }", {}, "'if'"),
    ('mutation { updateTodo(id: "x", input: {titl: "x"}) { id } }', {}, "title"),
    ('mutation { setUserRoles(userId: "x", roles: [ADMN]) { id } }', {}, "ADMIN"),
    ("{ todos(done: ture) { totalCount } }", {}, "true"),
    ("query($f: Itn) { todos(first: $f) { totalCount } }", {}, "Int"),
    ("{ me { ...F } } fragment F on Usr { id }", {}, "User"),
    ("{ me { ... on Usre { id } } }", {}, "User"),
    ("{ me }", {}, "me {"),
    ("{ todos { edges } }", {}, "edges {"),
    (
        'mutation($i: UpdateTodoInput!) { updateTodo(id: "x", input: $i) { id } }',
        {"i": {"titl": "x"}},
        "title",
    ),
    (
        'mutation($r: [Role!]!) { setUserRoles(userId: "x", roles: $r) { id } }',
        {"r": ["ADMN"]},
        "ADMIN",
    ),
    (
        "query($d: TodoEventKnd) { me { id } }",
        {},
        "TodoEventKind",
    ),
]


@pytest.mark.parametrize(("query", "variables", "name"), PROBES)
async def test_production_suggests_no_name(
    run_app: AppRunner, query: str, variables: dict[str, Any], name: str
) -> None:
    async with run_app(app_env="production") as client:
        result = await client.execute(query, variables)
    assert result.errors, result.body
    text = json.dumps(result.errors)
    assert "did you mean" not in text.lower()
    assert name not in text
    assert set(result.codes) <= {"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}


async def test_suggestions_follow_introspection_not_app_env(run_app: AppRunner) -> None:
    async with run_app(introspection=False) as client:
        for query, variables, name in PROBES:
            text = json.dumps((await client.execute(query, variables)).errors)
            assert "did you mean" not in text.lower(), query
            assert name not in text, query
    async with run_app(app_env="production", introspection=True) as client:
        result = await client.execute("{ mee { id } }")
        assert "Did you mean 'me'?" in result.errors[0]["message"]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("{ mee { id } }", "'me'"),
        ("{ todos(frist: 1) { totalCount } }", "'first'"),
        ("query($f: Itn) { todos(first: $f) { totalCount } }", "'Int'"),
        ("{ me { ...F } } fragment F on Usr { id }", "'User'"),
    ],
)
async def test_development_still_suggests(client: GraphQLClient, query: str, name: str) -> None:
    result = await client.execute(query)
    message = result.errors[0]["message"]
    assert "Did you mean" in message
    assert name in message
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]


async def test_coercion_stops_at_graphql_cores_limit_of_errors(client: GraphQLClient) -> None:
    result = await client.execute(
        'mutation($r: [Role!]!) { setUserRoles(userId: "x", roles: $r) { id } }',
        {"r": [ODD_VALUE] * 80},
    )
    assert result.data is None
    assert 1 < len(result.errors) < 80
    assert set(result.codes) == {"BAD_USER_INPUT"}
    assert ODD_VALUE not in json.dumps(result.errors)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            f'mutation {{ login(username: "a" password "{PASSWORD}") {{ accessToken }} }}',
            "Syntax Error: Expected ':', found String.",
        ),
        (f'{{ me {{ id """{PASSWORD}""" }} }}', "Syntax Error: Expected Name, found BlockString."),
        (
            "{ todos(first: 1 2345678901) { totalCount } }",
            "Syntax Error: Expected Name, found Int.",
        ),
        ('{ todo(id: "\\u12 secret") { id } }', "Syntax Error: Invalid Unicode escape sequence."),
        (
            "{ todos(first: .12345678) { totalCount } }",
            "Syntax Error: Invalid number, expected digit before '.'.",
        ),
    ],
)
async def test_a_syntax_error_quotes_no_value(
    client: GraphQLClient, query: str, message: str
) -> None:
    result = await client.execute(query)
    assert result.codes == ["GRAPHQL_PARSE_FAILED"]
    assert result.errors[0]["message"] == message
    assert result.errors[0]["locations"]  # where it is, not what it is
