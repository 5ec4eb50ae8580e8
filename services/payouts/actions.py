"""What the edges ask of payouts around the state machine: a request (submitted to the
provider after commit), a cancel (asked of the provider first) and a test-mode advance."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from models.payout import Payout, PayoutStatus
from providers.base import ProviderError, ProviderNotConfigured
from providers.registry import ProviderRegistry
from services.errors import DomainError, ErrorCode
from services.infra.database import after_commit
from services.organizations.api_keys import Viewer
from services.payouts import reconciler
from services.payouts import service as payouts
from services.provider_failures import provider_failure

if TYPE_CHECKING:
    from services.app_services import AppServices


def provider_name(registry: ProviderRegistry, livemode: bool) -> str:
    try:
        return registry.for_mode(livemode).name
    except ProviderNotConfigured as exc:
        raise DomainError(ErrorCode.PROVIDER_NOT_CONFIGURED, str(exc)) from exc


async def request(
    session: AsyncSession,
    app: AppServices,
    viewer: Viewer,
    *,
    amount: int,
    description: str | None,
    on_accepted: Callable[[str], None] | None = None,
) -> Payout:
    """Create the payout in this transaction; once it commits, ask the provider for the
    transfer (``on_accepted`` gets the transfer id, so the response can show it)."""
    payouts.check_request(amount, description)
    payout = await payouts.request_payout(
        session,
        organization_id=viewer.organization_id,
        livemode=viewer.livemode,
        currency=viewer.currency,
        amount=amount,
        description=description,
        provider=provider_name(app.providers, viewer.livemode),
        policy=app.payout_policy,
    )
    after_commit(
        session,
        reconciler.after_request(
            app.database, app.providers, app.payout_policy, payout.id, on_accepted, app.faults
        ),
    )
    return payout


async def cancel_at_provider(app: AppServices, viewer: Viewer, payout_id: str) -> None:
    """Before ``payouts.cancel_payout``: the provider must cancel the transfer first."""
    async with app.database.read() as session:
        row = await payouts.require_payout(
            session, viewer.organization_id, viewer.livemode, payout_id
        )
    transfer_id = payouts.check_cancelable(row)
    try:
        canceled = await app.providers.for_mode(viewer.livemode).cancel_transfer(transfer_id)
    except ProviderNotConfigured as exc:
        raise DomainError(ErrorCode.PROVIDER_NOT_CONFIGURED, str(exc)) from exc
    except ProviderError as exc:
        raise provider_failure(exc) from None
    if not canceled:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "the payout has already left for the bank and cannot be canceled",
            ["input", "payoutId"],
        )


async def advance_in_sandbox(
    app: AppServices,
    viewer: Viewer,
    payout_id: str,
    target: PayoutStatus,
    failure_code: str | None,
) -> None:
    """Test mode: have the sandbox send ``target`` for the payout's transfer through its real
    webhook path (the payout changes when the webhook arrives)."""
    if viewer.livemode:
        raise DomainError(ErrorCode.TEST_MODE_ONLY, "testAdvancePayout needs a test key")
    async with app.database.read() as session:
        row = await payouts.require_payout(
            session, viewer.organization_id, viewer.livemode, payout_id
        )
    if row.provider_transfer_id is None or not await app.providers.sandbox.advance_transfer(
        row.provider_transfer_id, target.value.lower(), failure_code
    ):
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "the sandbox has no transfer for this payout that can move",
            ["input", "payoutId"],
        )
