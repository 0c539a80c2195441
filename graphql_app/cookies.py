"""The refresh-token cookie (REFRESH_COOKIE=true): how the token travels, not how it is checked."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import Response

from .settings import Settings

COOKIE_NAME = "refresh_token"
COOKIE_PATH = "/graphql"


def read(connection: HTTPConnection | None, settings: Settings) -> str | None:
    if not settings.refresh_cookie or connection is None:
        return None
    return connection.cookies.get(COOKIE_NAME)


def store(response: Response | None, settings: Settings, token: str) -> None:
    if not settings.refresh_cookie or response is None:
        return
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.refresh_token_ttl,
        path=COOKIE_PATH,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear(response: Response | None, settings: Settings) -> None:
    if not settings.refresh_cookie or response is None:
        return
    response.delete_cookie(
        COOKIE_NAME,
        path=COOKIE_PATH,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
