"""The query cost limit (API.md "Cost"): estimated per the contract's formula, refused before
any resolver runs with GRAPHQL_VALIDATION_FAILED, `cost` and `maxCost`."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query

from graphql_app.models import Todo

from .conftest import AppRunner
from .factories import GraphQLClient

OWNERS = "{ todos(first: 100) { edges { node { owner { username } } } } }"
# todos: 1 + 100 * (edges: 1 + (node: 1 + (owner: 1 + username: 1))) = 401
FRAGMENTS = (
    "fragment O on Todo { owner { username } } fragment E on TodoEdge { node { ...O } }"
    " query { todos(first: 100) { edges { ...E } } }"
)
TODOS_PAGE = """query TodosPage($first: Int = 20, $after: String) {
  todos(first: $first, after: $after) {
    totalCount
    edges { cursor node { id title done createdAt updatedAt owner { id username } } }
    pageInfo { hasNextPage endCursor }
  }
}"""  # todos: 1 + first * (totalCount 1 + edges 11 + pageInfo 3)


def aliased(count: int, page: str = "edges { node { owner { username } } }") -> str:
    return "{ " + " ".join(f"p{i}: todos(first: 100) {{ {page} }}" for i in range(count)) + " }"


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        pytest.param("{ me { id username roles } }", 4, id="me"),
        pytest.param(OWNERS, 401, id="a page of todos with owner"),
        pytest.param(FRAGMENTS, 401, id="the same through fragments"),
        pytest.param("{ todos { edges { node { id title } } } }", 81, id="default first (20)"),
        pytest.param("{ todos(first: 1000) { edges { node { id } } } }", 301, id="first over 100"),
        pytest.param("{ users(first: 5) { totalCount } __typename }", 6, id="users"),
        pytest.param(aliased(15), 6015, id="15 aliased pages"),
    ],
)
async def test_the_refusal_names_the_estimated_cost(
    run_app: AppRunner, query: str, cost: int
) -> None:
    async with run_app(max_query_cost=1) as client:
        refused = await client.execute(query)
        assert (refused.status, refused.data) == (200, None)
        assert [e["extensions"] for e in refused.errors] == [
            {"code": "GRAPHQL_VALIDATION_FAILED", "cost": cost, "maxCost": 1}
        ]
    async with run_app(max_query_cost=cost) as client:
        # At the limit it runs (and fails on the missing token, not on its cost).
        assert set((await client.execute(query)).codes) == {"UNAUTHENTICATED"}


async def test_default_limit_refuses_fifteen_pages_of_owners(client: GraphQLClient) -> None:
    token = (await client.register("alice"))["accessToken"]
    assert (await client.execute(aliased(12), token=token)).errors == []  # 4812
    refused = await client.execute(aliased(15), token=token)  # 6015
    assert refused.data is None
    assert refused.errors[0]["extensions"] == {
        "code": "GRAPHQL_VALIDATION_FAILED",
        "cost": 6015,
        "maxCost": 5000,
    }


async def test_a_mutation_over_the_limit_creates_nothing(run_app: AppRunner) -> None:
    create = 'mutation { createTodo(input: {title: "x"}) { id title done createdAt updatedAt } }'
    async with run_app() as client:
        token = (await client.register("alice"))["accessToken"]
    async with run_app(max_query_cost=5) as client:
        refused = await client.execute(create, token=token)  # 1 + 5
        assert (refused.data, refused.codes) == (None, ["GRAPHQL_VALIDATION_FAILED"])
        assert refused.errors[0]["extensions"]["cost"] == 6
        assert await Todo.find_all().count() == 0
    async with run_app(max_query_cost=6) as client:
        assert (await client.execute(create, token=token)).errors == []
        assert await Todo.find_all().count() == 1


async def test_a_variable_first_counts_as_the_largest_page(run_app: AppRunner) -> None:
    """The limit is a property of the document: `first: $n` counts as 100 whatever `n` is."""
    query = "query($n: Int) { todos(first: $n) { edges { node { owner { username } } } } }"
    async with run_app() as client:  # the documented page operation: 1501 at most
        token = (await client.register("alice"))["accessToken"]
        assert (await client.execute(query, {"n": 1}, token=token)).errors == []
        assert (await client.execute(TODOS_PAGE, {"first": 100}, token=token)).errors == []
    async with run_app(max_query_cost=400) as client:
        refused = await client.execute(query, {"n": 1}, token=token)
        assert refused.errors[0]["extensions"]["cost"] == 401


async def test_graphiql_introspection_is_free(run_app: AppRunner) -> None:
    async with run_app(max_query_cost=1) as client:
        result = await client.execute(get_introspection_query(descriptions=True))
        assert result.errors == []
        assert result.data["__schema"]["queryType"]["name"] == "Query"
