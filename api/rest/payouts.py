"""``/payouts``: the SDKs' ``payouts`` resource, on the services GraphQL's ``requestPayout``,
``addBankAccount`` and ``completeVerification`` call."""

from __future__ import annotations

from api.rest import objects
from api.rest.bodies import (
    AddBankAccountBody,
    CompleteVerificationBody,
    RequestPayoutBody,
    service_input,
)
from api.rest.pipeline import Call, Operation
from services.infra.database import Session
from services.payout_accounts import bank_accounts
from services.payout_accounts import service as payout_accounts
from services.payouts import actions


async def request_payout(session: Session, call: Call, _: None) -> objects.Payout:
    body: RequestPayoutBody = call.body
    result: objects.Payout | None = None

    def show_transfer(transfer_id: str) -> None:
        if result is not None:
            result.provider_transfer_id = transfer_id

    payout = await actions.request(
        session,
        call.app,
        call.viewer,
        amount=body.amount,
        description=body.description,
        on_accepted=show_transfer,
    )
    result = objects.Payout.of(payout)
    return result


async def prepare_bank_account(call: Call) -> bank_accounts.PreparedBankAccount:
    return await bank_accounts.prepare_add(call.app, call.viewer, service_input(call.body))


async def add_bank_account(
    session: Session, call: Call, prepared: bank_accounts.PreparedBankAccount
) -> objects.PayoutBankAccount:
    row = await bank_accounts.add_bank_account(session, call.viewer, prepared)
    return objects.PayoutBankAccount.of(row)


async def prepare_verification(call: Call) -> payout_accounts.PreparedVerification | None:
    viewer = call.viewer
    if call.body is None:
        # SDKs from 2026-08 send no KYC data (the platform moved KYC to its dashboard): an
        # empty body asks for the existing account; without one, the full payload is needed.
        async with call.app.database.read() as session:
            if await payout_accounts.find_account(session, viewer.organization_id, viewer.livemode):
                return None
    data = service_input(call.body) if call.body is not None else {}
    return await payout_accounts.prepare_verification(call.app, viewer, data)


async def complete_verification(
    session: Session, call: Call, prepared: payout_accounts.PreparedVerification | None
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
