"""graphql-transport-ws with the token in the `connection_init` payload.

A missing or bad token closes the socket with 4401 before any subscription starts. A
database that cannot check the token in time closes it with 1013 "Try Again Later": the
reference `graphql-ws` client retries on that code (its 4500 would be fatal to it).
"""

from __future__ import annotations

from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from ..context import Context
from ..database import request_budget, unavailable

TRY_AGAIN_LATER = 1013  # RFC 6455's registered close code


class AuthenticatingTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
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


def _authorization(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    for key, value in payload.items():
        if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
            return value
    return None
