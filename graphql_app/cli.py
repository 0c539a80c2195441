"""`graphql-app serve | create-user | export-schema`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import logging.config
import signal
import sys
from collections.abc import AsyncIterator, Sequence

from pydantic import ValidationError

from .logs import logging_config
from .settings import ConfigError, Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="graphql-app")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    create = commands.add_parser("create-user", help="create a user (or an admin)")
    create.add_argument("username")
    create.add_argument("--admin", action="store_true")
    create.add_argument("--password-stdin", action="store_true")
    commands.add_parser("export-schema", help="print the SDL")
    args = parser.parse_args(argv)

    logging.config.dictConfig(logging_config())
    try:
        settings = Settings()
        if args.command == "serve":
            return _serve(settings, args.host, args.port, args.workers)
        if args.command == "create-user":
            password = _read_password(args.password_stdin)
            return asyncio.run(_create_user(settings, args.username, password, args.admin))
        return _export_schema(settings)
    except (ConfigError, ValidationError) as exc:
        print(f"graphql-app: configuration error: {_config_message(exc)}", file=sys.stderr)
        return 1


def _config_message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
    return str(exc)


def _serve(settings: Settings, host: str, port: int, workers: int) -> int:
    import uvicorn

    from .auth.keys import load_keyring
    from .server import server_options

    load_keyring(settings)  # refuse to start on a bad key before binding the port
    if workers > 1 and settings.mongodb_url is None:
        raise ConfigError("--workers > 1 needs MONGODB_URL (the embedded database is per process)")
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


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise SystemExit("graphql-app: passwords do not match")
    return first


async def _create_user(settings: Settings, username: str, password: str, admin: bool) -> int:
    from . import users
    from .database import init_database, make_client
    from .errors import DomainError
    from .models import Role

    async with _database_url(settings) as url:
        client = make_client(url, settings.db_timeout)
        try:
            await init_database(client, settings.mongodb_db)
            roles = [Role.USER, Role.ADMIN] if admin else [Role.USER]
            user = await users.create_user(username, password, settings.bcrypt_rounds, roles)
        except DomainError as exc:
            print(f"graphql-app: {exc.message}", file=sys.stderr)
            return 1
        finally:
            await client.close()
    print(f"created {'admin' if admin else 'user'} {user.username} ({user.id})")
    return 0


@contextlib.asynccontextmanager
async def _database_url(settings: Settings) -> AsyncIterator[str]:
    """MONGODB_URL, else the embedded database a running server uses, else our own."""
    from .embedded import embedded_database, running_url

    url = settings.mongodb_url or await running_url(settings.data_dir)
    if url is not None:
        yield url
        return
    async with embedded_database(settings.data_dir / "db", None) as own:
        yield own


def _export_schema(settings: Settings) -> int:
    from .api.schema import build_schema

    print(build_schema(settings).as_str())
    return 0
