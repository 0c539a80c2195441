"""Before/after on live servers: the product of another git revision against this tree.

    .venv/bin/python bench/ab_live.py --before main [--duration 8] [--rounds 3]

Both run as `graphql-app serve` in production mode on core 0 (the source of `--before`
exported with `git archive`, and this tree, each through PYTHONPATH), sharing one embedded
database on core 1 (a database name each); `wrk -t1 -c32` on core 1 alternates between
them over the rounds. Prints, per request: the app's CPU (utime+stime of its process, all
threads), the database's CPU, database operations, and req/s; then the medians. Uses the
helpers of bench/run.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # bench/run.py, found through the line above

SCENARIOS = {"me": bench.ME, "todos(first: 20)": bench.TODOS}


def export(revision: str, into: Path) -> Path:
    """The graphql_app package of `revision`, under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(bench.ROOT), "archive", revision, "graphql_app"],  # git from PATH
        capture_output=True,
        check=True,
    ).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--before", required=True, help="a git revision, e.g. main")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ab-live-"))
    trees = {"before": export(args.before, tmp / "before"), "after": bench.ROOT}
    db_port = bench.free_port()
    db_url = f"mongodb://127.0.0.1:{db_port}/?directConnection=true"
    env = {
        **os.environ,
        "APP_ENV": "production",
        "MONGODB_URL": db_url,
        "JWT_SECRET": bench.SECRET,
        "BCRYPT_ROUNDS": "4",  # logins are not measured here
        "LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
    }
    db_args = [
        "taskset", "-c", "1", str(bench.BIN / "secantusd-py"), "--host", "127.0.0.1",
        "--port", str(db_port), "--storage-path", ":memory:", "--log-level", "WARNING",
    ]  # fmt: skip
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(bench.process(db_args, env, tmp / "db.log"))
        apps: dict[str, tuple[Any, str]] = {}
        for name, tree in trees.items():
            port = bench.free_port()
            app_env = {
                **env,
                "PYTHONPATH": str(tree),
                "MONGODB_DB": f"ab_{name}",
                "DATA_DIR": str(tmp / f"data-{name}"),
            }
            command = bench.product_command(port)
            app = stack.enter_context(bench.process(command, app_env, tmp / f"{name}.log"))
            apps[name] = (app, f"http://127.0.0.1:{port}")
        tokens = {}
        for name, (_, base) in apps.items():
            bench.wait_http(f"{base}/healthz")
            tokens[name] = bench.seed(base)
            for query in SCENARIOS.values():  # warm up
                bench.wrk(f"{base}/graphql", query, tokens[name], 2, 32)
        mongo: MongoClient[dict[str, Any]] = MongoClient(db_url)
        rows: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
        for round_ in range(args.rounds):
            for scenario, query in SCENARIOS.items():
                for name, (app, base) in apps.items():
                    ops = bench.opcount(mongo)
                    cpu = bench.cpu_seconds(app.pid), bench.cpu_seconds(db.pid)
                    done = bench.wrk(f"{base}/graphql", query, tokens[name], args.duration, 32)
                    n = max(done.requests, 1)
                    row = (
                        (bench.cpu_seconds(app.pid) - cpu[0]) / n * 1e6,
                        (bench.cpu_seconds(db.pid) - cpu[1]) / n * 1e6,
                        (bench.opcount(mongo) - ops - 1) / n,
                        done.rps,
                    )
                    rows.setdefault((scenario, name), []).append(row)
                    print(f"round {round_ + 1} {scenario:<16} {name:<6} {_text(row)}", flush=True)
        mongo.close()
    print(f"medians over {args.rounds} rounds (before: {args.before}):")
    for (scenario, name), runs in rows.items():
        medians = tuple(statistics.median(run[i] for run in runs) for i in range(4))
        print(f"  {scenario:<16} {name:<6} {_text(medians)}")
    for name in trees:
        tracebacks = (tmp / f"{name}.log").read_text().count("Traceback")
        print(f"{name}: {tracebacks} traceback(s) logged")


def _text(row: tuple[float, ...]) -> str:
    app, db, ops, rps = row
    return f"app {app:7.0f} µs/req  DB {db:7.0f} µs/req  ops/req {ops:5.2f}  {rps:6.0f} req/s"


if __name__ == "__main__":
    main()
