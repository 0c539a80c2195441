"""Query limits (OWASP GraphQL): depth, aliases and token count are refused before any
resolver runs, with HTTP 200 and the contract's codes; GraphiQL's own introspection passes."""

from __future__ import annotations

import logging
import time

import pytest
from graphql import get_introspection_query

from graphql_app.models import LoginFailures, User

from .conftest import AppRunner
from .factories import PASSWORD, GraphQLClient

DEPTH_3 = "{ todos { edges { node { id } } } }"  # todos > edges > node: 3 levels below
DEPTH_4 = "{ todos { edges { node { owner { id } } } } }"


async def test_parse_and_validation_errors_have_codes(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(2):  # the second time through the parser cache
        parse = await client.execute("{ me { id ")
        assert (parse.status, parse.data, parse.codes) == (200, None, ["GRAPHQL_PARSE_FAILED"])
    logged = [r for r in caplog.records if r.getMessage() == "graphql operation"]
    assert [getattr(r, "outcome", None) for r in logged] == ["GRAPHQL_PARSE_FAILED"] * 2
    invalid = await client.execute("{ me { password } }")
    assert (invalid.status, invalid.data) == (200, None)
    assert invalid.codes == ["GRAPHQL_VALIDATION_FAILED"]


async def test_depth_limit(run_app: AppRunner) -> None:
    async with run_app(max_query_depth=3) as client:
        token = (await client.register("alice"))["accessToken"]
        assert (await client.execute(DEPTH_3, token=token)).errors == []
        refused = await client.execute(DEPTH_4, token=token)
        assert (refused.data, refused.codes) == (None, ["GRAPHQL_VALIDATION_FAILED"])
        # Fragments are expanded before counting.
        fragments = (
            "fragment O on Todo { owner { id } } fragment N on TodoEdge { node { ...O } }"
            " query { todos { edges { ...N } } }"
        )
        via_fragments = await client.execute(fragments, token=token)
        assert (via_fragments.data, via_fragments.codes) == (None, ["GRAPHQL_VALIDATION_FAILED"])
        # The refusal came before any resolver: nothing was read, even without a token.
        anonymous = await client.execute(DEPTH_4)
        assert anonymous.codes == ["GRAPHQL_VALIDATION_FAILED"]


async def test_graphiql_introspection_is_not_counted_as_depth(client: GraphQLClient) -> None:
    result = await client.execute(get_introspection_query(descriptions=True))
    assert result.errors == []
    assert result.data["__schema"]["queryType"]["name"] == "Query"


async def test_alias_limit(run_app: AppRunner) -> None:
    async with run_app(max_aliases=3) as client:
        token = (await client.register("alice"))["accessToken"]
        three = "{ a: me { id } b: me { id } c: me { id } }"
        four = "{ a: me { id } b: me { id } c: me { id } d: me { id } }"
        assert (await client.execute(three, token=token)).errors == []
        refused = await client.execute(four, token=token)
        assert (refused.data, refused.codes) == (None, ["GRAPHQL_VALIDATION_FAILED"])


async def test_aliased_logins_cost_no_password_check(run_app: AppRunner) -> None:
    async with run_app(bcrypt_rounds=12) as client:
        await client.register("alice")
        logins = " ".join(
            f'l{i}: login(username: "alice", password: "guess number {i}") {{ tokenType }}'
            for i in range(20)
        )
        started = time.perf_counter()
        result = await client.execute(f"mutation {{ {logins} }}")
        elapsed = time.perf_counter() - started
        assert (result.data, set(result.codes)) == (None, {"GRAPHQL_VALIDATION_FAILED"})
        # No attempt was made: no failure was counted, and no bcrypt ran (20 checks at cost
        # 12 take several seconds; a refusal takes milliseconds).
        assert await LoginFailures.find_all().count() == 0
        assert elapsed < 1.0
        assert (await client.login("alice", PASSWORD)).errors == []
        assert await User.find_all().count() == 1


async def test_token_limit(run_app: AppRunner) -> None:
    async with run_app(max_query_tokens=50) as client:
        small = await client.execute("{ me { id username roles } }")
        assert small.codes == ["UNAUTHENTICATED"]
        big = "{ me { " + " ".join(["id"] * 60) + " } }"
        refused = await client.execute(big)
        assert refused.data is None
        assert refused.codes == ["GRAPHQL_PARSE_FAILED"]
        assert "token" in refused.errors[0]["message"].lower()


async def test_a_repeated_query_is_parsed_and_validated_once(client: GraphQLClient) -> None:
    from graphql_app.api.operation import cached_parse, cached_validate

    query = "query Repeated { me { id username } }"
    await client.execute(query)
    parses, validations = cached_parse.cache_info(), cached_validate.cache_info()
    for _ in range(5):
        await client.execute(query)
    assert cached_parse.cache_info().hits - parses.hits == 5
    assert cached_parse.cache_info().misses == parses.misses
    assert cached_validate.cache_info().hits - validations.hits == 5
    assert cached_validate.cache_info().misses == validations.misses
