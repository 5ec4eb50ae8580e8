"""The fee policy from settings: fee = amount × bps / 10000 + fixed; the provider transfers
the net amount; paidOut counts the gross amount."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from models import SandboxTransfer
from services.infra.database import Database
from services.organizations import api_keys
from services.payouts.service import PayoutPolicy
from tests.support.graphql import GraphQLClient
from tests.support.live_server import start_server
from tests.support.payout_setup import insert_verified_payout_account
from tests.support.payouts import balance, credit, request_payout, wait_for_status

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("bps", "fixed", "amount", "fee"),
    [(0, 0, 1000, 0), (250, 30, 10_000, 280), (250, 0, 1_001, 25), (0, 999, 1000, 999)],
)
def test_fee_is_percent_rounded_down_plus_fixed(
    bps: int, fixed: int, amount: int, fee: int
) -> None:
    assert PayoutPolicy(fee_bps=bps, fee_fixed=fixed).fee_for(amount) == fee


async def test_payout_with_fee_transfers_net_amount(
    private_database_url: str, tmp_path: Path
) -> None:
    db = Database(private_database_url)
    try:
        async with db.transaction() as session:
            created = await api_keys.create_organization(session, name="Fee Co")
        await insert_verified_payout_account(db, created.organization.id)
        env: dict[str, Any] = {"PAYOUTS_PAYOUT_FEE_BPS": "250", "PAYOUTS_PAYOUT_FEE_FIXED": "30"}
        with start_server(private_database_url, tmp_path / "server.log", **env) as live:
            async with GraphQLClient(live.graphql_url, created.test_key) as client:
                await credit(client, 20_000)
                result = await request_payout(client, 10_000)
                payout = result["payout"]
                assert (payout["amount"], payout["fee"], payout["netAmount"]) == (
                    10_000,
                    280,
                    9_720,
                )
                paid = await wait_for_status(client, payout["id"], "PAID")
                final = await balance(client)
        async with db.read() as session:
            transfer = await session.get(SandboxTransfer, paid["providerTransferId"])
        assert transfer is not None and transfer.amount == 9_720
        assert (final["available"], final["paidOut"]) == (10_000, 10_000)
    finally:
        await db.dispose()
