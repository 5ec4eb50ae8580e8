"""``completeVerification``, ``addBankAccount`` and ``testSetPayoutAccountStatus``."""

from __future__ import annotations

import strawberry

from models import payout_account as m
from resolvers.context import Info
from resolvers.errors import UserError
from resolvers.mutations import request_of, run_mutation
from resolvers.payout_accounts.types import (
    BankAccountType,
    BusinessType,
    PayoutAccount,
    PayoutAccountStatus,
    PayoutBankAccount,
    VerificationOutcome,
    bank_account_type,
    payout_account_type,
)
from services.infra.database import Session
from services.organizations.api_keys import Viewer
from services.payout_accounts import bank_accounts
from services.payout_accounts import service as payout_accounts


@strawberry.input
class AddressInput:
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    state: str | None = None


@strawberry.input
class BankAccountDetailsInput:
    account_number: str
    account_holder_name: str
    routing_number: str | None = None
    account_type: BankAccountType | None = None


@strawberry.input
class IndividualInput:
    first_name: str
    last_name: str
    phone: str
    date_of_birth: str = strawberry.field(description="YYYY-MM-DD; never stored or returned.")
    address: AddressInput
    ssn_last4: str | None = None
    id_number: str | None = None


@strawberry.input
class RepresentativeInput:
    first_name: str
    last_name: str
    phone: str | None = None
    email: str | None = None


@strawberry.input
class CompanyInput:
    name: str
    tax_id: str
    address: AddressInput
    representative: RepresentativeInput


@strawberry.input
class CompleteVerificationInput:
    email: str
    business_type: BusinessType
    business_url: str
    document_url: str
    bank: BankAccountDetailsInput
    individual: IndividualInput | None = None
    company: CompanyInput | None = None
    idempotency_key: str | None = None


@strawberry.input
class AddBankAccountInput:
    account_number: str
    account_holder_name: str
    routing_number: str | None = None
    account_type: BankAccountType | None = None
    set_default: bool = False
    idempotency_key: str | None = None


@strawberry.input
class TestSetPayoutAccountStatusInput:
    status: PayoutAccountStatus
    idempotency_key: str | None = None


@strawberry.type
class CompleteVerificationPayload:
    payout_account: PayoutAccount | None = None
    outcome: VerificationOutcome | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AddBankAccountPayload:
    bank_account: PayoutBankAccount | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TestSetPayoutAccountStatusPayload:
    payout_account: PayoutAccount | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _prepare_verification(
    info: Info, input: CompleteVerificationInput, viewer: Viewer
) -> payout_accounts.PreparedVerification:
    return await payout_accounts.prepare_verification(
        info.context.services, viewer, request_of(input), client_ip=_client_ip(info)
    )


def _client_ip(info: Info) -> str | None:
    """Where the merchant's request came from: their acceptance of the provider's terms is
    recorded with it."""
    client = getattr(info.context.request, "client", None)
    return None if client is None else str(client.host)


async def _prepare_bank_account(
    info: Info, input: AddBankAccountInput, viewer: Viewer
) -> bank_accounts.PreparedBankAccount:
    return await bank_accounts.prepare_add(info.context.services, viewer, request_of(input))


async def _request_status_change(
    info: Info, input: TestSetPayoutAccountStatusInput, viewer: Viewer
) -> None:
    await payout_accounts.request_status_change(
        info.context.services, viewer, m.PayoutAccountStatus(input.status)
    )


@strawberry.type
class PayoutAccountMutation:
    @strawberry.mutation(description="Open the payout account (KYC); idempotent per mode.")
    @run_mutation(prepare=_prepare_verification)
    async def complete_verification(
        self,
        info: Info,
        input: CompleteVerificationInput,
        session: Session,
        viewer: Viewer,
        prepared: payout_accounts.PreparedVerification,
    ) -> CompleteVerificationPayload:
        row, outcome = await payout_accounts.complete_verification(session, viewer, prepared)
        return CompleteVerificationPayload(
            payout_account=payout_account_type(row), outcome=VerificationOutcome(outcome)
        )

    @strawberry.mutation(description="Attach another destination bank account.")
    @run_mutation(prepare=_prepare_bank_account)
    async def add_bank_account(
        self,
        info: Info,
        input: AddBankAccountInput,
        session: Session,
        viewer: Viewer,
        prepared: bank_accounts.PreparedBankAccount,
    ) -> AddBankAccountPayload:
        row = await bank_accounts.add_bank_account(session, viewer, prepared)
        return AddBankAccountPayload(bank_account=bank_account_type(row))

    @strawberry.mutation(
        description="Test mode: move the payout account through the sandbox's real webhook."
    )
    @run_mutation(prepare=_request_status_change)
    async def test_set_payout_account_status(
        self,
        info: Info,
        input: TestSetPayoutAccountStatusInput,
        session: Session,
        viewer: Viewer,
        prepared: None,
    ) -> TestSetPayoutAccountStatusPayload:
        row = await payout_accounts.require_account(session, viewer)
        return TestSetPayoutAccountStatusPayload(payout_account=payout_account_type(row))
