"""How a message leaves: over SMTP (SMTP_URL) or, without one, as an `.eml` file in the
outbox directory (development: open the file to follow a link)."""

from __future__ import annotations

import asyncio
import logging
import os
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from ..models import OutgoingMail, utcnow
from ..settings import ConfigError, Settings

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 30.0  # seconds; the worker's lease is longer, so a slow send is not re-sent


class Transport(Protocol):
    async def deliver(self, message: EmailMessage) -> None: ...


def compose(entry: OutgoingMail, sender: str) -> EmailMessage:
    """The RFC 5322 message of a queue entry: plain text, UTF-8."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = entry.to
    message["Subject"] = entry.subject
    message["Date"] = format_datetime(entry.created_at)
    message["Message-ID"] = entry.message_id
    message.set_content(entry.body or "")
    return message


class SmtpTransport:
    """`smtp://[user:password@]host[:port]` (STARTTLS when the server offers it) or
    `smtps://...` (TLS from the start)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError("SMTP_URL must be smtp://host[:port] or smtps://host[:port]")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None

    async def deliver(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.tls,
            start_tls=False if self.tls else None,  # None: upgrade when offered
            timeout=SMTP_TIMEOUT,
        )


class OutboxTransport:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def deliver(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        """Written whole or not at all (a temporary file renamed), named by time and id."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        ident = str(message["Message-ID"]).strip("<>").split("@")[0]
        path = self.directory / f"{stamp}-{ident}.eml"
        partial = path.with_suffix(".eml.partial")
        partial.write_bytes(message.as_bytes())
        os.replace(partial, path)
        log.info("mail written to the outbox", extra={"path": str(path)})


def transport_for(settings: Settings) -> Transport:
    if settings.smtp_url is not None:
        return SmtpTransport(settings.smtp_url.get_secret_value())
    return OutboxTransport(settings.outbox_dir)
