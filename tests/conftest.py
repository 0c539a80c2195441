"""Fixtures: one real MongoDB wire-protocol server per session (the embedded one, or
MONGODB_URL), one database per run (dropped at the end), collections emptied per test,
and the real ASGI app driven through httpx."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from graphql_app.app import create_app
from graphql_app.database import make_client
from graphql_app.embedded import embedded_database
from graphql_app.models import DOCUMENT_MODELS
from graphql_app.settings import Settings

from .factories import GraphQLClient

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


@pytest.fixture(scope="session")
async def mongodb_url() -> AsyncIterator[str]:
    url = os.environ.get("MONGODB_URL")
    if url:
        yield url
        return
    async with embedded_database(":memory:", None) as embedded:
        yield embedded


@pytest.fixture(scope="session")
async def db_name(mongodb_url: str) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    client = make_client(mongodb_url)
    await client.drop_database(name)
    await client.close()


@pytest.fixture
def settings_factory(mongodb_url: str, db_name: str, tmp_path: Any) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "mongodb_url": mongodb_url,
            "mongodb_db": db_name,
            "data_dir": tmp_path / "data",
            "jwt_secret": TEST_SECRET,
            "bcrypt_rounds": 4,
            **overrides,
        }
        return Settings(**values)

    return make


AppRunner = Callable[..., contextlib.AbstractAsyncContextManager[GraphQLClient]]


@pytest.fixture
def run_app(settings_factory: Callable[..., Settings]) -> AppRunner:
    """`async with run_app(**settings) as client:` runs an app with its lifespan."""

    @contextlib.asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[GraphQLClient]:
        app = create_app(settings_factory(**overrides))
        async with app.router.lifespan_context(app), _http(app) as http:
            yield GraphQLClient(http)

    return run


@contextlib.asynccontextmanager
async def _http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def client(run_app: AppRunner) -> AsyncIterator[GraphQLClient]:
    async with run_app() as gql:
        yield gql


@pytest.fixture(autouse=True)
async def _clean_collections(mongodb_url: str, db_name: str) -> AsyncIterator[None]:
    yield
    mongo = make_client(mongodb_url)
    try:
        for model in DOCUMENT_MODELS:
            await mongo[db_name][model.Settings.name].delete_many({})  # type: ignore[attr-defined]
    finally:
        await mongo.close()
