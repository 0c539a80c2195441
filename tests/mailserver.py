"""A real SMTP server for the tests (aiosmtpd) in the test's own event loop: every message
it accepts is parsed with the standard library and put on a queue the test awaits."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

LINK = re.compile(r"(https?://\S+)/(verify-email|reset-password)\?token=([A-Za-z0-9_-]+)")


class MailServer:
    def __init__(self) -> None:
        self.received: asyncio.Queue[EmailMessage] = asyncio.Queue()
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd's hook for a message it accepts."""
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        self.count += 1
        await self.received.put(message)
        return "250 Message accepted"

    async def next(self) -> EmailMessage:
        """The next message accepted (the test fails after 10 s without one)."""
        return await asyncio.wait_for(self.received.get(), 10)


@contextlib.asynccontextmanager
async def smtp_server(port: int, **options: Any) -> AsyncIterator[MailServer]:
    """An SMTP server on 127.0.0.1:`port` until the block ends."""
    mail = MailServer()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(mail, hostname="mail.test", loop=loop, **options), "127.0.0.1", port
    )
    try:
        yield mail
    finally:
        server.close()
        await server.wait_closed()


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()  # type: ignore[attr-defined]  # EmailMessage's API
    return content


def link(message: EmailMessage) -> tuple[str, str, str]:
    """(base URL, page, token) of the message's link."""
    found = LINK.search(body(message))
    assert found, "the message has no link"
    base, page, token = found.groups()
    return base, page, token
