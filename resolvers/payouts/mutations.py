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


@strawberry.type
class PayoutMutation:
    @strawberry.mutation(description="Send funds from the available balance to the bank.")
    async def request_payout(self, info: Info, input: RequestPayoutInput) -> RequestPayoutPayload:
        async def action(session: Session, viewer: Viewer) -> RequestPayoutPayload:
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

        return await run_mutation(
            info, name="requestPayout", input=input, payload=RequestPayoutPayload, action=action
        )

    @strawberry.mutation(description="Cancel a PENDING payout, if the provider still can.")
    async def cancel_payout(self, info: Info, input: CancelPayoutInput) -> CancelPayoutPayload:
        payout_id = str(input.payout_id)

        async def prepare(viewer: Viewer) -> None:
            await actions.cancel_at_provider(info.context.services, viewer, payout_id)

        async def action(session: Session, viewer: Viewer) -> CancelPayoutPayload:
            payout = await payouts.cancel_payout(
                session, viewer.organization_id, viewer.livemode, payout_id
            )
            return CancelPayoutPayload(payout=Payout.of(payout))

        return await run_mutation(
            info,
            name="cancelPayout",
            input=input,
            payload=CancelPayoutPayload,
            action=action,
            prepare=prepare,
        )

    @strawberry.mutation(
        description="Test mode: have the sandbox send this status for the payout's transfer "
        "now, through its real webhook path (the payout changes when the webhook arrives)."
    )
    async def test_advance_payout(
        self, info: Info, input: TestAdvancePayoutInput
    ) -> TestAdvancePayoutPayload:
        payout_id = str(input.payout_id)
        target = PayoutStatus(input.status.value)

        async def prepare(viewer: Viewer) -> None:
            await actions.advance_in_sandbox(
                info.context.services, viewer, payout_id, target, input.failure_code
            )

        async def action(session: Session, viewer: Viewer) -> TestAdvancePayoutPayload:
            row = await payouts.require_payout(
                session, viewer.organization_id, viewer.livemode, payout_id
            )
            return TestAdvancePayoutPayload(payout=Payout.of(row))

        return await run_mutation(
            info,
            name="testAdvancePayout",
            input=input,
            payload=TestAdvancePayoutPayload,
            action=action,
            prepare=prepare,
        )
