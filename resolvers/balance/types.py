"""``balance``, ``balanceTransactions`` and ``testCreditBalance``."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from models.ledger import Balance as BalanceRow
from models.ledger import BalanceTransaction as BalanceTransactionRow
from models.ledger import BalanceTransactionType
from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.errors import UserError
from resolvers.mutations import run_mutation
from resolvers.node import Node, register_node
from resolvers.pagination import Connection, page_request_errors, to_connection
from resolvers.scalars import Cents
from services.errors import DomainError
from services.ledger import service as ledger
from services.organizations.api_keys import Viewer
from services.pagination import keyset_page

BalanceTransactionTypeEnum = strawberry.enum(
    BalanceTransactionType,
    name="BalanceTransactionType",
    description="What moved the balance.",
)


@strawberry.type(description="Funds per bucket, in integer minor units.")
class Balance:
    available: Cents
    pending: Cents
    in_transit: Cents
    paid_out: Cents
    currency: str
    livemode: bool

    @classmethod
    def of(cls, row: ledger.BalanceView | BalanceRow) -> Balance:
        return cls(
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


@register_node("txn")
async def load_transaction(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        row = await session.get(BalanceTransactionRow, node_id)
    if row is None or row.organization_id != viewer.organization_id:
        return None
    if row.livemode != viewer.livemode:
        return None
    return BalanceTransaction.of(row)


@strawberry.input
class TestCreditBalanceInput:
    amount: Cents
    description: str | None = None
    available_in_seconds: int = 0
    idempotency_key: str | None = None


@strawberry.type
class TestCreditBalancePayload:
    balance_transaction: BalanceTransaction | None = None
    balance: Balance | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class BalanceQuery:
    @strawberry.field(description="The organization's balance in the key's mode.")
    async def balance(self, info: Info) -> Balance:
        viewer = require_viewer(info)
        async with info.context.db.read() as session:
            view = await ledger.get_balance(
                session, viewer.organization_id, viewer.livemode, viewer.currency
            )
        return Balance.of(view)

    @strawberry.field(description="Ledger entries, newest first.")
    async def balance_transactions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[BalanceTransaction]:
        viewer = require_viewer(info)
        with page_request_errors():
            async with info.context.db.read() as session:
                page = await keyset_page(
                    session,
                    ledger.transactions_query(viewer.organization_id, viewer.livemode),
                    BalanceTransactionRow,
                    first=first,
                    after=after,
                )
        return to_connection(page, BalanceTransaction.of)


@strawberry.type
class BalanceMutation:
    @strawberry.mutation(
        description="Test mode: credit pending funds, available after availableInSeconds."
    )
    async def test_credit_balance(
        self, info: Info, input: TestCreditBalanceInput
    ) -> TestCreditBalancePayload:
        async def action(session: AsyncSession, viewer: Viewer) -> TestCreditBalancePayload:
            if viewer.livemode:
                raise DomainError("TEST_MODE_ONLY", "testCreditBalance needs a test key")
            result = await ledger.credit(
                session,
                organization_id=viewer.organization_id,
                livemode=viewer.livemode,
                currency=viewer.currency,
                amount=input.amount,
                description=input.description,
                available_in_seconds=input.available_in_seconds,
            )
            return TestCreditBalancePayload(
                balance_transaction=BalanceTransaction.of(result.transaction),
                balance=Balance.of(result.balance),
            )

        return await run_mutation(
            info,
            name="testCreditBalance",
            input=input,
            payload=TestCreditBalancePayload,
            action=action,
        )
