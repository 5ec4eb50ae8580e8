"""GraphQL types of payout accounts and bank accounts, and their mappers."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from models import payout_account as m
from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.node import Node
from resolvers.pagination import Connection, page_request_errors, to_connection
from services.pagination import keyset_page
from services.payout_accounts import bank_accounts

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
    provider_account_id: str | None = strawberry.field(
        description="The payout provider's id for this account; null until the provider has one."
    )

    @strawberry.field(description="Destination bank accounts of this account, newest first.")
    async def bank_accounts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[PayoutBankAccount]:
        # One payout account per organization and mode: its bank accounts are the viewer's.
        return await bank_account_page(info, first, after)

    @strawberry.field(description="The bank account payouts go to.")
    async def default_bank_account(self, info: Info) -> PayoutBankAccount | None:
        async with info.context.db.read() as session:
            row = await bank_accounts.default_bank_account(
                session, require_viewer(info), str(self.id)
            )
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
        provider_account_id=row.provider_account_id,
    )


async def bank_account_page(
    info: Info, first: int | None, after: str | None
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
