"""Password hashing. The only importer of `bcrypt`.

bcrypt reads at most 72 bytes (bcrypt 5 raises past that), so every password is first
reduced with HMAC-SHA256 and base64-encoded (44 ASCII bytes, no NUL): all 128 characters
count. Hashing runs in its own pool of threads, one per core (bcrypt releases the GIL, so
hashes run in parallel), at a lower scheduling priority than the event loop: a burst of
logins uses the spare CPU instead of starving every other request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

import bcrypt

_PREHASH_KEY = b"graphql-app/bcrypt-prehash/v1"
HASHING_NICENESS = 3  # measured: at 10 logins starve, at 0 the event loop does (bench/RESULTS.md)
T = TypeVar("T")


def _lower_priority() -> None:
    """Linux schedules threads individually: renice this hashing thread only."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


_HASHING = ThreadPoolExecutor(
    max_workers=os.cpu_count() or 2, thread_name_prefix="bcrypt", initializer=_lower_priority
)


async def _off_loop(function: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, function, *args)


def _prehash(password: str) -> bytes:
    digest = hmac.new(_PREHASH_KEY, password.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest)


def _hash_sync(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def _verify_sync(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
    except ValueError:  # a corrupt stored hash never authenticates
        return False


async def hash_password(password: str, rounds: int) -> str:
    return await _off_loop(_hash_sync, password, rounds)


async def verify_password(password: str, hashed: str) -> bool:
    return await _off_loop(_verify_sync, password, hashed)


@cache
def _dummy_hash(rounds: int) -> str:
    return _hash_sync("dummy password for unknown users", rounds)


async def burn_verification(password: str, rounds: int) -> None:
    """Spend what a real check costs, so an unknown user answers as slowly as a known one."""
    hashed = await _off_loop(_dummy_hash, rounds)
    await verify_password(password, hashed)
