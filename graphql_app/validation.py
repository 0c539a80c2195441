"""The input rules of the contract (usernames, passwords, titles), shared by the resolvers
and the CLI."""

from __future__ import annotations

import re

from .errors import BadUserInput

_USERNAME = re.compile(r"[A-Za-z0-9_.\-]{3,32}")
PASSWORD_MIN, PASSWORD_MAX = 8, 128
TITLE_MAX = 200


def username(raw: str) -> str:
    """Return the stored (lower-cased) form of a valid username."""
    if not _USERNAME.fullmatch(raw):
        raise BadUserInput(
            "Username must be 3 to 32 characters of letters, digits, '_', '.' or '-'"
        )
    return raw.lower()


def password(raw: str) -> str:
    if not PASSWORD_MIN <= len(raw) <= PASSWORD_MAX:
        raise BadUserInput(f"Password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long")
    return raw


def title(raw: str) -> str:
    """Return the stored (trimmed) form of a valid todo title."""
    trimmed = raw.strip()
    if not 1 <= len(trimmed) <= TITLE_MAX:
        raise BadUserInput(f"Title must be 1 to {TITLE_MAX} characters after trimming")
    return trimmed
