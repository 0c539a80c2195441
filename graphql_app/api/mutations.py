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
from .types import AuthPayload, Role, Todo, TotpSetup, User


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
        accounts = info.context.services.accounts
        email = input.email or None
        client = info.context.client
        result = await accounts.register(input.username, input.password, email, client)
        return _payload(info, result)

    @strawberry.mutation(permission_classes=[AllowAny])
    async def login(
        self, info: Info[Context, None], username: str, password: str, otp: str | None = UNSET
    ) -> AuthPayload:
        """`otp` (a current code or a recovery code) is required once two-factor is on."""
        auth = info.context.services.auth
        result = await auth.login(username, password, info.context.client, otp or None)
        return _payload(info, result)

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

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def request_email_verification(self, info: Info[Context, None]) -> bool:
        """(Re)sends a verification link to the caller's unverified email."""
        principal = await info.context.require_principal()
        return await info.context.services.accounts.request_email_verification(principal)

    @strawberry.mutation(permission_classes=[AllowAny])
    async def verify_email(self, info: Info[Context, None], token: str) -> User:
        """Public: the token of a verification link; single use."""
        accounts = info.context.services.accounts
        user = await accounts.verify_email(token, info.context.client)
        return User.from_model(user, shown_to_owner=True)

    @strawberry.mutation(permission_classes=[AllowAny])
    async def request_password_reset(self, info: Info[Context, None], email: str) -> bool:
        """Public: always true, in the same time, whether or not the address is known."""
        accounts = info.context.services.accounts
        return await accounts.request_password_reset(email, info.context.client)

    @strawberry.mutation(permission_classes=[AllowAny])
    async def reset_password(
        self, info: Info[Context, None], token: str, new_password: str
    ) -> AuthPayload:
        """Public: single use; ends every session and clears the login lockout."""
        auth = info.context.services.auth
        return _payload(info, await auth.reset_password(token, new_password, info.context.client))

    @strawberry.mutation(permission_classes=[IsAuthenticated, RequiresRecentAuth])
    async def change_email(self, info: Info[Context, None], new_email: str) -> bool:
        """The new address replaces the old one once verified."""
        principal = await info.context.require_principal()
        return await info.context.services.accounts.change_email(principal, new_email)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def delete_account(self, info: Info[Context, None], password: str) -> bool:
        """The user, sessions, todos and security events are deleted; every token stops."""
        principal = await info.context.require_principal()
        accounts = info.context.services.accounts
        return await accounts.delete_account(principal, password, info.context.client)

    @strawberry.mutation(permission_classes=[IsAuthenticated, RequiresRecentAuth])
    async def begin_totp_setup(self, info: Info[Context, None]) -> TotpSetup:
        principal = await info.context.require_principal()
        secret, uri = await info.context.services.accounts.begin_totp_setup(principal)
        return TotpSetup(secret=secret, otpauth_uri=uri)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def confirm_totp_setup(self, info: Info[Context, None], code: str) -> list[str]:
        """Turns two-factor on; returns 10 single-use recovery codes, shown once."""
        principal = await info.context.require_principal()
        accounts = info.context.services.accounts
        return await accounts.confirm_totp_setup(principal, code, info.context.client)

    @strawberry.mutation(permission_classes=[IsAuthenticated, RequiresRecentAuth])
    async def disable_totp(self, info: Info[Context, None], code: str) -> bool:
        """With a current code or a recovery code."""
        principal = await info.context.require_principal()
        accounts = info.context.services.accounts
        return await accounts.disable_totp(principal, code, info.context.client)
