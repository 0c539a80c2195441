"""graphql-transport-ws with the token in the `connection_init` payload, and subscription
limits.

A missing or bad token closes the socket with 4401 before any subscription starts. A
database that cannot check the token in time closes it with 1013 "Try Again Later": the
reference `graphql-ws` client retries on that code (its 4500 would be fatal to it). A
subscription over the limit of its connection or of its user (in this process) is refused
with an `error` message coded RATE_LIMITED; the socket and its other subscriptions go on.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLFormattedError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)

from ..context import Context
from ..database import request_budget, unavailable

TRY_AGAIN_LATER = 1013  # RFC 6455's registered close code


class AuthenticatingTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_subscriptions_per_connection = None  # counted in handle_subscribe, with a code

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload: Any = message.get("payload") or {}
        authorization = _authorization(payload)
        context = self.context
        if authorization is None or not isinstance(context, Context):
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        context.use_authorization(authorization)
        try:
            with request_budget(context.services.settings.request_timeout):
                principal = await context.principal()
        except Exception as exc:
            if unavailable(exc) is None:
                raise
            await self.websocket.close(code=TRY_AGAIN_LATER, reason="Try again later")
            return
        if principal is None:
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        await super().handle_connection_init(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """Count the operation against its connection and its user; Strawberry refuses the
        rest (not acknowledged, a duplicate id)."""
        op_id = message["id"]
        user_id = self.context.user_id
        if not self.connection_acknowledged or op_id in self.operations or user_id is None:
            await super().handle_subscribe(message)
            return
        services = self.context.services
        per_connection = services.settings.max_subscriptions_per_connection
        per_user = services.settings.max_subscriptions_per_user
        if len(self.operations) >= per_connection:
            await self._refuse(
                op_id, f"Too many subscriptions on this connection (at most {per_connection})"
            )
            return
        if not services.events.reserve(user_id, per_user):
            await self._refuse(op_id, f"Too many subscriptions for this user (at most {per_user})")
            return
        try:
            await super().handle_subscribe(message)
        finally:
            operation = self.operations.get(op_id)
            if operation is not None and operation.task is not None:
                operation.task.add_done_callback(lambda _: services.events.release(user_id))
            else:
                services.events.release(user_id)

    async def _refuse(self, op_id: str, message: str) -> None:
        error: GraphQLFormattedError = {"message": message, "extensions": {"code": "RATE_LIMITED"}}
        await self.send_message(ErrorMessage(id=op_id, type="error", payload=[error]))


def _authorization(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    for key, value in payload.items():
        if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
            return value
    return None
