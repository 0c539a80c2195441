"""Prometheus metrics: `/metrics` parsed with prometheus-client's own parser after real
requests (a query, an expired token, logins, a refresh reuse, refusals, a subscription that
opens and ends), bounded operation labels, the bearer token, off by default, and the sum
over the workers of `graphql-app serve --workers 2`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection

from graphql_app.metrics import MAX_OPERATION_NAMES
from graphql_app.settings import Settings

from .conftest import TEST_SECRET, AppRunner, Live, serve, serve_env
from .factories import AUTH_FIELDS, PASSWORD, GraphQLClient
from .test_tokens import resign

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
METRIC_NAMES = {
    "graphql_operations",
    "graphql_operation_duration_seconds",
    "auth_failures",
    "logins",
    "refresh_reuse_detected",
    "active_subscriptions",
}


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels (prometheus-client's own parser)."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def _delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


LOGIN = (
    "mutation Login($u: String!, $p: String!) "
    f"{{ login(username: $u, password: $p) {{ {AUTH_FIELDS} }} }}"
)
REFRESH = "mutation Refresh($t: String!) { refresh(refreshToken: $t) { refreshToken } }"


async def test_metrics_count_real_requests(run_app: AppRunner) -> None:
    async with run_app(metrics=True, refresh_reuse_interval=0) as gql:
        text = (await gql.http.get("/metrics")).text
        families = {family.name for family in text_string_to_metric_families(text)}
        assert families >= METRIC_NAMES
        before = await scrape(gql.http)
        session = await gql.register("metrics_user")
        token = session["accessToken"]
        assert (await gql.execute("query Me { me { id } }", token=token)).data
        now = int(time.time())
        expired = resign(token, iat=now - 3600, nbf=now - 3600, exp=now - 60)
        assert (await gql.execute("query Me { me { id } }", token=expired)).reasons == [
            "TOKEN_EXPIRED"
        ]
        wrong = await gql.execute(LOGIN, {"u": "metrics_user", "p": "wrong password!"})
        assert wrong.reasons == ["BAD_CREDENTIALS"]
        assert (await gql.execute(LOGIN, {"u": "metrics_user", "p": PASSWORD})).data
        refresh_token = session["refreshToken"]
        assert (await gql.execute(REFRESH, {"t": refresh_token})).data
        reused = await gql.execute(REFRESH, {"t": refresh_token})
        assert reused.reasons == ["TOKEN_REVOKED"]
        hash_only = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "c" * 64}}}
        await gql.http.post("/graphql", json={**hash_only, "operationName": "Unseen"})
        after = await scrape(gql.http)

    operations = "graphql_operations_total"
    assert _delta(before, after, operations, operation="Me", outcome="ok") == 1
    assert _delta(before, after, operations, operation="Me", outcome="UNAUTHENTICATED") == 1
    assert _delta(before, after, operations, operation="Login", outcome="ok") == 1
    assert _delta(before, after, operations, operation="Login", outcome="UNAUTHENTICATED") == 1
    assert _delta(before, after, operations, operation="Refresh", outcome="UNAUTHENTICATED") == 1
    # a name sent with a refused request was never parsed: not a label of its own
    assert (
        _delta(before, after, operations, operation="other", outcome="PERSISTED_QUERY_NOT_FOUND")
        == 1
    )
    assert _delta(before, after, "graphql_operation_duration_seconds_count", operation="Me") == 2
    assert _delta(before, after, "auth_failures_total", reason="TOKEN_EXPIRED") == 1
    assert _delta(before, after, "auth_failures_total", reason="BAD_CREDENTIALS") == 1
    assert _delta(before, after, "auth_failures_total", reason="TOKEN_REVOKED") == 1
    assert _delta(before, after, "logins_total", outcome="ok") == 1
    assert _delta(before, after, "logins_total", outcome="BAD_CREDENTIALS") == 1
    assert _delta(before, after, "refresh_reuse_detected_total") == 1


async def test_operation_labels_are_bounded(run_app: AppRunner) -> None:
    async with run_app(metrics=True) as gql:
        before = await scrape(gql.http)
        for i in range(MAX_OPERATION_NAMES + 5):
            await gql.http.post("/graphql", json={"query": f"query Name{i} {{ __typename }}"})
        after = await scrape(gql.http)
    counted = {
        dict(labels)["operation"]
        for (name, labels), _ in after.items()
        if name == "graphql_operations_total" and _delta(before, after, name, **dict(labels))
    }
    assert len(counted) == MAX_OPERATION_NAMES + 1
    assert _delta(before, after, "graphql_operations_total", operation="other", outcome="ok") == 5


async def test_metrics_are_off_by_default_and_need_the_token_when_one_is_set(
    run_app: AppRunner,
) -> None:
    async with run_app() as gql:
        assert (await gql.http.get("/metrics")).status_code == 404
    secret = "a-metrics-token-of-some-length"
    async with run_app(metrics=True, metrics_token=secret) as gql:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": secret}):
            refused = await gql.http.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert secret not in refused.text
        assert value(await scrape(gql.http, secret), "refresh_reuse_detected_total") >= 0


async def test_active_subscriptions_go_up_and_back_down(live_server: Live) -> None:
    async with (
        live_server(metrics=True) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        gql = GraphQLClient(http)
        token = (await gql.register("subscriber"))["accessToken"]
        before = value(await scrape(http), "active_subscriptions")
        async with _subscribed(address, token) as ws:
            assert await _gauge_becomes(http, before + 1)
            await _event_arrives(gql, token, ws)
            await ws.send(json.dumps({"id": "1", "type": "complete"}))  # the client ends it
            assert await _gauge_becomes(http, before)
        async with _subscribed(address, token) as ws:
            assert await _gauge_becomes(http, before + 1)
            await _event_arrives(gql, token, ws)
        assert await _gauge_becomes(http, before)  # the socket closed: its subscription ended


async def _event_arrives(gql: GraphQLClient, token: str, ws: ClientConnection) -> None:
    """The subscription is established (its first event arrived), so ending it now is the
    ordinary case. (Ending one before it is established loses the cancellation: see the
    report of this branch.)"""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # events count from the moment the stream is open
        created = await gql.execute(
            'mutation { createTodo(input: {title: "t"}) { id } }', token=token
        )
        assert created.data
        with contextlib.suppress(TimeoutError):
            message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            assert message["type"] == "next", message
            return
    raise AssertionError("no event reached the subscription")


@contextlib.asynccontextmanager
async def _subscribed(address: str, token: str) -> AsyncIterator[ClientConnection]:
    async with websockets.connect(
        f"ws://{address}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
    ) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = "subscription Changes { todoChanged { kind } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        yield ws


async def _gauge_becomes(http: httpx.AsyncClient, expected: float) -> bool:
    """Poll (the server updates the gauge as it handles the message) for up to 5 s."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if value(await scrape(http), "active_subscriptions") == expected:
            return True
        await asyncio.sleep(0.05)
    return False


