"""GraphQL output types, built from the stored documents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry
from beanie import PydanticObjectId
from strawberry.types import Info

from .. import models
from ..auth.service import AuthResult
from ..context import Context
from ..errors import NotFound
from ..pagination import Page
from ..security_events import Kind

Role = models.Role
strawberry.enum(Role, name="Role")


@strawberry.type
class User:
    id: strawberry.ID
    username: str
    roles: list[Role]
    created_at: datetime
    email_verified: bool
    totp_enabled: bool
    stored_email: strawberry.Private[str | None]
    # True where the reader is this user without a token on the request (login, register,
    # verifyEmail answer with their own user).
    shown_to_owner: strawberry.Private[bool] = False

    @strawberry.field
    async def email(self, info: Info[Context, None]) -> str | None:
        """Only ever shown to the user and to admins."""
        if self.stored_email is None or self.shown_to_owner:
            return self.stored_email
        reader = await info.context.principal()
        if reader is None:
            return None
        if str(reader.user_id) == self.id or Role.ADMIN in reader.user.roles:
            return self.stored_email
        return None

    @classmethod
    def from_model(cls, user: models.User, *, shown_to_owner: bool = False) -> User:
        return cls(
            id=strawberry.ID(str(user.id)),
            username=user.username,
            roles=list(user.roles),
            created_at=user.created_at,
            email_verified=user.email_verified,
            totp_enabled=user.totp_enabled,
            stored_email=user.email,
            shown_to_owner=shown_to_owner,
        )


@strawberry.type
class TotpSetup:
    secret: str  # base32
    otpauth_uri: str


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
        100 todos then schedules no task per owner (a fifth or more of such a page's CPU)."""
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


N = TypeVar("N")


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type
class Connection(Generic[N]):
    """A page of any type: `Connection[Todo]` is the schema's `TodoConnection`."""

    edges: list[Edge[N]]
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    async def total_count(self) -> int:
        """Counted only when asked for: the filter's matches, not the page's size."""
        return await self.counter()


def connection(
    page: Page[T], node: Callable[[T], N], count: Callable[[], Awaitable[int]]
) -> Connection[N]:
    """`page`'s items as edges of `node(item)`; `count` runs only if totalCount is asked."""
    edges = [Edge(cursor=cursor, node=node(item)) for cursor, item in page.items]
    return Connection(edges=edges, page_info=page_info(page), counter=count)


@strawberry.type
class Session:
    id: strawberry.ID
    current: bool
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    address: str | None

    @classmethod
    def from_document(cls, doc: dict[str, Any], current_sid: str) -> Session:
        return cls(
            id=strawberry.ID(doc["_id"]),
            current=doc["_id"] == current_sid,
            created_at=doc["created_at"],
            last_used_at=doc["last_used_at"],
            expires_at=doc["expires_at"],
            user_agent=doc.get("user_agent"),
            address=doc.get("address"),
        )


strawberry.enum(Kind, name="SecurityEventKind")


@strawberry.type
class SecurityEvent:
    id: strawberry.ID
    kind: Kind
    at: datetime
    address: str | None
    user_agent: str | None
    session_id: strawberry.ID | None

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> SecurityEvent:
        sid = doc.get("session_id")
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            kind=Kind(doc["kind"]),
            at=doc["created_at"],
            address=doc.get("address"),
            user_agent=doc.get("user_agent"),
            session_id=strawberry.ID(sid) if sid else None,
        )


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
            user=User.from_model(result.user, shown_to_owner=True),
        )
