"""Query cost: the arithmetic on the product schema and on a throwaway schema with connections,
and the ``QueryCost`` extension refusing over-budget operations before any resolver runs."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from graphql import get_introspection_query, parse

from api.cost import QueryCost, cached_query_cost, page_variables, query_cost
from api.errors import ErrorShaping
from api.schema import build_schema
from api.settings import Settings

CALLS: list[str] = []


@strawberry.interface
class Thing:
    id: strawberry.ID


@strawberry.type
class Owner:
    name: str


@strawberry.type
class Item(Thing):
    name: str
    owner: Owner

    @strawberry.field
    def children(self, first: int | None = 10) -> ItemConnection:
        return ItemConnection(edges=[])


@strawberry.type
class Tag(Thing):
    label: str


@strawberry.type
class ItemEdge:
    cursor: str
    node: Item


@strawberry.type
class ItemConnection:
    edges: list[ItemEdge]


@strawberry.type
class Query:
    @strawberry.field
    def items(self, first: int | None = 20, after: str | None = None) -> ItemConnection:
        CALLS.append("items")
        return ItemConnection(
            edges=[
                ItemEdge(
                    cursor="c", node=Item(id=strawberry.ID("i1"), name="a", owner=Owner(name="o"))
                )
            ]
        )

    @strawberry.field
    def search(self, first: int | None = None) -> ItemConnection:
        return ItemConnection(edges=[])

    @strawberry.field
    def things(self) -> list[Thing]:
        return []

    @strawberry.field
    def count(self) -> int:
        return 1


THROWAWAY = strawberry.Schema(query=Query, types=[Item, Tag])


def cost_of(query: str, schema: Any = THROWAWAY, **kwargs: Any) -> int:
    return query_cost(schema._schema, parse(query), **kwargs)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ viewer { livemode } }", 1),
        ("{ viewer { livemode organization { id name } } }", 2),
        ('{ node(id: "x") { id } }', 1),
        ("{ __typename }", 0),
        ('{ a: viewer { livemode } b: node(id: "x") { id __typename } }', 2),
    ],
)
def test_cost_of_product_schema_queries(query: str, expected: int) -> None:
    assert cost_of(query, build_schema(Settings())) == expected


def test_introspection_is_costed_and_fits_the_default_budget() -> None:
    query = get_introspection_query(descriptions=True)
    cost = cost_of(query, build_schema(Settings()))
    assert 10 < cost <= Settings().max_query_cost
    assert cost_of('{ __type(name: "Query") { fields { type { name } } } }') == 3


def test_connection_multiplies_its_selection_by_first() -> None:
    # items: 1 + 5 * (edges 1 + node 1 + owner 1)
    assert cost_of("{ items(first: 5) { edges { cursor node { id owner { name } } } } }") == 16


def test_connection_without_first_uses_the_argument_default() -> None:
    assert cost_of("{ items { edges { node { id } } } }") == 1 + 20 * 2


def test_connection_without_any_default_uses_the_default_page_size() -> None:
    query = "{ search { edges { node { id } } } }"
    assert cost_of(query, default_page_size=7) == 1 + 7 * 2


def test_first_from_a_variable_and_from_a_variable_default() -> None:
    query = "query Q($n: Int) { items(first: $n) { edges { node { id } } } }"
    assert cost_of(query, variables={"n": 3}) == 1 + 3 * 2
    with_default = "query Q($n: Int = 4) { items(first: $n) { edges { node { id } } } }"
    assert cost_of(with_default) == 1 + 4 * 2


def test_cached_cost_follows_the_page_variables_of_one_document() -> None:
    document = parse(
        "query Q($n: Int, $m: Int = 2, $after: String) { items(first: $n, after: $after) "
        "{ edges { node { children(first: $m) { edges { cursor } } } } } }"
    )
    assert page_variables(document) == ("m", "n")

    def cost(**variables: Any) -> int:
        return cached_query_cost(THROWAWAY._schema, document, variables=variables)

    per_item = 1 + 1 + (1 + 2 * 1)  # edges, node, children with $m's default of 2
    for _ in range(2):  # the second pass is served from the cache
        assert cost(n=3) == 1 + 3 * per_item
        assert cost(n=5) == 1 + 5 * per_item
        assert cost(n=5, m=4) == 1 + 5 * (1 + 1 + (1 + 4 * 1))
        assert cost(n=5, after="c1") == cost(n=5, after="c2") == 1 + 5 * per_item
        assert cost() == 1 + 20 * per_item  # no $n: the argument's default
        assert cost(n=True) == cost(n=None)  # not an Int: never confused with first: 1
        assert cost(n=1) == 1 + 1 * per_item
        assert cost(n=[1, 2]) == 1 + 20 * per_item  # unhashable: costed without the cache


def test_cached_cost_is_per_operation_and_per_schema() -> None:
    document = parse(
        "query A { items(first: 2) { edges { cursor } } } query B { items(first: 9) { edges "
        "{ cursor } } }"
    )
    assert cached_query_cost(THROWAWAY._schema, document, operation_name="A") == 1 + 2 * 1
    assert cached_query_cost(THROWAWAY._schema, document, operation_name="B") == 1 + 9 * 1
    viewer = parse("{ viewer { livemode } }")
    assert cached_query_cost(build_schema(Settings())._schema, viewer) == 1
    assert cached_query_cost(THROWAWAY._schema, viewer) == 0  # no such field there


def test_nested_connections_multiply() -> None:
    query = "{ items(first: 10) { edges { node { children(first: 5) { edges { cursor } } } } } }"
    # items 1 + 10 * (edges 1 + node 1 + children (1 + 5 * edges 1))
    assert cost_of(query) == 1 + 10 * (1 + 1 + (1 + 5 * 1))


def test_scalar_fields_cost_nothing() -> None:
    assert cost_of("{ count }") == 0


def test_fragments_and_inline_fragments_count_like_fields() -> None:
    query = """
      query Q { items(first: 2) { ...Edges } }
      fragment Edges on ItemConnection { edges { node { ... on Item { owner { name } } } } }
    """
    assert cost_of(query) == 1 + 2 * 3


def test_abstract_type_costs_its_most_expensive_concrete_type() -> None:
    query = "{ things { id ... on Item { owner { name } } ... on Tag { label } } }"
    assert cost_of(query) == 1 + 1


def test_named_operation_is_the_one_costed() -> None:
    query = "query A { count } query B { items(first: 3) { edges { cursor } } }"
    assert cost_of(query, operation_name="A") == 0
    assert cost_of(query, operation_name="B") == 1 + 3


def _schema_with_budget(max_cost: int) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        types=[Item, Tag],
        extensions=[ErrorShaping, lambda: QueryCost(max_cost=max_cost)],
    )


async def test_over_budget_query_is_refused_before_any_resolver_runs() -> None:
    CALLS.clear()
    schema = _schema_with_budget(100)
    result = await schema.execute("{ items(first: 60) { edges { node { id } } } }")
    assert result.data is None
    assert result.errors is not None and len(result.errors) == 1
    error = result.errors[0]
    assert error.extensions == {"code": "QUERY_TOO_COMPLEX", "cost": 121, "maximumCost": 100}
    assert CALLS == []
    assert result.extensions == {"cost": {"requestedQueryCost": 121, "maximumAvailable": 100}}


async def test_query_within_budget_runs_and_reports_its_cost() -> None:
    CALLS.clear()
    schema = _schema_with_budget(100)
    result = await schema.execute("{ items(first: 2) { edges { node { id } } } }")
    assert result.errors is None
    assert result.data == {"items": {"edges": [{"node": {"id": "i1"}}]}}
    assert CALLS == ["items"]
    assert result.extensions == {"cost": {"requestedQueryCost": 5, "maximumAvailable": 100}}


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def item_feed(self, first: int | None = 20) -> AsyncGenerator[ItemConnection, None]:
        CALLS.append("item_feed")
        yield ItemConnection(edges=[])


async def test_over_budget_subscription_is_refused_before_it_starts() -> None:
    CALLS.clear()
    schema = strawberry.Schema(
        query=Query,
        subscription=Subscription,
        types=[Item, Tag],
        extensions=[ErrorShaping, lambda: QueryCost(max_cost=10)],
    )
    stream = await schema.subscribe("subscription { itemFeed(first: 50) { edges { cursor } } }")
    results = [result async for result in stream]
    assert len(results) == 1
    errors = results[0].errors
    assert errors is not None
    assert [(e.extensions or {}).get("code") for e in errors] == ["QUERY_TOO_COMPLEX"]
    assert CALLS == []


async def test_subscription_events_carry_no_cost_figures() -> None:
    schema = strawberry.Schema(
        query=Query,
        subscription=Subscription,
        types=[Item, Tag],
        extensions=[ErrorShaping, lambda: QueryCost(max_cost=100)],
    )
    stream = await schema.subscribe("subscription { itemFeed(first: 5) { edges { cursor } } }")
    results = [result async for result in stream]
    assert [r.data for r in results] == [{"itemFeed": {"edges": []}}]
    assert not results[0].extensions
