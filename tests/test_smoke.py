from __future__ import annotations

from .factories import GraphQLClient


async def test_register_login_me(client: GraphQLClient) -> None:
    reg = await client.register("Alice")
    assert reg["tokenType"] == "Bearer"
    assert reg["user"]["username"] == "alice"
    login = await client.login("ALICE")
    assert login.errors == []
    me = await client.me(login.data["login"]["accessToken"])
    assert me.data == {"me": {"id": reg["user"]["id"], "username": "alice", "roles": ["USER"]}}
    anon = await client.me(None)
    assert anon.data is None
    assert anon.codes == ["UNAUTHENTICATED"]
    assert anon.reasons == ["MISSING_TOKEN"]
