"""Mail that is never lost: messages queued in MongoDB in the request, delivered by each
process's worker to a real SMTP server (aiosmtpd), retried while it is down (across an app
restart too), sent once by two workers on one queue, or written to the outbox as `.eml`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from graphql_app.app import create_app
from graphql_app.database import init_database, make_client
from graphql_app.mail import queue
from graphql_app.mail.queue import Letter, MailQueue
from graphql_app.mail.transport import SmtpTransport, transport_for
from graphql_app.models import OutgoingMail
from graphql_app.settings import ConfigError, Settings

from .conftest import AppRunner, free_port
from .factories import PASSWORD, GraphQLClient
from .mailserver import MailServer, body, link, smtp_server

REGISTER = (
    "mutation($u: String!, $p: String!, $e: String) {"
    " register(input: {username: $u, password: $p, email: $e}) {"
    " accessToken refreshToken user { id username email emailVerified totpEnabled } } }"
)
VERIFY = "mutation($t: String!) { verifyEmail(token: $t) { id email emailVerified } }"


async def register(client: GraphQLClient, name: str, email: str) -> dict[str, Any]:
    result = await client.execute(REGISTER, {"u": name, "p": PASSWORD, "e": email})
    assert result.errors == [], result.errors
    payload: dict[str, Any] = result.data["register"]
    return payload


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[MailServer, str]]:
    port = free_port()
    async with smtp_server(port) as server:
        yield server, f"smtp://127.0.0.1:{port}"


async def _until(condition: Any) -> None:
    """Wait (10 s at most) for a state nothing signals: a file written, a row updated."""
    async with asyncio.timeout(10):
        while not await condition():  # noqa: ASYNC110  # a database row or a file, no event
            await asyncio.sleep(0.05)


async def _failed_once() -> bool:
    return await OutgoingMail.find_one({"last_error": {"$ne": None}}) is not None


async def _all_sent() -> bool:
    return await OutgoingMail.find({"state": {"$ne": "sent"}}).count() == 0


@pytest.fixture
async def queue_only(mongodb_url: str, db_name: str) -> AsyncIterator[None]:
    """The queue's collection without any app (so without a worker): a test plays one."""
    client = make_client(mongodb_url)
    await init_database(client, db_name)
    yield
    await client.close()


async def test_the_verification_message_arrives_over_smtp_and_its_token_works_once(
    run_app: AppRunner, smtp: tuple[MailServer, str]
) -> None:
    server, url = smtp
    async with run_app(smtp_url=url, public_url="https://app.example.com/") as client:
        payload = await register(client, "alice", "Alice@Example.COM")
        assert payload["user"]["email"] == "alice@example.com"
        message = await server.next()
        assert message["To"] == "alice@example.com"
        assert message["From"] == "graphql-app <no-reply@localhost>"
        assert message["Subject"] == "Verify your email address"
        assert message["Message-ID"]
        base, page, token = link(message)
        assert (base, page) == ("https://app.example.com", "verify-email")
        assert len(token) >= 22  # at least 128 bits, URL-safe
        first = await client.execute(VERIFY, {"t": token})
        assert first.errors == []
        assert first.data["verifyEmail"]["emailVerified"] is True
        again = await client.execute(VERIFY, {"t": token})
        assert again.codes == ["BAD_USER_INPUT"]
        # Sent: the body (which held the token) is gone from the queue.
        sent = await OutgoingMail.find_one({"to": "alice@example.com"})
        assert sent is not None
        assert (sent.state, sent.body) == ("sent", None)


async def test_a_message_waits_for_a_down_server_and_is_delivered_by_a_retry(
    run_app: AppRunner,
) -> None:
    port = free_port()  # nothing listens there yet
    options = {"smtp_url": f"smtp://127.0.0.1:{port}", "mail_retry_seconds": 0.2}
    async with run_app(**options) as client:
        await register(client, "alice", "alice@example.com")  # the request does not fail
        await _until(_failed_once)
        async with smtp_server(port) as server:
            message = await server.next()
            await _until(_all_sent)
        entry = await OutgoingMail.find_one({"to": "alice@example.com"})
    assert message["Subject"] == "Verify your email address"
    assert entry is not None
    assert entry.attempts >= 2
    assert entry.last_error  # the class of the failure, for the operator


async def test_a_queued_message_survives_an_app_restart(run_app: AppRunner) -> None:
    port = free_port()
    options = {"smtp_url": f"smtp://127.0.0.1:{port}", "mail_retry_seconds": 0.2}
    async with run_app(**options) as client:
        await register(client, "alice", "alice@example.com")
        await _until(_failed_once)
    # The first process is gone; the message is still in MongoDB.
    async with smtp_server(port) as server, run_app(**options):
        message = await server.next()
    assert message["To"] == "alice@example.com"
    assert server.count == 1


async def test_two_instances_on_one_queue_send_each_message_exactly_once(
    run_app: AppRunner, smtp: tuple[MailServer, str]
) -> None:
    server, url = smtp
    count = 12
    async with run_app(smtp_url=url) as first, run_app(smtp_url=url) as second:
        await asyncio.gather(
            *(
                register(first if i % 2 else second, f"user{i}", f"user{i}@example.com")
                for i in range(count)
            )
        )
        received = [await server.next() for _ in range(count)]
        await _until(_all_sent)
        assert await OutgoingMail.find({"state": "sent"}).count() == count
    # Both workers have stopped: whatever either sent has arrived.
    assert server.count == count
    assert sorted(m["To"] for m in received) == sorted(f"user{i}@example.com" for i in range(count))
    assert len({m["Message-ID"] for m in received}) == count


