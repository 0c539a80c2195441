"""GraphiQL served by the service itself: every file local, a strict Content-Security-Policy,
off in production unless asked for; and a real browser (Debian's Chromium driven by
playwright-core) logging in, putting the token in the Headers pane and running `me`, then
subscribing to `todoChanged` over the page's WebSocket."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from .conftest import AppRunner, Live, run_node
from .factories import PASSWORD, GraphQLClient

BROWSER_DIR = Path(__file__).parent / "clients" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HTML = {"Accept": "text/html"}


async def test_the_page_and_its_files_are_served_locally(client: GraphQLClient) -> None:
    page = await client.http.get("/graphql", headers=HTML)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-eval" not in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in page.text, "inline scripts would need 'unsafe-inline'"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) >= 6
    for asset in assets:
        if asset.startswith("data:"):
            continue
        assert asset.startswith("/static/graphiql/"), asset
        response = await client.http.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["content-type"].split(";")[0] in {
            "text/javascript",
            "application/javascript",
            "text/css",
        }
    init = (await client.http.get("/static/graphiql/init.js")).text
    # Our own files name no other host (the browser check also watches every request).
    assert not re.search(r"[a-z]+://", init)
    assert "//" not in page.text.replace("<!doctype html>", "")
    assert "mutation Login" in init
    assert "query Me" in init
    assert "isHeadersEditorEnabled: true" in init
    assert "subscriptionUrl: socket.href" in init
    assert "subscription TodoChanged" in init
    assert "query Sessions" in init
    assert "query SecurityEvents" in init


async def test_the_csp_lets_the_page_open_a_websocket_to_its_own_host(
    client: GraphQLClient,
) -> None:
    page = await client.http.get("/graphql", headers=HTML)
    csp = page.headers["content-security-policy"]
    assert "connect-src 'self' ws://testserver wss://testserver;" in csp


@pytest.mark.parametrize(
    "host", ["evil.example; script-src *", "a b", "[::1]:8000", "x/y", "x:80:80", ""]
)
async def test_a_host_that_is_no_plain_host_name_is_left_out_of_the_csp(
    client: GraphQLClient, host: str
) -> None:
    page = await client.http.get("/graphql", headers={**HTML, "Host": host})
    csp = page.headers["content-security-policy"]
    assert "connect-src 'self';" in csp
    assert "ws:" not in csp
    assert csp.count("script-src") == 1


@pytest.mark.parametrize(("graphiql", "status"), [(None, 404), (True, 200)])
async def test_production_serves_graphiql_only_when_asked(
    run_app: AppRunner, graphiql: bool | None, status: int
) -> None:
    async with run_app(app_env="production", graphiql=graphiql) as client:
        assert (await client.http.get("/graphql", headers=HTML)).status_code == status
        static = await client.http.get("/static/graphiql/init.js")
        assert static.status_code == status


def _missing_tools() -> list[str]:
    tools = {"node": shutil.which("node") is not None, CHROMIUM: Path(CHROMIUM).exists()}
    return [tool for tool, present in tools.items() if not present]


async def test_graphiql_in_a_real_browser(live_server: Live, tmp_path: Path) -> None:
    missing = _missing_tools()
    if missing and os.environ.get("RUN_BROWSER_TESTS") != "1":
        pytest.skip(f"browser check needs {', '.join(missing)} (apt-get install chromium)")
    screenshot = tmp_path / "graphiql.png"
    async with live_server() as address:
        base = f"http://{address}"
        async with httpx.AsyncClient(base_url=base) as http:
            await GraphQLClient(http).register("gina")
        code, output = await run_node(
            BROWSER_DIR / "graphiql.mjs", base, "gina", PASSWORD, str(screenshot)
        )
    assert code == 0, output
    assert '"username":"gina"' in output
    assert 'subscription in GraphiQL received {"kind":"CREATED"' in output
    assert "the CSP refused a WebSocket to ws://localhost:" in output
    assert screenshot.stat().st_size > 10_000
    print(f"GraphiQL screenshot: {screenshot}")