# --- two workers -------------------------------------------------------------------------------


def _workers(parent: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
            if int(fields[1]) == parent and b"resource_tracker" not in cmdline:
                children.append(int(stat.parent.name))
    return children


def _multiproc_dir(pid: int) -> Path:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    for entry in environ:
        if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
            return Path(entry.split(b"=", 1)[1].decode())
    raise AssertionError("the worker has no PROMETHEUS_MULTIPROC_DIR")


async def test_two_workers_sum_their_counters(
    tmp_path: Path, mongodb_url: str, db_name: str
) -> None:
    env = serve_env(
        tmp_path,
        MONGODB_URL=mongodb_url,
        MONGODB_DB=db_name,
        JWT_SECRET=TEST_SECRET,
        METRICS="true",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    requests = 0
    async with serve(env, "--workers", "2") as (process, base):
        limits = httpx.Limits(max_keepalive_connections=0)  # a new connection each time
        async with httpx.AsyncClient(base_url=base, limits=limits) as http:
            await _until_both_workers(process)
            workers = _workers(process.pid)
            assert len(workers) == 2
            directory = _multiproc_dir(workers[0])
            assert directory == _multiproc_dir(workers[1])
            # Until both workers have served some (the kernel spreads new connections).
            while requests < 40 or not all(_pings(directory, pid) for pid in workers):
                response = await http.post("/graphql", json={"query": "query Ping { __typename }"})
                assert response.status_code == 200
                requests += 1
                assert requests < 1000, "one worker never got a connection"
            scrapes = [await scrape(http) for _ in range(10)]
        for samples in scrapes:  # whichever worker answered the scrape
            assert (
                value(samples, "graphql_operations_total", operation="Ping", outcome="ok")
                == requests
            )
        per_worker = [_pings(directory, pid) for pid in workers]
    print(f"pings per worker: {per_worker}, summed by every scrape: {requests}")
    assert sum(per_worker) == requests
    assert all(per_worker)
    assert not directory.exists(), "serve leaves no metrics directory behind"


def _pings(directory: Path, pid: int) -> float:
    """One worker's own count, read from its file with prometheus-client's reader."""
    files = [str(path) for path in directory.glob(f"counter_{pid}.db")]
    metrics = MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
    samples: dict[str, Any] = {
        str(sorted(s.labels.items())): s.value
        for metric in metrics
        for s in metric.samples
        if s.name == "graphql_operations_total"
    }
    return float(samples.get(str(sorted({"operation": "Ping", "outcome": "ok"}.items())), 0.0))


async def _until_both_workers(process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    while len(_workers(process.pid)) != 2:
        assert process.returncode is None, "serve exited"
        assert time.monotonic() < deadline, "serve did not start its two workers"
        await asyncio.sleep(0.1)


def test_an_exiting_worker_leaves_no_live_gauge_behind(tmp_path: Path) -> None:
    script = (
        "import os\n"
        "from graphql_app import metrics\n"
        "metrics.ACTIVE_SUBSCRIPTIONS.inc()\n"
        "metrics.REFRESH_REUSE.inc()\n"
        "print(os.getpid())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, check=True, timeout=60
    )
    pid = int(done.stdout)
    assert (tmp_path / f"counter_{pid}.db").exists()  # counts survive the worker
    assert not list(tmp_path.glob(f"gauge_livesum_{pid}.db"))  # its live gauge does not


def test_the_metrics_token_is_a_secret_read_from_a_file_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "metrics_token").write_text("token-from-a-docker-secret\n")
    monkeypatch.setenv("METRICS_TOKEN_FILE", str(tmp_path / "metrics_token"))
    settings = Settings(jwt_secret=TEST_SECRET, metrics=True)
    assert settings.metrics_token is not None
    assert settings.metrics_token.get_secret_value() == "token-from-a-docker-secret"
    assert "token-from" not in repr(settings)
