"""The per-request context: turns the Authorization header into the current user.

It never raises. It records "no user, and why"; the permission classes turn that into the
error with its code, so a stale token can never block `login`. The user is loaded lazily,
at most once per request, and cached here.
"""

from __future__ import annotations

import asyncio
import uuid

from beanie import PydanticObjectId
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from . import users
from .auth.service import Principal
from .client_address import ClientInfo
from .errors import Reason, Unauthenticated
from .models import User
from .services import Services

AuthOutcome = Principal | Unauthenticated


class Context(BaseContext):
    def __init__(self, services: Services, authorization: str | None, client: ClientInfo) -> None:
        super().__init__()
        self.services = services
        self.client = client
        self.request_id = uuid.uuid4().hex
        self._authorization = authorization
        self._outcome: asyncio.Future[AuthOutcome] | None = None
        self.user_loader: DataLoader[PydanticObjectId, User | None] = DataLoader(
            load_fn=users.load_many
        )

    def use_authorization(self, authorization: str) -> None:
        """Authenticate with this value instead (a WebSocket's `connection_init` payload)."""
        self._authorization = authorization
        self._outcome = None

    @property
    def user_id(self) -> str | None:
        """The authenticated user's id, if authentication ran and succeeded (for logs)."""
        if self._outcome is None or not self._outcome.done() or self._outcome.cancelled():
            return None
        outcome = self._outcome.result() if self._outcome.exception() is None else None
        return str(outcome.user.id) if isinstance(outcome, Principal) else None

    async def principal(self) -> Principal | None:
        outcome = await self._authenticate()
        return outcome if isinstance(outcome, Principal) else None

    async def require_principal(self) -> Principal:
        outcome = await self._authenticate()
        if isinstance(outcome, Unauthenticated):
            raise outcome
        return outcome

    def _authenticate(self) -> asyncio.Future[AuthOutcome]:
        if self._outcome is None:
            self._outcome = asyncio.ensure_future(self._check())
        return self._outcome

    async def _check(self) -> AuthOutcome:
        token = bearer_token(self._authorization)
        if isinstance(token, Reason):
            return Unauthenticated(token)
        try:
            principal = await self.services.auth.authenticate(token)
        except Unauthenticated as failure:
            return failure
        # Todo.owner of the caller's own todos then costs no query.
        self.user_loader.prime(principal.user_id, principal.user)
        return principal


def bearer_token(authorization: str | None) -> str | Reason:
    if authorization is None:
        return Reason.MISSING_TOKEN
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return Reason.TOKEN_INVALID
    return token.strip()
