"""The client contract: the SDL file, the documented operations, closed-by-default fields."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from graphql import parse, validate
from strawberry.permission import PermissionExtension

from graphql_app.api.schema import build_schema
from graphql_app.permissions import AllowAny
from graphql_app.settings import Settings

from .conftest import TEST_SECRET
from .factories import PASSWORD, GraphQLClient

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
OPERATIONS = sorted((SCHEMA_DIR / "operations").glob("*.graphql"))
PUBLIC_FIELDS = {
    "register",
    "login",
    "refresh",
    "logout",
    "verify_email",
    "request_password_reset",
    "reset_password",
}


def test_schema_file_matches_the_code() -> None:
    exported = build_schema(Settings(jwt_secret=TEST_SECRET)).as_str().strip()
    assert (SCHEMA_DIR / "schema.graphql").read_text().strip() == exported, (
        "schema/schema.graphql is stale: run `graphql-app export-schema > schema/schema.graphql`"
    )


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.name)
def test_documented_operations_validate(path: Path) -> None:
    schema = build_schema(Settings(jwt_secret=TEST_SECRET))
    errors = validate(schema._schema, parse(path.read_text()))
    assert errors == []


def test_operations_exist() -> None:
    assert {p.name for p in OPERATIONS} >= {"auth.graphql", "todos.graphql", "admin.graphql"}


def test_every_root_field_is_guarded_and_only_the_public_ones_are_open() -> None:
    schema = build_schema(Settings(jwt_secret=TEST_SECRET))
    for root in ("Query", "Mutation"):
        definition = schema.get_type_by_name(root)
        assert definition is not None
        for field in definition.fields:  # type: ignore[union-attr]
            permissions = [
                p
                for ext in field.extensions
                if isinstance(ext, PermissionExtension)
                for p in ext.permissions
            ]
            name = field.graphql_name or field.python_name
            assert permissions, f"{root}.{name} has no permission class (closed by default)"
            is_public = any(isinstance(p, AllowAny) for p in permissions)
            assert is_public == (name in PUBLIC_FIELDS), f"{root}.{name} public={is_public}"


async def _op(
    client: GraphQLClient, name: str, variables: dict[str, object], token: str | None = None
) -> dict[str, object]:
    documents = "\n".join(p.read_text() for p in OPERATIONS)
    response = await client.http.post(
        "/graphql",
        json={"query": documents, "variables": variables, "operationName": name},
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    body = response.json()
    assert response.status_code == 200
    assert "errors" not in body, body["errors"]
    data: dict[str, object] = body["data"]
    return data


async def test_documented_operations_run_end_to_end(client: GraphQLClient) -> None:
    creds = {"username": "Carol", "password": PASSWORD}
    registered = await _op(client, "Register", creds)
    assert registered["register"]["user"]["username"] == "carol"  # type: ignore[index]
    session = (await _op(client, "Login", creds))["login"]
    token = session["accessToken"]  # type: ignore[index]
    me = await _op(client, "Me", {}, token)
    assert me["me"]["username"] == "carol"  # type: ignore[index]

    created = (await _op(client, "CreateTodo", {"title": "  buy milk  "}, token))["createTodo"]
    assert created["title"] == "buy milk"  # type: ignore[index]
    todo_id = created["id"]  # type: ignore[index]
    updated = await _op(client, "UpdateTodo", {"id": todo_id, "done": True}, token)
    assert updated["updateTodo"]["done"] is True  # type: ignore[index]
    assert updated["updateTodo"]["title"] == "buy milk"  # type: ignore[index]
    page = (await _op(client, "TodosPage", {"first": 5}, token))["todos"]
    assert page["totalCount"] == 1  # type: ignore[index]
    assert page["edges"][0]["node"]["owner"]["username"] == "carol"  # type: ignore[index]
    assert (await _op(client, "Todo", {"id": todo_id}, token))["todo"]["done"] is True  # type: ignore[index]
    assert (await _op(client, "DeleteTodo", {"id": todo_id}, token))["deleteTodo"] is True

    listed = (await _op(client, "Sessions", {}, token))["sessions"]
    assert [s["current"] for s in listed] == [True, False]  # type: ignore[attr-defined, index]
    proof = await _op(client, "Reauthenticate", {"password": PASSWORD}, token)
    token = proof["reauthenticate"]["accessToken"]  # type: ignore[index]
    events = (await _op(client, "SecurityEvents", {"first": 5}, token))["securityEvents"]
    kinds = [e["node"]["kind"] for e in events["edges"]]  # type: ignore[index]
    assert kinds == ["REAUTHENTICATED", "LOGIN_SUCCEEDED", "REGISTERED"]
    other = listed[1]["id"]  # type: ignore[index]
    assert (await _op(client, "RevokeSession", {"id": other}, token))["revokeSession"] is True

    refreshed = (
        await _op(client, "Refresh", {"refreshToken": proof["reauthenticate"]["refreshToken"]})
    )[  # type: ignore[index]
        "refresh"
    ]
    assert refreshed["accessToken"] != token  # type: ignore[index]
    assert (await _op(client, "Logout", {"refreshToken": refreshed["refreshToken"]}))[  # type: ignore[index]
        "logout"
    ] is True


async def test_documented_account_operations_run_end_to_end(client: GraphQLClient) -> None:
    creds = {"username": "dora", "password": PASSWORD}
    registered = await _op(client, "RegisterWithEmail", {**creds, "email": "Dora@example.com"})
    token = registered["register"]["accessToken"]  # type: ignore[index]
    account = (await _op(client, "Account", {}, token))["me"]
    assert account["email"] == "dora@example.com"  # type: ignore[index]
    assert (await _op(client, "RequestEmailVerification", {}, token)) == {
        "requestEmailVerification": True
    }
    assert (await _op(client, "ChangeEmail", {"newEmail": "d@example.org"}, token)) == {
        "changeEmail": True
    }
    setup = (await _op(client, "BeginTotpSetup", {}, token))["beginTotpSetup"]
    totp = pyotp.TOTP(setup["secret"])  # type: ignore[index]
    codes = (await _op(client, "ConfirmTotpSetup", {"code": totp.now()}, token))["confirmTotpSetup"]
    session = (await _op(client, "LoginWithCode", {**creds, "otp": codes[0]}))["login"]  # type: ignore[index]
    assert session["user"]["totpEnabled"] is True  # type: ignore[index]
    assert (await _op(client, "DisableTotp", {"code": codes[1]}, token)) == {"disableTotp": True}  # type: ignore[index]
    assert (await _op(client, "RequestPasswordReset", {"email": "dora@example.com"})) == {
        "requestPasswordReset": True
    }
    assert (await _op(client, "DeleteAccount", {"password": PASSWORD}, token)) == {
        "deleteAccount": True
    }
