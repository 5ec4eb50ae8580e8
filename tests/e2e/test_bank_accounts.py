"""addBankAccount on the running server: default handling, duplicates, provider fields."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.infra.database import Database
from tests.conftest import make_org
from tests.support.accounts import complete_verification, individual_input
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

ADD = """
mutation Add($input: AddBankAccountInput!) {
  addBankAccount(input: $input) {
    bankAccount { id last4 bankName country currency accountType isDefault status
                  providerExternalAccountId accountHolderName livemode createdAt }
    userErrors { code message field }
  }
}
"""
LIST = "{ bankAccounts(first: 50) { edges { node { id last4 isDefault } } } }"


async def add(client: GraphQLClient, **input: Any) -> dict[str, Any]:
    base = {"accountNumber": "000999888777", "accountHolderName": "Ada Lovelace"}
    data = await client.data(ADD, {"input": {**base, **input}})
    result: dict[str, Any] = data["addBankAccount"]
    return result


async def listed(client: GraphQLClient) -> list[dict[str, Any]]:
    return [e["node"] for e in (await client.data(LIST))["bankAccounts"]["edges"]]


async def test_add_bank_account_requires_a_payout_account(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await add(client)
        assert await listed(client) == []
    assert [e["code"] for e in result["userErrors"]] == ["PAYOUT_ACCOUNT_REQUIRED"]


async def test_added_account_keeps_the_default_unless_asked(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        created = await complete_verification(client, individual_input())
        first_id = created["payoutAccount"]["defaultBankAccount"]["id"]
        result = await add(client, routingNumber="110000000", accountType="SAVINGS")
        accounts = await listed(client)
    bank = result["bankAccount"]
    assert result["userErrors"] == []
    assert bank["id"].startswith("ba_") and bank["last4"] == "8777"
    assert bank["isDefault"] is False and bank["status"] == "ACTIVE"
    assert bank["bankName"] and bank["providerExternalAccountId"]
    assert (bank["country"], bank["currency"], bank["accountType"]) == ("US", "usd", "SAVINGS")
    assert [a["id"] for a in accounts if a["isDefault"]] == [first_id]


async def test_set_default_moves_the_default(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await complete_verification(client, individual_input())
        second = (await add(client, setDefault=True))["bankAccount"]
        third = (await add(client, accountNumber="5555444433", setDefault=True))["bankAccount"]
        accounts = await listed(client)
        default = await client.data("{ payoutAccount { defaultBankAccount { id } } }")
    assert second["isDefault"] and third["isDefault"]
    assert len(accounts) == 3
    assert [a["id"] for a in accounts if a["isDefault"]] == [third["id"]]
    assert default["payoutAccount"]["defaultBankAccount"]["id"] == third["id"]


async def test_same_account_number_twice_is_duplicate(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await complete_verification(client, individual_input(account_number="000123456789"))
        again = await add(client, accountNumber="0001-2345-6789", routingNumber="110000000")
        twice = [await add(client, accountNumber="4444333322") for _ in range(2)]
        accounts = await listed(client)
    assert [e["code"] for e in again["userErrors"]] == ["DUPLICATE"]
    assert twice[0]["userErrors"] == []
    assert [e["code"] for e in twice[1]["userErrors"]] == ["DUPLICATE"]
    assert len(accounts) == 2


async def test_invalid_account_number_is_a_validation_error(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await complete_verification(client, individual_input())
        result = await add(client, accountNumber="12ab", routingNumber="12")
        accounts = await listed(client)
    fields = sorted(e["field"] for e in result["userErrors"])
    assert {e["code"] for e in result["userErrors"]} == {"VALIDATION_ERROR"}
    assert fields == [["input", "accountNumber"], ["input", "routingNumber"]]
    assert len(accounts) == 1


async def test_bank_account_node_is_scoped_to_the_organization(
    server: LiveServer, org: TestOrg
) -> None:
    query = "query($id: ID!) { node(id: $id) { id ... on PayoutBankAccount { last4 } } }"
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        created = await complete_verification(client, individual_input())
        bank_id = created["payoutAccount"]["defaultBankAccount"]["id"]
        account_id = created["payoutAccount"]["id"]
        own = await client.data(query, {"id": bank_id})
        own_account = await client.data(query, {"id": account_id})
    async with GraphQLClient(server.graphql_url, org.live_key) as client:
        other_mode = await client.data(query, {"id": bank_id})
    assert own["node"] == {"id": bank_id, "last4": "6789"}
    assert own_account["node"]["id"] == account_id
    assert other_mode["node"] is None


async def test_concurrent_set_default_leaves_exactly_one_default(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await complete_verification(client, individual_input())
        results = await asyncio.gather(
            *(add(client, accountNumber=f"77770000{i}", setDefault=True) for i in range(6))
        )
        accounts = await listed(client)
    assert all(r["userErrors"] == [] for r in results), results
    assert len(accounts) == 7
    assert len([a for a in accounts if a["isDefault"]]) == 1


async def test_concurrent_duplicates_add_the_account_once(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await complete_verification(client, individual_input())
        results = await asyncio.gather(*(add(client, accountNumber="31313131") for _ in range(5)))
        accounts = await listed(client)
    codes = sorted(e["code"] for r in results for e in r["userErrors"])
    assert codes == ["DUPLICATE"] * 4
    assert len(accounts) == 2


async def test_same_number_in_two_organizations_gives_two_provider_accounts(
    server: LiveServer, org: TestOrg, db: Database
) -> None:
    other = await make_org(db, "Other org")
    ids = []
    for key in (org.test_key, other.test_key):
        async with GraphQLClient(server.graphql_url, key) as client:
            await complete_verification(client, individual_input())
            result = await add(client, accountNumber="123123123", routingNumber="110000000")
        assert result["userErrors"] == []
        ids.append(result["bankAccount"]["providerExternalAccountId"])
    assert ids[0] != ids[1]
