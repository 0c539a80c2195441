"""A narrow lane for heavy operations, so that they cannot starve cheap ones.

Completing a page of objects is CPU on the event loop: twenty operations of 1,200 todos at
once kept `me` waiting seconds. Operations whose estimated cost (`api.cost`) exceeds
`HEAVY_QUERY_COST` execute at most `HEAVY_QUERY_CONCURRENCY` at a time in the process;
the others wait in line (first come, first served), and cheap operations never wait. One
that waits longer than `HEAVY_QUERY_WAIT` seconds is answered `RATE_LIMITED` with
`retryAfter`, never left hanging.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable

from graphql import ExecutionResult, GraphQLError, OperationType
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from .cost import CostBook, estimate


class HeavyLane:
    def __init__(self, book: CostBook, threshold: int, concurrency: int, wait: float) -> None:
        self.book = book
        self.threshold = threshold
        self.wait = wait
        self.slots = asyncio.Semaphore(concurrency)

    def is_heavy(self, context: ExecutionContext) -> bool:
        document = context.graphql_document
        if document is None:
            return False
        schema = context.schema._schema
        cost = self.book.costs(schema, document).get(context.operation_name)
        if cost is None or cost.worst <= self.threshold:
            return False  # cheap, or no such operation (graphql-core refuses it)
        if cost.operation.operation is OperationType.SUBSCRIPTION:
            return False  # holds no slot for its lifetime; each event is small
        if not cost.variable:
            return True
        return estimate(schema, document, cost.operation, context.variables or {}) > self.threshold

    def factory(self) -> Callable[[], SchemaExtension]:
        return lambda: HeavyLaneExtension(self)


class HeavyLaneExtension(SchemaExtension):
    def __init__(self, lane: HeavyLane) -> None:
        self.lane = lane

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        lane = self.lane
        if not lane.is_heavy(context):
            yield
            return
        try:
            async with asyncio.timeout(lane.wait):
                await lane.slots.acquire()
        except TimeoutError:
            context.result = ExecutionResult(None, [_busy(lane.wait)])  # skips execution
            yield
            return
        try:
            yield
        finally:
            lane.slots.release()


def _busy(wait: float) -> GraphQLError:
    return GraphQLError(
        "Too many expensive operations are running; try again later",
        extensions={"code": "RATE_LIMITED", "retryAfter": max(1, math.ceil(wait))},
    )
