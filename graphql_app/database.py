"""The MongoDB client and Beanie initialisation."""

from __future__ import annotations

from typing import Any

import pymongo
from beanie import init_beanie
from pymongo import AsyncMongoClient

from .models import DOCUMENT_MODELS

Client = AsyncMongoClient[dict[str, Any]]


def make_client(url: str, **kwargs: Any) -> Client:
    options: dict[str, Any] = {
        "tz_aware": True,
        "serverSelectionTimeoutMS": 5000,
        "appname": "graphql-app",
        **kwargs,
    }
    return AsyncMongoClient(url, **options)


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
