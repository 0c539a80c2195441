"""Benchmark: the app's CPU time per request, ours against Strawberry, Apollo Server and Yoga.

    .venv/bin/python bench/run.py [--duration 10] [--rounds 3] [--quick] [--full]

Needs `wrk`, `taskset`, Node 20 and `npm ci` in bench/peers/apollo and bench/peers/yoga.
Starts the embedded database and the servers, each app pinned to core 0 (the database and
wrk on core 1): ours as production runs it (`graphql-app serve`, APP_ENV=production, its
log lines to a file), Strawberry as its docs show (bench/peers/strawberry_docs.py), Apollo
Server 5 and GraphQL Yoga 5 (bench/peers/apollo, bench/peers/yoga). Seeds a user with 25
todos through ours; every peer verifies the token ours issued and reads the same documents,
and answers the same `data` (checked before measuring). Then, round after round, every
scenario on every server in turn with `wrk -t1 -c32`, refusing to measure while others use
the machine. The figure that counts is the app's CPU time per request: utime + stime of
its process tree (all threads) from /proc over the run, divided by the requests served.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import httpx
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
HZ = os.sysconf("SC_CLK_TCK")
SECRET = "benchmark-secret-that-is-long-enough-0123456789"
PASSWORD = "benchmark password"
ME = "query Me { me { id username } }"
USERS = 32  # callers of the me-users scenario: as many as wrk's connections
TODOS = (
    "query Todos { todos(first: 20) { edges { node { id title done } }"
    " pageInfo { hasNextPage endCursor } } }"
)
NAIVE = "query Todos { todos }"  # the naive peer's field: three constant strings
LOGIN = f'mutation Login {{ login(username: "bench", password: "{PASSWORD}") {{ accessToken }} }}'
OPS = ("insert", "query", "update", "delete", "getmore", "command")
RETRIES = 2  # re-runs of a measurement that others disturbed


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


@dataclass
class Sample:
    """One wrk run and what it cost."""

    run: Run
    app_us: float  # the app's CPU per request
    db_us: float  # the database's CPU per request
    db_ops: float  # database operations per request
    others: float  # cores others used during the run
    app_load: float  # the app's share of its core during the run
    speed: float  # the core 0 speed check just before the run (µs; lower is faster)


@dataclass
class Server:
    name: str
    label: str
    command: list[str]
    graphql: str  # path of the endpoint
    ready: str  # a path answering < 500 once up
    env: dict[str, str] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)  # scenario -> document
    own_token: bool = False  # the naive peer signs its own tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the server exited:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def pinned(core: str, *args: str) -> list[str]:
    return ["taskset", "-c", core, *args]


def uvicorn(app: str, port: int, app_dir: Path, *extra: str) -> list[str]:
    """A peer as its docs start it: uvicorn (uvloop and httptools when installed, as here)."""
    return pinned(
        "0", str(BIN / "python"), "-m", "uvicorn", app, "--app-dir", str(app_dir),
        "--port", str(port), "--no-access-log", "--log-level", "warning", *extra,
    )  # fmt: skip


def servers() -> dict[str, Server]:
    """Every server the script knows; `--servers` picks some (ours always runs: it seeds)."""
    both = {"me": ME, "todos": TODOS, "me-users": ME}
    node_env = {"NODE_ENV": "production", "JWT_SECRET": SECRET}
    known = [
        Server(
            "ours",
            "ours (graphql-app serve, production)",
            ["graphql-app", "serve", "--port", "{port}"],
            "/graphql",
            "/healthz",
            queries=both,
        ),
        Server(
            "strawberry",
            "Strawberry as its docs show",
            ["uvicorn", "strawberry_docs:app", str(BENCH / "peers")],
            "/graphql",
            "/graphql",
            queries=both,
        ),
        Server(
            "apollo",
            "Apollo Server 5 (Node)",
            ["node", str(BENCH / "peers" / "apollo" / "server.mjs")],
            "/",
            "/",
            env=node_env,
            queries=both,
        ),
        Server(
            "yoga",
            "GraphQL Yoga 5 (Node)",
            ["node", str(BENCH / "peers" / "yoga" / "server.mjs")],
            "/graphql",
            "/graphql",
            env=node_env,
            queries=both,
        ),
        Server(
            "naive",
            "naive Strawberry, no database (`{ todos }`)",
            ["uvicorn", "naive_app:app", str(BENCH)],
            "/graphql",
            "/rest/todos",
            queries={"me": NAIVE},
            own_token=True,
        ),
        # Variants of ours, for finding what the deployment changes (see bench/RESULTS.md).
        Server(
            "ours-devnull",
            "ours, log lines to /dev/null",
            ["graphql-app", "serve", "--port", "{port}"],
            "/graphql",
            "/healthz",
            queries=both,
            env={"LOG_TO": "/dev/null"},
        ),
        Server(
            "ours-uvicorn",
            "ours under plain `uvicorn graphql_app.asgi:app`",
            ["uvicorn", "graphql_app.asgi:app", str(ROOT)],
            "/graphql",
            "/healthz",
            queries=both,
        ),
        Server(
            "ours-interpreted",
            "ours, compiled execution off",
            ["graphql-app", "serve", "--port", "{port}"],
            "/graphql",
            "/healthz",
            queries=both,
            env={"COMPILED_EXECUTION": "false"},
        ),
    ]
    return {s.name: s for s in known}


def command_of(server: Server, port: int) -> list[str]:
    kind, *rest = server.command
    if kind == "graphql-app":
        return pinned("0", str(BIN / "graphql-app"), *(a.format(port=port) for a in rest))
    if kind == "uvicorn":
        return uvicorn(rest[0], port, Path(rest[1]))
    return pinned("0", kind, *rest)


# --- CPU accounting from /proc -----------------------------------------------------------


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu(pid: int, *, waited: bool = False) -> float:
    """CPU seconds (user + system, all threads) of a process and its live descendants; with
    `waited`, also of its children that exited and were waited for (cutime, cstime)."""
    children: dict[int, list[int]] = {}
    own: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
        child = int(entry.name)
        children.setdefault(int(fields[1]), []).append(child)
        extra = int(fields[13]) + int(fields[14]) if waited and child == pid else 0
        own[child] = (int(fields[11]) + int(fields[12]) + extra) / HZ
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += own.get(current, 0.0)
        todo.extend(children.get(current, []))
    return total


def machine_busy() -> float:
    """CPU seconds the whole machine spent not idle (steal included: a stolen core is not ours)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / HZ


