"""Brute-force throttling: per username and address, per address, shared through MongoDB;
and no user enumeration."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from .conftest import TEST_SECRET, serve, serve_env
from .factories import PASSWORD, GraphQLClient


async def _fail(client: GraphQLClient, username: str = "alice", times: int = 1) -> None:
    for _ in range(times):
        result = await client.login(username, "wrong password")
        assert result.reasons == ["BAD_CREDENTIALS"]


async def test_locked_after_max_failures_even_with_the_right_password(run_app: Any) -> None:
    async with run_app(login_max_failures=3, login_window_seconds=60) as client:
        await client.register("alice")
        await _fail(client, times=3)
        locked = await client.login("alice", PASSWORD)
        assert locked.data is None
        assert locked.codes == ["RATE_LIMITED"]
        retry_after = locked.errors[0]["extensions"]["retryAfter"]
        assert isinstance(retry_after, int)
        assert 1 <= retry_after <= 60
        # Another username from the same address is not locked by alice's counter.
        await client.register("bob")
        assert (await client.login("bob", PASSWORD)).errors == []


async def test_window_expiry_unlocks(run_app: Any) -> None:
    async with run_app(login_max_failures=2, login_window_seconds=2) as client:
        await client.register("alice")
        await _fail(client, times=2)
        assert (await client.login("alice", PASSWORD)).codes == ["RATE_LIMITED"]
        await asyncio.sleep(2.2)
        assert (await client.login("alice", PASSWORD)).errors == []


async def test_success_clears_the_counter(run_app: Any) -> None:
    async with run_app(login_max_failures=3, login_window_seconds=60) as client:
        await client.register("alice")
        await _fail(client, times=2)
        assert (await client.login("alice", PASSWORD)).errors == []
        await _fail(client, times=2)
        assert (await client.login("alice", PASSWORD)).errors == []


async def test_per_address_ceiling_across_usernames(run_app: Any) -> None:
    async with run_app(
        login_max_failures=100, login_max_failures_per_address=4, login_window_seconds=60
    ) as client:
        await client.register("alice")
        for name in ("u1", "u2", "u3", "u4"):
            await _fail(client, name)
        result = await client.login("alice", PASSWORD)
        assert result.codes == ["RATE_LIMITED"]


async def test_counters_are_shared_between_server_processes(
    tmp_path: Path, mongodb_url: str, db_name: str
) -> None:
    """Two `graphql-app serve` processes on one database: only state kept in MongoDB (not in
    a process) can lock alice out after failures spread over both."""
    settings = {
        "MONGODB_URL": mongodb_url,
        "MONGODB_DB": db_name,
        "JWT_SECRET": TEST_SECRET,
        "LOGIN_MAX_FAILURES": "3",
        "LOGIN_WINDOW_SECONDS": "60",
    }
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    first_env, second_env = serve_env(first_dir, **settings), serve_env(second_dir, **settings)
    async with (
        serve(first_env) as (_, first_url),
        serve(second_env) as (_, second_url),
        httpx.AsyncClient(base_url=first_url) as first_http,
        httpx.AsyncClient(base_url=second_url) as second_http,
    ):
        first, second = GraphQLClient(first_http), GraphQLClient(second_http)
        await first.register("alice")
        await _fail(first, times=2)
        await _fail(second, times=1)
        assert (await first.login("alice", PASSWORD)).codes == ["RATE_LIMITED"]
        assert (await second.login("alice", PASSWORD)).codes == ["RATE_LIMITED"]


async def test_forwarded_for_is_only_believed_from_trusted_proxies(run_app: Any) -> None:
    # The test transport connects from 203.0.113.7.
    async with run_app(login_max_failures=2, login_window_seconds=60) as direct:
        await direct.register("alice")
        for spoofed in ("198.51.100.1", "198.51.100.2"):
            result = await direct.execute(
                'mutation { login(username: "alice", password: "nope") { accessToken } }',
                headers={"X-Forwarded-For": spoofed},
            )
            assert result.reasons == ["BAD_CREDENTIALS"]
        # Spoofing a new address per try does not escape: the peer address is what counts.
        assert (await direct.login("alice", PASSWORD)).codes == ["RATE_LIMITED"]

    async with run_app(
        login_max_failures=2, login_window_seconds=60, trusted_proxies="203.0.113.0/24"
    ) as proxied:
        forwarded = {"X-Forwarded-For": "198.51.100.9"}
        ok = await proxied.execute(
            f'mutation {{ login(username: "alice", password: "{PASSWORD}") {{ accessToken }} }}',
            headers=forwarded,
        )
        # Behind a trusted proxy, the forwarded client has its own, unlocked counter.
        assert ok.errors == []


async def test_unknown_user_and_wrong_password_take_the_same_time(run_app: Any) -> None:
    async with run_app(bcrypt_rounds=10, login_max_failures=1000) as client:
        await client.register("alice")

        async def timed(username: str) -> float:
            started = time.perf_counter()
            result = await client.login(username, "wrong password")
            assert result.reasons == ["BAD_CREDENTIALS"]
            return time.perf_counter() - started

        await timed("nobody")  # warm the dummy hash
        known = [await timed("alice") for _ in range(5)]
        unknown = [await timed("nobody") for _ in range(5)]
        ratio = statistics.median(known) / statistics.median(unknown)
        assert 0.5 < ratio < 2.0, (known, unknown)
