"""One structured log line per GraphQL operation: request id, operation, user, duration,
outcome. Variables and headers are never logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from ..context import Context

log = logging.getLogger("graphql_app.requests")


class RequestLog(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context.context
        result = self.execution_context.result
        errors = (result.errors if result is not None else None) or []
        codes = sorted({str((e.extensions or {}).get("code", "UNKNOWN")) for e in errors})
        log.info(
            "graphql operation",
            extra={
                "request_id": context.request_id if isinstance(context, Context) else None,
                "operation": self.execution_context.operation_name,
                "user_id": context.user_id if isinstance(context, Context) else None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "outcome": ",".join(codes) if codes else "ok",
            },
        )
