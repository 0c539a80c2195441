"""Subscriptions with the standard clients: the Node project in tests/clients/graphql-ws/
subscribes through the reference `graphql-ws` client and through Apollo Client's
GraphQLWsLink against a live uvicorn server (own events only, logout and logoutAll end the
stream, a bad token closes with 4401)."""

from __future__ import annotations

from pathlib import Path

from .conftest import Live, run_node

SCRIPT = Path(__file__).parent / "clients" / "graphql-ws" / "subscriptions.mjs"


async def test_graphql_ws_and_apollo_subscriptions(live_server: Live) -> None:
    async with live_server() as address:
        code, output = await run_node(SCRIPT, f"http://{address}")
    assert code == 0, output
    for client in ("graphql-ws", "apollo"):
        assert f"{client}: alice received CREATED, UPDATED, DELETED of her todo" in output
        assert f"{client}: bob's event reached bob only" in output
        assert f"{client}: logout ended the stream (TOKEN_REVOKED)" in output
        assert f"{client}: logoutAll ended the stream (TOKEN_REVOKED)" in output
        assert f"{client}: a bad token closed the socket with 4401" in output
    assert "graphql-ws e2e passed" in output
