"""GraphiQL served by the app itself: pinned copies of its files, no CDN, strict CSP."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'{sockets}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# A CSP host-source (name or IPv4, optional port); anything else in Host is left out.
HOST = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?")


@cache
def _page() -> str:
    return (STATIC_DIR / "graphiql" / "index.html").read_text(encoding="utf-8")


def render_graphiql(request: Request) -> HTMLResponse:
    return HTMLResponse(
        _page(), headers={"Content-Security-Policy": content_security_policy(request)}
    )


def content_security_policy(request: Request) -> str:
    """The page's subscriptions connect to ws(s):// of its own host, which `'self'` does not
    cover in older browsers (Safari before 16): name it."""
    host = request.headers.get("host", "")
    sockets = f" ws://{host} wss://{host}" if HOST.fullmatch(host) else ""
    return CSP.format(sockets=sockets)


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
