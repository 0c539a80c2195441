"""Connections against the production server (`graphql-app serve`: uvloop + httptools, with
graphql_app.server's options): stalled heads and bodies are closed at their deadlines while
`me` keeps answering, heads over MAX_HEADER_BYTES get 431, idle kept-alive sockets are
closed, and beyond MAX_CONNECTIONS new clients get 503 without the process running out of
file descriptors (serve fits its fd limit to MAX_CONNECTIONS, or refuses to start)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from graphql_app.connections import LINGER, REFUSING, UVICORN_VERSION, GuardedHttpToolsProtocol
from graphql_app.server import FD_RESERVE
from graphql_app.settings import Settings

from .conftest import TEST_SECRET, Live, free_port
from .factories import GraphQLClient

SCRIPT = str(Path(sys.executable).with_name("graphql-app"))
TIMEOUT = 3.0  # HTTP_HEADER_TIMEOUT, HTTP_BODY_TIMEOUT and HTTP_KEEPALIVE_TIMEOUT below
SLACK = 3.0  # two shared CPU cores: how late a deadline may fire
HALF_HEAD = b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: appl"
HALF_BODY = (
    b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n" + b'{"query": "{ me'
)
GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"


@dataclass
class Served:
    pid: int
    host: str
    port: int

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
        return int(kib) / 1024

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def nofile_limits(self) -> tuple[int, int]:
        limits = Path(f"/proc/{self.pid}/limits").read_text().splitlines()
        soft, hard = next(line for line in limits if line.startswith("Max open files")).split()[3:5]
        return int(soft), int(hard)

    def loaded_libraries(self) -> str:
        return Path(f"/proc/{self.pid}/maps").read_text()


Serve = Callable[..., contextlib.AbstractAsyncContextManager[Served]]


@pytest.fixture
def serve(mongodb_url: str, db_name: str, tmp_path: Path) -> Serve:
    """`async with serve(nofile=N, **ENV) as served:` a `graphql-app serve` process."""

    @contextlib.asynccontextmanager
    async def run(nofile: tuple[int, int] | None = None, **settings: str) -> AsyncIterator[Served]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "JWT_"))}
        env |= {
            "MONGODB_URL": mongodb_url,
            "MONGODB_DB": db_name,
            "JWT_SECRET": TEST_SECRET,
            "BCRYPT_ROUNDS": "4",
            "DATA_DIR": str(tmp_path / "data"),
            **settings,
        }
        port = free_port()
        with (tmp_path / "serve.log").open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                SCRIPT,
                "serve",
                "--port",
                str(port),
                env=env,
                stdout=log,
                stderr=log,
                # only setrlimit, between fork and exec
                preexec_fn=None if nofile is None else lambda: _set_nofile(nofile),
            )
        try:
            async with httpx.AsyncClient() as http:
                deadline = time.monotonic() + 60
                while True:  # no readiness signal but /healthz itself
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    assert process.returncode is None, (tmp_path / "serve.log").read_text()
                    assert time.monotonic() < deadline, "serve did not answer /healthz"
                    await asyncio.sleep(0.2)
            yield Served(process.pid, "127.0.0.1", port)
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=30)

    return run


def _set_nofile(limits: tuple[int, int]) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def _room_for(sockets: int) -> None:
    """The test process itself must hold `sockets` client sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = sockets + 200
    if soft < needed <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= needed, (soft, hard)


@dataclass
class Stalled:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    since: float


async def _stall(served: Served, sent: bytes) -> Stalled:
    """A socket that sent `sent` and nothing more, and when it connected."""
    since = time.monotonic()
    reader, writer = await asyncio.open_connection(served.host, served.port)
    writer.write(sent)
    await writer.drain()
    return Stalled(reader, writer, since)


async def _until_closed(stalled: Stalled) -> tuple[float, bytes | None]:
    """Seconds until the server closed the socket, and what it answered before (None: reset)."""
    answer: bytes | None
    try:
        answer = await stalled.reader.read()
    except ConnectionError:  # reset (or, while writing, a broken pipe)
        answer = None
    seconds = time.monotonic() - stalled.since
    stalled.writer.close()
    return seconds, answer


