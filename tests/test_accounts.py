"""register and login: the input rules, case-insensitive usernames, one message for bad
credentials, nothing written on refusal."""

from __future__ import annotations

import pytest

from graphql_app.models import User

from .factories import AUTH_FIELDS, PASSWORD, GraphQLClient

REGISTER = (
    "mutation($u: String!, $p: String!) { register(input: {username: $u, password: $p})"
    f" {{ {AUTH_FIELDS} }} }}"
)


async def test_register_returns_a_working_session(client: GraphQLClient) -> None:
    payload = await client.register("New.User-1")
    assert payload["tokenType"] == "Bearer"
    assert payload["expiresIn"] == 900
    assert payload["user"]["username"] == "new.user-1"
    assert payload["user"]["roles"] == ["USER"]
    assert payload["user"]["createdAt"].endswith("+00:00")
    me = await client.me(payload["accessToken"])
    assert me.data["me"]["id"] == payload["user"]["id"]


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("ab", PASSWORD),
        ("a" * 33, PASSWORD),
        ("bad name", PASSWORD),
        ("bad!", PASSWORD),
        ("ünïcode", PASSWORD),
        ("", PASSWORD),
        ("valid_name", "short12"),
        ("valid_name", "x" * 129),
        ("valid_name", ""),
    ],
)
async def test_register_refuses_invalid_input(
    client: GraphQLClient, username: str, password: str
) -> None:
    result = await client.execute(REGISTER, {"u": username, "p": password})
    assert result.status == 200
    assert result.data is None
    assert result.codes == ["BAD_USER_INPUT"]
    assert password not in result.errors[0]["message"] or not password
    assert await User.find_all().count() == 0


async def test_register_accepts_the_boundaries(client: GraphQLClient) -> None:
    await client.register("abc", "x" * 8)
    await client.register("a" * 32, "é" * 128)
    assert await User.find_all().count() == 2


async def test_username_is_unique_case_insensitively(client: GraphQLClient) -> None:
    await client.register("Alice")
    result = await client.execute(REGISTER, {"u": "ALICE", "p": PASSWORD})
    assert result.codes == ["BAD_USER_INPUT"]
    assert "taken" in result.errors[0]["message"]
    assert await User.find_all().count() == 1


async def test_login_is_case_insensitive(client: GraphQLClient) -> None:
    await client.register("Alice")
    result = await client.login("aLiCe")
    assert result.errors == []
    assert result.data["login"]["user"]["username"] == "alice"


async def test_wrong_password_and_unknown_user_look_the_same(client: GraphQLClient) -> None:
    await client.register("alice")
    wrong = await client.login("alice", "wrong password")
    unknown = await client.login("nobody", PASSWORD)
    for result in (wrong, unknown):
        assert result.status == 200
        assert result.data is None
        assert result.codes == ["UNAUTHENTICATED"]
        assert result.reasons == ["BAD_CREDENTIALS"]
    assert wrong.errors[0]["message"] == unknown.errors[0]["message"]
    assert "wrong password" not in str(wrong.body)


async def test_password_hash_is_never_exposed(client: GraphQLClient) -> None:
    payload = await client.register("alice")
    stored = await User.find_one({"username": "alice"})
    assert stored is not None
    assert stored.password_hash.startswith("$2b$")
    result = await client.execute(
        '{ __type(name: "User") { fields { name } } }', token=payload["accessToken"]
    )
    names = {f["name"] for f in result.data["__type"]["fields"]}
    assert names == {
        "id",
        "username",
        "roles",
        "createdAt",
        "email",
        "emailVerified",
        "totpEnabled",
    }
    assert stored.password_hash not in str(payload)
