"""GraphQL types of payouts: ``Payout`` and ``PayoutStatusChange``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import strawberry

from models.payout import PayoutStatus
from models.payout import PayoutStatusChange as PayoutStatusChangeRow
from resolvers.context import Info
from resolvers.node import Node
from resolvers.payout_accounts.types import PayoutBankAccount, bank_account_type
from resolvers.payouts import loaders
from resolvers.scalars import Cents

PayoutStatusEnum = strawberry.enum(PayoutStatus, name="PayoutStatus")


class PayoutFields(Protocol):
    """What ``Payout.of`` reads (read-only): an ORM ``Payout`` row, or a Core row of
    ``services.payouts.queries.PAYOUT_COLUMNS``."""

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


@strawberry.type(description="One step of a payout's life, with its time.")
class PayoutStatusChange:
    from_status: PayoutStatusEnum | None  # type: ignore[valid-type]
    status: PayoutStatusEnum  # type: ignore[valid-type]
    at: datetime
    source: str

    @classmethod
    def of(cls, row: PayoutStatusChangeRow) -> PayoutStatusChange:
        return cls(
            from_status=row.from_status, status=row.to_status, at=row.created_at, source=row.source
        )


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
        row = await loaders.destination_banks(info).load(self.bank_account_id)
        return None if row is None else bank_account_type(row)

    @strawberry.field(description="Every status the payout went through, oldest first.")
    async def status_history(self, info: Info) -> list[PayoutStatusChange]:
        rows = await loaders.status_histories(info).load(str(self.id))
        return [PayoutStatusChange.of(row) for row in rows]

    @classmethod
    def of_rows(cls, rows: Sequence[Any]) -> list[Payout]:
        """``of`` for each of a page's rows. Core rows of exactly ``Payout``'s attributes (the
        columns of ``services.payouts.queries.PAYOUT_COLUMNS``, by name and in order) become
        payouts without the constructor: the same attributes with the same values (``ID``
        and ``Cents`` are ``NewType``s), several times cheaper for a page of 50."""
        fields = getattr(rows[0], "_fields", None) if rows else None
        if fields != _ATTRIBUTES:
            return [cls.of(row) for row in rows]
        new = object.__new__
        payouts = []
        for row in rows:
            payout = new(cls)
            payout.__dict__ = dict(zip(_ATTRIBUTES, row, strict=True))
            payouts.append(payout)
        return payouts

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


# What ``Payout.of`` sets, in the order the dataclass declares them (``of_rows`` relies on it).
_ATTRIBUTES = tuple(field.name for field in dataclasses.fields(Payout) if field.init)
