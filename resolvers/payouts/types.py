"""GraphQL types of payouts (``Payout``, ``PayoutStatusChange``) and the ``po`` node loader."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
import strawberry
from sqlmodel import col
from strawberry.dataloader import DataLoader

from models import BankAccount as BankAccountRow
from models.payout import Payout as PayoutRow
from models.payout import PayoutStatus
from models.payout import PayoutStatusChange as PayoutStatusChangeRow
from resolvers.context import Info
from resolvers.node import Node, register_node
from resolvers.payout_accounts.types import PayoutBankAccount, bank_account_type
from resolvers.scalars import Cents
from services.organizations.api_keys import Viewer
from services.payouts import service as payouts

PayoutStatusEnum = strawberry.enum(PayoutStatus, name="PayoutStatus")


class PayoutFields(Protocol):
    """What ``Payout.of`` reads (read-only): an ORM ``Payout`` row, or a Core row of
    ``PAYOUT_COLUMNS``."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def livemode(self) -> bool: ...

    @property
    def status(self) -> str: ...

    @property
    def amount(self) -> int: ...

    @property
    def fee(self) -> int: ...

    @property
    def net_amount(self) -> int: ...

    @property
    def currency(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    @property
    def provider_transfer_id(self) -> str | None: ...

    @property
    def failure_code(self) -> str | None: ...

    @property
    def failure_message(self) -> str | None: ...

    @property
    def paid_at(self) -> datetime | None: ...

    @property
    def failed_at(self) -> datetime | None: ...

    @property
    def canceled_at(self) -> datetime | None: ...

    @property
    def bank_account_id(self) -> str: ...


# The columns ``Payout.of`` needs, for lists read as Core rows (no ORM objects per row).
PAYOUT_COLUMNS = tuple(
    PayoutRow.__table__.c[name]  # type: ignore[attr-defined]
    for name in [
        "id",
        "created_at",
        "livemode",
        "status",
        "amount",
        "fee",
        "net_amount",
        "currency",
        "description",
        "provider_transfer_id",
        "failure_code",
        "failure_message",
        "paid_at",
        "failed_at",
        "canceled_at",
        "bank_account_id",
    ]
)


@strawberry.type(description="One step of a payout's life, with its time.")
class PayoutStatusChange:
    from_status: PayoutStatusEnum | None  # type: ignore[valid-type]
    status: PayoutStatusEnum  # type: ignore[valid-type]
    at: datetime
    source: str


@strawberry.type(description="Money sent from the balance to the default bank account.")
class Payout(Node):
    status: PayoutStatusEnum  # type: ignore[valid-type]
    amount: Cents
    fee: Cents
    net_amount: Cents
    currency: str
    description: str | None
    provider_transfer_id: str | None
    failure_code: str | None
    failure_message: str | None
    paid_at: datetime | None
    failed_at: datetime | None
    canceled_at: datetime | None
    bank_account_id: strawberry.Private[str]

    @strawberry.field(description="The bank account the payout was sent to.")
    async def destination_bank(self, info: Info) -> PayoutBankAccount | None:
        return await _bank_loader(info).load(self.bank_account_id)

    @strawberry.field(description="Every status the payout went through, oldest first.")
    async def status_history(self, info: Info) -> list[PayoutStatusChange]:
        return await _history_loader(info).load(str(self.id))

    @classmethod
    def of(cls, row: PayoutFields) -> Payout:
        return cls(
            id=strawberry.ID(row.id),
            created_at=row.created_at,
            livemode=row.livemode,
            status=row.status,
            amount=Cents(row.amount),
            fee=Cents(row.fee),
            net_amount=Cents(row.net_amount),
            currency=row.currency,
            description=row.description,
            provider_transfer_id=row.provider_transfer_id,
            failure_code=row.failure_code,
            failure_message=row.failure_message,
            paid_at=row.paid_at,
            failed_at=row.failed_at,
            canceled_at=row.canceled_at,
            bank_account_id=row.bank_account_id,
        )


def _bank_loader(info: Info) -> DataLoader[str, PayoutBankAccount | None]:
    """One query for the destination banks of every payout in a response (not cached, as
    below: a bank account's status changes and a WebSocket connection keeps its context)."""
    loader: DataLoader[str, PayoutBankAccount | None] | None = info.context.state.get("payout_bank")
    if loader is None:
        db = info.context.db

        async def load(ids: list[str]) -> list[PayoutBankAccount | None]:
            async with db.read() as session:
                rows = (
                    await session.execute(
                        sa.select(BankAccountRow).where(col(BankAccountRow.id).in_(set(ids)))
                    )
                ).scalars()
                found = {row.id: bank_account_type(row) for row in rows}
            return [found.get(i) for i in ids]

        loader = DataLoader(load_fn=load, cache=False, max_batch_size=100)
        info.context.state["payout_bank"] = loader
    return loader


def _history_loader(info: Info) -> DataLoader[str, list[PayoutStatusChange]]:
    """One query for the histories of every payout in a response. Not cached: a WebSocket
    connection keeps one context, and a history read for an earlier event would be stale."""
    loader: DataLoader[str, list[PayoutStatusChange]] | None = info.context.state.get(
        "payout_history"
    )
    if loader is None:
        db = info.context.db

        async def load(ids: list[str]) -> list[list[PayoutStatusChange]]:
            table = PayoutStatusChangeRow
            async with db.read() as session:
                rows = (
                    await session.execute(
                        sa.select(table)
                        .where(col(table.payout_id).in_(ids))
                        .order_by(col(table.created_at), col(table.id))
                    )
                ).scalars()
                found: dict[str, list[PayoutStatusChange]] = {i: [] for i in ids}
                for row in rows:
                    found[row.payout_id].append(
                        PayoutStatusChange(
                            from_status=row.from_status,
                            status=row.to_status,
                            at=row.created_at,
                            source=row.source,
                        )
                    )
            return [found[i] for i in ids]

        loader = DataLoader(load_fn=load, cache=False, max_batch_size=100)
        info.context.state["payout_history"] = loader
    return loader


@register_node("po")
async def load_payout(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        row = await payouts.get_payout(session, viewer.organization_id, viewer.livemode, node_id)
    return None if row is None else Payout.of(row)
