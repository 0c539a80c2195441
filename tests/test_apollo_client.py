"""Apollo Client end to end: the Node project in tests/clients/apollo-client/ runs a whole
front-end session (auth link, refresh-on-expiry error link, pages, create/update/delete,
logout) against a live uvicorn server with a 2-second access-token lifetime."""

from __future__ import annotations

from pathlib import Path

from .conftest import Live, run_node

SCRIPT = Path(__file__).parent / "clients" / "apollo-client" / "e2e.mjs"


async def test_apollo_client_session(live_server: Live) -> None:
    async with live_server(access_token_ttl=2) as address:
        code, output = await run_node(SCRIPT, f"http://{address}", "apollo_user")
    assert code == 0, output
    assert "refreshed once and retried transparently" in output
    assert "apollo e2e passed" in output
