"""The batched user lookup behind authentication (graphql_app/auth/user_lookup.py), on the
real database: requests that share a batch each get their own answer, each keeps its own
database deadline, a request cancelled meanwhile takes nobody with it, and a database failure
reaches every request of the batch without breaking the next one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import pymongo
import pytest
from bson import ObjectId
from pymongo import _csot
from pymongo.errors import PyMongoError

from graphql_app.auth.user_lookup import UserLookup

from .factories import GraphQLClient


async def _ids(client: GraphQLClient, *names: str) -> list[ObjectId]:
    return [ObjectId((await client.register(name))["user"]["id"]) for name in names]


async def test_a_batch_answers_each_request_with_its_own_user(client: GraphQLClient) -> None:
    alice, bob = await _ids(client, "alice", "bob")
    lookup = UserLookup()
    found = await asyncio.gather(
        lookup.get(alice), lookup.get(bob), lookup.get(alice), lookup.get(ObjectId())
    )
    assert [raw["username"] if raw else None for raw in found] == ["alice", "bob", "alice", None]


async def test_a_cancelled_request_leaves_the_others_their_answers(
    client: GraphQLClient,
) -> None:
    alice, bob = await _ids(client, "alice", "bob")
    lookup = UserLookup()
    first = asyncio.ensure_future(lookup.get(alice))  # starts the batch
    second = asyncio.ensure_future(lookup.get(bob))  # joins it
    await asyncio.sleep(0)
    first.cancel()
    raw = await second
    assert raw is not None
    assert raw["username"] == "bob"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_database_failure_reaches_each_request_and_the_next_batch_works(
    client: GraphQLClient,
) -> None:
    (alice,) = await _ids(client, "alice")
    lookup = UserLookup()
    with pymongo.timeout(1e-9):  # the deadline has passed before the query could be sent
        failed = await asyncio.gather(
            lookup.get(alice), lookup.get(ObjectId()), return_exceptions=True
        )
    assert all(isinstance(error, PyMongoError) and error.timeout for error in failed)
    raw = await lookup.get(alice)
    assert raw is not None
    assert raw["username"] == "alice"


async def _expired(lookup: UserLookup, user_id: ObjectId) -> Any:
    with pymongo.timeout(1e-9):  # this request's budget is spent
        return await lookup.get(user_id)


@pytest.mark.parametrize("expired_first", [True, False])
async def test_each_request_of_a_batch_keeps_its_own_deadline(
    client: GraphQLClient, expired_first: bool
) -> None:
    """A request whose budget is spent fails with the driver's timeout; the request it
    shares the batch with (first or second in it) gets its user."""
    alice, bob = await _ids(client, "alice", "bob")
    lookup = UserLookup()
    spent: Awaitable[Any] = _expired(lookup, alice)
    fresh: Awaitable[Any] = lookup.get(bob)
    order = [spent, fresh] if expired_first else [fresh, spent]
    results = await asyncio.gather(*order, return_exceptions=True)
    failed, found = (results[0], results[1]) if expired_first else (results[1], results[0])
    assert isinstance(failed, PyMongoError)
    assert failed.timeout
    assert found["username"] == "bob"


def test_the_private_deadline_reader_follows_pymongo_timeout() -> None:
    """user_lookup.py reads a request's deadline with pymongo's private `_csot`."""
    assert _csot.get_deadline() == float("inf")
    with pymongo.timeout(5):
        assert 4 < _csot.get_deadline() - time.monotonic() <= 5
