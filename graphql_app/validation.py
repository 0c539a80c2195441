"""The input rules of the contract (usernames, passwords, titles, emails), shared by the
resolvers and the CLI."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from .errors import BadUserInput

_USERNAME = re.compile(r"[A-Za-z0-9_.\-]{3,32}")
PASSWORD_MIN, PASSWORD_MAX = 8, 128
TITLE_MAX = 200
EMAIL_MAX = 254


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


def email(raw: str) -> str:
    """Return the stored (normalised, lower-cased) form of a deliverable-looking address.
    Syntax only: no DNS lookup, so registering never waits on a resolver."""
    if len(raw) > EMAIL_MAX:
        raise BadUserInput(f"Email must be at most {EMAIL_MAX} characters")
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:  # its message quotes the address: not echoed
        raise BadUserInput("Email is not a valid address") from None
    normalized = checked.normalized.lower()
    if len(normalized) > EMAIL_MAX:
        raise BadUserInput(f"Email must be at most {EMAIL_MAX} characters")
    return normalized
