"""Mutation resolvers: arguments → service call → GraphQL type."""

from __future__ import annotations

from typing import Any

import strawberry
from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry import UNSET
from strawberry.types import Info

from .. import cookies, todos
from ..auth.service import AuthResult
from ..context import Context
from ..permissions import AllowAny, IsAdmin, IsAuthenticated, RequiresRecentAuth
from .inputs import CreateTodoInput, RegisterInput, UpdateTodoInput
from .types import AuthPayload, Role, Todo, User


def _payload(info: Info[Context, None], result: AuthResult) -> AuthPayload:
    cookies.store(_response(info), info.context.services.settings, result.refresh_token)
    return AuthPayload.from_result(result)


def _response(info: Info[Context, None]) -> Response | None:
    response: Any = info.context.response
    return response if isinstance(response, Response) else None


def _connection(info: Info[Context, None]) -> HTTPConnection | None:
    request: Any = info.context.request
    return request if isinstance(request, HTTPConnection) else None


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[AllowAny])
    async def register(self, info: Info[Context, None], input: RegisterInput) -> AuthPayload:
        auth = info.context.services.auth
        result = await auth.register(input.username, input.password, info.context.client)
        return _payload(info, result)

    @strawberry.mutation(permission_classes=[AllowAny])
    async def login(self, info: Info[Context, None], username: str, password: str) -> AuthPayload:
        auth = info.context.services.auth
        return _payload(info, await auth.login(username, password, info.context.client))

    @strawberry.mutation(permission_classes=[AllowAny])
    async def refresh(
        self, info: Info[Context, None], refresh_token: str | None = UNSET
    ) -> AuthPayload:
        settings = info.context.services.settings
        token = refresh_token or cookies.read(_connection(info), settings)
        return _payload(info, await info.context.services.auth.refresh(token, info.context.client))

    @strawberry.mutation(permission_classes=[AllowAny])
    async def logout(self, info: Info[Context, None], refresh_token: str | None = UNSET) -> bool:
        """Ends this session. Public: a stale Authorization header is ignored."""
        settings = info.context.services.settings
        token = refresh_token or cookies.read(_connection(info), settings)
        caller = await info.context.principal()
        done = await info.context.services.auth.logout(token, caller, info.context.client)
        cookies.clear(_response(info), settings)
        return done

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def logout_all(self, info: Info[Context, None]) -> bool:
        principal = await info.context.require_principal()
        return await info.context.services.auth.logout_all(principal, info.context.client)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def change_password(
        self, info: Info[Context, None], current_password: str, new_password: str
    ) -> AuthPayload:
        principal = await info.context.require_principal()
        auth = info.context.services.auth
        result = await auth.change_password(
            principal, current_password, new_password, info.context.client
        )
        return _payload(info, result)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_todo(self, info: Info[Context, None], input: CreateTodoInput) -> Todo:
        owner_id = (await info.context.require_principal()).user_id
        return Todo.from_model(await todos.create(owner_id, input.title))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def update_todo(
        self, info: Info[Context, None], id: strawberry.ID, input: UpdateTodoInput
    ) -> Todo:
        owner_id = (await info.context.require_principal()).user_id
        title = None if input.title is UNSET else input.title
        done = None if input.done is UNSET else input.done
        todo = await todos.update(owner_id, id, title, done)
        return Todo.from_model(todo)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def delete_todo(self, info: Info[Context, None], id: strawberry.ID) -> bool:
        owner_id = (await info.context.require_principal()).user_id
        return await todos.delete(owner_id, id)

    @strawberry.mutation(permission_classes=[IsAdmin, RequiresRecentAuth])
    async def set_user_roles(
        self, info: Info[Context, None], user_id: strawberry.ID, roles: list[Role]
    ) -> User:
        auth = info.context.services.auth
        return User.from_model(await auth.set_roles(user_id, roles, info.context.client))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def revoke_session(self, info: Info[Context, None], id: strawberry.ID) -> bool:
        """Ends one of the caller's sessions (its access tokens on their next request)."""
        principal = await info.context.require_principal()
        return await info.context.services.auth.revoke_session(principal, id, info.context.client)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def reauthenticate(self, info: Info[Context, None], password: str) -> AuthPayload:
        """Proves the password again: a fresh pair in the same session, a new auth_time."""
        principal = await info.context.require_principal()
        auth = info.context.services.auth
        return _payload(info, await auth.reauthenticate(principal, password, info.context.client))

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def unlock_user(self, info: Info[Context, None], username: str) -> bool:
        """Clears the username's failed-login lockout."""
        return await info.context.services.auth.unlock(username, info.context.client)
