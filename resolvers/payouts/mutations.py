"""``requestPayout``, ``cancelPayout`` and ``testAdvancePayout``."""

from __future__ import annotations

import enum

import strawberry

from models.payout import PayoutStatus
from resolvers.context import Info
from resolvers.errors import UserError
from resolvers.mutations import run_mutation
from resolvers.payouts.types import Payout
from resolvers.scalars import Cents
from services.infra.database import Session
from services.organizations.api_keys import Viewer
from services.payouts import actions
from services.payouts import service as payouts


@strawberry.enum(description="Where testAdvancePayout may force a payout (through a webhook).")
class AdvancePayoutStatus(enum.Enum):
    IN_TRANSIT = "IN_TRANSIT"
    PAID = "PAID"
    FAILED = "FAILED"


@strawberry.input
class RequestPayoutInput:
    amount: Cents
    description: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class CancelPayoutInput:
    payout_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class TestAdvancePayoutInput:
    payout_id: strawberry.ID
    status: AdvancePayoutStatus
    failure_code: str | None = None
    idempotency_key: str | None = None


@strawberry.type
class RequestPayoutPayload:
    payout: Payout | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CancelPayoutPayload:
    payout: Payout | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TestAdvancePayoutPayload:
    payout: Payout | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _cancel_at_provider(info: Info, input: CancelPayoutInput, viewer: Viewer) -> None:
    await actions.cancel_at_provider(info.context.services, viewer, str(input.payout_id))


async def _advance_in_sandbox(info: Info, input: TestAdvancePayoutInput, viewer: Viewer) -> None:
    target = PayoutStatus(input.status.value)
    await actions.advance_in_sandbox(
        info.context.services, viewer, str(input.payout_id), target, input.failure_code
    )


@strawberry.type
class PayoutMutation:
    @strawberry.mutation(description="Send funds from the available balance to the bank.")
    @run_mutation
    async def request_payout(
        self, info: Info, input: RequestPayoutInput, session: Session, viewer: Viewer
    ) -> RequestPayoutPayload:
        result = RequestPayoutPayload()

        def show_transfer(transfer_id: str) -> None:
            if result.payout is not None:
                result.payout.provider_transfer_id = transfer_id

        payout = await actions.request(
            session,
            info.context.services,
            viewer,
            amount=input.amount,
            description=input.description,
            on_accepted=show_transfer,
        )
        result.payout = Payout.of(payout)
        return result

    @strawberry.mutation(description="Cancel a PENDING payout, if the provider still can.")
    @run_mutation(prepare=_cancel_at_provider)
    async def cancel_payout(
        self,
        info: Info,
        input: CancelPayoutInput,
        session: Session,
        viewer: Viewer,
        prepared: None,
    ) -> CancelPayoutPayload:
        payout = await payouts.cancel_payout(
            session, viewer.organization_id, viewer.livemode, str(input.payout_id)
        )
        return CancelPayoutPayload(payout=Payout.of(payout))

    @strawberry.mutation(
        description="Test mode: have the sandbox send this status for the payout's transfer "
        "now, through its real webhook path (the payout changes when the webhook arrives)."
    )
    @run_mutation(prepare=_advance_in_sandbox)
    async def test_advance_payout(
        self,
        info: Info,
        input: TestAdvancePayoutInput,
        session: Session,
        viewer: Viewer,
        prepared: None,
    ) -> TestAdvancePayoutPayload:
        row = await payouts.require_payout(
            session, viewer.organization_id, viewer.livemode, str(input.payout_id)
        )
        return TestAdvancePayoutPayload(payout=Payout.of(row))
