"""Heavy operations go through a narrow lane: while many run at once, `me` stays fast; one
that waits too long in line is answered RATE_LIMITED. Against a live uvicorn; a
benchmark-style check with generous bounds, not a precise timer."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from .conftest import AppRunner, Live
from .factories import AUTH_FIELDS, PASSWORD, Result
from .test_query_cost import TODOS_PAGE

# 12 pages of 100 todos with their owner: cost 12 * (1 + 100 * 4) = 4812, under the limit.
HEAVY = (
    "{ "
    + " ".join(
        f"p{i}: todos(first: 100) {{ edges {{ node {{ owner {{ username }} }} }} }}"
        for i in range(12)
    )
    + " }"
)
ME = "{ me { id username } }"
CONCURRENT_HEAVY = 20


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


async def _setup(http: httpx.AsyncClient, username: str) -> str:
    response = await http.post(
        "/graphql",
        json={
            "query": f"mutation($u: String!, $p: String!) {{ register(input: {{username: $u,"
            f" password: $p}}) {{ {AUTH_FIELDS} }} }}",
            "variables": {"u": username, "p": PASSWORD},
        },
    )
    token: str = response.json()["data"]["register"]["accessToken"]
    create = "mutation($t: String!) { createTodo(input: {title: $t}) { id } }"
    for chunk in range(10):
        await asyncio.gather(
            *(
                http.post(
                    "/graphql",
                    json={"query": create, "variables": {"t": f"todo {chunk * 10 + i}"}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                for i in range(10)
            )
        )
    return token


async def _probe_me(
    http: httpx.AsyncClient, token: str, until: Callable[[], bool], minimum: int = 3
) -> list[float]:
    """`me` one after the other until `until()` and at least `minimum` times."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    while not until() or len(latencies) < minimum:
        started = time.perf_counter()
        response = await http.post("/graphql", json={"query": ME}, headers=headers)
        assert response.json()["data"]["me"]["id"]
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.005)
    return latencies


async def _under_load(
    http: httpx.AsyncClient, token: str, heavy: Callable[[], Awaitable[httpx.Response]]
) -> tuple[list[float], list[httpx.Response], float]:
    """`me` latencies while CONCURRENT_HEAVY heavy requests run at once."""
    started = time.perf_counter()
    load = asyncio.gather(*(heavy() for _ in range(CONCURRENT_HEAVY)))
    latencies = await _probe_me(http, token, load.done)
    responses = await load
    return latencies, responses, time.perf_counter() - started


async def _measure(live_server: Live, username: str, **settings: Any) -> dict[str, float]:
    async with (
        live_server(**settings) as address,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=60) as http,
    ):
        token = await _setup(http, username)
        headers = {"Authorization": f"Bearer {token}"}

        async def heavy() -> httpx.Response:
            return await http.post("/graphql", json={"query": HEAVY}, headers=headers)

        one = await heavy()
        assert len(one.json()["data"]["p0"]["edges"]) == 100
        idle = await _probe_me(http, token, lambda: True, minimum=20)
        latencies, responses, elapsed = await _under_load(http, token, heavy)
        assert all("errors" not in r.json() for r in responses)
        return {
            "idle_p95": _p95(idle),
            "load_p95": _p95(latencies),
            "load_median": statistics.median(latencies),
            "samples": len(latencies),
            "heavy_total": elapsed,
            "rss_mb": _rss_mb(),
        }


async def test_me_stays_fast_while_heavy_queries_run(live_server: Live) -> None:
    # Without the lane (every operation counts as cheap), then with it (the default
    # settings, a wait long enough for the twentieth heavy query on a slow machine).
    before = await _measure(live_server, "before", heavy_query_cost=10**9)
    after = await _measure(live_server, "after", heavy_query_wait=60)
    for name, figures in (("without lane", before), ("with lane", after)):
        print(
            f"{name}: me p95 idle {figures['idle_p95'] * 1000:.0f} ms, under"
            f" {CONCURRENT_HEAVY} heavy queries p95 {figures['load_p95'] * 1000:.0f} ms"
            f" (median {figures['load_median'] * 1000:.0f} ms, {figures['samples']:.0f} samples),"
            f" heavy queries done in {figures['heavy_total']:.2f} s, RSS {figures['rss_mb']:.0f} MB"
        )
    assert after["load_p95"] < 1.0
    assert after["load_p95"] < before["load_p95"] / 2


async def test_heavy_operations_wait_in_line_and_time_out_with_rate_limited(
    run_app: AppRunner,
) -> None:
    """One heavy operation at a time; one that waits longer than HEAVY_QUERY_WAIT is
    answered RATE_LIMITED. A page of 20 through the same `$first` document is cheap."""
    async with run_app(heavy_query_cost=1000, heavy_query_wait=0.001) as client:
        token = (await client.register("alice"))["accessToken"]

        async def pages(first: int) -> list[Result]:
            return await asyncio.gather(
                *(client.execute(TODOS_PAGE, {"first": first}, token=token) for _ in range(5))
            )

        assert [r.codes for r in await pages(20)] == [[]] * 5  # cost 301: never waits
        alone = await client.execute(TODOS_PAGE, {"first": 100}, token=token)  # 1501
        assert alone.errors == []
        crowded = await pages(100)
        ran = [r for r in crowded if not r.errors]
        limited = [r for r in crowded if r.errors]
        assert len(ran) >= 1
        assert limited, "the others waited longer than 1 ms"
        for result in limited:
            assert result.data is None
            assert [e["extensions"] for e in result.errors] == [
                {"code": "RATE_LIMITED", "retryAfter": 1}
            ]
