"""A small GraphQL-over-HTTP client for the tests, and the operations they repeat."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from graphql_app import users
from graphql_app.models import Role

AUTH_FIELDS = "accessToken refreshToken tokenType expiresIn user { id username roles createdAt }"
PASSWORD = "correct horse battery"
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")


def assert_nothing_leaks(errors: list[dict[str, Any]], variables: dict[str, Any] | None) -> None:
    """Checked on every response of the suite: errors carry no traceback, token, password
    (any string variable sent) or bcrypt hash."""
    text = json.dumps(errors)
    assert "Traceback" not in text
    assert "$2b$" not in text
    assert not JWT.search(text), "a token leaked into an error"
    for value in (variables or {}).values():
        if isinstance(value, str) and len(value) >= 8:
            assert value not in text, "a variable (password?) leaked into an error"


@dataclass
class Result:
    status: int
    body: dict[str, Any]
    response: httpx.Response

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    @property
    def reasons(self) -> list[str]:
        return [e.get("extensions", {}).get("reason") for e in self.errors]


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Result:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        result = Result(response.status_code, response.json(), response)
        assert_nothing_leaks(result.errors, variables)
        return result

    async def register(self, username: str = "alice", password: str = PASSWORD) -> dict[str, Any]:
        result = await self.execute(
            f"mutation($u: String!, $p: String!) {{ register(input: {{username: $u, password: $p}})"
            f" {{ {AUTH_FIELDS} }} }}",
            {"u": username, "p": password},
        )
        assert result.errors == [], result.errors
        payload: dict[str, Any] = result.data["register"]
        return payload

    async def login(self, username: str = "alice", password: str = PASSWORD) -> Result:
        return await self.execute(
            f"mutation($u: String!, $p: String!) {{ login(username: $u, password: $p)"
            f" {{ {AUTH_FIELDS} }} }}",
            {"u": username, "p": password},
        )

    async def refresh(self, refresh_token: str | None) -> Result:
        return await self.execute(
            f"mutation($t: String) {{ refresh(refreshToken: $t) {{ {AUTH_FIELDS} }} }}",
            {"t": refresh_token},
        )

    async def me(self, token: str | None) -> Result:
        return await self.execute("{ me { id username roles } }", token=token)

    async def create_todo(self, token: str, title: str) -> dict[str, Any]:
        result = await self.execute(
            "mutation($t: String!) { createTodo(input: {title: $t})"
            " { id title done createdAt updatedAt } }",
            {"t": title},
            token=token,
        )
        assert result.errors == [], result.errors
        todo: dict[str, Any] = result.data["createTodo"]
        return todo


async def make_admin(client: GraphQLClient, name: str = "root") -> str:
    """An admin created the way `graphql-app create-user --admin` does; returns its token."""
    await users.create_user(name, PASSWORD, 4, [Role.ADMIN])
    result = await client.login(name)
    assert result.errors == []
    token: str = result.data["login"]["accessToken"]
    return token
