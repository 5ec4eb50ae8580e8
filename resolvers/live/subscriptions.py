"""Subscriptions ``payoutUpdated``, ``payoutAccountUpdated`` and ``balanceUpdated``.

Each event's object is read again, in a read session of its own, scoped by the event's
organization and mode (``resolvers.live.stream.live_events``): nothing cached in the connection's
context ever answers for an event. ``Payout``'s nested fields (``statusHistory``,
``destinationBank``) use uncached loaders that open their own sessions, so they also read
the data as it is when the event is resolved.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers.auth import require_viewer
from resolvers.balance.types import Balance
from resolvers.context import Info
from resolvers.errors import RequestError
from resolvers.live.stream import LiveEvent, LiveEventFields, live_events
from resolvers.payout_accounts.types import PayoutAccount, payout_account_type
from resolvers.payouts.types import Payout
from services.infra.database import Session
from services.infra.events import PublishedEvent
from services.ledger import service as ledger
from services.payout_accounts import bank_accounts
from services.payouts import service as payouts


@strawberry.type(description="A change to one payout: created, in transit, paid, failed, canceled.")
class PayoutEvent(LiveEvent):
    payout: Payout = strawberry.field(description="The payout as it is now.")


@strawberry.type(description="A change to the payout account (status, verification).")
class PayoutAccountEvent(LiveEvent):
    payout_account: PayoutAccount = strawberry.field(description="The payout account as it is now.")


@strawberry.type(description="A change to the balance (credit, payout, release).")
class BalanceEvent(LiveEvent):
    balance: Balance = strawberry.field(description="The balance as it is now.")


async def load_payout(session: Session, event: PublishedEvent) -> Payout | None:
    row = await payouts.get_payout(session, event.organization_id, event.livemode, event.object_id)
    return None if row is None else Payout.of(row)


async def load_payout_account(session: Session, event: PublishedEvent) -> PayoutAccount | None:
    row = await bank_accounts.get_payout_account(session, event, event.object_id)
    return None if row is None else payout_account_type(row)


async def load_balance(session: Session, event: PublishedEvent) -> Balance | None:
    row = await ledger.get_balance_by_id(session, event, event.object_id)
    return None if row is None else Balance.of(row)


def _payout_event(fields: LiveEventFields, payout: Payout) -> PayoutEvent:
    return PayoutEvent(**fields, payout=payout)


def _payout_account_event(fields: LiveEventFields, account: PayoutAccount) -> PayoutAccountEvent:
    return PayoutAccountEvent(**fields, payout_account=account)


def _balance_event(fields: LiveEventFields, balance: Balance) -> BalanceEvent:
    return BalanceEvent(**fields, balance=balance)


async def _require_own_payout(info: Info, payout_id: str) -> None:
    """A subscription to a payout the viewer cannot see would wait forever: refuse it now."""
    viewer = require_viewer(info)
    async with info.context.db.read() as session:
        row = await payouts.get_payout(session, viewer.organization_id, viewer.livemode, payout_id)
    if row is None:
        raise RequestError("No payout with this id in this organization and mode.", "NOT_FOUND")


@strawberry.type
class LiveSubscription:
    @strawberry.subscription(
        description=(
            "Changes to payouts (one payout with `id`), in order. With `after` (an event's "
            "`cursor`), first replays the events after it, then goes live."
        )
    )
    async def payout_updated(
        self, info: Info, id: strawberry.ID | None = None, after: str | None = None
    ) -> AsyncGenerator[PayoutEvent, None]:
        if id is not None:
            await _require_own_payout(info, str(id))
        return await live_events(
            info,
            object_type="payout",
            object_id=None if id is None else str(id),
            after=after,
            load=load_payout,
            build=_payout_event,
        )

    @strawberry.subscription(
        description="Changes to the payout account, in order; `after` resumes after a cursor."
    )
    async def payout_account_updated(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[PayoutAccountEvent, None]:
        return await live_events(
            info,
            object_type="payout_account",
            after=after,
            load=load_payout_account,
            build=_payout_account_event,
        )

    @strawberry.subscription(
        description="Changes to the balance, in order; `after` resumes after a cursor."
    )
    async def balance_updated(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[BalanceEvent, None]:
        return await live_events(
            info,
            object_type="balance",
            after=after,
            load=load_balance,
            build=_balance_event,
        )
