"""Structured logs: one JSON line per operation, unexpected errors logged in full, and never
a token, a password or an Authorization header."""

from __future__ import annotations

import json
import logging
import re

import pytest

from graphql_app.logs import JsonFormatter

from .factories import PASSWORD, GraphQLClient


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


async def test_one_line_per_operation_without_secrets(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    payload = await client.register("alice")
    token = payload["accessToken"]
    await client.execute("query Me { me { id } }", token=token)
    await client.execute("query Me { me { id } }", token=token + "x")
    await client.login("alice", "a wrong password")
    lines = [line for line in _lines(caplog) if line["message"] == "graphql operation"]
    me_ok, me_bad = [line for line in lines if line["operation"] == "Me"]
    assert me_ok["outcome"] == "ok"
    assert me_ok["user_id"] == payload["user"]["id"]
    assert isinstance(me_ok["duration_ms"], float)
    assert me_ok["request_id"] != me_bad["request_id"]
    assert me_bad["outcome"] == "UNAUTHENTICATED"
    assert me_bad["user_id"] is None
    everything = caplog.text + json.dumps(_lines(caplog))
    for secret in (token, payload["refreshToken"], PASSWORD, "a wrong password", "Bearer"):
        assert secret not in everything


async def test_the_operation_line_keeps_its_exact_format(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Byte for byte what `json.dumps` writes: these keys in this order, `", "` and `": "`
    between them; readers of the log may parse it with anything."""
    caplog.set_level(logging.INFO)
    token = (await client.register("alice"))["accessToken"]
    await client.execute("query Me { me { id } }", token=token)
    await client.execute("query Me { me { id } }", token=token + "x")
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.getMessage() == "graphql operation"]
    ok, refused = lines[-2:]
    for line in (ok, refused):
        entry = json.loads(line)
        assert line == json.dumps(entry)
        assert list(entry) == [
            "time",
            "level",
            "logger",
            "message",
            "request_id",
            "operation",
            "user_id",
            "duration_ms",
            "outcome",
        ]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
    assert json.loads(ok)["outcome"] == "ok"
    assert json.loads(refused)["outcome"] == "UNAUTHENTICATED"


async def test_expected_errors_log_no_traceback(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await client.me("garbage")
    await client.execute("{ me { nope } }")
    await client.execute("{ me ")
    assert all(record.exc_info is None for record in caplog.records)
    assert "Traceback" not in caplog.text