def ours_cpu() -> float:
    """This script, every process it started (alive or waited for)."""
    return tree_cpu(os.getpid(), waited=True)


def others_during(seconds: float) -> float:
    """Cores used by processes not ours over `seconds`."""
    busy, ours = machine_busy(), ours_cpu()
    time.sleep(seconds)
    return max(0.0, (machine_busy() - busy) - (ours_cpu() - ours)) / seconds


def wait_for_quiet(limit: float, max_wait: float) -> float:
    """Return once others use at most `limit` cores over a second; abort after `max_wait`."""
    deadline = time.monotonic() + max_wait
    checks = 0
    while True:
        others = others_during(1.0)
        if others <= limit:
            return others
        if time.monotonic() > deadline:
            raise SystemExit(
                f"the machine stays busy: others used {others:.2f} cores (limit {limit:.2f})"
                f" for {max_wait:.0f} s; not measuring. Retry when it is idle, or raise"
                " --max-others / --max-wait."
            )
        if checks % 10 == 0:
            print(f"    busy: others use {others:.2f} cores; waiting", flush=True)
        checks += 1
        time.sleep(2)


def calibrate() -> float:
    """CPU µs of a fixed pure-Python loop on core 0 (its thread's CPU time, so waiting for the
    core does not count): how fast the core runs right now. The VM's speed moves between
    sessions; compare figures within one run only."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        times = []
        for _ in range(5):
            started = time.thread_time()
            total = 0
            for i in range(100_000):
                total += i * i % 7
            times.append(time.thread_time() - started)
        return min(times) * 1e6
    finally:
        os.sched_setaffinity(0, before)


# --- wrk -----------------------------------------------------------------------------------


def _ms(value: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if found is None:
        raise SystemExit(f"wrk printed a latency this script cannot read: {value!r}")
    number, unit = found.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(
    url: str, body: str | None, token: str | list[str] | None, seconds: int, connections: int
) -> Run:
    """`token`: one for every request, or a list that requests take in turn."""
    lines = [f"wrk.method = {json.dumps('POST' if body else 'GET')}"]
    if body is not None:
        lines += [
            f"wrk.body = {json.dumps(json.dumps({'query': body}))}",
            'wrk.headers["Content-Type"] = "application/json"',
        ]
    if isinstance(token, str):
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    elif token:
        listed = ", ".join(json.dumps(f"Bearer {t}") for t in token)
        lines += [
            f"local tokens = {{{listed}}}",
            "local turn = 0",
            "request = function()",
            "  turn = turn % #tokens + 1",
            '  wrk.headers["Authorization"] = tokens[turn]',
            "  return wrk.format()",
            "end",
        ]
    script = "\n".join(lines) + "\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    command = pinned("1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s")
    try:
        done = subprocess.run(
            [*command, "--latency", "-s", lua.name, url], capture_output=True, text=True, check=True
        )
    finally:
        os.unlink(lua.name)
    out = done.stdout
    if "Requests/sec" not in out or "Latency Distribution" not in out:
        raise SystemExit(f"wrk gave no figures for {url}:\n{out}{done.stderr}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Anchored: "Thread Stats" also prints percentages (a "+/- Stdev" of 71.50%, say).
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    return Run(rps, p50, p99, requests, errors)


def opcount(mongo: MongoClient[dict[str, Any]]) -> int:
    counters = mongo.admin.command("serverStatus")["opcounters"]
    return sum(int(counters[name]) for name in OPS)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seed(base: str) -> str:
    def gql(query: str, token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(f"{base}/graphql", json={"query": query}, headers=headers, timeout=30)
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        return body

    gql(
        f'mutation {{ register(input: {{username: "bench", password: "{PASSWORD}"}})'
        " { accessToken } }"
    )
    token: str = gql(LOGIN)["data"]["login"]["accessToken"]
    for i in range(25):
        gql(f'mutation {{ createTodo(input: {{title: "todo {i}"}}) {{ id }} }}', token)
    return token


def seed_users(base: str, count: int) -> list[str]:
    """`count` more users (no todos), each with an access token: `me` by many callers."""
    tokens = []
    for i in range(count):
        response = httpx.post(
            f"{base}/graphql",
            json={
                "query": "mutation($u: String!, $p: String!) {"
                " register(input: {username: $u, password: $p}) { accessToken } }",
                "variables": {"u": f"bench-user-{i}", "p": PASSWORD},
            },
            timeout=30,
        )
        tokens.append(response.json()["data"]["register"]["accessToken"])
    return tokens


def answer(url: str, query: str, token: str) -> Any:
    response = httpx.post(
        url, json={"query": query}, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise SystemExit(f"{url} answered {response.status_code}: {body}")
    return body["data"]


def single_core_hash_rate(rounds: int) -> float:
    hashed = bcrypt.hashpw(b"x" * 40, bcrypt.gensalt(rounds))
    started = time.perf_counter()
    n = 3
    for _ in range(n):
        bcrypt.checkpw(b"x" * 40, hashed)
    return n / (time.perf_counter() - started)


@dataclass
class Bench:
    """What every measurement needs."""

    mongo: MongoClient[dict[str, Any]]
    db_pid: int
    seconds: int
    connections: int
    max_others: float
    max_wait: float
    background: float = 0.0  # database operations per second with every server idle
    disturbed: list[str] = field(default_factory=list)

    def measure(
        self, label: str, pid: int, url: str, body: str | None, token: str | list[str]
    ) -> Sample:
        """One wrk run on a quiet machine; re-run (bounded) when others disturbed it, then
        keep the least disturbed attempt."""
        attempts: list[Sample] = []
        for attempt in range(RETRIES + 1):
            wait_for_quiet(self.max_others, self.max_wait)
            speed = calibrate()
            ops, app, db = opcount(self.mongo), tree_cpu(pid), tree_cpu(self.db_pid)
            busy, ours = machine_busy(), ours_cpu()
            started = time.monotonic()
            run = wrk(url, body, token, self.seconds, self.connections)
            elapsed = time.monotonic() - started
            others = max(0.0, (machine_busy() - busy) - (ours_cpu() - ours)) / elapsed
            app_s, db_s = tree_cpu(pid) - app, tree_cpu(self.db_pid) - db
            spent = opcount(self.mongo) - ops - 1 - self.background * elapsed
            n = max(run.requests, 1)
            sample = Sample(
                run,
                app_s / n * 1e6,
                db_s / n * 1e6,
                max(spent, 0) / n,
                others,
                app_s / elapsed,
                speed,
            )
            if others <= self.max_others:
                return sample
            attempts.append(sample)
            note = f"{label}: others used {others:.2f} cores during the run"
            if attempt < RETRIES:
                print(f"    {note}: measuring again", flush=True)
                self.disturbed.append(f"{note} (re-run)")
        kept = min(attempts, key=lambda x: x.others)
        note = f"{label}: kept the least disturbed of {RETRIES + 1} runs ({kept.others:.2f} cores)"
        print(f"    {note}", flush=True)
        self.disturbed.append(note)
        return kept


def main() -> int:  # one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="3 s runs, 1 round")
    parser.add_argument(
        "--full", action="store_true", help="also ours with a bad token, and logins under load"
    )
    parser.add_argument(
        "--servers",
        default="ours,strawberry,apollo,yoga",
        help="comma-separated, from: ours, strawberry, apollo, yoga, naive (no database),"
        " ours-devnull, ours-uvicorn, ours-interpreted (ours started otherwise)",
    )
    parser.add_argument(
        "--scenarios",
        default="me,todos,me-users",
        help=f"comma-separated: me, todos, me-users (`me` by {USERS} users in turn)",
    )
    parser.add_argument(
        "--max-others",
        type=float,
        default=0.15,
        help="cores others may use before and during a run (steal included)",
    )
    parser.add_argument("--max-wait", type=float, default=180, help="seconds to wait for quiet")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of this script and all it starts (negative, as root: others' processes"
        " yield the cores to the benchmark on a shared machine)",
    )
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)  # inherited by the database, the servers and wrk
    seconds, rounds = (3, 1) if args.quick else (args.duration, args.rounds)

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    db_port = free_port()
    db_url = f"mongodb://127.0.0.1:{db_port}/?directConnection=true"
    env = {
        **os.environ,
        "APP_ENV": "production",
        "MONGODB_URL": db_url,
        "MONGODB_DB": "bench",
        "JWT_SECRET": SECRET,
        "ACCESS_TOKEN_TTL": "21600",  # the whole run on one token
        "BCRYPT_ROUNDS": "12",
        "LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
        "DATA_DIR": str(tmp),
    }
    known = servers()
    chosen = [known[n] for n in dict.fromkeys(["ours", *args.servers.split(",")])]
    scenarios = args.scenarios.split(",")
    db_args = [
        *pinned("1", str(BIN / "secantusd-py")), "--host", "127.0.0.1", "--port", str(db_port),
        "--storage-path", ":memory:", "--log-level", "WARNING",
    ]  # fmt: skip
    ports = {s.name: free_port() for s in chosen}
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(process(db_args, env, tmp / "db.log"))
        procs: dict[str, subprocess.Popen[bytes]] = {}
        logs = {s.name: Path(s.env.get("LOG_TO", tmp / f"{s.name}.log")) for s in chosen}
        for s in chosen:
            s_env = {**env, **s.env, "PORT": str(ports[s.name])}
            command = command_of(s, ports[s.name])
            procs[s.name] = stack.enter_context(process(command, s_env, logs[s.name]))
        for s in chosen:
            url = f"http://127.0.0.1:{ports[s.name]}{s.ready}"
            wait_http(url, procs[s.name], logs[s.name])
        base = f"http://127.0.0.1:{ports['ours']}"
        token = seed(base)
        many = seed_users(base, USERS) if "me-users" in scenarios else []
        sys.path.insert(0, str(BENCH))
        from naive_app import token as naive_token

        tokens = {s.name: naive_token() if s.own_token else token for s in chosen}
        urls = {s.name: f"http://127.0.0.1:{ports[s.name]}{s.graphql}" for s in chosen}

        # Same answers, or the comparison means nothing.
        for scenario in scenarios:
            if scenario == "me-users":
                continue  # `me` of other users: checked with `me`
            expected = answer(urls["ours"], known["ours"].queries[scenario], token)
            for s in chosen:
                if scenario in s.queries and not s.own_token:
                    got = answer(urls[s.name], s.queries[scenario], tokens[s.name])
                    if got != expected:
                        raise SystemExit(
                            f"{s.name} answers {scenario} otherwise:\n{got}\n{expected}"
                        )
        print(f"same data from {', '.join(s.name for s in chosen if not s.own_token)}")

        mongo: MongoClient[dict[str, Any]] = MongoClient(db_url)
        bench = Bench(mongo, db.pid, seconds, args.connections, args.max_others, args.max_wait)
        cases = [(s, sc) for sc in scenarios for s in chosen if sc in s.queries]
        if args.full:
            cases.append((known["ours"], "me, bad token"))
        print(f"warming up, then {rounds} round(s) of {seconds} s per case", flush=True)

        def token_of(s: Server, scenario: str) -> str | list[str]:
            if scenario == "me, bad token":
                return token[:-4] + "AAAA"
            return many if scenario == "me-users" and not s.own_token else tokens[s.name]

        for s, scenario in cases:
            query = s.queries.get(scenario, ME)
            wrk(urls[s.name], query, token_of(s, scenario), 2, args.connections)
        idle = opcount(mongo)
        time.sleep(3)
        bench.background = (opcount(mongo) - idle - 1) / 3  # driver heartbeats, per second
        samples: dict[tuple[str, str], list[Sample]] = {(s.name, sc): [] for s, sc in cases}
        speed: list[float] = []
        for round_ in range(rounds):
            speed.append(calibrate())
            print(f"round {round_ + 1} (core 0 speed check: {speed[-1]:.0f} µs)", flush=True)
            for s, scenario in cases:
                tok = token_of(s, scenario)
                query = s.queries.get(scenario, ME)
                label = f"{s.name} {scenario}"
                sample = bench.measure(label, procs[s.name].pid, urls[s.name], query, tok)
                samples[(s.name, scenario)].append(sample)
                print(
                    f"  {label}: {sample.app_us:.0f} µs/request, {sample.run.rps:.0f} req/s,"
                    f" app at {sample.app_load:.0%} of its core (others {sample.others:.2f} cores,"
                    f" speed check {sample.speed:.0f} µs)",
                    flush=True,
                )

        memory = rss_mb(procs["ours"].pid)
        login_rows: list[tuple[str, Run]] = []
        if args.full:
            login_rows = logins_under_load(procs["ours"].pid, urls["ours"], token, bench)
        traceback_lines = (tmp / "ours.log").read_text().count("Traceback")
        mongo.close()

    print_table(known, samples, scenarios, login_rows)
    print(f"\nours: resident memory after the load {memory:.1f} MB;"
          f" {traceback_lines} 'Traceback' in its log")  # fmt: skip
    print(
        f"core 0 speed check per round (lower is faster): {', '.join(f'{v:.0f}' for v in speed)} µs"
    )
    if bench.disturbed:
        print("\nruns others disturbed:\n" + "\n".join(f"- {d}" for d in bench.disturbed))
    errors = sum(x.run.errors for runs in samples.values() for x in runs)
    print(f"\nnon-2xx answers during the runs: {errors}; logs in {tmp}")
    return 0


def logins_under_load(pid: int, url: str, token: str, bench: Bench) -> list[tuple[str, Run]]:
    """4 clients logging in while `me` runs; ours may use both cores here, since bcrypt in
    worker threads is what this shows (so it runs last: ours stays unpinned)."""
    subprocess.run(["taskset", "-a", "-p", "-c", "0,1", str(pid)], check=True,
                   capture_output=True)  # fmt: skip
    wait_for_quiet(bench.max_others, bench.max_wait)
    box: dict[str, Run] = {}
    seconds = bench.seconds
    thread = threading.Thread(
        target=lambda: box.setdefault("run", wrk(url, LOGIN, None, seconds + 2, 4))
    )
    thread.start()
    time.sleep(1)
    under_login = wrk(url, ME, token, seconds, bench.connections)
    thread.join()
    rate = single_core_hash_rate(12)
    return [
        ("me while 4 clients log in (cost 12)", under_login),
        (f"login, 4 clients (one core hashes {rate:.1f}/s)", box["run"]),
    ]


def print_table(
    known: dict[str, Server],
    samples: dict[tuple[str, str], list[Sample]],
    scenarios: list[str],
    login_rows: list[tuple[str, Run]],
) -> None:
    def med(values: Callable[[Sample], float], key: tuple[str, str]) -> float:
        return statistics.median(values(x) for x in samples[key])

    print(
        "\n| server | scenario | app CPU µs/request | req/s | p50 ms | p99 ms"
        " | DB ops/req | DB CPU µs/req | app core use | speed check µs |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, scenario in samples:
        key = (name, scenario)
        shown = "`{ todos }`, no database" if known[name].own_token else scenario
        print(
            f"| {known[name].label} | {shown} | {med(lambda x: x.app_us, key):,.0f}"
            f" | {med(lambda x: x.run.rps, key):,.0f} | {med(lambda x: x.run.p50_ms, key):.1f}"
            f" | {med(lambda x: x.run.p99_ms, key):.1f} | {med(lambda x: x.db_ops, key):.2f}"
            f" | {med(lambda x: x.db_us, key):,.0f} | {med(lambda x: x.app_load, key):.0%}"
            f" | {med(lambda x: x.speed, key):,.0f} |"
        )
    for label, run in login_rows:
        print(
            f"| ours (both cores) | {label} | - | {run.rps:,.1f} | {run.p50_ms:.1f}"
            f" | {run.p99_ms:.1f} | - | - | - | - |"
        )
    print("\nours' app CPU per request against each peer's (< 1.00: ours is cheaper)")
    for scenario in scenarios:
        if ("ours", scenario) not in samples:
            continue
        ours = med(lambda x: x.app_us, ("ours", scenario))
        ratios = [
            f"{name} {ours / med(lambda x: x.app_us, (name, sc)):.2f}x"
            for name, sc in samples
            if sc == scenario and name != "ours"
        ]
        if ratios:
            print(f"  {scenario}: {', '.join(ratios)}")


if __name__ == "__main__":
    raise SystemExit(main())
