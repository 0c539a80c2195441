"""Two-factor with TOTP (codes computed by pyotp, as an authenticator app would) and
recovery codes: set-up, login with MFA_REQUIRED, replay refused, wrong codes throttled,
recovery codes once, disabling."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from graphql_app.models import User

from .conftest import AppRunner
from .factories import AUTH_FIELDS, PASSWORD, GraphQLClient

BEGIN = "mutation { beginTotpSetup { secret otpauthUri } }"
CONFIRM = "mutation($c: String!) { confirmTotpSetup(code: $c) }"
DISABLE = "mutation($c: String!) { disableTotp(code: $c) }"
LOGIN = (
    "mutation($u: String!, $p: String!, $o: String) {"
    f" login(username: $u, password: $p, otp: $o) {{ {AUTH_FIELDS} }} }}"
)
ME = "{ me { totpEnabled } }"
EVENTS = "{ securityEvents(first: 50) { edges { node { kind } } } }"


@pytest.fixture(autouse=True)
async def _steady_clock() -> None:
    """A test computes codes relative to now and expects the server's 'now' step to be the
    same: never start one in the last seconds of a 30-second step."""
    left = 30 - time.time() % 30
    if left < 3:
        await asyncio.sleep(left + 0.1)


def code(secret: str, steps_from_now: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_from_now)


async def enabled(client: GraphQLClient, name: str = "alice") -> tuple[str, str, list[str]]:
    """A user with two-factor on (confirmed with the previous step's code); returns its
    access token, secret and recovery codes."""
    token = (await client.register(name))["accessToken"]
    setup = await client.execute(BEGIN, token=token)
    assert setup.errors == [], setup.errors
    secret = setup.data["beginTotpSetup"]["secret"]
    confirmed = await client.execute(CONFIRM, {"c": code(secret, -1)}, token=token)
    assert confirmed.errors == [], confirmed.errors
    return token, secret, confirmed.data["confirmTotpSetup"]


async def login(client: GraphQLClient, otp: str | None, name: str = "alice") -> Any:
    return await client.execute(LOGIN, {"u": name, "p": PASSWORD, "o": otp})


async def test_setup_gives_a_secret_and_an_otpauth_uri_for_authenticator_apps(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = (await client.register("alice"))["accessToken"]
    setup = (await client.execute(BEGIN, token=token)).data["beginTotpSetup"]
    uri = urlsplit(setup["otpauthUri"])
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/graphql-app:alice")
    query = parse_qs(uri.query)
    assert query["secret"] == [setup["secret"]]
    assert query["issuer"] == ["graphql-app"]
    assert len(setup["secret"]) == 32  # base32: 160 bits
    # Pending until confirmed: login still needs no code.
    assert (await client.execute(ME, token=token)).data["me"]["totpEnabled"] is False
    assert (await client.login("alice")).errors == []
    assert setup["secret"] not in caplog.text + "".join(str(r.__dict__) for r in caplog.records)


async def test_confirming_turns_two_factor_on_with_ten_single_use_recovery_codes(
    client: GraphQLClient,
) -> None:
    token, _, codes = await enabled(client)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert (await client.execute(ME, token=token)).data["me"]["totpEnabled"] is True
    events = await client.execute(EVENTS, token=token)
    assert "MFA_ENABLED" in [e["node"]["kind"] for e in events.data["securityEvents"]["edges"]]


async def test_setup_refusals(client: GraphQLClient) -> None:
    token = (await client.register("alice"))["accessToken"]
    early = await client.execute(CONFIRM, {"c": "123456"}, token=token)
    assert early.codes == ["BAD_USER_INPUT"]  # nothing pending
    secret = (await client.execute(BEGIN, token=token)).data["beginTotpSetup"]["secret"]
    wrong = pyotp.TOTP(pyotp.random_base32()).now()
    assert (await client.execute(CONFIRM, {"c": wrong}, token=token)).codes == ["BAD_USER_INPUT"]
    assert (await client.execute(CONFIRM, {"c": code(secret)}, token=token)).errors == []
    again = await client.execute(BEGIN, token=token)
    assert again.codes == ["BAD_USER_INPUT"]  # already on
    assert (await client.execute(BEGIN)).codes == ["UNAUTHENTICATED"]


async def test_login_asks_for_the_code_then_accepts_it_once(client: GraphQLClient) -> None:
    _, secret, _ = await enabled(client)
    missing = await login(client, None)
    assert missing.data is None
    assert missing.errors[0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "MFA_REQUIRED"}
    current = code(secret)
    ok = await login(client, current)
    assert ok.errors == []
    assert (await client.me(ok.data["login"]["accessToken"])).errors == []
    replay = await login(client, current)
    assert replay.reasons == ["BAD_CREDENTIALS"]
    # A code of an earlier step than the one used is a replay too.
    assert (await login(client, code(secret, -1))).reasons == ["BAD_CREDENTIALS"]
    # One step of drift ahead is accepted (once).
    assert (await login(client, code(secret, +1))).errors == []


async def test_a_wrong_password_with_a_right_code_is_bad_credentials(
    client: GraphQLClient,
) -> None:
    _, secret, _ = await enabled(client)
    result = await client.execute(LOGIN, {"u": "alice", "p": "not the password", "o": code(secret)})
    assert result.reasons == ["BAD_CREDENTIALS"]


async def test_wrong_codes_count_as_failed_logins_and_asking_for_one_does_not_reset(
    run_app: AppRunner,
) -> None:
    async with run_app(login_max_failures=3) as client:
        _, secret, _ = await enabled(client)
        near = {code(secret, step) for step in (-1, 0, 1)}
        wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in near)
        assert (await login(client, wrong)).reasons == ["BAD_CREDENTIALS"]
        assert (await client.login("alice", "a wrong password")).reasons == ["BAD_CREDENTIALS"]
        # The right password without a code neither fails nor clears the counter...
        assert (await login(client, None)).reasons == ["MFA_REQUIRED"]
        assert (await login(client, "not-a-recovery-code")).reasons == ["BAD_CREDENTIALS"]
        # ...so the third failure locked the account, right code or not.
        locked = await login(client, code(secret))
        assert locked.codes == ["RATE_LIMITED"]


async def test_a_recovery_code_logs_in_once(client: GraphQLClient) -> None:
    _, _, codes = await enabled(client)
    typed = codes[0].upper().replace("-", " ")  # case, spaces and dashes do not matter
    ok = await login(client, typed)
    assert ok.errors == []
    token = ok.data["login"]["accessToken"]
    assert (await login(client, codes[0])).reasons == ["BAD_CREDENTIALS"]
    assert (await login(client, codes[1])).errors == []
    events = await client.execute(EVENTS, token=token)
    kinds = [e["node"]["kind"] for e in events.data["securityEvents"]["edges"]]
    assert kinds.count("RECOVERY_CODE_USED") == 2


async def test_recovery_codes_are_stored_hashed(client: GraphQLClient) -> None:
    _, secret, codes = await enabled(client)
    stored = await User.find_one({"username": "alice"})
    assert stored is not None
    assert len(stored.recovery_codes) == 10
    assert not set(codes) & set(stored.recovery_codes)
    assert stored.totp_secret == secret  # stored as is (see the README)


async def test_disabling_needs_a_current_code_or_a_recovery_code(client: GraphQLClient) -> None:
    token, secret, codes = await enabled(client)
    wrong = await client.execute(DISABLE, {"c": "not-a-code"}, token=token)
    assert wrong.codes == ["BAD_USER_INPUT"]
    assert (await client.execute(DISABLE, {"c": code(secret)})).codes == ["UNAUTHENTICATED"]
    assert (await client.execute(DISABLE, {"c": codes[3]}, token=token)).data == {
        "disableTotp": True
    }
    assert (await client.execute(ME, token=token)).data["me"]["totpEnabled"] is False
    assert (await client.login("alice")).errors == []  # no code needed any more
    again = await client.execute(DISABLE, {"c": code(secret)}, token=token)
    assert again.codes == ["BAD_USER_INPUT"]  # not on
    events = await client.execute(EVENTS, token=token)
    kinds = [e["node"]["kind"] for e in events.data["securityEvents"]["edges"]]
    assert {"MFA_DISABLED", "RECOVERY_CODE_USED"} <= set(kinds)


async def test_disabling_with_a_totp_code(client: GraphQLClient) -> None:
    token, secret, _ = await enabled(client)
    assert (await client.execute(DISABLE, {"c": code(secret)}, token=token)).errors == []


async def test_setup_and_disabling_need_a_recent_proof(run_app: AppRunner) -> None:
    async with run_app(reauth_max_age=1) as client:
        token, secret, _ = await enabled(client)
        await asyncio.sleep(2.1)  # the password proof of register is now older than 1 s
        for query, variables in ((BEGIN, {}), (DISABLE, {"c": code(secret)})):
            stale = await client.execute(query, variables, token=token)
            assert stale.errors[0]["extensions"]["reason"] == "REAUTHENTICATION_REQUIRED"
