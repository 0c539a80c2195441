"""Password hashing. The only importer of `bcrypt`.

bcrypt reads at most 72 bytes (bcrypt 5 raises past that), so every password is first
reduced with HMAC-SHA256 and base64-encoded (44 ASCII bytes, no NUL): all 128 characters
count. Hashing runs in a worker thread; bcrypt releases the GIL, so hashes run in parallel.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from functools import cache

import bcrypt

_PREHASH_KEY = b"graphql-app/bcrypt-prehash/v1"


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
    return await asyncio.to_thread(_hash_sync, password, rounds)


async def verify_password(password: str, hashed: str) -> bool:
    return await asyncio.to_thread(_verify_sync, password, hashed)


@cache
def _dummy_hash(rounds: int) -> str:
    return _hash_sync("dummy password for unknown users", rounds)


async def burn_verification(password: str, rounds: int) -> None:
    """Spend what a real check costs, so an unknown user answers as slowly as a known one."""
    hashed = await asyncio.to_thread(_dummy_hash, rounds)
    await verify_password(password, hashed)
