"""`graphql-app serve | create-user | unlock | export-schema | export-manifest`.

Every refusal is one line on stderr and exit code 1 (2 for a usage error), never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import getpass
import importlib.metadata
import logging
import logging.config
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from .embedded import EmbeddedDatabaseError
from .logs import logging_config
from .settings import ConfigError, Settings

DATABASE_TIMEOUT = 3.0  # seconds to wait for MONGODB_URL before refusing
DATABASE_ENV = """\
database (environment):
  MONGODB_URL        MongoDB URL (or MONGODB_URL_FILE); unset: the embedded database
                     (in development only)
  MONGODB_DB         database name (default: graphql_app)
  DATA_DIR           embedded database files and the development secret (default: .data)"""
SERVE_ENV = f"""{DATABASE_ENV}
  APP_ENV            development (default) or production
  JWT_SECRET         HS256 key (or JWT_SECRET_FILE); generated in DATA_DIR in development
and every other setting of the README's Configuration table."""


class Refusal(Exception):
    """A command that cannot do what was asked: one line for the user, an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.config.dictConfig(logging_config())
    try:
        settings = Settings()
        command: Callable[[Settings, argparse.Namespace], int] = args.run
        return command(settings, args)
    except (ConfigError, ValidationError) as exc:
        return _refuse(f"configuration error: {_config_message(exc)}", 1)
    except EmbeddedDatabaseError as exc:
        return _refuse(str(exc), 1)
    except Refusal as exc:
        return _refuse(str(exc), exc.code)


def _refuse(message: str, code: int) -> int:
    print(f"graphql-app: {message}", file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    version = importlib.metadata.version("graphql-app")
    parser = argparse.ArgumentParser(
        prog="graphql-app",
        description="A GraphQL API with JWT-authenticated resolvers.",
        epilog="Settings come from environment variables (README: Configuration).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, env: str | None) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=summary, description=summary, epilog=env, formatter_class=_HelpFormatter
        )

    serve = command(
        "serve", "Run the server (and the embedded database without MONGODB_URL).", SERVE_ENV
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (one per core in production)"
    )
    serve.set_defaults(run=_serve_command)

    create = command(
        "create-user",
        "Create a user (or an admin) in the database of a running server, or MONGODB_URL.",
        f"{DATABASE_ENV}\n  BCRYPT_ROUNDS      bcrypt cost (default: 12)",
    )
    create.add_argument("username", help="3 to 32 characters of A-Z a-z 0-9 _ . -")
    create.add_argument("--admin", action="store_true", help="give the user the ADMIN role")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of prompting",
    )
    create.set_defaults(run=_create_user_command)

    unlock = command(
        "unlock",
        "End a login lockout: clear USERNAME's failed logins from every address.",
        DATABASE_ENV,
    )
    unlock.add_argument("username", help="the locked-out username")
    unlock.set_defaults(run=_unlock_command)

    export = command("export-schema", "Print the GraphQL schema (SDL).", None)
    export.set_defaults(run=_export_schema)

    manifest = command(
        "export-manifest",
        "Print the persisted-query manifest of the operations in DIRECTORY (Apollo's format).",
        None,
    )
    manifest.add_argument(
        "directory", nargs="?", default="schema/operations", type=Path, metavar="DIRECTORY"
    )
    manifest.set_defaults(run=_export_manifest)
    return parser


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each option; the environment epilog kept as written."""


def _config_message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
    return str(exc)


# --- serve -----------------------------------------------------------------------------


def _serve_command(settings: Settings, args: argparse.Namespace) -> int:
    from .api.schema import build_schema
    from .auth.keys import load_keyring
    from .embedded import embedded_database_sync

    load_keyring(settings)  # refuse to start on a bad key before anything starts
    if settings.metrics and args.workers > 1:
        _metrics_directory()
    build_schema(settings)  # ... and on a persisted-query manifest that does not validate
    if settings.mongodb_url is not None:
        asyncio.run(_require_database(settings.mongodb_url))
        _print_banner(settings, args, f"MongoDB at {_database_hosts(settings.mongodb_url)}")
        return _serve(settings, args.host, args.port, args.workers)
    # One embedded database for every worker: started here, handed to them by the environment.
    with embedded_database_sync(settings.data_dir) as url:
        os.environ["MONGODB_URL"] = url
        address, files = url.partition("/?")[0], settings.data_dir.resolve() / "db"
        _print_banner(settings, args, f"the embedded one at {address} (files in {files})")
        return _serve(settings, args.host, args.port, args.workers)


