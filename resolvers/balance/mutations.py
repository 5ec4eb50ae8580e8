"""``testCreditBalance``."""

from __future__ import annotations

import strawberry

from resolvers.balance.types import Balance, BalanceTransaction
from resolvers.context import Info
from resolvers.errors import UserError
from resolvers.mutations import run_mutation
from resolvers.scalars import Cents
from services.infra.database import Session
from services.ledger import service as ledger
from services.organizations.api_keys import Viewer


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
class BalanceMutation:
    @strawberry.mutation(
        description="Test mode: credit pending funds, available after availableInSeconds."
    )
    @run_mutation
    async def test_credit_balance(
        self, info: Info, input: TestCreditBalanceInput, session: Session, viewer: Viewer
    ) -> TestCreditBalancePayload:
        result = await ledger.test_credit(
            session,
            viewer,
            amount=input.amount,
            description=input.description,
            available_in_seconds=input.available_in_seconds,
        )
        return TestCreditBalancePayload(
            balance_transaction=BalanceTransaction.of(result.transaction),
            balance=Balance.of(result.balance),
        )
