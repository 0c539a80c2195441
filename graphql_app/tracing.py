"""Whether to trace: the `otel` extra installed and OTEL_EXPORTER_OTLP_ENDPOINT (or its
traces-only form) set. Nothing from opentelemetry is imported otherwise; `otel` does the
work when it is on."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from fastapi import FastAPI

log = logging.getLogger(__name__)
ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

# The operation's span around a GraphQL operation, given Strawberry's execution context.
OperationSpan = Callable[[Any], AbstractContextManager[None]]


def enabled() -> bool:
    if not any(os.environ.get(name) for name in ENDPOINTS):
        return False
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the otel extra is not installed")
        return False
    return True


def operation_span() -> OperationSpan | None:
    if not enabled():
        return None
    from . import otel

    return otel.operation_span


def instrument(app: FastAPI) -> None:
    """Spans for every request and database command (the outermost middleware: call last)."""
    if enabled():
        from . import otel

        otel.instrument(app)