async def _latencies(call: Callable[[], Awaitable[None]], until: asyncio.Event) -> list[float]:
    seconds = []
    while not until.is_set():
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return seconds


def _p95_ms(seconds: list[float]) -> float:
    return statistics.quantiles(seconds, n=20)[-1] * 1000


def _timeouts(seconds: float) -> dict[str, str]:
    value = str(seconds)
    return {
        "HTTP_HEADER_TIMEOUT": value,
        "HTTP_BODY_TIMEOUT": value,
        "HTTP_KEEPALIVE_TIMEOUT": value,
    }


async def test_the_server_is_uvloop_and_httptools(serve: Serve) -> None:
    async with serve() as served:
        libraries = served.loaded_libraries()
    assert "/uvloop/loop." in libraries
    assert "/httptools/parser/parser." in libraries


async def test_stalled_heads_and_bodies_are_closed_while_me_answers(serve: Serve) -> None:
    stalled = 300
    _room_for(stalled)
    async with (
        serve(MAX_CONNECTIONS="400", **_timeouts(TIMEOUT)) as served,
        httpx.AsyncClient(base_url=served.base) as http,
    ):
        gql = GraphQLClient(http)
        token = (await gql.register())["accessToken"]

        fds_peak = 0

        async def me() -> None:
            nonlocal fds_peak
            assert (await gql.me(token)).data["me"]["username"] == "alice"
            fds_peak = max(fds_peak, served.open_fds())

        idle_done = asyncio.Event()
        asyncio.get_running_loop().call_later(TIMEOUT, idle_done.set)
        idle = await _latencies(me, idle_done)
        rss_before, fds_before = served.rss_mib(), served.open_fds()

        heads = [await _stall(served, HALF_HEAD) for _ in range(stalled // 2)]
        bodies = [await _stall(served, HALF_BODY) for _ in range(stalled // 2)]
        rss_held = served.rss_mib()
        all_closed = asyncio.Event()
        during_task = asyncio.create_task(_latencies(me, all_closed))
        closes = await asyncio.wait_for(
            asyncio.gather(*(_until_closed(s) for s in heads + bodies)),
            timeout=TIMEOUT + 30,
        )
        all_closed.set()
        during = await during_task
        await me()  # and after
        rss_after, fds_after = served.rss_mib(), served.open_fds()

    head_seconds = [seconds for seconds, _ in closes[: len(heads)]]
    body_seconds = [seconds for seconds, _ in closes[len(heads) :]]
    print(
        f"\n{stalled} stalled sockets ({len(heads)} half heads, {len(bodies)} half bodies), "
        f"timeouts {TIMEOUT:g} s; server fds {fds_before} -> {fds_peak} at most -> {fds_after}"
        f"\nclosed after: heads {min(head_seconds):.2f}..{max(head_seconds):.2f} s, "
        f"bodies {min(body_seconds):.2f}..{max(body_seconds):.2f} s"
        f"\nme p95: idle {_p95_ms(idle):.1f} ms ({len(idle)} calls), "
        f"during {_p95_ms(during):.1f} ms ({len(during)} calls)"
        f"\nserver RSS: {rss_before:.1f} MiB before, {rss_held:.1f} held, {rss_after:.1f} after"
    )
    assert all(TIMEOUT - 0.2 <= s <= TIMEOUT + SLACK for s in head_seconds + body_seconds)
    assert {answer for _, answer in closes[: len(heads)]} == {b""}  # a stalled head: just closed
    for _, answer in closes[len(heads) :]:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ")
        assert json.loads(body)["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert fds_peak >= fds_before + stalled  # the server held them all at once
    assert fds_after <= fds_before + 5
    assert len(during) >= 5
    assert _p95_ms(during) < max(4 * _p95_ms(idle), 250)


async def test_idle_kept_alive_sockets_are_closed(serve: Serve) -> None:
    async with serve(**_timeouts(TIMEOUT)) as served:
        kept = await _stall(served, b"")
        for _ in range(2):  # kept alive between requests sent in time
            kept.writer.write(GET_HEALTHZ)
            assert (await _response(kept.reader)).startswith(b"HTTP/1.1 200 ")
        kept.since = time.monotonic()
        idle_seconds, answer = await _until_closed(kept)
        assert answer == b""

        # A later request's head has its own deadline, from its first byte.
        later = await _stall(served, GET_HEALTHZ)
        assert (await _response(later.reader)).startswith(b"HTTP/1.1 200 ")
        later.writer.write(HALF_HEAD)
        later.since = time.monotonic()
        head_seconds, answer = await _until_closed(later)
        assert answer == b""
    print(
        f"\nidle kept-alive socket closed after {idle_seconds:.2f} s; "
        f"a half second head after {head_seconds:.2f} s (timeouts {TIMEOUT:g} s)"
    )
    assert TIMEOUT - 0.2 <= idle_seconds <= TIMEOUT + SLACK
    assert TIMEOUT - 0.2 <= head_seconds <= TIMEOUT + SLACK


async def test_trickled_heads_and_bodies_meet_the_same_deadline(serve: Serve) -> None:
    """The deadlines are for the whole head and the whole body, not between two bytes."""
    body = b'{"query": "{ __typename }"}'
    post = (
        b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    async with serve(**_timeouts(TIMEOUT)) as served:
        # In pieces but in time: answered.
        in_time = await _stall(served, post + body[:10])
        await asyncio.sleep(TIMEOUT / 2)  # the client's pause, within the deadline
        in_time.writer.write(body[10:])
        assert (await _response(in_time.reader)).startswith(b"HTTP/1.1 200 ")
        in_time.writer.close()

        head = await _stall(served, b"GET /healthz HTTP/1.1\r\n")
        slow_body = await _stall(served, post.replace(b"%d" % len(body), b"1000"))
        trickles = [
            asyncio.create_task(_trickle(stalled, b"X-Slow: " + b"x" * 1000))
            for stalled in (head, slow_body)
        ]
        (head_seconds, head_answer), (body_seconds, body_answer) = await asyncio.wait_for(
            asyncio.gather(_until_closed(head), _until_closed(slow_body)), TIMEOUT + 30
        )
        for trickle in trickles:
            trickle.cancel()
    print(
        f"\none byte every 0.25 s: head closed after {head_seconds:.2f} s, "
        f"body after {body_seconds:.2f} s (timeouts {TIMEOUT:g} s)"
    )
    assert TIMEOUT - 0.2 <= head_seconds <= TIMEOUT + SLACK
    assert TIMEOUT - 0.2 <= body_seconds <= TIMEOUT + SLACK
    assert head_answer in (b"", None)
    assert body_answer is None or body_answer.startswith(b"HTTP/1.1 408 ")


async def test_request_heads_over_max_header_bytes_get_431(serve: Serve) -> None:
    limit = 16384
    async with serve(MAX_HEADER_BYTES=str(limit)) as served:
        rss_before = served.rss_mib()
        within = await _stall(served, _get_with_header(limit - 100))
        assert (await _response(within.reader)).startswith(b"HTTP/1.1 200 ")
        within.writer.close()

        over = await _stall(served, _get_with_header(1024 * 1024))
        _, answer = await asyncio.wait_for(_until_closed(over), 30)

        huge = await _stall(served, b"")  # 64 MiB, as fast as it goes: never buffered
        huge.writer.write(_get_with_header(64 * 1024 * 1024))
        with contextlib.suppress(ConnectionError):  # the server stops reading
            await huge.writer.drain()
        seconds, _ = await asyncio.wait_for(_until_closed(huge), 30)
        rss_after = served.rss_mib()
    print(
        f"\n1 MiB head: 431; 64 MiB head: closed after {seconds:.2f} s; server RSS "
        f"{rss_before:.1f} -> {rss_after:.1f} MiB"
    )
    assert answer is not None
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert rss_after - rss_before < 16


def _get_with_header(size: int) -> bytes:
    return b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: " + b"x" * size + b"\r\n\r\n"


async def _trickle(stalled: Stalled, data: bytes) -> None:
    for byte in data:
        await asyncio.sleep(0.25)
        stalled.writer.write(bytes([byte]))


async def _response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


async def test_beyond_max_connections_503_then_healthz_recovers(serve: Serve) -> None:
    """The issue's 1,000 stalled sockets against a server under `ulimit -n 1024` with the
    default MAX_CONNECTIONS."""
    attempted = 1000
    _room_for(attempted)
    cap = Settings.model_fields["max_connections"].default
    async with (
        serve(nofile=(1024, 1024), HTTP_HEADER_TIMEOUT="8") as served,
        httpx.AsyncClient(base_url=served.base) as http,
    ):
        stalled = [await _stall(served, HALF_HEAD) for _ in range(attempted)]
        closing = [asyncio.create_task(_until_closed(s)) for s in stalled]
        excess = []  # answered 503 (beyond REFUSING at once: closed unanswered), closed first
        for next_closed in asyncio.as_completed(closing, timeout=60):
            excess.append(await next_closed)
            if len(excess) == attempted - cap:
                break
        fds_held = served.open_fds()
        refused = await http.get("/healthz")  # no refused socket lingers now: a clean 503
        held = await asyncio.wait_for(asyncio.gather(*closing), timeout=60)
        held = [close for close in held if close not in excess]
        deadline = time.monotonic() + 10
        while (recovered := await http.get("/healthz")).status_code != 200:
            # the server closed them; it forgets each one a loop iteration later
            assert time.monotonic() < deadline, recovered.text
            await asyncio.sleep(0.05)
    answered_503 = [s for s, answer in excess if answer and answer.startswith(b"HTTP/1.1 503 ")]
    unanswered = [s for s, answer in excess if not answer]  # reset, or closed
    print(
        f"\n{attempted} stalled sockets, MAX_CONNECTIONS {cap}, ulimit -n 1024: "
        f"server fds {fds_held}; {len(held)} held, closed after "
        f"{min(s for s, _ in held):.2f}..{max(s for s, _ in held):.2f} s; "
        f"{len(answered_503)} answered 503 and {len(unanswered)} closed unanswered, all within "
        f"{max(s for s, _ in excess):.2f} s"
    )
    assert len(answered_503) >= REFUSING
    assert len(answered_503) + len(unanswered) == attempted - cap
    assert all(s <= LINGER + SLACK for s, _ in excess)
    assert {answer for _, answer in held} == {b""}
    assert all(8 - 0.2 <= s <= 8 + SLACK for s, _ in held)
    assert cap <= fds_held < 1024
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "server" not in refused.headers
    assert recovered.json() == {"status": "ok"}


async def test_serve_refuses_a_cap_above_the_file_descriptor_limit(
    mongodb_url: str, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        SCRIPT,
        "serve",
        "--port",
        str(free_port()),
        env={**os.environ, "MONGODB_URL": mongodb_url, "DATA_DIR": str(tmp_path)},
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=lambda: _set_nofile((512, 512)),  # only setrlimit, between fork and exec
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    assert "MAX_CONNECTIONS=800 needs 1000 file descriptors" in err.decode()


async def test_serve_raises_a_low_soft_file_descriptor_limit(serve: Serve) -> None:
    async with serve(nofile=(512, 4096)) as served:
        limits = served.nofile_limits()
    assert limits == (Settings.model_fields["max_connections"].default + FD_RESERVE, 4096)


async def test_the_live_server_fixture_runs_the_same_options(live_server: Live) -> None:
    async with live_server(http_header_timeout=0.5) as address:
        host, port = address.split(":")
        stalled = await _stall(Served(os.getpid(), host, int(port)), HALF_HEAD)
        seconds, answer = await asyncio.wait_for(_until_closed(stalled), 10)
    assert answer == b""
    assert 0.3 <= seconds <= 0.5 + SLACK


def test_uvicorn_is_the_version_the_protocol_extends() -> None:
    """GuardedHttpToolsProtocol overrides uvicorn internals: another uvicorn must be reread."""
    assert uvicorn.__version__ == UVICORN_VERSION, (
        f"uvicorn {uvicorn.__version__}: recheck graphql_app/connections.py against its "
        "protocols/http/httptools_impl.py, then update UVICORN_VERSION"
    )
    for name in ("connection_made", "connection_lost", "on_message_begin", "on_headers_complete"):
        assert name in vars(HttpToolsProtocol)
        assert name in vars(GuardedHttpToolsProtocol)
