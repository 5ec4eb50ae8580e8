"""GraphQL for payout accounts and bank accounts: types, queries, mutations, node loaders."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from models import payout_account as m
from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.errors import UserError
from resolvers.mutations import run_mutation
from resolvers.node import Node, register_node
from resolvers.pagination import Connection, page_request_errors, to_connection
from resolvers.snapshot import dump
from services import bank_accounts, payout_accounts
from services.api_keys import Viewer
from services.documents import DocumentFetcher
from services.pagination import keyset_page

PayoutAccountStatus = m.PayoutAccountStatus
BankAccountStatus = m.BankAccountStatus
BankAccountType = m.BankAccountType
BusinessType = m.BusinessType
# Expose the model enums as GraphQL enums (strawberry marks the classes themselves).
for _enum in (PayoutAccountStatus, BankAccountStatus, BankAccountType, BusinessType):
    strawberry.enum(_enum)


@strawberry.enum
class VerificationOutcome(enum.Enum):
    CREATED = "CREATED"
    EXISTING = "EXISTING"


@strawberry.type(description="A destination bank account; only its last 4 digits are kept.")
class PayoutBankAccount(Node):
    last4: str
    bank_name: str | None
    account_holder_name: str
    country: str
    currency: str
    account_type: BankAccountType | None
    is_default: bool
    status: BankAccountStatus
    provider_external_account_id: str | None


@strawberry.type(description="The organization's verified (KYC) account at the payout provider.")
class PayoutAccount(Node):
    status: PayoutAccountStatus
    business_type: BusinessType
    email: str
    country: str
    transfers_enabled: bool
    verified_at: datetime | None

    @strawberry.field(description="The bank account payouts go to.")
    async def default_bank_account(self, info: Info) -> PayoutBankAccount | None:
        async with info.context.db.read() as session:
            row = await bank_accounts.default_bank_account(session, str(self.id))
        return bank_account_type(row) if row is not None else None


def bank_account_type(row: m.BankAccount) -> PayoutBankAccount:
    return PayoutBankAccount(
        id=strawberry.ID(row.id),
        created_at=row.created_at,
        livemode=row.livemode,
        last4=row.last4,
        bank_name=row.bank_name,
        account_holder_name=row.holder_name,
        country=row.country,
        currency=row.currency,
        account_type=BankAccountType(row.account_type) if row.account_type else None,
        is_default=row.is_default,
        status=BankAccountStatus(row.status),
        provider_external_account_id=row.provider_external_account_id,
    )


def payout_account_type(row: m.PayoutAccount) -> PayoutAccount:
    return PayoutAccount(
        id=strawberry.ID(row.id),
        created_at=row.created_at,
        livemode=row.livemode,
        status=PayoutAccountStatus(row.status),
        business_type=BusinessType(row.business_type),
        email=row.email,
        country=row.country,
        transfers_enabled=row.transfers_enabled,
        verified_at=row.verified_at,
    )


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


_DEFAULT_FETCHER = DocumentFetcher()


def _fetcher(info: Info) -> DocumentFetcher:
    fetcher = info.context.services.get("document_fetcher")
    return fetcher if isinstance(fetcher, DocumentFetcher) else _DEFAULT_FETCHER


def _client_ip(info: Info) -> str | None:
    client = getattr(info.context.request, "client", None)
    return None if client is None else str(client.host)


def _request(input: Any) -> dict[str, Any]:
    data: dict[str, Any] = dump(input)
    data.pop("idempotency_key", None)
    return data


@strawberry.type
class PayoutAccountMutation:
    @strawberry.mutation(description="Open the payout account (KYC); idempotent per mode.")
    async def complete_verification(
        self, info: Info, input: CompleteVerificationInput
    ) -> CompleteVerificationPayload:
        services = info.context.services
        prepared: list[payout_accounts.PreparedVerification] = []

        async def prepare(viewer: Viewer) -> None:
            prepared.append(
                await payout_accounts.prepare_verification(
                    info.context.db,
                    services["providers"],
                    _fetcher(info),
                    services["settings"].secret_key,
                    viewer,
                    _request(input),
                    client_ip=_client_ip(info),
                )
            )

        async def action(session: AsyncSession, viewer: Viewer) -> CompleteVerificationPayload:
            row, outcome = await payout_accounts.complete_verification(
                session, viewer, prepared[-1]
            )
            return CompleteVerificationPayload(
                payout_account=payout_account_type(row), outcome=VerificationOutcome(outcome)
            )

        return await run_mutation(
            info,
            name="completeVerification",
            input=input,
            payload=CompleteVerificationPayload,
            action=action,
            prepare=prepare,
        )

    @strawberry.mutation(description="Attach another destination bank account.")
    async def add_bank_account(
        self, info: Info, input: AddBankAccountInput
    ) -> AddBankAccountPayload:
        services = info.context.services
        prepared: list[bank_accounts.PreparedBankAccount] = []

        async def prepare(viewer: Viewer) -> None:
            prepared.append(
                await bank_accounts.prepare_add(
                    info.context.db,
                    services["providers"],
                    services["settings"].secret_key,
                    viewer,
                    _request(input),
                )
            )

        async def action(session: AsyncSession, viewer: Viewer) -> AddBankAccountPayload:
            row = await bank_accounts.add_bank_account(session, viewer, prepared[-1])
            return AddBankAccountPayload(bank_account=bank_account_type(row))

        return await run_mutation(
            info,
            name="addBankAccount",
            input=input,
            payload=AddBankAccountPayload,
            action=action,
            prepare=prepare,
        )

    @strawberry.mutation(
        description="Test mode: move the payout account through the sandbox's real webhook."
    )
    async def test_set_payout_account_status(
        self, info: Info, input: TestSetPayoutAccountStatusInput
    ) -> TestSetPayoutAccountStatusPayload:
        async def prepare(viewer: Viewer) -> None:
            await payout_accounts.request_status_change(
                info.context.db,
                info.context.services["providers"],
                viewer,
                m.PayoutAccountStatus(input.status),
            )

        async def action(
            session: AsyncSession, viewer: Viewer
        ) -> TestSetPayoutAccountStatusPayload:
            row = await payout_accounts.require_account(session, viewer)
            return TestSetPayoutAccountStatusPayload(payout_account=payout_account_type(row))

        return await run_mutation(
            info,
            name="testSetPayoutAccountStatus",
            input=input,
            payload=TestSetPayoutAccountStatusPayload,
            action=action,
            prepare=prepare,
        )


@strawberry.type
class PayoutAccountQuery:
    @strawberry.field(description="The payout account of this organization and mode, if any.")
    async def payout_account(self, info: Info) -> PayoutAccount | None:
        viewer = require_viewer(info)
        async with info.context.db.read() as session:
            row = await payout_accounts.find_account(
                session, viewer.organization_id, viewer.livemode
            )
        return payout_account_type(row) if row is not None else None

    @strawberry.field(description="Destination bank accounts, newest first.")
    async def bank_accounts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[PayoutBankAccount]:
        viewer = require_viewer(info)
        with page_request_errors():
            async with info.context.db.read() as session:
                page = await keyset_page(
                    session,
                    bank_accounts.bank_accounts_query(viewer),
                    m.BankAccount,
                    first=first,
                    after=after,
                )
        return to_connection(page, bank_account_type)


@register_node("pacct")
async def load_payout_account(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        row = await bank_accounts.get_payout_account(session, viewer, node_id)
    return payout_account_type(row) if row is not None else None


@register_node("ba")
async def load_bank_account(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        row = await bank_accounts.get_bank_account(session, viewer, node_id)
    return bank_account_type(row) if row is not None else None
