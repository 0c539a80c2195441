"""Authorization: FORBIDDEN for a missing role, admin-only user listing and role changes
that take effect on the very next request (even with an older token), the last-admin rule,
and a schema that exposes nothing private."""

from __future__ import annotations

from typing import Any

import pytest

from graphql_app.models import Role, User

from .factories import GraphQLClient, make_admin

USERS = """query($first: Int, $after: String) {
  users(first: $first, after: $after) {
    totalCount edges { cursor node { id username roles } } pageInfo { hasNextPage endCursor }
  }
}"""
SET_ROLES = (
    "mutation($id: ID!, $roles: [Role!]!)"
    " { setUserRoles(userId: $id, roles: $roles) { id username roles } }"
)


async def _set_roles(client: GraphQLClient, token: str, user_id: str, roles: list[str]) -> Any:
    return await client.execute(SET_ROLES, {"id": user_id, "roles": roles}, token=token)


async def test_a_user_is_forbidden_from_admin_operations(client: GraphQLClient) -> None:
    alice = await client.register("alice")
    for query, variables in (
        (USERS, {}),
        (SET_ROLES, {"id": alice["user"]["id"], "roles": ["ADMIN"]}),
    ):
        result = await client.execute(query, variables, token=alice["accessToken"])
        assert (result.status, result.data, result.codes) == (200, None, ["FORBIDDEN"])
        anonymous = await client.execute(query, variables)
        assert (anonymous.data, anonymous.codes) == (None, ["UNAUTHENTICATED"])
    stored = await User.get(alice["user"]["id"])
    assert stored is not None
    assert stored.roles == [Role.USER]


async def test_admin_pages_through_all_users_newest_first(client: GraphQLClient) -> None:
    token = await make_admin(client)
    names = [f"user{i}" for i in range(5)]
    for name in names:
        await client.register(name)
    seen: list[str] = []
    after = None
    while True:
        result = await client.execute(USERS, {"first": 2, "after": after}, token=token)
        assert result.errors == []
        connection = result.data["users"]
        assert connection["totalCount"] == 6
        assert len(connection["edges"]) <= 2
        seen += [edge["node"]["username"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [*reversed(names), "root"]


@pytest.mark.parametrize(
    "variables", [{"first": 0}, {"first": 101}, {"first": None}, {"after": "bm90LWEtY3Vyc29y"}]
)
async def test_bad_user_pagination_is_bad_user_input(
    client: GraphQLClient, variables: dict[str, Any]
) -> None:
    token = await make_admin(client)
    result = await client.execute(USERS, variables, token=token)
    assert (result.data, result.codes) == (None, ["BAD_USER_INPUT"])


async def test_granting_and_revoking_admin_takes_effect_on_an_old_token(
    client: GraphQLClient,
) -> None:
    root = await make_admin(client)
    alice = await client.register("alice")
    old_token = alice["accessToken"]  # its roles claim says [USER]

    granted = await _set_roles(client, root, alice["user"]["id"], ["ADMIN"])
    assert granted.data["setUserRoles"]["roles"] == ["USER", "ADMIN"]
    assert (await client.execute(USERS, token=old_token)).errors == []
    assert (await client.me(old_token)).data["me"]["roles"] == ["USER", "ADMIN"]

    revoked = await _set_roles(client, root, alice["user"]["id"], [])
    assert revoked.data["setUserRoles"]["roles"] == ["USER"]
    result = await client.execute(USERS, token=old_token)
    assert (result.data, result.codes) == (None, ["FORBIDDEN"])
    # Losing a role does not log the user out.
    assert (await client.me(old_token)).data["me"]["roles"] == ["USER"]


async def test_the_last_admin_cannot_drop_their_own_admin_role(client: GraphQLClient) -> None:
    root = await make_admin(client)
    root_id = (await client.me(root)).data["me"]["id"]
    refused = await _set_roles(client, root, root_id, ["USER"])
    assert (refused.data, refused.codes) == (None, ["BAD_USER_INPUT"])
    assert "last admin" in refused.errors[0]["message"].lower()
    assert (await client.execute(USERS, token=root)).errors == []

    # With a second admin, the first may step down.
    second = await make_admin(client, "second")
    stepped_down = await _set_roles(client, root, root_id, ["USER"])
    assert stepped_down.data["setUserRoles"]["roles"] == ["USER"]
    second_id = (await client.me(second)).data["me"]["id"]
    refused_again = await _set_roles(client, second, second_id, [])
    assert refused_again.codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("user_id", ["000000000000000000000000", "not-an-id", ""])
async def test_set_roles_of_an_unknown_or_malformed_id(client: GraphQLClient, user_id: str) -> None:
    root = await make_admin(client)
    result = await _set_roles(client, root, user_id, ["ADMIN"])
    assert result.data is None
    assert result.codes[0] in {"NOT_FOUND", "BAD_USER_INPUT"}


async def test_the_schema_exposes_nothing_private(client: GraphQLClient) -> None:
    result = await client.execute("{ __schema { types { name kind fields { name } } } }")
    types = [t for t in result.data["__schema"]["types"] if not t["name"].startswith("__")]
    output_fields = {f["name"].lower() for t in types for f in (t["fields"] or [])}
    private = {"password", "passwordhash", "hash", "tokenversion", "tv", "session", "sid", "jti"}
    private |= {"totpsecret", "recoverycodes", "recoverysalt", "totplaststep", "pendingemail"}
    assert not output_fields & private
    (user,) = [t for t in types if t["name"] == "User"]
    assert {f["name"] for f in user["fields"]} == {
        *("id", "username", "roles", "createdAt", "email", "emailVerified", "totpEnabled")
    }
    (session,) = [t for t in types if t["name"] == "Session"]  # no token, jti or owner in it
    assert {f["name"] for f in session["fields"]} == {
        *("id", "current", "createdAt", "lastUsedAt", "expiresAt", "userAgent", "address")
    }


async def test_a_user_reaches_no_other_users_object(client: GraphQLClient) -> None:
    alice = await client.register("alice")
    bob = await client.register("bob")
    todo = await client.create_todo(bob["accessToken"], "bob's")
    query = "query($id: ID!) { todo(id: $id) { owner { username } } }"
    result = await client.execute(query, {"id": todo["id"]}, token=alice["accessToken"])
    assert (result.data, result.codes) == (None, ["NOT_FOUND"])
    own = await client.execute(query, {"id": todo["id"]}, token=bob["accessToken"])
    assert own.data["todo"]["owner"]["username"] == "bob"
