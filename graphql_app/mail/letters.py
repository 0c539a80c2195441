"""The texts of the account messages: plain text, a subject that says what each is, and
for the token messages the link of the front-end page that uses the token."""

from __future__ import annotations

from datetime import timedelta

from .queue import Letter


def _link(public_url: str, page: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/{page}?token={token}"


def _duration(seconds: int) -> str:
    delta = timedelta(seconds=seconds)
    if delta >= timedelta(hours=1) and seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def verification(to: str, username: str, public_url: str, token: str, ttl: int) -> Letter:
    body = (
        f"Hello {username},\n\n"
        "Please confirm that this is your email address by opening this link:\n\n"
        f"{_link(public_url, 'verify-email', token)}\n\n"
        f"The link works once and expires in {_duration(ttl)}. If you did not ask for it,\n"
        "you can ignore this message.\n"
    )
    return Letter(to, "Verify your email address", body)


def password_reset(to: str, username: str, public_url: str, token: str, ttl: int) -> Letter:
    body = (
        f"Hello {username},\n\n"
        "Someone (hopefully you) asked to reset the password of your account.\n"
        "To choose a new password, open this link:\n\n"
        f"{_link(public_url, 'reset-password', token)}\n\n"
        f"The link works once and expires in {_duration(ttl)}. Resetting the password\n"
        "signs you out everywhere. If you did not ask for it, ignore this message: your\n"
        "password stays as it is.\n"
    )
    return Letter(to, "Reset your password", body)


def email_change_notice(to: str, username: str) -> Letter:
    body = (
        f"Hello {username},\n\n"
        "A change of the email address of your account was requested. The new address\n"
        "replaces this one once it is verified.\n\n"
        "If you did not ask for this, sign in, change your password and review your\n"
        "sessions and security events.\n"
    )
    return Letter(to, "Your email address is being changed", body)
