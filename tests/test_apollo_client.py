"""Apollo Client end to end: the Node project in tests/clients/apollo-client/ runs a whole
front-end session (auth link, refresh-on-expiry error link, pages, create/update/delete,
two tabs refreshing at once, a step-up error link, logout) against a live uvicorn server
with a 2-second access-token lifetime and a 1-second recent-proof window."""

from __future__ import annotations

from pathlib import Path

from graphql_app import users
from graphql_app.models import Role

from .conftest import Live, run_node
from .factories import PASSWORD

SCRIPT = Path(__file__).parent / "clients" / "apollo-client" / "e2e.mjs"


async def test_apollo_client_session(live_server: Live) -> None:
    async with live_server(access_token_ttl=2, reauth_max_age=1) as address:
        await users.create_user("apollo_admin", PASSWORD, 4, [Role.ADMIN])
        code, output = await run_node(SCRIPT, f"http://{address}", "apollo_user", "apollo_admin")
    assert code == 0, output
    assert "refreshed once and retried transparently" in output
    assert "two tabs refreshed at once: both succeeded" in output
    assert "reauthenticated once and retried transparently" in output
    assert "apollo e2e passed" in output
