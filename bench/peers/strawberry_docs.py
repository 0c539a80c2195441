"""Strawberry as its docs show, reading the product's `users` and `todos`: a benchmark peer.

Strawberry on FastAPI with `GraphQLRouter`, a context getter that decodes the Bearer header
with PyJWT and reads the user with PyMongo's async client, an `IsAuthenticated` permission,
and resolvers reading the same documents the product wrote. The token checks are the
product's (HS256, its `kid`, `iss`, `aud`, expiry, an access token).
Run: `uvicorn --app-dir bench/peers strawberry_docs:app` with MONGODB_URL, MONGODB_DB,
JWT_SECRET (and JWT_ISSUER / JWT_AUDIENCE when not the product's defaults).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
import strawberry
from bson import ObjectId
from fastapi import FastAPI, Request
from pymongo import AsyncMongoClient
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.permission import BasePermission
from strawberry.types import Info

SECRET = os.environ["JWT_SECRET"]
ISSUER = os.environ.get("JWT_ISSUER", "graphql-app")
AUDIENCE = os.environ.get("JWT_AUDIENCE", "graphql-app")
# The product names its HS256 key by a PRF of the secret and refuses any other `kid`.
KID = (
    "hs-"
    + base64.urlsafe_b64encode(
        hmac.new(SECRET.encode(), b"graphql-app/kid", hashlib.sha256).digest()[:9]
    ).decode()
)

client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(os.environ["MONGODB_URL"])
db = client[os.environ["MONGODB_DB"]]


def decode(authorization: str | None) -> dict[str, Any] | None:
    if not authorization or not authorization.startswith("Bearer "):
        return None
    token = authorization[7:]
    try:
        if jwt.get_unverified_header(token).get("kid") != KID:
            return None
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE)
    except jwt.InvalidTokenError:
        return None
    return claims if claims.get("type") == "access" else None


class Context(BaseContext):
    def __init__(self, user: dict[str, Any] | None) -> None:
        super().__init__()
        self.user = user


async def get_context(request: Request) -> Context:
    claims = decode(request.headers.get("authorization"))
    user = None
    if claims is not None and ObjectId.is_valid(claims["sub"]):
        user = await db.users.find_one({"_id": ObjectId(claims["sub"])})
    return Context(user)


class IsAuthenticated(BasePermission):
    message = "Not authenticated"

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        return info.context.user is not None


def cursor(doc: dict[str, Any]) -> str:
    """The product's opaque cursor: base64url of [created_at in ms, "<_id>"], no padding."""
    raw = f'[{int(doc["created_at"].timestamp() * 1000)},"{doc["_id"]}"]'
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@strawberry.type
class User:
    id: strawberry.ID
    username: str


@strawberry.type
class Todo:
    id: strawberry.ID
    title: str
    done: bool


@strawberry.type
class TodoEdge:
    cursor: str
    node: Todo


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class TodoConnection:
    edges: list[TodoEdge]
    page_info: PageInfo


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsAuthenticated])  # type: ignore[untyped-decorator]
    def me(self, info: Info[Context, None]) -> User:
        user = info.context.user
        assert user is not None  # IsAuthenticated
        return User(id=strawberry.ID(str(user["_id"])), username=user["username"])

    @strawberry.field(permission_classes=[IsAuthenticated])  # type: ignore[untyped-decorator]
    async def todos(self, info: Info[Context, None], first: int = 20) -> TodoConnection:
        user = info.context.user
        assert user is not None  # IsAuthenticated
        found = db.todos.find({"owner_id": user["_id"]}).sort([("created_at", -1), ("_id", -1)])
        docs = await found.limit(first + 1).to_list(first + 1)
        page = docs[:first]
        edges = [
            TodoEdge(
                cursor=cursor(doc),
                node=Todo(id=strawberry.ID(str(doc["_id"])), title=doc["title"], done=doc["done"]),
            )
            for doc in page
        ]
        return TodoConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(docs) > first,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    await client.close()


app = FastAPI(lifespan=lifespan)
app.include_router(
    GraphQLRouter(strawberry.Schema(query=Query), context_getter=get_context), prefix="/graphql"
)
