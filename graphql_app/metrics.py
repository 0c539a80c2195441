"""Prometheus metrics, summed over every worker.

The metrics are module-level, as `prometheus-client` intends: in its multiprocess mode
(PROMETHEUS_MULTIPROC_DIR set before this module is imported, which `graphql-app serve
--workers N` does for its workers) each process writes its values to files of that
directory under its pid, and a scrape of any worker reads and sums them all (a worker that
crashes leaves its `active_subscriptions` in the sum until `serve` restarts).
"""

from __future__ import annotations

import atexit
import hmac
import os
from collections.abc import Awaitable, Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
MAX_OPERATION_NAMES = 100  # first seen, beyond the manifest's; the rest are "other"

REGISTRY = CollectorRegistry()
OPERATIONS = Counter(
    "graphql_operations_total",
    "GraphQL operations by name and outcome (ok, or the code of the first error)",
    ["operation", "outcome"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "graphql_operation_duration_seconds",
    "Time from receiving a GraphQL operation to its answer (a subscription: its life)",
    ["operation"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "auth_failures_total",
    "UNAUTHENTICATED answers by reason",
    ["reason"],
    registry=REGISTRY,
)
LOGINS = Counter(
    "logins_total",
    "login mutations by outcome (ok, BAD_CREDENTIALS, MFA_REQUIRED, RATE_LIMITED, ...)",
    ["outcome"],
    registry=REGISTRY,
)
REFRESH_REUSE = Counter(
    "refresh_reuse_detected_total",
    "Refresh tokens presented again after rotation: the session was revoked",
    registry=REGISTRY,
)
ACTIVE_SUBSCRIPTIONS = Gauge(
    "active_subscriptions",
    "Subscriptions running now",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)


class OperationNames:
    """Bounded label values: the manifest's operation names and the first
    MAX_OPERATION_NAMES others seen by this process; any further name is "other"."""

    def __init__(self, known: set[str]) -> None:
        self.known = set(known)
        self.seen: set[str] = set()

    def label(self, name: str | None, *, parsed: bool = True) -> str:
        """`parsed`: the name belongs to a parsed document (else a client-sent string, only
        counted under its own name when the manifest has it)."""
        if name is None:
            return "anonymous"
        if name in self.known or name in self.seen:
            return name
        if parsed and len(self.seen) < MAX_OPERATION_NAMES:
            self.seen.add(name)
            return name
        return "other"


if os.environ.get(MULTIPROC_DIR):
    # A worker that exits drops its live gauge values (active_subscriptions) from the sum.
    atexit.register(multiprocess.mark_process_dead, os.getpid())


def exposition() -> bytes:
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped in 0.26
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def endpoint(token: str | None) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics; with a token, only for `Authorization: Bearer <token>`."""

    async def metrics(request: Request) -> Response:
        if token is not None and not _bearer_matches(request.headers.get("authorization"), token):
            error = {"message": "Unauthorized", "extensions": {"code": "UNAUTHENTICATED"}}
            return JSONResponse(
                {"errors": [error]},
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _bearer_matches(header: str | None, token: str) -> bool:
    scheme, _, value = (header or "").partition(" ")
    same = hmac.compare_digest(value.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and same
