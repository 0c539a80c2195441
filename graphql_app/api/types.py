"""GraphQL output types, built from the stored documents."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from beanie import PydanticObjectId
from strawberry.types import Info

from .. import models, todos, users
from ..auth.service import AuthResult
from ..context import Context
from ..errors import NotFound
from ..pagination import Page

Role = models.Role
strawberry.enum(Role, name="Role")


@strawberry.type
class User:
    id: strawberry.ID
    username: str
    roles: list[Role]
    created_at: datetime

    @classmethod
    def from_model(cls, user: models.User) -> User:
        return cls(
            id=strawberry.ID(str(user.id)),
            username=user.username,
            roles=list(user.roles),
            created_at=user.created_at,
        )


@strawberry.type
class Todo:
    id: strawberry.ID
    title: str
    done: bool
    created_at: datetime
    updated_at: datetime
    owner_id: strawberry.Private[PydanticObjectId]

    @strawberry.field(graphql_type=User)  # type: ignore[untyped-decorator]  # strawberry's overload with arguments returns Any
    def owner(self, info: Info[Context, None]) -> User | Awaitable[User]:
        """Synchronous when the owner is already loaded (the caller always is): a page of
        100 todos then schedules no task per owner, about half the CPU of a page of owners."""
        loaded = info.context.user_loader.cache_map.get(self.owner_id)
        if (
            loaded is not None
            and loaded.done()
            and not loaded.cancelled()
            and not loaded.exception()
        ):
            return _owner(loaded.result())
        return self._load_owner(info)

    async def _load_owner(self, info: Info[Context, None]) -> User:
        return _owner(await info.context.user_loader.load(self.owner_id))

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Todo:
        """From a stored document (or an event's snapshot of one)."""
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            title=doc["title"],
            done=doc["done"],
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
            owner_id=doc["owner_id"],
        )

    @classmethod
    def from_model(cls, todo: models.Todo) -> Todo:
        return cls.from_document(todo.model_dump(by_alias=True))


def _owner(user: models.User | None) -> User:
    if user is None:
        raise NotFound("Owner not found")
    return User.from_model(user)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


T = TypeVar("T")


def page_info(page: Page[T]) -> PageInfo:
    end = page.items[-1][0] if page.items else None
    return PageInfo(has_next_page=page.has_next_page, end_cursor=end)


@strawberry.type
class TodoEdge:
    cursor: str
    node: Todo


@strawberry.type
class TodoConnection:
    edges: list[TodoEdge]
    page_info: PageInfo
    owner_id: strawberry.Private[PydanticObjectId]
    done: strawberry.Private[bool | None]

    @strawberry.field
    async def total_count(self) -> int:
        """Counted only when asked for: the filter's matches, not the page's size."""
        return await todos.count(self.owner_id, self.done)

    @classmethod
    def from_page(
        cls, page: Page[dict[str, Any]], owner_id: PydanticObjectId, done: bool | None
    ) -> TodoConnection:
        edges = [TodoEdge(cursor=c, node=Todo.from_document(d)) for c, d in page.items]
        return cls(edges=edges, page_info=page_info(page), owner_id=owner_id, done=done)


@strawberry.type
class UserEdge:
    cursor: str
    node: User


@strawberry.type
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo

    @strawberry.field
    async def total_count(self) -> int:
        return await users.count()

    @classmethod
    def from_page(cls, page: Page[models.User]) -> UserConnection:
        edges = [UserEdge(cursor=c, node=User.from_model(u)) for c, u in page.items]
        return cls(edges=edges, page_info=page_info(page))


@strawberry.type
class AuthPayload:
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    user: User

    @classmethod
    def from_result(cls, result: AuthResult) -> AuthPayload:
        return cls(
            access_token=result.access_token,
            refresh_token=result.refresh_token,
            token_type="Bearer",  # noqa: S106  # the scheme name, not a secret
            expires_in=result.expires_in,
            user=User.from_model(result.user),
        )
