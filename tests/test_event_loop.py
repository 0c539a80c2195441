"""bcrypt runs in worker threads: while logins hash at a realistic cost, other requests keep
their latency. A benchmark-style check with a generous bound, not a precise timer."""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from typing import Any

from graphql_app.auth.passwords import HASHING_NICENESS

from .factories import PASSWORD

LOGINS = 8


async def test_me_stays_fast_while_logins_hash(run_app: Any) -> None:
    async with run_app(bcrypt_rounds=12, login_max_failures=1000) as client:
        token = (await client.register("alice"))["accessToken"]

        started = time.perf_counter()
        await client.login("alice", PASSWORD)
        one_login = time.perf_counter() - started

        latencies: list[float] = []

        async def me_loop(stop: asyncio.Event) -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                assert (await client.me(token)).errors == []
                latencies.append(time.perf_counter() - t0)
                await asyncio.sleep(0.01)

        stop = asyncio.Event()
        prober = asyncio.create_task(me_loop(stop))
        started = time.perf_counter()
        results = await asyncio.gather(*(client.login("alice", PASSWORD) for _ in range(LOGINS)))
        all_logins = time.perf_counter() - started
        stop.set()
        await prober

        assert all(r.errors == [] for r in results)
        assert len(latencies) >= 5, "me was starved while logins ran"
        # If hashing ran on the event loop, each `me` would wait for whole hashes
        # (one_login each, ~all_logins in the worst case). Off the loop it stays far below.
        print(
            f"one login {one_login:.3f}s, {LOGINS} logins {all_logins:.3f}s, "
            f"me p50 {statistics.median(latencies) * 1000:.1f}ms max {max(latencies) * 1000:.1f}ms"
        )
        assert statistics.median(latencies) < one_login / 2


async def test_hashing_threads_yield_to_the_event_loop(run_app: Any) -> None:
    """At most one hashing thread per core, each at a lower priority than the event loop."""
    async with run_app() as client:
        await asyncio.gather(*(client.register(f"user{i}") for i in range(6)))
    hashing = [t for t in threading.enumerate() if t.name.startswith("bcrypt")]
    assert 1 <= len(hashing) <= (os.cpu_count() or 2)
    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    for thread in hashing:
        assert thread.native_id is not None
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == min(
            loop_priority + HASHING_NICENESS, 19
        )
