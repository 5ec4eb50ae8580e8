"""GraphQL helpers for balance and payout tests (over real HTTP)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from models import BalanceTransaction
from services.infra.database import Database
from tests.support.graphql import GraphQLClient
from tests.support.live_server import ROOT

BALANCE = "{ balance { available pending inTransit paidOut currency livemode } }"
PAYOUT_FIELDS = """
  id status amount fee netAmount currency description providerTransferId
  failureCode failureMessage createdAt paidAt failedAt canceledAt livemode
  statusHistory { fromStatus status at source }
  destinationBank { id last4 isDefault status }
"""
CREDIT = """
mutation($input: TestCreditBalanceInput!) {
  testCreditBalance(input: $input) {
    balanceTransaction { id type amount pendingChange availableChange availableOn }
    balance { available pending inTransit paidOut }
    userErrors { code message field }
  }
}"""
REQUEST = f"""
mutation($input: RequestPayoutInput!) {{
  requestPayout(input: $input) {{
    payout {{ {PAYOUT_FIELDS} }}
    userErrors {{ code message field }}
  }}
}}"""
CANCEL = f"""
mutation($input: CancelPayoutInput!) {{
  cancelPayout(input: $input) {{
    payout {{ {PAYOUT_FIELDS} }}
    userErrors {{ code message field }}
  }}
}}"""
ADVANCE = """
mutation($input: TestAdvancePayoutInput!) {
  testAdvancePayout(input: $input) { payout { id status } userErrors { code message field } }
}"""
PAYOUT = f"query($id: ID!) {{ payout(id: $id) {{ {PAYOUT_FIELDS} }} }}"


async def balance(client: GraphQLClient) -> dict[str, Any]:
    data: dict[str, Any] = (await client.data(BALANCE))["balance"]
    return data


async def credit(client: GraphQLClient, amount: int, available_in_seconds: int = 0) -> None:
    data = await client.data(
        CREDIT, {"input": {"amount": amount, "availableInSeconds": available_in_seconds}}
    )
    assert data["testCreditBalance"]["userErrors"] == [], data


async def request_payout(client: GraphQLClient, amount: int, **extra: Any) -> dict[str, Any]:
    data = await client.data(REQUEST, {"input": {"amount": amount, **extra}})
    result: dict[str, Any] = data["requestPayout"]
    return result


async def payout(client: GraphQLClient, payout_id: str) -> dict[str, Any]:
    data: dict[str, Any] = (await client.data(PAYOUT, {"id": payout_id}))["payout"]
    return data


async def wait_for_payout(
    client: GraphQLClient, payout_id: str, predicate: Any, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    current: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        current = await payout(client, payout_id)
        if predicate(current):
            return current
        await asyncio.sleep(0.1)
    raise AssertionError(f"payout never reached the expected state: {current}")


async def wait_for_status(
    client: GraphQLClient, payout_id: str, status: str, timeout: float = 30.0
) -> dict[str, Any]:
    return await wait_for_payout(client, payout_id, lambda p: p["status"] == status, timeout)


async def ledger_entries(db: Database, org_id: str) -> list[tuple[str, str, int]]:
    async with db.read() as session:
        rows = await session.execute(
            sa.select(
                col(BalanceTransaction.id),
                col(BalanceTransaction.type),
                col(BalanceTransaction.amount),
            )
            .where(col(BalanceTransaction.organization_id) == org_id)
            .order_by(col(BalanceTransaction.created_at), col(BalanceTransaction.id))
        )
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows.all()]


def verify_ledger(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTS_")}
    env["PAYOUTS_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "verify-ledger"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
