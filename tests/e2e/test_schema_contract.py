"""The schema as a client sees it through introspection on the live server (issue 17, items 19
to 21): every type, field, argument, input field and enum value is described."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import build_client_schema, get_introspection_query

from resolvers.descriptions import undescribed
from services.infra.database import Database
from tests.conftest import make_org
from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payout_setup import verify_through_api

pytestmark = pytest.mark.e2e


async def introspect(server: LiveServer, key: str) -> Any:
    async with GraphQLClient(server.graphql_url, key) as client:
        data = await client.data(get_introspection_query(descriptions=True))
    return build_client_schema(data)  # type: ignore[arg-type]


async def test_every_member_is_described_in_introspection(server: LiveServer, org: TestOrg) -> None:
    schema = await introspect(server, org.test_key)
    assert undescribed(schema) == []


IDS = """{
  viewer { id livemode organization { id createdAt livemode name } }
  balance { id currency livemode }
}"""


async def test_viewer_and_balance_have_stable_ids_per_mode(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as test_client:
        first = await test_client.data(IDS)
        again = await test_client.data(IDS)
    async with GraphQLClient(server.graphql_url, org.live_key) as live_client:
        live = await live_client.data(IDS)
    assert first == again
    assert first["viewer"]["id"] and first["balance"]["id"]
    assert first["viewer"]["organization"]["id"] == org.id
    assert first["viewer"]["organization"]["createdAt"]
    # Apollo normalizes by __typename + id: the two modes must not share a cache entry.
    assert live["viewer"]["id"] != first["viewer"]["id"]
    assert live["balance"]["id"] != first["balance"]["id"]


async def test_organization_is_a_node_and_nodes_keeps_order(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    other = await make_org(db, "Someone else")
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await client.execute(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Organization { name } } }",
            {"ids": [org.id, "po_unknown", other.id, org.id]},
        )
        data = result["data"]
        one = await client.data(
            "query($id: ID!) { node(id: $id) { __typename ... on Organization { name } } }",
            {"id": org.id},
        )
        too_many = await client.execute(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["po_x"] * 101}
        )
    mine = {"__typename": "Organization", "id": org.id, "name": org.name}
    assert data["nodes"] == [mine, None, None, mine]  # another tenant's id is null, like unknown
    assert result["extensions"]["cost"]["requestedQueryCost"] >= 4  # charged per id
    assert one["node"] == {"__typename": "Organization", "name": org.name}
    assert error_codes(too_many) == ["BAD_USER_INPUT"], too_many


async def test_payout_account_has_bank_accounts_and_provider_account_id(
    server: LiveServer, org: TestOrg
) -> None:
    verified = await verify_through_api(server, org)
    query = """{ payoutAccount { id providerAccountId
      bankAccounts(first: 5) { edges { cursor node { id isDefault } } pageInfo { hasNextPage } }
    } }"""
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        account = (await client.data(query))["payoutAccount"]
    assert account["id"] == verified.payout_account_id
    assert account["providerAccountId"]
    edges = account["bankAccounts"]["edges"]
    assert [e["node"]["id"] for e in edges] == [verified.bank_account_id]
    assert edges[0]["node"]["isDefault"] is True
