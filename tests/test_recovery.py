"""Accounts people can recover: the email address (rules, privacy, verification, change),
password reset by a mailed link (single use, constant time, throttled), account deletion.
Messages go through a real SMTP server."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from graphql_app.models import EmailToken, OutgoingMail, utcnow

from .conftest import AppRunner, free_port
from .factories import PASSWORD, GraphQLClient, make_admin
from .mailserver import MailServer, link, smtp_server
from .test_mail import REGISTER, register

VERIFY = "mutation($t: String!) { verifyEmail(token: $t) { id email emailVerified } }"
REQUEST_VERIFICATION = "mutation { requestEmailVerification }"
CHANGE = "mutation($e: String!) { changeEmail(newEmail: $e) }"
REQUEST_RESET = "mutation($e: String!) { requestPasswordReset(email: $e) }"
RESET = (
    "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p)"
    " { accessToken refreshToken user { id email } } }"
)
DELETE = "mutation($p: String!) { deleteAccount(password: $p) }"
ME = "{ me { id username email emailVerified totpEnabled } }"
USERS = "{ users { edges { node { username email emailVerified } } } }"
EVENTS = "{ securityEvents(first: 50) { edges { node { kind } } } }"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
async def mail() -> AsyncIterator[tuple[MailServer, str]]:
    port = free_port()
    async with smtp_server(port) as server:
        yield server, f"smtp://127.0.0.1:{port}"


@pytest.fixture
async def app(
    run_app: AppRunner, mail: tuple[MailServer, str]
) -> AsyncIterator[tuple[GraphQLClient, MailServer]]:
    server, url = mail
    async with run_app(smtp_url=url) as client:
        yield client, server


async def verified(client: GraphQLClient, server: MailServer, name: str, email: str) -> str:
    """A user whose address is verified (through the mailed link); returns its token."""
    token: str = (await register(client, name, email))["accessToken"]
    _, _, secret = link(await server.next())
    assert (await client.execute(VERIFY, {"t": secret})).errors == []
    return token


async def kinds(client: GraphQLClient, token: str) -> list[str]:
    result = await client.execute(EVENTS, token=token)
    return [e["node"]["kind"] for e in result.data["securityEvents"]["edges"]]


# --- the address -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["not-an-address", "a@b", "x" * 250 + "@example.com", "two@@example.com"]
)
async def test_an_invalid_email_is_refused_without_echoing_it(
    client: GraphQLClient, email: str
) -> None:
    result = await client.execute(REGISTER, {"u": "alice", "p": PASSWORD, "e": email})
    assert result.codes == ["BAD_USER_INPUT"]
    assert email not in str(result.body)


async def test_an_email_is_stored_lower_cased_and_unique_case_insensitively(
    client: GraphQLClient,
) -> None:
    first = await register(client, "alice", "Alice@Example.com")
    assert first["user"]["email"] == "alice@example.com"
    assert first["user"]["emailVerified"] is False
    taken = await client.execute(REGISTER, {"u": "bob", "p": PASSWORD, "e": "ALICE@example.COM"})
    assert taken.codes == ["BAD_USER_INPUT"]
    assert taken.errors[0]["message"] == "Email is already taken"
    # Users without an address do not collide (the unique index is partial).
    for name in ("carol", "dave"):
        assert (await client.register(name))["user"]["id"]


async def test_the_email_is_shown_to_its_user_and_to_admins_only(client: GraphQLClient) -> None:
    alice = (await register(client, "alice", "alice@example.com"))["accessToken"]
    bob = (await register(client, "bob", "bob@example.com"))["accessToken"]
    me = await client.execute(ME, token=alice)
    assert me.data["me"]["email"] == "alice@example.com"
    assert (await client.execute(USERS, token=bob)).codes == ["FORBIDDEN"]
    root = await make_admin(client)
    listed = await client.execute(USERS, token=root)
    emails = {e["node"]["username"]: e["node"]["email"] for e in listed.data["users"]["edges"]}
    assert emails == {"alice": "alice@example.com", "bob": "bob@example.com", "root": None}


async def test_a_user_without_a_token_never_sees_an_email(client: GraphQLClient) -> None:
    await register(client, "alice", "alice@example.com")
    result = await client.execute("{ me { email } }")
    assert result.codes == ["UNAUTHENTICATED"]


# --- verification ----------------------------------------------------------------------


async def test_verification_can_be_asked_again_and_only_the_newest_link_works(
    app: tuple[GraphQLClient, MailServer],
) -> None:
    client, server = app
    token = (await register(client, "alice", "alice@example.com"))["accessToken"]
    _, _, first = link(await server.next())
    assert (await client.execute(REQUEST_VERIFICATION, token=token)).data == {
        "requestEmailVerification": True
    }
    message = await server.next()
    assert message["Subject"] == "Verify your email address"
    _, _, second = link(message)
    assert (await client.execute(VERIFY, {"t": first})).codes == ["BAD_USER_INPUT"]
    done = await client.execute(VERIFY, {"t": second})
    assert done.data["verifyEmail"] == {
        "id": done.data["verifyEmail"]["id"],
        "email": "alice@example.com",
        "emailVerified": True,
    }
    assert "EMAIL_VERIFIED" in await kinds(client, token)
    again = await client.execute(REQUEST_VERIFICATION, token=token)
    assert again.codes == ["BAD_USER_INPUT"]  # nothing left to verify


async def test_verification_refusals(client: GraphQLClient) -> None:
    token = (await client.register("alice"))["accessToken"]  # no address
    assert (await client.execute(REQUEST_VERIFICATION, token=token)).codes == ["BAD_USER_INPUT"]
    assert (await client.execute(REQUEST_VERIFICATION)).codes == ["UNAUTHENTICATED"]
    unknown = await client.execute(VERIFY, {"t": "A" * 43})
    assert unknown.codes == ["BAD_USER_INPUT"]


async def test_verification_requests_are_limited_per_user(client: GraphQLClient) -> None:
    token = (await register(client, "alice", "alice@example.com"))["accessToken"]
    for _ in range(5):
        assert (await client.execute(REQUEST_VERIFICATION, token=token)).errors == []
    limited = await client.execute(REQUEST_VERIFICATION, token=token)
    assert limited.codes == ["RATE_LIMITED"]
    assert limited.errors[0]["extensions"]["retryAfter"] > 0


async def test_an_expired_verification_link_is_refused(
    app: tuple[GraphQLClient, MailServer],
) -> None:
    client, server = app
    await register(client, "alice", "alice@example.com")
    _, _, token = link(await server.next())
    await EmailToken.get_pymongo_collection().update_many(
        {}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    assert (await client.execute(VERIFY, {"t": token})).codes == ["BAD_USER_INPUT"]


# --- change of email -------------------------------------------------------------------


async def test_a_new_address_replaces_the_old_once_verified_and_the_old_one_is_told(
    app: tuple[GraphQLClient, MailServer],
) -> None:
    client, server = app
    token = await verified(client, server, "alice", "alice@example.com")
    assert (await client.execute(CHANGE, {"e": "Alice@New.example.org"}, token=token)).errors == []
    messages = {m["To"]: m for m in [await server.next(), await server.next()]}
    assert messages["alice@example.com"]["Subject"] == "Your email address is being changed"
    verification = messages["alice@new.example.org"]
    assert verification["Subject"] == "Verify your email address"
    # Until verified, the old address stays.
    assert (await client.execute(ME, token=token)).data["me"]["email"] == "alice@example.com"
    _, _, secret = link(verification)
    done = await client.execute(VERIFY, {"t": secret})
    assert done.data["verifyEmail"]["email"] == "alice@new.example.org"
    me = (await client.execute(ME, token=token)).data["me"]
    assert (me["email"], me["emailVerified"]) == ("alice@new.example.org", True)
    assert "EMAIL_CHANGED" in await kinds(client, token)


async def test_change_of_email_refusals(run_app: AppRunner) -> None:
    async with run_app(reauth_max_age=1) as client:
        token = (await register(client, "alice", "alice@example.com"))["accessToken"]
        await register(client, "bob", "bob@example.com")
        taken = await client.execute(CHANGE, {"e": "BOB@example.com"}, token=token)
        assert taken.codes == ["BAD_USER_INPUT"]
        same = await client.execute(CHANGE, {"e": "alice@example.com"}, token=token)
        assert same.codes == ["BAD_USER_INPUT"]
        bad = await client.execute(CHANGE, {"e": "nope"}, token=token)
        assert bad.codes == ["BAD_USER_INPUT"]
        assert (await client.execute(CHANGE, {"e": "x@example.com"})).codes == ["UNAUTHENTICATED"]
        await asyncio.sleep(2.1)  # the password proof of register is now older than 1 s
        stale = await client.execute(CHANGE, {"e": "new@example.com"}, token=token)
        assert stale.errors[0]["extensions"] == {
            "code": "UNAUTHENTICATED",
            "reason": "REAUTHENTICATION_REQUIRED",
            "maxAge": 1,
        }


# --- password reset --------------------------------------------------------------------


async def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    app: tuple[GraphQLClient, MailServer],
) -> None:
    client, server = app
    await verified(client, server, "alice", "alice@example.com")
    old = (await client.login("alice")).data["login"]
    assert (await client.execute(REQUEST_RESET, {"e": "ALICE@example.com"})).data == {
        "requestPasswordReset": True
    }
    message = await server.next()
    assert (message["To"], message["Subject"]) == ("alice@example.com", "Reset your password")
    base, page, token = link(message)
    assert (base, page) == ("http://127.0.0.1:8000", "reset-password")
    short = await client.execute(RESET, {"t": token, "p": "short"})
    assert short.codes == ["BAD_USER_INPUT"]  # the token is not used up by a bad password
    reset = await client.execute(RESET, {"t": token, "p": NEW_PASSWORD})
    assert reset.errors == []
    fresh = reset.data["resetPassword"]
    assert (await client.me(fresh["accessToken"])).errors == []
    assert (await client.me(old["accessToken"])).reasons == ["TOKEN_REVOKED"]
    assert (await client.refresh(old["refreshToken"])).reasons == ["TOKEN_REVOKED"]
    again = await client.execute(RESET, {"t": token, "p": "yet another passphrase"})
    assert again.codes == ["BAD_USER_INPUT"]
    assert (await client.login("alice")).reasons == ["BAD_CREDENTIALS"]
    assert (await client.login("alice", NEW_PASSWORD)).errors == []
    events = await kinds(client, fresh["accessToken"])
    assert {"PASSWORD_RESET_REQUESTED", "PASSWORD_RESET"} <= set(events)


async def test_a_new_reset_request_voids_the_earlier_link(
    app: tuple[GraphQLClient, MailServer],
) -> None:
    client, server = app
    await verified(client, server, "alice", "alice@example.com")
    await client.execute(REQUEST_RESET, {"e": "alice@example.com"})
    _, _, first = link(await server.next())
    await client.execute(REQUEST_RESET, {"e": "alice@example.com"})
    _, _, second = link(await server.next())
    assert (await client.execute(RESET, {"t": first, "p": NEW_PASSWORD})).codes == [
        "BAD_USER_INPUT"
    ]
    assert (await client.execute(RESET, {"t": second, "p": NEW_PASSWORD})).errors == []


async def test_a_reset_clears_the_login_lockout(
    run_app: AppRunner, mail: tuple[MailServer, str]
) -> None:
    server, url = mail
    async with run_app(smtp_url=url, login_max_failures=2) as client:
        await verified(client, server, "alice", "alice@example.com")
        for _ in range(2):
            await client.login("alice", "wrong password!")
        assert (await client.login("alice")).codes == ["RATE_LIMITED"]
        await client.execute(REQUEST_RESET, {"e": "alice@example.com"})
        _, _, token = link(await server.next())
        assert (await client.execute(RESET, {"t": token, "p": NEW_PASSWORD})).errors == []
        assert (await client.login("alice", NEW_PASSWORD)).errors == []


async def _settled() -> bool:
    return await OutgoingMail.find({"state": "pending"}).count() == 0


async def _until_settled() -> None:
    async with asyncio.timeout(10):
        while not await _settled():  # noqa: ASYNC110  # queue rows, no event to wait on
            await asyncio.sleep(0.05)


async def test_unknown_and_unverified_addresses_get_no_message_and_the_same_answer(
    app: tuple[GraphQLClient, MailServer],
) -> None:
    client, server = app
    await register(client, "alice", "alice@example.com")  # not verified
    await server.next()  # its verification message
    for email in ("alice@example.com", "nobody@example.com", "not an address"):
        result = await client.execute(REQUEST_RESET, {"e": email})
        assert result.data == {"requestPasswordReset": True}
    await _until_settled()
    assert server.received.empty()
    assert await OutgoingMail.find({"state": "dropped"}).count() == 2


async def test_reset_requests_are_throttled_per_client_and_per_address(
    run_app: AppRunner, mail: tuple[MailServer, str]
) -> None:
    server, url = mail
    options = {"password_reset_max_per_address": 4, "password_reset_max_per_email": 2}
    async with run_app(smtp_url=url, **options) as client:
        await verified(client, server, "alice", "alice@example.com")
        for _ in range(4):
            ok = await client.execute(REQUEST_RESET, {"e": "alice@example.com"})
            assert ok.data == {"requestPasswordReset": True}
        limited = await client.execute(REQUEST_RESET, {"e": "alice@example.com"})
        assert limited.codes == ["RATE_LIMITED"]
        assert limited.errors[0]["extensions"]["retryAfter"] > 0
        await _until_settled()
        # Two messages went; the third and fourth requests were silently not sent.
        assert [(await server.next())["Subject"] for _ in range(2)] == ["Reset your password"] * 2
        assert server.received.empty()


async def test_a_reset_request_takes_the_same_time_for_a_known_and_an_unknown_address(
    run_app: AppRunner, mail: tuple[MailServer, str]
) -> None:
    server, url = mail
    options = {"password_reset_max_per_address": 1000, "password_reset_max_per_email": 1000}
    async with run_app(smtp_url=url, **options) as client:
        await verified(client, server, "alice", "alice@example.com")
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        for i in range(40):
            for label, email in (("known", "alice@example.com"), ("unknown", f"n{i}@example.com")):
                started = time.perf_counter()
                result = await client.execute(REQUEST_RESET, {"e": email})
                timings[label].append(time.perf_counter() - started)
                assert result.data == {"requestPasswordReset": True}
        known, unknown = (statistics.median(timings[k]) for k in ("known", "unknown"))
        print(f"requestPasswordReset medians: known {known:.4f} s, unknown {unknown:.4f} s")
        assert abs(known - unknown) < max(0.005, 0.5 * min(known, unknown))
        await _until_settled()


# --- deletion --------------------------------------------------------------------------


async def test_deleting_an_account_removes_its_data_and_stops_every_token(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]], db_name: str
) -> None:
    alice = await register(client, "alice", "alice@example.com")
    bob = await client.register("bob")
    await client.create_todo(alice["accessToken"], "mine")
    await client.create_todo(bob["accessToken"], "bob's")
    wrong = await client.execute(DELETE, {"p": "not my password"}, token=alice["accessToken"])
    assert wrong.codes == ["BAD_USER_INPUT"]
    assert (await client.me(alice["accessToken"])).errors == []  # nothing happened
    done = await client.execute(DELETE, {"p": PASSWORD}, token=alice["accessToken"])
    assert done.data == {"deleteAccount": True}
    assert (await client.me(alice["accessToken"])).reasons == ["TOKEN_INVALID"]
    assert (await client.refresh(alice["refreshToken"])).reasons == ["TOKEN_INVALID"]
    assert (await client.login("alice")).reasons == ["BAD_CREDENTIALS"]
    db = mongo[db_name]
    owner = {"owner_id": _oid(alice["user"]["id"])}
    assert await db.users.count_documents({"username": "alice"}) == 0
    assert await db.sessions.count_documents({"user_id": owner["owner_id"]}) == 0
    assert await db.todos.count_documents(owner) == 0
    assert await db.security_events.count_documents(owner) == 0
    assert await db.email_tokens.count_documents({"user_id": owner["owner_id"]}) == 0
    # Bob is untouched.
    assert (await client.me(bob["accessToken"])).errors == []
    todos = await client.execute("{ todos { totalCount } }", token=bob["accessToken"])
    assert todos.data["todos"]["totalCount"] == 1
    # The name and the address are free again.
    again = await client.execute(REGISTER, {"u": "alice", "p": PASSWORD, "e": "alice@example.com"})
    assert again.errors == []


async def test_the_last_admin_cannot_delete_their_account(client: GraphQLClient) -> None:
    root = await make_admin(client)
    refused = await client.execute(DELETE, {"p": PASSWORD}, token=root)
    assert refused.codes == ["BAD_USER_INPUT"]
    assert (await client.execute(DELETE, {"p": PASSWORD})).codes == ["UNAUTHENTICATED"]


def _oid(raw: str) -> ObjectId:
    return ObjectId(raw)


async def test_deleting_an_account_cancels_its_queued_mail(
    run_app: AppRunner, mongo: AsyncMongoClient[dict[str, Any]], db_name: str
) -> None:
    down = {"smtp_url": f"smtp://127.0.0.1:{free_port()}", "mail_retry_seconds": 60}
    async with run_app(**down) as client:
        alice = await register(client, "alice", "alice@example.com")
        queued = {"user_id": _oid(alice["user"]["id"])}

        async def waiting() -> bool:  # tried once, now waiting for its retry
            return (
                await mongo[db_name].mail_queue.count_documents(
                    {**queued, "last_error": {"$ne": None}}
                )
                == 1
            )

        async with asyncio.timeout(10):
            while not await waiting():  # noqa: ASYNC110  # a queue row, no event to wait on
                await asyncio.sleep(0.05)
        done = await client.execute(DELETE, {"p": PASSWORD}, token=alice["accessToken"])
        assert done.data == {"deleteAccount": True}
        assert await mongo[db_name].mail_queue.count_documents(queued) == 0
