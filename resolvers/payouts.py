"""``payout``, ``payouts``, ``requestPayout``, ``cancelPayout`` and ``testAdvancePayout``."""

from __future__ import annotations

import enum

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from models.payout import PayoutStatus
from providers.base import ProviderError, ProviderNotConfigured
from providers.registry import ProviderRegistry
from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.errors import UserError
from resolvers.mutations import run_mutation
from resolvers.pagination import Connection, page_request_errors, to_connection
from resolvers.payout_types import PAYOUT_COLUMNS, Payout, PayoutStatusEnum
from resolvers.scalars import Cents
from services import payouts, reconciler
from services.api_keys import Viewer
from services.database import after_commit
from services.errors import DomainError
from services.payouts import PayoutPolicy


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


def _registry(info: Info) -> ProviderRegistry:
    registry: ProviderRegistry = info.context.services["providers"]
    return registry


def _provider_name(registry: ProviderRegistry, livemode: bool) -> str:
    try:
        return registry.for_mode(livemode).name
    except ProviderNotConfigured as exc:
        raise DomainError("PROVIDER_NOT_CONFIGURED", str(exc)) from exc


@strawberry.type
class PayoutQuery:
    @strawberry.field(description="One payout by id; null when it is not yours or unknown.")
    async def payout(self, info: Info, id: strawberry.ID) -> Payout | None:
        viewer = require_viewer(info)
        async with info.context.db.read() as session:
            row = await payouts.get_payout(
                session, viewer.organization_id, viewer.livemode, str(id)
            )
        return None if row is None else Payout.of(row)

    @strawberry.field(description="Payouts, newest first (keyset over createdAt, id).")
    async def payouts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: PayoutStatusEnum | None = None,  # type: ignore[valid-type]
    ) -> Connection[Payout]:
        viewer = require_viewer(info)
        with page_request_errors():
            page = await payouts.page_rows(
                info.context.db,
                PAYOUT_COLUMNS,
                organization_id=viewer.organization_id,
                livemode=viewer.livemode,
                status=None if status is None else PayoutStatus(status),
                first=first,
                after=after,
            )
        return to_connection(page, Payout.of)


@strawberry.type
class PayoutMutation:
    @strawberry.mutation(description="Send funds from the available balance to the bank.")
    async def request_payout(self, info: Info, input: RequestPayoutInput) -> RequestPayoutPayload:
        registry = _registry(info)
        policy: PayoutPolicy = info.context.services["payout_policy"]
        db = info.context.db

        async def action(session: AsyncSession, viewer: Viewer) -> RequestPayoutPayload:
            payouts.check_request(input.amount, input.description)
            payout = await payouts.request_payout(
                session,
                organization_id=viewer.organization_id,
                livemode=viewer.livemode,
                currency=viewer.currency,
                amount=input.amount,
                description=input.description,
                provider=_provider_name(registry, viewer.livemode),
                policy=policy,
            )
            result = RequestPayoutPayload(payout=Payout.of(payout))

            def show_transfer(transfer_id: str) -> None:
                if result.payout is not None:
                    result.payout.provider_transfer_id = transfer_id

            prepared = payouts.prepared_transfer(session, payout.id)
            after_commit(
                session,
                reconciler.after_request(
                    db,
                    registry,
                    policy,
                    payout.id,
                    show_transfer,
                    None if prepared is None else (payout.provider, prepared),
                ),
            )
            return result

        return await run_mutation(
            info, name="requestPayout", input=input, payload=RequestPayoutPayload, action=action
        )

    @strawberry.mutation(description="Cancel a PENDING payout, if the provider still can.")
    async def cancel_payout(self, info: Info, input: CancelPayoutInput) -> CancelPayoutPayload:
        registry = _registry(info)
        db = info.context.db
        payout_id = str(input.payout_id)

        async def prepare(viewer: Viewer) -> None:
            async with db.read() as session:
                row = await payouts.require_payout(
                    session, viewer.organization_id, viewer.livemode, payout_id
                )
            transfer_id = payouts.check_cancelable(row)
            try:
                canceled = await registry.for_mode(viewer.livemode).cancel_transfer(transfer_id)
            except ProviderNotConfigured as exc:
                raise DomainError("PROVIDER_NOT_CONFIGURED", str(exc)) from exc
            except ProviderError as exc:
                raise DomainError("PROVIDER_ERROR", str(exc)) from exc
            if not canceled:
                raise DomainError(
                    "INVALID_TRANSITION",
                    "the payout has already left for the bank and cannot be canceled",
                    ["input", "payoutId"],
                )

        async def action(session: AsyncSession, viewer: Viewer) -> CancelPayoutPayload:
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
        registry = _registry(info)
        db = info.context.db
        payout_id = str(input.payout_id)
        target = PayoutStatus(input.status.value)

        async def prepare(viewer: Viewer) -> None:
            if viewer.livemode:
                raise DomainError("TEST_MODE_ONLY", "testAdvancePayout needs a test key")
            async with db.read() as session:
                row = await payouts.require_payout(
                    session, viewer.organization_id, viewer.livemode, payout_id
                )
            if row.provider_transfer_id is None or not await registry.sandbox.advance_transfer(
                row.provider_transfer_id, target.value.lower(), input.failure_code
            ):
                raise DomainError(
                    "INVALID_TRANSITION",
                    "the sandbox has no transfer for this payout that can move",
                    ["input", "payoutId"],
                )

        async def action(session: AsyncSession, viewer: Viewer) -> TestAdvancePayoutPayload:
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
