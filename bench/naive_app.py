"""The naive peer of the benchmark: what the tutorials show, with no database at all.

Strawberry on FastAPI with default settings, a context getter that decodes the Bearer header
with PyJWT, one IsAuthenticated permission on a field returning three constant strings; and
the same thing as a plain FastAPI REST route, for reference.
Run: `uvicorn --app-dir bench naive_app:app`.
"""

from __future__ import annotations

from typing import Any

import jwt
import strawberry
from fastapi import FastAPI, Header, HTTPException, Request
from strawberry.fastapi import GraphQLRouter
from strawberry.permission import BasePermission
from strawberry.types import Info

SECRET = "naive-benchmark-secret-0123456789abcdef"
TODOS = ["write the benchmark", "run it", "read the figures"]


def decode(authorization: str | None) -> dict[str, Any] | None:
    if not authorization or not authorization.startswith("Bearer "):
        return None
    try:
        return jwt.decode(authorization[7:], SECRET, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return None


async def get_context(request: Request) -> dict[str, Any]:
    return {"user": decode(request.headers.get("authorization"))}


class IsAuthenticated(BasePermission):
    message = "Not authenticated"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context["user"] is not None


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsAuthenticated])  # type: ignore[untyped-decorator]
    def todos(self) -> list[str]:
        return TODOS


app = FastAPI()
app.include_router(
    GraphQLRouter(strawberry.Schema(query=Query), context_getter=get_context), prefix="/graphql"
)


@app.get("/rest/todos")
async def rest_todos(authorization: str | None = Header(default=None)) -> list[str]:
    if decode(authorization) is None:
        raise HTTPException(401, "Not authenticated")
    return TODOS


def token() -> str:
    return jwt.encode({"sub": "bench"}, SECRET, algorithm="HS256")
