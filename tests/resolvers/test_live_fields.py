"""The loaders behind ``payoutUpdated``, ``payoutAccountUpdated`` and ``balanceUpdated`` read
an event's object only within the event's organization and mode, and as it is now."""

from __future__ import annotations

import dataclasses

from models.base import utcnow
from resolvers.live.subscriptions import load_balance, load_payout, load_payout_account
from services.infra.database import Database
from services.infra.events import PublishedEvent
from services.ledger import service as ledger
from services.payouts import service as payouts
from services.payouts.service import PayoutPolicy
from tests.conftest import make_org
from tests.support.payout_setup import insert_verified_payout_account


def _event(org_id: str, object_type: str, object_id: str, livemode: bool = False) -> PublishedEvent:
    return PublishedEvent(
        id="evt_test",
        organization_id=org_id,
        livemode=livemode,
        seq=1,
        type=f"{object_type}.updated",
        object_type=object_type,
        object_id=object_id,
        occurred_at=utcnow(),
    )


async def _credit(db: Database, org_id: str, amount: int) -> str:
    async with db.transaction() as session:
        result = await ledger.credit(
            session,
            organization_id=org_id,
            livemode=False,
            currency="usd",
            amount=amount,
            description=None,
            available_in_seconds=0,
        )
        return result.balance.id


async def test_loaders_return_the_object_as_it_is_now_in_its_own_scope_only(db: Database) -> None:
    mine = await make_org(db, "Mine")
    theirs = await make_org(db, "Theirs")
    account = await insert_verified_payout_account(db, mine.id)
    balance_id = await _credit(db, mine.id, 700)
    await _credit(db, mine.id, 300)
    async with db.transaction() as session:
        payout = await payouts.request_payout(
            session,
            organization_id=mine.id,
            livemode=False,
            currency="usd",
            amount=1_000,
            description=None,
            provider="sandbox",
            policy=PayoutPolicy(),
        )
    cases = [
        (load_balance, "balance", balance_id),
        (load_payout_account, "payout_account", account.payout_account_id),
        (load_payout, "payout", payout.id),
    ]
    async with db.read() as session:
        for load, object_type, object_id in cases:
            event = _event(mine.id, object_type, object_id)
            assert await load(session, event) is not None, object_type
            foreign = dataclasses.replace(event, organization_id=theirs.id)
            assert await load(session, foreign) is None, object_type
            other_mode = dataclasses.replace(event, livemode=True)
            assert await load(session, other_mode) is None, object_type
        balance = await load_balance(session, _event(mine.id, "balance", balance_id))
    assert balance is not None  # as it is after both credits and the payout
    assert (balance.available, balance.in_transit) == (0, 1_000)
