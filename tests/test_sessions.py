"""Sessions a user can see and control: refresh grace for concurrent refreshes, the list of
sessions with revoke, recent proof (step-up), security events and the admin unlock."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
from pymongo import AsyncMongoClient

from graphql_app.models import Session

from .conftest import AppRunner
from .factories import AUTH_FIELDS, PASSWORD, GraphQLClient, make_admin

SESSIONS = "{ sessions { id current createdAt lastUsedAt expiresAt userAgent address } }"
EVENTS = """query($first: Int, $after: String, $userId: ID) {
  securityEvents(first: $first, after: $after, userId: $userId) {
    totalCount edges { cursor node { id kind at address userAgent sessionId } }
    pageInfo { hasNextPage endCursor }
  }
}"""
REAUTHENTICATE = f"mutation($p: String!) {{ reauthenticate(password: $p) {{ {AUTH_FIELDS} }} }}"
REVOKE = "mutation($id: ID!) { revokeSession(id: $id) }"
SET_ROLES = "mutation($id: ID!) { setUserRoles(userId: $id, roles: [USER]) { id } }"
UNLOCK = "mutation($u: String!) { unlockUser(username: $u) }"


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def _refresh(client: GraphQLClient, token: str) -> dict[str, Any]:
    result = await client.refresh(token)
    assert result.errors == [], result.errors
    pair: dict[str, Any] = result.data["refresh"]
    return pair


async def _revoked(client: GraphQLClient, refresh: str) -> None:
    result = await client.refresh(refresh)
    assert (result.codes, result.reasons) == (["UNAUTHENTICATED"], ["TOKEN_REVOKED"])


async def _events(client: GraphQLClient, token: str, **variables: Any) -> list[str]:
    result = await client.execute(EVENTS, variables, token=token)
    assert result.errors == [], result.errors
    return [e["node"]["kind"] for e in result.data["securityEvents"]["edges"]]


# --- refresh grace -------------------------------------------------------------------------


async def test_two_tabs_refreshing_at_once_both_win_with_the_same_refresh_token(
    client: GraphQLClient,
) -> None:
    token = (await client.register("alice"))["refreshToken"]
    first, second = await asyncio.gather(client.refresh(token), client.refresh(token))
    assert first.errors == second.errors == []
    a, b = first.data["refresh"], second.data["refresh"]
    assert a["refreshToken"] == b["refreshToken"]  # the same string, so the same jti
    for access in (a["accessToken"], b["accessToken"]):
        assert (await client.me(access)).errors == []
    # The session stays alive: the shared new token refreshes normally.
    await _refresh(client, a["refreshToken"])


async def test_the_parent_within_the_interval_gets_the_current_token(client: GraphQLClient) -> None:
    parent = (await client.register("alice"))["refreshToken"]
    child = await _refresh(client, parent)
    again = await _refresh(client, parent)
    assert again["refreshToken"] == child["refreshToken"]
    assert _claims(again["accessToken"])["sid"] == _claims(child["accessToken"])["sid"]


async def test_the_parent_after_the_interval_is_reuse(run_app: AppRunner) -> None:
    async with run_app(refresh_reuse_interval=1) as client:
        parent = (await client.register("alice"))["refreshToken"]
        child = await _refresh(client, parent)
        await asyncio.sleep(1.5)
        await _revoked(client, parent)
        await _revoked(client, child["refreshToken"])  # the whole session ended
        assert (await client.me(child["accessToken"])).reasons == ["TOKEN_REVOKED"]


async def test_the_grandparent_within_the_interval_is_reuse(client: GraphQLClient) -> None:
    grandparent = (await client.register("alice"))["refreshToken"]
    parent = (await _refresh(client, grandparent))["refreshToken"]
    child = await _refresh(client, parent)
    await _revoked(client, grandparent)
    await _revoked(client, child["refreshToken"])


async def test_the_parent_after_its_child_was_used_is_reuse(client: GraphQLClient) -> None:
    parent = (await client.register("alice"))["refreshToken"]
    child = (await _refresh(client, parent))["refreshToken"]
    grandchild = await _refresh(client, child)
    await _revoked(client, parent)
    await _revoked(client, grandchild["refreshToken"])


async def test_reuse_is_a_security_event(client: GraphQLClient) -> None:
    parent = (await client.register("alice"))["refreshToken"]
    child = (await _refresh(client, parent))["refreshToken"]
    await _refresh(client, child)
    await _revoked(client, parent)
    token = (await client.login("alice")).data["login"]["accessToken"]
    assert "REFRESH_REUSE_DETECTED" in await _events(client, token)


# --- the list of sessions, and revoking one ------------------------------------------------


async def test_sessions_list_each_device_with_its_agent_and_address(run_app: AppRunner) -> None:
    # The test transport connects from 203.0.113.7, trusted here as a proxy.
    async with run_app(trusted_proxies="203.0.113.7") as client:
        await client.register("alice")
        laptop = await client.execute(
            f'mutation {{ login(username: "alice", password: "{PASSWORD}") {{ accessToken }} }}',
            headers={"User-Agent": "Laptop/1.0", "X-Forwarded-For": "198.51.100.20"},
        )
        phone = await client.execute(
            f'mutation {{ login(username: "alice", password: "{PASSWORD}") {{ accessToken }} }}',
            headers={"User-Agent": "Phone/2.0" + "x" * 300},
        )
        token = phone.data["login"]["accessToken"]
        found = (await client.execute(SESSIONS, token=token)).data["sessions"]
    assert len(found) == 3  # register, laptop, phone; newest first
    assert [s["current"] for s in found] == [True, False, False]
    assert found[0]["userAgent"] == ("Phone/2.0" + "x" * 300)[:256]
    assert found[0]["address"] == "203.0.113.7"
    assert (found[1]["userAgent"], found[1]["address"]) == ("Laptop/1.0", "198.51.100.20")
    assert found[0]["createdAt"] > found[1]["createdAt"] > found[2]["createdAt"]
    assert laptop.errors == []


async def test_a_refresh_updates_last_use_and_keeps_the_session(client: GraphQLClient) -> None:
    session = await client.register("alice")
    before = (await client.execute(SESSIONS, token=session["accessToken"])).data["sessions"]
    await asyncio.sleep(0.01)
    pair = await _refresh(client, session["refreshToken"])
    after = (await client.execute(SESSIONS, token=pair["accessToken"])).data["sessions"]
    assert [s["id"] for s in after] == [s["id"] for s in before]
    assert after[0]["lastUsedAt"] > before[0]["lastUsedAt"]


async def test_revoking_another_device_ends_it_at_once(client: GraphQLClient) -> None:
    phone = await client.register("alice")
    laptop = (await client.login("alice")).data["login"]
    phone_sid = _claims(phone["accessToken"])["sid"]
    result = await client.execute(REVOKE, {"id": phone_sid}, token=laptop["accessToken"])
    assert result.data == {"revokeSession": True}
    assert (await client.me(phone["accessToken"])).reasons == ["TOKEN_REVOKED"]
    await _revoked(client, phone["refreshToken"])
    assert (await client.me(laptop["accessToken"])).errors == []
    listed = (await client.execute(SESSIONS, token=laptop["accessToken"])).data["sessions"]
    assert [s["id"] for s in listed] == [_claims(laptop["accessToken"])["sid"]]
    assert (await _events(client, laptop["accessToken"]))[0] == "SESSION_REVOKED"


async def test_another_users_session_is_not_found_and_untouched(client: GraphQLClient) -> None:
    alice = await client.register("alice")
    bob = await client.register("bob")
    bob_sid = _claims(bob["accessToken"])["sid"]
    for target in (bob_sid, "no-such-session"):
        result = await client.execute(REVOKE, {"id": target}, token=alice["accessToken"])
        assert (result.data, result.codes) == (None, ["NOT_FOUND"])
    assert (await client.me(bob["accessToken"])).errors == []
    await _refresh(client, bob["refreshToken"])
    stored = await Session.get(bob_sid)
    assert stored is not None
    assert not stored.revoked


# --- recent proof (step-up) ----------------------------------------------------------------


async def test_auth_time_is_kept_by_refresh_and_renewed_by_reauthenticate(
    client: GraphQLClient,
) -> None:
    session = await client.register("alice")
    started = _claims(session["accessToken"])["auth_time"]
    assert abs(started - time.time()) < 5
    await asyncio.sleep(1.1)
    pair = await _refresh(client, session["refreshToken"])
    assert _claims(pair["accessToken"])["auth_time"] == started
    result = await client.execute(REAUTHENTICATE, {"p": PASSWORD}, token=pair["accessToken"])
    assert result.errors == []
    renewed = result.data["reauthenticate"]
    assert _claims(renewed["accessToken"])["auth_time"] > started
    assert _claims(renewed["accessToken"])["sid"] == _claims(pair["accessToken"])["sid"]
    # The refresh token it replaced is reuse now (no grace for it): the session ends.
    await _refresh(client, renewed["refreshToken"])
    assert "REAUTHENTICATED" in await _events(client, renewed["accessToken"])


async def test_reauthenticate_refuses_a_wrong_password_and_is_throttled(
    run_app: AppRunner,
) -> None:
    async with run_app(login_max_failures=2, login_window_seconds=60) as client:
        token = (await client.register("alice"))["accessToken"]
        for _ in range(2):
            wrong = await client.execute(REAUTHENTICATE, {"p": "not the password"}, token=token)
            assert wrong.codes == ["BAD_USER_INPUT"]
        locked = await client.execute(REAUTHENTICATE, {"p": PASSWORD}, token=token)
        assert locked.codes == ["RATE_LIMITED"]
        assert (await client.me(token)).errors == []  # still logged in
        kinds = await _events(client, token)
        assert kinds[:3] == ["LOGIN_LOCKED", "LOGIN_FAILED", "LOGIN_FAILED"]


async def test_set_user_roles_needs_a_recent_proof(run_app: AppRunner) -> None:
    async with run_app(reauth_max_age=1) as client:
        root = await make_admin(client)
        alice = (await client.register("alice"))["user"]["id"]
        assert (await client.execute(SET_ROLES, {"id": alice}, token=root)).errors == []
        await asyncio.sleep(2.1)
        stale = await client.execute(SET_ROLES, {"id": alice}, token=root)
        assert stale.data is None
        assert stale.errors[0]["extensions"] == {
            "code": "UNAUTHENTICATED",
            "reason": "REAUTHENTICATION_REQUIRED",
            "maxAge": 1,
        }
        proof = await client.execute(REAUTHENTICATE, {"p": PASSWORD}, token=root)
        fresh = proof.data["reauthenticate"]["accessToken"]
        assert (await client.execute(SET_ROLES, {"id": alice}, token=fresh)).errors == []


async def test_a_non_admin_with_a_fresh_proof_is_still_forbidden(client: GraphQLClient) -> None:
    alice = await client.register("alice")
    result = await client.execute(
        SET_ROLES, {"id": alice["user"]["id"]}, token=alice["accessToken"]
    )
    assert result.codes == ["FORBIDDEN"]


# --- security events -----------------------------------------------------------------------


async def test_each_action_is_recorded_newest_first(client: GraphQLClient) -> None:
    first = await client.register("alice")
    assert (await client.login("alice", "wrong password")).codes == ["UNAUTHENTICATED"]
    second = (await client.login("alice")).data["login"]
    await client.execute(
        "mutation($t: String) { logout(refreshToken: $t) }", {"t": first["refreshToken"]}
    )
    changed = await client.execute(
        f'mutation {{ changePassword(currentPassword: "{PASSWORD}", newPassword: "another pass 1")'
        f" {{ accessToken }} }}",
        token=second["accessToken"],
    )
    token = changed.data["changePassword"]["accessToken"]
    await client.execute("mutation { logoutAll }", token=token)
    token = (await client.login("alice", "another pass 1")).data["login"]["accessToken"]
    assert await _events(client, token) == [
        "LOGIN_SUCCEEDED",
        "LOGGED_OUT_EVERYWHERE",
        "PASSWORD_CHANGED",
        "LOGGED_OUT",
        "LOGIN_SUCCEEDED",
        "LOGIN_FAILED",
        "REGISTERED",
    ]


async def test_events_carry_address_agent_and_session(client: GraphQLClient) -> None:
    session = await client.register("alice")
    result = await client.execute(EVENTS, {}, token=session["accessToken"])
    (node,) = [e["node"] for e in result.data["securityEvents"]["edges"]]
    assert node["kind"] == "REGISTERED"
    assert node["address"] == "203.0.113.7"
    assert node["userAgent"].startswith("python-httpx/")
    assert node["sessionId"] == _claims(session["accessToken"])["sid"]


async def test_events_are_paginated(client: GraphQLClient) -> None:
    await client.register("alice")
    for _ in range(4):
        token = (await client.login("alice")).data["login"]["accessToken"]
    page = await client.execute(EVENTS, {"first": 2}, token=token)
    connection = page.data["securityEvents"]
    assert connection["totalCount"] == 5
    assert connection["pageInfo"]["hasNextPage"]
    rest = await client.execute(
        EVENTS, {"first": 10, "after": connection["pageInfo"]["endCursor"]}, token=token
    )
    kinds = [e["node"]["kind"] for e in rest.data["securityEvents"]["edges"]]
    assert kinds == ["LOGIN_SUCCEEDED", "LOGIN_SUCCEEDED", "REGISTERED"]


async def test_events_are_private_except_to_admins(client: GraphQLClient) -> None:
    alice = await client.register("alice")
    bob = await client.register("bob")
    theirs = {"userId": alice["user"]["id"]}
    refused = await client.execute(EVENTS, theirs, token=bob["accessToken"])
    assert (refused.data, refused.codes) == (None, ["FORBIDDEN"])
    assert await _events(client, bob["accessToken"]) == ["REGISTERED"]
    root = await make_admin(client)
    assert await _events(client, root, **theirs) == ["REGISTERED"]
    missing = await client.execute(EVENTS, {"userId": "nope"}, token=root)
    assert missing.codes == ["NOT_FOUND"]


async def test_a_failed_login_of_an_unknown_user_records_nothing(
    client: GraphQLClient, mongo: AsyncMongoClient[dict[str, Any]], db_name: str
) -> None:
    assert (await client.login("nobody", "wrong password")).codes == ["UNAUTHENTICATED"]
    assert await mongo[db_name]["security_events"].count_documents({}) == 0


# --- unlock --------------------------------------------------------------------------------


async def test_an_admin_unlocks_a_locked_out_user(run_app: AppRunner) -> None:
    async with run_app(login_max_failures=2, login_window_seconds=600) as client:
        await client.register("alice")
        for _ in range(2):
            await client.login("alice", "wrong password")
        assert (await client.login("alice")).codes == ["RATE_LIMITED"]
        root = await make_admin(client)
        assert (await client.execute(UNLOCK, {"u": "ALICE"}, token=root)).data == {
            "unlockUser": True
        }
        token = (await client.login("alice")).data["login"]["accessToken"]
        assert (await _events(client, token))[:2] == ["LOGIN_SUCCEEDED", "UNLOCKED"]
        unknown = await client.execute(UNLOCK, {"u": "nobody"}, token=root)
        assert unknown.codes == ["NOT_FOUND"]


async def test_only_admins_unlock(client: GraphQLClient) -> None:
    token = (await client.register("alice"))["accessToken"]
    assert (await client.execute(UNLOCK, {"u": "alice"}, token=token)).codes == ["FORBIDDEN"]
