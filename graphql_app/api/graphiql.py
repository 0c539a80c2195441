"""GraphiQL served by the app itself: pinned copies of its files, no CDN, strict CSP."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def _page() -> str:
    return (STATIC_DIR / "graphiql" / "index.html").read_text(encoding="utf-8")


def render_graphiql(request: Request) -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Content-Security-Policy": CSP})


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