@pytest.mark.usefixtures("queue_only")
async def test_one_claim_wins_among_concurrent_workers() -> None:
    await MailQueue().send(Letter("bob@example.com", "Subject", "Body"), None)
    claims = await asyncio.gather(*(queue.claim(lease=60) for _ in range(8)))
    assert len([c for c in claims if c is not None]) == 1


async def test_a_crashed_workers_claim_is_retried_after_its_lease(
    run_app: AppRunner, smtp: tuple[MailServer, str], mongodb_url: str, db_name: str
) -> None:
    server, url = smtp
    crashed = make_client(mongodb_url)  # a worker that claims a message, then dies
    await init_database(crashed, db_name)
    await MailQueue().send(Letter("bob@example.com", "Left behind", "Body"), None)
    assert await queue.claim(lease=0.5) is not None
    await crashed.close()
    async with run_app(smtp_url=url, mail_retry_seconds=0.2):
        message = await server.next()
    assert message["Subject"] == "Left behind"
    assert server.count == 1


async def test_without_smtp_messages_are_eml_files_in_the_outbox(
    run_app: AppRunner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = tmp_path / "outbox"
    async with run_app(mail_outbox_dir=outbox) as client:
        await register(client, "alice", "alice@example.com")

        async def written() -> bool:
            return any(outbox.glob("*.eml"))

        await _until(written)
        (path,) = outbox.glob("*.eml")
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        assert message["To"] == "alice@example.com"
        assert message["Subject"] == "Verify your email address"
        _, page, token = link(message)
        assert page == "verify-email"
        assert (await client.execute(VERIFY, {"t": token})).errors == []
    logged = [r for r in caplog.records if r.getMessage() == "mail written to the outbox"]
    assert [r.__dict__["path"] for r in logged] == [str(path)]
    assert token not in caplog.text + "".join(str(r.__dict__) for r in caplog.records)


async def test_the_outbox_defaults_to_the_data_directory(
    run_app: AppRunner, tmp_path: Path
) -> None:
    async with run_app(data_dir=tmp_path / "data") as client:
        await register(client, "alice", "alice@example.com")

        async def written() -> bool:
            return any((tmp_path / "data" / "outbox").glob("*.eml"))

        await _until(written)


async def test_smtp_credentials_in_the_url_authenticate_and_are_never_logged(
    run_app: AppRunner, caplog: pytest.LogCaptureFixture
) -> None:
    port, seen = free_port(), []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        seen.append((data.login, data.password))
        return AuthResult(success=data.login == b"mailer" and data.password == b"s3cret/pw")

    # AUTH offered without TLS (a test server on loopback): the client logs in because the
    # URL names a user; a wrong password would fail the send.
    options = {"auth_require_tls": False, "authenticator": authenticator}
    async with smtp_server(port, **options) as server:
        url = f"smtp://mailer:s3cret%2Fpw@127.0.0.1:{port}"
        async with run_app(smtp_url=url) as client:
            await register(client, "alice", "alice@example.com")
            message = await server.next()
    assert message["To"] == "alice@example.com"
    assert seen == [(b"mailer", b"s3cret/pw")]
    assert "s3cret" not in caplog.text + "".join(str(r.__dict__) for r in caplog.records)


async def test_a_message_is_given_up_after_the_last_attempt(
    run_app: AppRunner, caplog: pytest.LogCaptureFixture
) -> None:
    options = {
        "smtp_url": f"smtp://127.0.0.1:{free_port()}",
        "mail_retry_seconds": 0.05,
        "mail_max_attempts": 2,
    }
    async with run_app(**options) as client:
        await register(client, "alice", "alice@example.com")

        async def given_up() -> bool:
            return await OutgoingMail.find_one({"state": "failed"}) is not None

        await _until(given_up)
        entry = await OutgoingMail.find_one({"state": "failed"})
    assert entry is not None
    assert (entry.attempts, entry.body) == (2, None)
    assert any(
        r.levelno == logging.ERROR and r.getMessage() == "mail given up" for r in caplog.records
    )


async def test_a_message_body_is_plain_text_with_the_link(
    run_app: AppRunner, smtp: tuple[MailServer, str]
) -> None:
    server, url = smtp
    async with run_app(smtp_url=url, mail_from="Todo App <todo@example.com>") as client:
        await register(client, "alice", "alice@example.com")
        message = await server.next()
    assert message.get_content_type() == "text/plain"
    assert message["From"] == "Todo App <todo@example.com>"
    assert "alice" in body(message)
    assert "expires in 24 hours" in body(message)


def test_the_smtp_url_is_a_secret_readable_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "smtp_url"
    secret.write_text("smtp://mailer:s3cret@mail.example.com:587\n")
    monkeypatch.setenv("SMTP_URL_FILE", str(secret))
    settings = Settings(jwt_secret="x" * 32, data_dir=tmp_path)
    assert settings.smtp_url is not None
    assert settings.smtp_url.get_secret_value() == "smtp://mailer:s3cret@mail.example.com:587"
    assert "s3cret" not in repr(settings)
    transport = transport_for(settings)
    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port, transport.username) == (
        "mail.example.com",
        587,
        "mailer",
    )


def test_a_malformed_smtp_url_stops_the_start(settings_factory: Any) -> None:
    with pytest.raises(ConfigError, match="SMTP_URL must be"):
        create_app(settings_factory(smtp_url="http://mail.example.com"))
