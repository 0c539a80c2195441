"""Mutation resolvers: arguments → service call → GraphQL type."""

from __future__ import annotations

from typing import Any

import strawberry
from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry import UNSET
from strawberry.types import Info

from .. import cookies, todos, users
from ..auth.service import AuthResult
from ..context import Context
from ..permissions import AllowAny, IsAdmin, IsAuthenticated
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
        return _payload(info, await auth.register(input.username, input.password))

    @strawberry.mutation(permission_classes=[AllowAny])
    async def login(self, info: Info[Context, None], username: str, password: str) -> AuthPayload:
        auth = info.context.services.auth
        return _payload(info, await auth.login(username, password, info.context.address))

    @strawberry.mutation(permission_classes=[AllowAny])
    async def refresh(
        self, info: Info[Context, None], refresh_token: str | None = UNSET
    ) -> AuthPayload:
        settings = info.context.services.settings
        token = refresh_token or cookies.read(_connection(info), settings)
        return _payload(info, await info.context.services.auth.refresh(token))

    @strawberry.mutation(permission_classes=[AllowAny])
    async def logout(self, info: Info[Context, None], refresh_token: str | None = UNSET) -> bool:
        """Ends this session. Public: a stale Authorization header is ignored."""
        settings = info.context.services.settings
        token = refresh_token or cookies.read(_connection(info), settings)
        caller = await info.context.principal()
        done = await info.context.services.auth.logout(token, caller)
        cookies.clear(_response(info), settings)
        return done

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def logout_all(self, info: Info[Context, None]) -> bool:
        principal = await info.context.require_principal()
        return await info.context.services.auth.logout_all(principal.user)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def change_password(
        self, info: Info[Context, None], current_password: str, new_password: str
    ) -> AuthPayload:
        principal = await info.context.require_principal()
        auth = info.context.services.auth
        result = await auth.change_password(principal.user, current_password, new_password)
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

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def set_user_roles(self, user_id: strawberry.ID, roles: list[Role]) -> User:
        return User.from_model(await users.set_roles(user_id, roles))
