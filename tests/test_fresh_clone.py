"""The README's two commands on a fresh clone, as a newcomer runs them: the tracked files
(`git ls-files`) copied to a new directory; the first command (a new venv, the install,
then `serve`); the second (the test suite, here its Apollo Client test, which must install
its own npm packages). This is a real install, from the network unless pip's cache has
the wheels: about 40 s here; the times are printed in the run's summary."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from .conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
SHELL_TIMEOUT = 900  # seconds: an install on a slow network


def _readme_commands() -> list[str]:
    """The command lines of the README's "Two commands" block."""
    section = (ROOT / "README.md").read_text().split("## Two commands", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    lines = [line.strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _fresh_clone(destination: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (git missing?): a fresh clone is made of `git ls-files`")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


async def _shell(command: str, cwd: Path, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        command,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=SHELL_TIMEOUT)
    text = output.decode()
    assert process.returncode == 0, f"`{command}` failed:\n{text[-4000:]}"
    return text


async def test_the_readme_commands_on_a_fresh_clone(
    tmp_path: Path, report: Callable[[str], None]
) -> None:
    clone = tmp_path / "clone"
    _fresh_clone(clone)
    run_it, test_it = _readme_commands()
    install, serve = run_it.rsplit(" && ", 1)
    assert serve == ".venv/bin/graphql-app serve"
    assert test_it == ".venv/bin/python -m pytest"
    # A newcomer's environment: nothing of this checkout's (PYTHONPATH would import it).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MONGODB_", "JWT_", "APP_", "DATA_DIR", "PYTHON", "VIRTUAL_ENV"))
    }

    started = time.monotonic()
    await _shell(install, clone, env)
    report(f"fresh clone, README install ({install}): {time.monotonic() - started:.0f} s")

    # The rest of the first command; on a free port, since 8000 may be taken here.
    port = free_port()
    out_path = tmp_path / "serve.out"
    with out_path.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *serve.split(), "--port", str(port), cwd=clone, env=env, stdout=out, stderr=out
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                assert process.returncode is None, out_path.read_text()
                assert time.monotonic() < deadline, "serve did not answer /healthz"
                await asyncio.sleep(0.2)
            graphiql = await http.get("/graphql", headers={"Accept": "text/html"})
            assert graphiql.status_code == 200
        assert f"http://127.0.0.1:{port}/graphql" in out_path.read_text()
        assert str((clone / ".data").resolve()) in out_path.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0

    # The second command, on the test that needs what the install does not bring.
    node_test = "tests/test_apollo_client.py"
    started = time.monotonic()
    output = await _shell(f"{test_it} {node_test}", clone, env)
    report(f"fresh clone, README tests ({test_it} {node_test}): {time.monotonic() - started:.0f} s")
    if shutil.which("node") is None:
        assert "node is not installed" in output
    else:
        assert "1 passed" in output
        assert (clone / "tests" / "clients" / "apollo-client" / "node_modules").is_dir()