def _serve(settings: Settings, host: str, port: int, workers: int) -> int:
    import uvicorn

    from .server import server_options

    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the handler that
    # was there before it; with the default one the process would die by the signal (exit
    # -15) after a clean shutdown. Process managers expect 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        "graphql_app.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(),
        access_log=False,
        **server_options(settings),
    )
    return 0


def _print_banner(settings: Settings, args: argparse.Namespace, database: str) -> None:
    """Once, in plain text: where to go, where the data lives, which database."""
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}/graphql"
    where = f"GraphiQL (in a browser) and the API: {url}"
    if not settings.graphiql_enabled:
        where = f"the API: {url} (GraphiQL off)"
    version = importlib.metadata.version("graphql-app")
    print(
        f"graphql-app {version} ({settings.app_env})\n"
        f"  {where}\n"
        f"  data directory: {settings.data_dir.resolve()}\n"
        f"  database: {settings.mongodb_db} on {database}",
        flush=True,
    )


def _database_hosts(url: str) -> str:
    """The host list of a MongoDB URL, without its credentials."""
    return urlsplit(url).netloc.rpartition("@")[2] or url.partition("://")[0]


async def _require_database(url: str) -> None:
    """Refuse in a few seconds, naming the host, when MONGODB_URL does not answer."""
    from pymongo.errors import ConfigurationError

    from .database import make_client, ping

    try:
        client = make_client(url, DATABASE_TIMEOUT)
    except ConfigurationError:
        raise Refusal("MONGODB_URL is not a valid MongoDB URL") from None
    try:
        if not await ping(client, DATABASE_TIMEOUT):
            raise Refusal(
                f"the database at {_database_hosts(url)} (MONGODB_URL) did not answer within "
                f"{DATABASE_TIMEOUT:.0f} s: is it running and reachable from here?"
            )
    finally:
        await client.close()


# --- create-user, unlock ---------------------------------------------------------------


def _create_user_command(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    return asyncio.run(_create_user(settings, args.username, password, args.admin))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise Refusal("no terminal to prompt for the password: use --password-stdin", 2)
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise Refusal("passwords do not match")
    return first


async def _create_user(settings: Settings, username: str, password: str, admin: bool) -> int:
    from . import users
    from .errors import DomainError
    from .models import Role

    async with _database(settings):
        try:
            roles = [Role.USER, Role.ADMIN] if admin else [Role.USER]
            user = await users.create_user(username, password, settings.bcrypt_rounds, roles)
        except DomainError as exc:
            raise Refusal(exc.message) from None
    print(f"created {'admin' if admin else 'user'} {user.username} ({user.id})")
    return 0


def _unlock_command(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_unlock(settings, args.username))


async def _unlock(settings: Settings, username: str) -> int:
    from .errors import DomainError
    from .services import Services

    auth = Services.build(settings).auth
    async with _database(settings):
        try:
            await auth.unlock(username, None)  # as the unlockUser mutation, event included
        except DomainError as exc:
            raise Refusal(f"{exc.message}: {username.lower()}") from None
    print(f"unlocked {username.lower()}: its failed logins are cleared from every address")
    return 0


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[None]:
    """Beanie on MONGODB_URL, else on the embedded database a running server uses, else on
    our own (which then owns DATA_DIR meanwhile)."""
    from .database import init_database, make_client
    from .embedded import embedded_database, running_url

    async with contextlib.AsyncExitStack() as stack:
        url = settings.mongodb_url or await running_url(settings.data_dir)
        if url is None:
            data_dir = settings.data_dir
            url = await stack.enter_async_context(embedded_database(data_dir / "db", data_dir))
        else:
            await _require_database(url)
        client = make_client(url, settings.db_timeout)
        stack.push_async_callback(client.close)
        await init_database(client, settings.mongodb_db)
        yield


def _export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from .api.schema import build_schema

    print(build_schema(settings).as_str())
    return 0


def _metrics_directory() -> None:
    """Workers sum their metrics through the files of one directory (prometheus-client's
    multiprocess mode), a fresh one unless PROMETHEUS_MULTIPROC_DIR names it; set before
    anything imports prometheus-client, removed at exit."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = tempfile.mkdtemp(prefix="graphql-app-metrics-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


def _export_manifest(_: Settings, args: argparse.Namespace) -> int:
    from .api.manifest import manifest, render

    print(render(manifest(args.directory.glob("*.graphql"))))
    return 0
