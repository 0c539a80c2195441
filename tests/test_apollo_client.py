"""Apollo Client end to end: the Node project in tests/clients/apollo-client/ runs a whole
front-end session (auth link, refresh-on-expiry error link, pages, create/update/delete,
logout) against a live uvicorn server with a 2-second access-token lifetime."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from .conftest import Live

PROJECT = Path(__file__).parent / "clients" / "apollo-client"


def _node() -> str | None:
    return shutil.which("node")


async def test_apollo_client_session(live_server: Live) -> None:
    node = _node()
    if node is None:
        pytest.skip("node is not installed: the Apollo Client check needs Node.js")
    assert (PROJECT / "node_modules" / "@apollo" / "client").exists(), f"run `npm ci` in {PROJECT}"
    async with live_server(access_token_ttl=2) as address:
        process = await asyncio.create_subprocess_exec(
            node,
            str(PROJECT / "e2e.mjs"),
            f"http://{address}",
            "apollo_user",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    text = output.decode()
    assert process.returncode == 0, text
    assert "refreshed once and retried transparently" in text
    assert "apollo e2e passed" in text
