"""GraphQL types of the balance: ``Balance`` and ``BalanceTransaction``."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.ledger import Balance as BalanceRow
from models.ledger import BalanceTransaction as BalanceTransactionRow
from models.ledger import BalanceTransactionType
from resolvers.node import Node
from resolvers.scalars import Cents
from services.ledger import service as ledger

BalanceTransactionTypeEnum = strawberry.enum(
    BalanceTransactionType,
    name="BalanceTransactionType",
    description="What moved the balance.",
)


@strawberry.type(description="Funds per bucket, in integer minor units.")
class Balance:
    id: strawberry.ID = strawberry.field(
        description="Stable per organization, mode and currency (a cache key; not a Node id)."
    )
    available: Cents
    pending: Cents
    in_transit: Cents
    paid_out: Cents
    currency: str
    livemode: bool

    @classmethod
    def of(cls, row: ledger.BalanceView | BalanceRow) -> Balance:
        mode = "live" if row.livemode else "test"
        return cls(
            id=strawberry.ID(f"bal_{row.organization_id}_{mode}_{row.currency}"),
            available=Cents(row.available),
            pending=Cents(row.pending),
            in_transit=Cents(row.in_transit),
            paid_out=Cents(row.paid_out),
            currency=row.currency,
            livemode=row.livemode,
        )


@strawberry.type(description="One append-only ledger entry and the balance after it.")
class BalanceTransaction(Node):
    type: BalanceTransactionTypeEnum  # type: ignore[valid-type]
    amount: Cents = strawberry.field(
        description="Signed: positive when funds come to the organization, negative when they leave."
    )
    currency: str
    available_change: Cents
    pending_change: Cents
    in_transit_change: Cents
    paid_out_change: Cents
    available_after: Cents
    pending_after: Cents
    in_transit_after: Cents
    paid_out_after: Cents
    source_type: str
    source_id: str
    description: str | None
    available_on: datetime | None

    @classmethod
    def of(cls, row: BalanceTransactionRow) -> BalanceTransaction:
        return cls(
            id=strawberry.ID(row.id),
            created_at=row.created_at,
            livemode=row.livemode,
            type=row.type,
            amount=Cents(row.amount),
            currency=row.currency,
            available_change=Cents(row.available_change),
            pending_change=Cents(row.pending_change),
            in_transit_change=Cents(row.in_transit_change),
            paid_out_change=Cents(row.paid_out_change),
            available_after=Cents(row.available_after),
            pending_after=Cents(row.pending_after),
            in_transit_after=Cents(row.in_transit_after),
            paid_out_after=Cents(row.paid_out_after),
            source_type=row.source_type,
            source_id=row.source_id,
            description=row.description,
            available_on=row.available_on,
        )
