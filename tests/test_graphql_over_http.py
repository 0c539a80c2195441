"""GraphQL over HTTP: graphql-http's audit suite (tests/clients/graphql-http/) against a live
uvicorn server, and the two response media types of API.md "Transport"."""

from __future__ import annotations

from pathlib import Path

from .conftest import Live, run_node

AUDIT = Path(__file__).parent / "clients" / "graphql-http" / "audit.mjs"


async def test_graphql_http_audit(live_server: Live) -> None:
    async with live_server() as address:
        code, output = await run_node(AUDIT, f"http://{address}/graphql")
    assert code == 0, output
    assert "graphql-http audit passed" in output
