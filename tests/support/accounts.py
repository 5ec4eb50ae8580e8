"""Drive the real KYC flow over HTTP: ``completeVerification``, then wait for VERIFIED.

Reused by end-to-end tests that need a verified payout account (payouts, balance...).
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.graphql import GraphQLClient

COMPLETE_VERIFICATION = """
mutation Verify($input: CompleteVerificationInput!) {
  completeVerification(input: $input) {
    outcome
    payoutAccount {
      id status livemode transfersEnabled verifiedAt businessType email country createdAt
      defaultBankAccount { id last4 isDefault status bankName providerExternalAccountId }
    }
    userErrors { code message field }
  }
}
"""
PAYOUT_ACCOUNT = """
{ payoutAccount { id status transfersEnabled verifiedAt
  defaultBankAccount { id last4 isDefault status } } }
"""


def individual_input(
    *,
    account_number: str = "000123456789",
    id_number: str = "123456789",
    document_url: str = "https://docs.sandbox.test/passport.pdf",
    **overrides: Any,
) -> dict[str, Any]:
    """A valid INDIVIDUAL ``CompleteVerificationInput``."""
    data: dict[str, Any] = {
        "email": "ada@example.com",
        "businessType": "INDIVIDUAL",
        "businessUrl": "https://ada.example.com",
        "documentUrl": document_url,
        "bank": {
            "accountNumber": account_number,
            "accountHolderName": "Ada Lovelace",
            "routingNumber": "110000000",
            "accountType": "CHECKING",
        },
        "individual": {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "phone": "+14155550100",
            "dateOfBirth": "1985-12-10",
            "ssnLast4": "4321",
            "idNumber": id_number,
            "address": {
                "line1": "1 Analytical Way",
                "city": "London",
                "postalCode": "N1 9GU",
                "country": "GB",
            },
        },
    }
    data.update(overrides)
    return data


def company_input(*, tax_id: str = "987654321", **overrides: Any) -> dict[str, Any]:
    data = individual_input()
    del data["individual"]
    data["businessType"] = "COMPANY"
    data["company"] = {
        "name": "Analytical Engines Ltd",
        "taxId": tax_id,
        "address": {
            "line1": "2 Market St",
            "city": "Boston",
            "postalCode": "02110",
            "country": "US",
        },
        "representative": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"},
    }
    data.update(overrides)
    return data


async def complete_verification(
    client: GraphQLClient, input: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    data = await client.data(COMPLETE_VERIFICATION, {"input": input}, headers)
    result: dict[str, Any] = data["completeVerification"]
    return result


async def wait_for_account_status(
    client: GraphQLClient, status: str, timeout: float = 10.0
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        account: dict[str, Any] | None = (await client.data(PAYOUT_ACCOUNT))["payoutAccount"]
        if account is not None and account["status"] == status:
            return account
        if loop.time() > deadline:
            raise AssertionError(f"payout account not {status} in {timeout}s: {account}")
        await asyncio.sleep(0.05)


async def verified_payout_account(
    graphql_url: str, test_key: str, *, account_number: str = "000123456789", timeout: float = 10.0
) -> dict[str, Any]:
    """Complete verification for ``test_key``'s organization and wait until it is VERIFIED."""
    async with GraphQLClient(graphql_url, test_key) as client:
        result = await complete_verification(
            client, individual_input(account_number=account_number)
        )
        assert not result["userErrors"], result
        return await wait_for_account_status(client, "VERIFIED", timeout)
