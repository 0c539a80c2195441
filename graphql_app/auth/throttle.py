"""Brute-force throttling of logins, shared by every worker through MongoDB.

Two counters per failed login: (username, address) limited to LOGIN_MAX_FAILURES and the
address alone limited to LOGIN_MAX_FAILURES_PER_ADDRESS, each in a window of
LOGIN_WINDOW_SECONDS that starts with its first failure.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

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

    async def record_failure(self, username: str, address: str) -> bool:
        """Count a failed login; True if it just locked this username at this address."""
        pair, addr = self._keys(username, address)
        await hit(addr, self.window)
        count, _ = await hit(pair, self.window)
        return count == self.max_failures

    async def clear(self, username: str, address: str) -> None:
        pair, _ = self._keys(username, address)
        await LoginFailures.get_pymongo_collection().delete_one({"_id": pair})

    async def clear_username(self, username: str) -> None:
        """Lift the username's lockout at every address (an administrator's unlock)."""
        prefix = re.escape(f"user:{username.lower()}|")
        await LoginFailures.get_pymongo_collection().delete_many({"_id": {"$regex": f"^{prefix}"}})


async def hit(key: str, window: timedelta) -> tuple[int, datetime]:
    """Count an attempt of `key` in its live window, or start a window; atomic under
    concurrency. Return the window's count and end (login failures, password-reset requests)."""
    now = utcnow()
    collection = LoginFailures.get_pymongo_collection()
    try:
        counted = await collection.find_one_and_update(
            {"_id": key, "expires_at": {"$gt": now}},
            {"$inc": {"failures": 1}, "$setOnInsert": {"expires_at": now + window}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
    except DuplicateKeyError:
        # An expired window the TTL monitor has not removed yet: restart it, unless a
        # concurrent failure just did, in which case count in that new window.
        counted = await collection.find_one_and_update(
            {"_id": key, "expires_at": {"$lte": now}},
            {"$set": {"failures": 1, "expires_at": now + window}},
            return_document=ReturnDocument.AFTER,
        ) or await collection.find_one_and_update(
            {"_id": key}, {"$inc": {"failures": 1}}, return_document=ReturnDocument.AFTER
        )
    if counted is None:
        return 0, now + window
    return int(counted["failures"]), counted["expires_at"]


async def limit(key: str, window: timedelta, maximum: int) -> None:
    """Count an attempt; RateLimited past `maximum` attempts in the window."""
    count, ends = await hit(key, window)
    if count > maximum:
        raise RateLimited(_seconds_until(ends, utcnow()))


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
