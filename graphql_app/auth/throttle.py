"""Brute-force throttling of logins, shared by every worker through MongoDB.

Two counters per failed login: (username, address) limited to LOGIN_MAX_FAILURES and the
address alone limited to LOGIN_MAX_FAILURES_PER_ADDRESS, each in a window of
LOGIN_WINDOW_SECONDS that starts with its first failure.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from pymongo import ReturnDocument

from ..errors import RateLimited
from ..models import LoginFailures, utcnow


class LoginThrottle:
    def __init__(self, max_failures: int, max_per_address: int, window_seconds: int) -> None:
        self.max_failures = max_failures
        self.max_per_address = max_per_address
        self.window = timedelta(seconds=window_seconds)

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return f"user:{username.lower()}|{address}", f"addr:{address}"

    async def check(self, username: str, address: str) -> None:
        """Raise RateLimited while either counter is at its limit inside its window."""
        now = utcnow()
        pair, addr = self._keys(username, address)
        cursor = LoginFailures.get_pymongo_collection().find(
            {"_id": {"$in": [pair, addr]}, "expires_at": {"$gt": now}}
        )
        async for doc in cursor:
            limit = self.max_failures if doc["_id"] == pair else self.max_per_address
            if doc["failures"] >= limit:
                raise RateLimited(_seconds_until(doc["expires_at"], now))

    async def record_failure(self, username: str, address: str) -> None:
        for key in self._keys(username, address):
            await self._increment(key)

    async def clear(self, username: str, address: str) -> None:
        pair, _ = self._keys(username, address)
        await LoginFailures.get_pymongo_collection().delete_one({"_id": pair})

    async def _increment(self, key: str) -> None:
        now = utcnow()
        collection = LoginFailures.get_pymongo_collection()
        found = await collection.find_one_and_update(
            {"_id": key, "expires_at": {"$gt": now}},
            {"$inc": {"failures": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if found is None:
            # No live window: start one (replacing an expired one the TTL monitor left).
            await collection.replace_one(
                {"_id": key}, {"failures": 1, "expires_at": now + self.window}, upsert=True
            )


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
