"""Bank accounts of a payout account (SPEC §3.3): add one, keep exactly one default.

Duplicates are found by a keyed fingerprint of the account (``services.sensitive``); the
number itself is never stored. ``setDefault`` unsets the old default and sets the new one in
one transaction (the partial unique index would refuse two defaults at any moment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.payout_account import BankAccount, BankAccountStatus, BankAccountType, PayoutAccount
from providers.base import BankDetails, ExternalAccount, ProviderError
from services.errors import DomainError, ErrorCode
from services.organizations.api_keys import Viewer
from services.payout_accounts.service import provider_for, require_account
from services.payout_accounts.validation import NewBankAccount, validate_new_bank_account
from services.provider_failures import provider_failure
from services.scope import Tenant, scoped
from services.sensitive import bank_account_fingerprint

if TYPE_CHECKING:
    from services.app_services import AppServices


@dataclass(frozen=True, slots=True)
class PreparedBankAccount:
    request: NewBankAccount
    payout_account_id: str
    fingerprint: str
    external: ExternalAccount


def _duplicate() -> DomainError:
    return DomainError(
        ErrorCode.DUPLICATE, "this bank account is already attached", ["input", "accountNumber"]
    )


async def prepare_add(
    app: AppServices, viewer: Viewer, data: dict[str, object]
) -> PreparedBankAccount:
    request = validate_new_bank_account(data)
    async with app.database.read() as session:
        account = await require_account(session, viewer)
        fingerprint = bank_account_fingerprint(
            app.secret_key,
            country=viewer.country,
            routing_number=request.routing_number,
            account_number=request.account_number,
        )
        if await _find_by_fingerprint(session, account.id, fingerprint) is not None:
            raise _duplicate()
    provider = provider_for(app.providers, viewer.livemode)
    assert account.provider_account_id is not None
    details = BankDetails(
        account_number=request.account_number,
        holder_name=request.account_holder_name,
        routing_number=request.routing_number,
        account_type=request.account_type.lower() if request.account_type else None,
        country=viewer.country,
        currency=viewer.currency,
    )
    try:
        external = await provider.add_external_account(
            account.provider_account_id,
            details,
            idempotency_key=f"bank-account:{account.provider_account_id}:{fingerprint}",
            default=request.set_default,
        )
    except ProviderError as exc:
        raise provider_failure(exc, under=("bank",)) from None
    return PreparedBankAccount(request, account.id, fingerprint, external)


async def add_bank_account(
    session: AsyncSession, viewer: Viewer, prepared: PreparedBankAccount
) -> BankAccount:
    account = await require_account(session, viewer, lock=True)
    if await _find_by_fingerprint(session, account.id, prepared.fingerprint) is not None:
        raise _duplicate()
    has_default = await default_bank_account(session, viewer, account.id) is not None
    make_default = prepared.request.set_default or not has_default
    if make_default and has_default:
        await session.execute(
            sa.update(BankAccount)
            .where(col(BankAccount.payout_account_id) == account.id, col(BankAccount.is_default))
            .values(is_default=False)
        )
        await session.flush()
    request, external = prepared.request, prepared.external
    row = BankAccount(
        organization_id=viewer.organization_id,
        livemode=viewer.livemode,
        payout_account_id=account.id,
        holder_name=request.account_holder_name,
        last4=external.last4,
        fingerprint=prepared.fingerprint,
        bank_name=external.bank_name,
        country=viewer.country,
        currency=viewer.currency,
        account_type=BankAccountType(request.account_type) if request.account_type else None,
        is_default=make_default,
        status=BankAccountStatus.ERRORED
        if external.status == "errored"
        else BankAccountStatus.ACTIVE,
        provider_external_account_id=external.id,
    )
    session.add(row)
    await session.flush()
    return row


async def default_bank_account(
    session: AsyncSession, tenant: Tenant, payout_account_id: str
) -> BankAccount | None:
    stmt = scoped(
        BankAccount,
        tenant,
        col(BankAccount.payout_account_id) == payout_account_id,
        col(BankAccount.is_default),
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def bank_accounts_query(viewer: Viewer) -> sa.Select[Any]:
    """The viewer's bank accounts (for keyset pagination)."""
    return scoped(BankAccount, viewer)


async def get_bank_account(
    session: AsyncSession, tenant: Tenant, bank_account_id: str
) -> BankAccount | None:
    stmt = scoped(BankAccount, tenant, col(BankAccount.id) == bank_account_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_payout_account(
    session: AsyncSession, tenant: Tenant, payout_account_id: str
) -> PayoutAccount | None:
    stmt = scoped(PayoutAccount, tenant, col(PayoutAccount.id) == payout_account_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _find_by_fingerprint(
    session: AsyncSession, payout_account_id: str, fingerprint: str
) -> str | None:
    found = await session.execute(
        sa.select(col(BankAccount.id)).where(
            col(BankAccount.payout_account_id) == payout_account_id,
            col(BankAccount.fingerprint) == fingerprint,
        )
    )
    value = found.scalar_one_or_none()
    return str(value) if value is not None else None
