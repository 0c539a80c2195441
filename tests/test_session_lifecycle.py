"""The session lifecycle of the token rules: rotation, reuse detection that revokes the whole
family, atomic refresh, logout (idempotent), logoutAll, changePassword, expiry, every
password character counting, and the refresh cookie with a JSON-only POST."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt

from graphql_app.models import User

from .conftest import AppRunner
from .factories import AUTH_FIELDS, PASSWORD, GraphQLClient

LOGOUT = "mutation($t: String) { logout(refreshToken: $t) }"
CHANGE_PASSWORD = (
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n)"
    f" {{ {AUTH_FIELDS} }} }}"
)
NEW_PASSWORD = "a new and better passphrase"


async def _login(client: GraphQLClient, password: str = PASSWORD) -> dict[str, Any]:
    result = await client.login("alice", password)
    assert result.errors == [], result.errors
    payload: dict[str, Any] = result.data["login"]
    return payload


async def _refused(
    client: GraphQLClient,
    *,
    access: str | None = None,
    refresh: str | None = None,
    reason: str = "TOKEN_REVOKED",
) -> None:
    if access is not None:
        result = await client.me(access)
        assert (result.data, result.codes, result.reasons) == (None, ["UNAUTHENTICATED"], [reason])
    if refresh is not None:
        result = await client.refresh(refresh)
        assert (result.data, result.codes, result.reasons) == (None, ["UNAUTHENTICATED"], [reason])


async def _works(client: GraphQLClient, access: str) -> None:
    result = await client.me(access)
    assert result.errors == []
    assert result.data["me"]["username"] == "alice"


async def test_tokens_carry_the_contract_claims(client: GraphQLClient) -> None:
    session = await client.register("alice")
    access = jwt.decode(session["accessToken"], options={"verify_signature": False})
    refresh = jwt.decode(session["refreshToken"], options={"verify_signature": False})
    assert access["type"] == "access"
    assert refresh["type"] == "refresh"
    assert access["sid"] == refresh["sid"]
    assert access["jti"] != refresh["jti"]
    assert access["sub"] == session["user"]["id"]
    assert access["roles"] == ["USER"]
    assert (access["iss"], access["aud"]) == ("graphql-app", "graphql-app")
    assert access["exp"] - access["iat"] == session["expiresIn"] == 900
    assert jwt.get_unverified_header(session["accessToken"])["kid"]
    other = await _login(client)
    assert (
        jwt.decode(other["accessToken"], options={"verify_signature": False})["sid"]
        != access["sid"]
    )


async def test_refresh_rotates_and_the_old_refresh_token_stops_working(
    client: GraphQLClient,
) -> None:
    first = await client.register("alice")
    result = await client.refresh(first["refreshToken"])
    assert result.errors == []
    second = result.data["refresh"]
    assert second["refreshToken"] != first["refreshToken"]
    assert second["user"]["username"] == "alice"
    await _works(client, second["accessToken"])
    assert (await client.refresh(second["refreshToken"])).errors == []


async def test_reusing_a_refresh_token_revokes_the_whole_family(run_app: AppRunner) -> None:
    async with run_app(refresh_reuse_interval=0) as client:
        await _reuse_revokes_the_family(client)


async def _reuse_revokes_the_family(client: GraphQLClient) -> None:
    victim = await client.register("alice")
    other_session = await _login(client)
    rotated = (await client.refresh(victim["refreshToken"])).data["refresh"]

    # The stolen (already used) refresh token is presented again: theft.
    await _refused(client, refresh=victim["refreshToken"])
    # Both the thief's and the victim's newest tokens of that family stop working.
    await _refused(client, access=rotated["accessToken"], refresh=rotated["refreshToken"])
    await _refused(client, access=victim["accessToken"])
    # The user's other session is untouched.
    await _works(client, other_session["accessToken"])
    assert (await client.refresh(other_session["refreshToken"])).errors == []


async def test_without_grace_concurrent_refreshes_have_exactly_one_winner(
    run_app: AppRunner,
) -> None:
    async with run_app(refresh_reuse_interval=0) as client:
        await _exactly_one_winner(client)


async def _exactly_one_winner(client: GraphQLClient) -> None:
    token = (await client.register("alice"))["refreshToken"]
    for _ in range(3):
        results = await asyncio.gather(*(client.refresh(token) for _ in range(6)))
        winners = [r for r in results if r.errors == []]
        assert len(winners) == 1
        assert all(r.codes == ["UNAUTHENTICATED"] for r in results if r.errors)
        token = winners[0].data["refresh"]["refreshToken"]
        # The losers presented a used token: that is reuse, so the family is revoked.
        await _refused(client, refresh=token)
        token = (await _login(client))["refreshToken"]


async def test_logout_ends_one_session_and_is_idempotent(client: GraphQLClient) -> None:
    ended = await client.register("alice")
    kept = await _login(client)
    await _works(client, ended["accessToken"])  # a token already verified and in use
    result = await client.execute(LOGOUT, {"t": ended["refreshToken"]})
    assert result.data == {"logout": True}
    await _refused(client, access=ended["accessToken"], refresh=ended["refreshToken"])
    await _works(client, kept["accessToken"])
    # Again, and with a well-formed token of an unknown session: still true.
    assert (await client.execute(LOGOUT, {"t": ended["refreshToken"]})).data == {"logout": True}


async def test_logout_refuses_malformed_and_access_tokens(client: GraphQLClient) -> None:
    session = await client.register("alice")
    for token in ("not-a-token", session["accessToken"], session["refreshToken"][:-4] + "AAAA"):
        result = await client.execute(LOGOUT, {"t": token})
        assert (result.data, result.codes, result.reasons) == (
            None,
            ["UNAUTHENTICATED"],
            ["TOKEN_INVALID"],
        )
    await _works(client, session["accessToken"])


async def test_logout_accepts_an_expired_refresh_token(run_app: AppRunner) -> None:
    async with run_app(refresh_token_ttl=1) as client:
        session = await client.register("alice")
        await asyncio.sleep(2.1)
        await _refused(client, refresh=session["refreshToken"], reason="TOKEN_EXPIRED")
        result = await client.execute(LOGOUT, {"t": session["refreshToken"]})
        assert result.data == {"logout": True}
        await _refused(client, access=session["accessToken"])


async def test_logout_all_ends_every_session(client: GraphQLClient) -> None:
    one = await client.register("alice")
    two = await _login(client)
    bob = await client.register("bob")
    result = await client.execute("mutation { logoutAll }", token=one["accessToken"])
    assert result.data == {"logoutAll": True}
    for session in (one, two):
        await _refused(client, access=session["accessToken"], refresh=session["refreshToken"])
    assert (await client.me(bob["accessToken"])).errors == []
    unauthenticated = await client.execute("mutation { logoutAll }")
    assert (unauthenticated.data, unauthenticated.reasons) == (None, ["MISSING_TOKEN"])
    await _works(client, (await _login(client))["accessToken"])


async def test_change_password(client: GraphQLClient) -> None:
    one = await client.register("alice")
    two = await _login(client)

    wrong = await client.execute(
        CHANGE_PASSWORD, {"c": "not the password", "n": NEW_PASSWORD}, token=one["accessToken"]
    )
    assert (wrong.data, wrong.codes) == (None, ["BAD_USER_INPUT"])
    weak = await client.execute(
        CHANGE_PASSWORD, {"c": PASSWORD, "n": "short"}, token=one["accessToken"]
    )
    assert (weak.data, weak.codes) == (None, ["BAD_USER_INPUT"])
    await _works(client, one["accessToken"])
    assert (await client.login("alice", PASSWORD)).errors == []

    result = await client.execute(
        CHANGE_PASSWORD, {"c": PASSWORD, "n": NEW_PASSWORD}, token=one["accessToken"]
    )
    assert result.errors == []
    fresh = result.data["changePassword"]
    await _works(client, fresh["accessToken"])
    for session in (one, two):
        await _refused(client, access=session["accessToken"], refresh=session["refreshToken"])
    old = await client.login("alice", PASSWORD)
    assert (old.data, old.reasons) == (None, ["BAD_CREDENTIALS"])
    await _login(client, NEW_PASSWORD)
    assert (await client.refresh(fresh["refreshToken"])).errors == []

    no_token = await client.execute(CHANGE_PASSWORD, {"c": NEW_PASSWORD, "n": PASSWORD})
    assert (no_token.data, no_token.codes) == (None, ["UNAUTHENTICATED"])


async def test_every_character_of_a_long_password_counts(client: GraphQLClient) -> None:
    long_password = "p" * 99 + "1"
    await client.register("alice", long_password)
    for almost in ("p" * 99 + "2", "p" * 72, "p" * 100):
        result = await client.login("alice", almost)
        assert (result.data, result.reasons) == (None, ["BAD_CREDENTIALS"])
    await _login(client, long_password)
    await client.register("bob", "é" * 128)
    assert (await client.login("bob", "é" * 128)).errors == []
    assert (await client.login("bob", "é" * 127 + "e")).errors != []


async def test_an_expired_access_token_is_refused_and_refresh_recovers(
    run_app: AppRunner,
) -> None:
    async with run_app(access_token_ttl=1) as client:
        session = await client.register("alice")
        assert session["expiresIn"] == 1
        await _works(client, session["accessToken"])  # verified once: its claims are kept
        await asyncio.sleep(2.1)
        await _refused(client, access=session["accessToken"], reason="TOKEN_EXPIRED")
        result = await client.refresh(session["refreshToken"])
        assert result.errors == []
        await _works(client, result.data["refresh"]["accessToken"])


# --- the refresh cookie ----------------------------------------------------------------


def _cookie(response: Any) -> str:
    (header,) = [
        h for h in response.headers.get_list("set-cookie") if h.startswith("refresh_token=")
    ]
    return str(header)


def _cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


async def test_no_cookie_unless_enabled(client: GraphQLClient) -> None:
    await client.register("alice")
    response = (await client.login("alice")).response
    assert response.headers.get_list("set-cookie") == []


async def test_cookie_mode_end_to_end(run_app: AppRunner) -> None:
    async with run_app(refresh_cookie=True) as client:
        await client.register("alice")
        response = (await client.login("alice")).response
        header = _cookie(response)
        attributes = {part.strip().lower() for part in header.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/graphql", "secure"} <= attributes
        assert "max-age=1209600" in attributes
        token = _cookie_value(header)
        assert token == response.json()["data"]["login"]["refreshToken"]

        # refresh with no argument reads the cookie and sets the rotated one.
        cookie = {"Cookie": f"refresh_token={token}"}
        refreshed = await client.execute(
            f"mutation {{ refresh {{ {AUTH_FIELDS} }} }}", headers=cookie
        )
        assert refreshed.errors == []
        rotated = _cookie_value(_cookie(refreshed.response))
        assert rotated == refreshed.data["refresh"]["refreshToken"] != token

        # logout with no argument revokes the cookie's session and clears the cookie.
        access = refreshed.data["refresh"]["accessToken"]
        out = await client.execute(
            "mutation { logout }", headers={"Cookie": f"refresh_token={rotated}"}
        )
        assert out.data == {"logout": True}
        cleared = _cookie(out.response).lower()
        assert 'refresh_token=""' in cleared or "max-age=0" in cleared
        await _refused(client, access=access, refresh=rotated)

        # No argument and no cookie: nothing to refresh with.
        none = await client.execute(f"mutation {{ refresh {{ {AUTH_FIELDS} }} }}")
        assert (none.data, none.codes, none.reasons) == (
            None,
            ["UNAUTHENTICATED"],
            ["MISSING_TOKEN"],
        )


async def test_cookie_without_secure_when_configured(run_app: AppRunner) -> None:
    async with run_app(refresh_cookie=True, cookie_secure=False) as client:
        await client.register("alice")
        header = _cookie((await client.login("alice")).response).lower()
        assert "secure" not in header
        assert "httponly" in header


async def test_a_cross_site_form_cannot_ride_the_cookie(run_app: AppRunner) -> None:
    async with run_app(refresh_cookie=True) as client:
        session = await client.register("alice")
        cookie = {"Cookie": f"refresh_token={session['refreshToken']}"}
        query = f"mutation {{ refresh {{ {AUTH_FIELDS} }} }}"
        form = await client.http.post("/graphql", data={"query": query}, headers=cookie)
        multipart = await client.http.post(
            "/graphql", files={"query": (None, query)}, headers=cookie
        )
        text = await client.http.post(
            "/graphql",
            content=f'{{"query": "{query}"}}',
            headers={**cookie, "Content-Type": "text/plain"},
        )
        get = await client.http.get("/graphql", params={"query": query}, headers=cookie)
        for response in (form, multipart, text, get):
            assert 400 <= response.status_code < 500, response.text
            assert response.headers.get_list("set-cookie") == []
            assert "Traceback" not in response.text
        # None of them rotated the session: its refresh token still works once.
        assert (await client.refresh(session["refreshToken"])).errors == []


async def test_revoked_sessions_are_pruned_after_an_access_token_lifetime(
    run_app: AppRunner,
) -> None:
    async with run_app(access_token_ttl=1) as client:
        first = await client.register("alice")
        await client.execute(LOGOUT, {"t": first["refreshToken"]})
        stored = await User.find_one(User.username == "alice")
        assert stored is not None
        first_sid = jwt.decode(first["accessToken"], options={"verify_signature": False})["sid"]
        assert [entry.sid for entry in stored.revoked_sessions] == [first_sid]

        await asyncio.sleep(1.1)  # every access token of that session has expired by now
        second = await _login(client)
        await client.execute(LOGOUT, {"t": second["refreshToken"]})
        stored = await User.find_one(User.username == "alice")
        assert stored is not None
        second_sid = jwt.decode(second["accessToken"], options={"verify_signature": False})["sid"]
        assert [entry.sid for entry in stored.revoked_sessions] == [second_sid]
