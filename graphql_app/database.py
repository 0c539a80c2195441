"""The MongoDB client and Beanie initialisation, with every wait bounded.

A database that stops answering must make requests fail quickly and clearly, never hang:
each operation has a deadline (`timeoutMS`, or a request's budget, see `request_budget`),
which covers server selection, the wait for a pooled connection, connecting and the reply
(with a deadline, PyMongo ignores serverSelectionTimeoutMS). An operation that could not
start before its deadline never runs later. The monitor checks the server every second
(PyMongo's default is 10 s), so a frozen server is marked unknown within a few seconds, and
a recovered one known again within about a second.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Any

import pymongo
from beanie import init_beanie
from beanie.exceptions import CollectionWasNotInitialized
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, PyMongoError

from .errors import ServiceUnavailable
from .models import DOCUMENT_MODELS, User

Client = AsyncMongoClient[dict[str, Any]]
log = logging.getLogger(__name__)

HEARTBEAT_MS = 1000
# Also the monitor's reply timeout: a server that accepts connections but does not answer
# (frozen, overloaded) is marked unknown after at most a heartbeat plus twice this.
CONNECT_TIMEOUT_MS = 2000
# While the monitor knows the database is down, a request waits this long at most (time for
# the monitor to look again, twice), rather than its whole budget holding its connection.
OUTAGE_BUDGET = 1.0
RETRY_AFTER = 2  # seconds a client should wait: about two heartbeats


def make_client(url: str, timeout: float = 5.0, **kwargs: Any) -> Client:
    """`timeout`: seconds any one operation may take (DB_TIMEOUT) unless a shorter
    `request_budget` is in force."""
    options: dict[str, Any] = {
        "tz_aware": True,
        "appname": "graphql-app",
        "timeoutMS": int(timeout * 1000),
        "connectTimeoutMS": CONNECT_TIMEOUT_MS,
        "heartbeatFrequencyMS": HEARTBEAT_MS,
        **kwargs,
    }
    return AsyncMongoClient(url, **options)


def request_budget(seconds: float) -> AbstractContextManager[None]:
    """Every database operation inside the block shares this deadline; once it has passed,
    none starts. A ContextVar, so it follows the request into its resolvers' tasks. While
    the database is known to be down, the deadline is OUTAGE_BUDGET: fail fast."""
    return pymongo.timeout(min(seconds, OUTAGE_BUDGET) if _known_down() else seconds)


def _known_down() -> bool:
    """The monitor's latest view: no server to write to (a change of state, never a wait)."""
    try:
        client = User.get_pymongo_collection().database.client
    except CollectionWasNotInitialized:  # no database bound yet (a schema run without one)
        return False
    return not client.topology_description.has_writable_server()


def unavailable(error: BaseException | None) -> ServiceUnavailable | None:
    """The domain error for a database that did not answer in time, could not be reached
    or dropped the connection; None for any other failure (those are bugs)."""
    if not isinstance(error, PyMongoError):
        return None
    if not isinstance(error, ConnectionFailure) and not error.timeout:
        return None
    log.warning("database unavailable", extra={"error": type(error).__name__})
    return ServiceUnavailable(RETRY_AFTER)


async def init_database(client: Client, db_name: str) -> None:
    """Point Beanie at the database and create the indexes of every document."""
    await init_beanie(database=client[db_name], document_models=DOCUMENT_MODELS)


async def ping(client: Client, seconds: float = 2.0) -> bool:
    try:
        with pymongo.timeout(seconds):
            await client.admin.command("ping")
    except Exception:  # any driver failure means "not healthy"
        return False
    return True
