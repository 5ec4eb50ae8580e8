"""``/payouts``: the SDKs' ``payouts`` resource, on the services GraphQL's ``requestPayout``,
``addBankAccount`` and ``completeVerification`` call."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.rest import objects
from api.rest.bodies import (
    AddBankAccountBody,
    CompleteVerificationBody,
    RequestPayoutBody,
    service_input,
)
from api.rest.pipeline import Call, Operation
from providers.base import ProviderNotConfigured
from providers.registry import ProviderRegistry
from services import bank_accounts, payout_accounts, payouts, reconciler
from services.database import after_commit
from services.documents import DocumentFetcher
from services.errors import DomainError
from services.payouts import PayoutPolicy

_DEFAULT_FETCHER = DocumentFetcher()


def _registry(call: Call) -> ProviderRegistry:
    registry: ProviderRegistry = call.services["providers"]
    return registry


def _provider_name(registry: ProviderRegistry, livemode: bool) -> str:
    try:
        return registry.for_mode(livemode).name
    except ProviderNotConfigured as exc:
        raise DomainError("PROVIDER_NOT_CONFIGURED", str(exc)) from exc


async def request_payout(session: AsyncSession, call: Call, _: None) -> objects.Payout:
    body: RequestPayoutBody = call.body
    viewer = call.viewer
    registry = _registry(call)
    policy: PayoutPolicy = call.services["payout_policy"]
    payout = await payouts.request_payout(
        session,
        organization_id=viewer.organization_id,
        livemode=viewer.livemode,
        currency=viewer.currency,
        amount=body.amount,
        description=body.description,
        provider=_provider_name(registry, viewer.livemode),
        policy=policy,
    )
    result = objects.Payout.of(payout)

    def show_transfer(transfer_id: str) -> None:
        result.provider_transfer_id = transfer_id

    after_commit(
        session,
        reconciler.after_request(call.env.db, registry, policy, payout.id, show_transfer),
    )
    return result


async def prepare_bank_account(call: Call) -> bank_accounts.PreparedBankAccount:
    return await bank_accounts.prepare_add(
        call.env.db, _registry(call), call.env.secret_key, call.viewer, service_input(call.body)
    )


async def add_bank_account(
    session: AsyncSession, call: Call, prepared: bank_accounts.PreparedBankAccount
) -> objects.PayoutBankAccount:
    row = await bank_accounts.add_bank_account(session, call.viewer, prepared)
    return objects.PayoutBankAccount.of(row)


def _fetcher(call: Call) -> DocumentFetcher:
    fetcher = call.services.get("document_fetcher")
    return fetcher if isinstance(fetcher, DocumentFetcher) else _DEFAULT_FETCHER


async def prepare_verification(call: Call) -> payout_accounts.PreparedVerification | None:
    if call.body is None:
        # SDKs from 2026-08 send no KYC data (the platform moved KYC to its dashboard): an
        # empty body asks for the existing account; without one, the full payload is needed.
        async with call.env.db.read() as session:
            if await payout_accounts.find_account(
                session, call.viewer.organization_id, call.viewer.livemode
            ):
                return None
    return await payout_accounts.prepare_verification(
        call.env.db,
        _registry(call),
        _fetcher(call),
        call.env.secret_key,
        call.viewer,
        service_input(call.body) if call.body is not None else {},
    )


async def complete_verification(
    session: AsyncSession, call: Call, prepared: payout_accounts.PreparedVerification | None
) -> objects.PayoutAccount:
    if prepared is None:
        row = await payout_accounts.require_account(session, call.viewer)
        return objects.PayoutAccount.of(row, "EXISTING", call.version)
    row, outcome = await payout_accounts.complete_verification(session, call.viewer, prepared)
    return objects.PayoutAccount.of(row, outcome, call.version)


OPERATIONS = [
    Operation(
        "POST",
        "/payouts",
        "request-payout",
        "Request a payout",
        request_payout,
        objects.Payout,
        tag="payouts",
        body=RequestPayoutBody,
        errors=(400, 409, 422),
        description="Withdraw available balance to the default bank account of the verified "
        "payout account. Created `pending`; settles asynchronously (`in_transit`, `paid`).",
    ),
    Operation(
        "POST",
        "/payouts/bank-accounts",
        "add-payout-bank-account",
        "Add a payout bank account",
        add_bank_account,
        objects.PayoutBankAccount,
        tag="payouts",
        body=AddBankAccountBody,
        prepare=prepare_bank_account,
        errors=(409, 422, 502),
        description="Attach another destination account; only its last 4 digits are kept.",
    ),
    Operation(
        "POST",
        "/payouts/verification",
        "complete-payout-verification",
        "Complete payout verification",
        complete_verification,
        objects.PayoutAccount,
        tag="payouts",
        body=CompleteVerificationBody,
        prepare=prepare_verification,
        empty_body=True,
        errors=(409, 422, 502),
        description="Open the payout account in one call with the full KYC and bank payload "
        "(idempotent per organization and mode: an existing account is returned). An empty "
        "body returns the existing account.",
    ),
]
