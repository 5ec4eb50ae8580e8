"""Payout accounts (SPEC §3.2): ``completeVerification`` and the provider's account webhooks.

``prepare_verification`` does the slow, external part outside any transaction (validation, the
guarded document download, the provider call with an idempotency key per organization and
mode); ``complete_verification`` then stores the account in one transaction. Concurrent calls
for one organization and mode converge on one provider account and one payout account.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import Organization
from models.base import utcnow
from models.payout_account import (
    ACCOUNT_TRANSITIONS,
    BankAccount,
    BankAccountStatus,
    BankAccountType,
    BusinessType,
    PayoutAccount,
    PayoutAccountStatus,
)
from providers.base import (
    AccountRequest,
    BankDetails,
    ConnectedAccount,
    Document,
    PayoutProvider,
    ProviderError,
    ProviderNotConfigured,
    WebhookEvent,
)
from providers.registry import ProviderRegistry
from services.errors import DomainError, ErrorCode
from services.infra.events import record_event
from services.organizations.api_keys import Viewer
from services.payout_accounts.documents import DocumentFetcher, check_url_form
from services.payout_accounts.validation import Verification, validate_verification
from services.provider_events.ingest import apply_pending_for
from services.provider_failures import provider_failure
from services.scope import TenantId, locked, scoped
from services.sensitive import bank_account_fingerprint

if TYPE_CHECKING:
    from services.app_services import AppServices

log = logging.getLogger(__name__)

SANDBOX_DOCUMENT_HOST = "docs.sandbox.test"
EVENT_UPDATED = "payout_account.updated"
FROM_PROVIDER_STATUS = {
    "pending_verification": PayoutAccountStatus.PENDING_VERIFICATION,
    "verified": PayoutAccountStatus.VERIFIED,
    "restricted": PayoutAccountStatus.RESTRICTED,
    "disabled": PayoutAccountStatus.DISABLED,
}
TO_PROVIDER_STATUS = {v: k for k, v in FROM_PROVIDER_STATUS.items()}


@dataclass(frozen=True, slots=True)
class PreparedVerification:
    """What the transaction needs; ``connected`` is None when the account already existed."""

    verification: Verification
    provider: str | None = None
    connected: ConnectedAccount | None = None
    bank_fingerprint: str | None = None


async def find_account(
    session: AsyncSession, organization_id: str, livemode: bool, *, lock: bool = False
) -> PayoutAccount | None:
    stmt = scoped(PayoutAccount, TenantId(organization_id, livemode))
    if lock:
        stmt = locked(stmt)
    return (await session.execute(stmt)).scalar_one_or_none()


async def require_account(
    session: AsyncSession, viewer: Viewer, *, lock: bool = False
) -> PayoutAccount:
    account = await find_account(session, viewer.organization_id, viewer.livemode, lock=lock)
    if account is None:
        raise DomainError(
            ErrorCode.PAYOUT_ACCOUNT_REQUIRED,
            "complete verification first (completeVerification)",
            None,
        )
    return account


def provider_for(registry: ProviderRegistry, livemode: bool) -> PayoutProvider:
    try:
        return registry.for_mode(livemode)
    except ProviderNotConfigured:
        raise DomainError(
            ErrorCode.PROVIDER_NOT_CONFIGURED,
            "no payout provider is configured for live mode",
            None,
        ) from None


async def prepare_verification(
    app: AppServices,
    viewer: Viewer,
    data: dict[str, object],
    client_ip: str | None = None,
) -> PreparedVerification:
    """``client_ip``: where the merchant's request came from (their acceptance of the
    provider's terms is recorded with it and the time of this request)."""
    verification = validate_verification(data)
    async with app.database.read() as session:
        if await find_account(session, viewer.organization_id, viewer.livemode) is not None:
            return PreparedVerification(verification)  # EXISTING: nothing else happens
    provider = provider_for(app.providers, viewer.livemode)
    document = await _identity_document(
        app.document_fetcher, verification.document_url, viewer.livemode
    )
    bank = _bank_details(verification, viewer)
    try:
        connected = await provider.create_account(
            _account_request(verification, viewer, bank, document, client_ip)
        )
    except ProviderError as exc:
        log.warning("provider refused account creation: %s", type(exc).__name__)
        raise provider_failure(exc) from None
    fingerprint = bank_account_fingerprint(
        app.secret_key,
        country=bank.country,
        routing_number=bank.routing_number,
        account_number=bank.account_number,
    )
    return PreparedVerification(verification, provider.name, connected, fingerprint)


async def complete_verification(
    session: AsyncSession, viewer: Viewer, prepared: PreparedVerification
) -> tuple[PayoutAccount, str]:
    """Store the account (``CREATED``) or return the one that exists (``EXISTING``)."""
    await _lock_organization(session, viewer.organization_id)
    # Not locked: the organization's lock already serializes creation, and a provider event
    # holds the account's lock while it waits for the organization's row (event sequence).
    existing = await find_account(session, viewer.organization_id, viewer.livemode)
    if existing is not None:
        return existing, "EXISTING"
    connected = prepared.connected
    if connected is None or prepared.provider is None or prepared.bank_fingerprint is None:
        raise DomainError(ErrorCode.PROVIDER_ERROR, "the payout account could not be created", None)
    verification = prepared.verification
    account = PayoutAccount(
        organization_id=viewer.organization_id,
        livemode=viewer.livemode,
        status=PayoutAccountStatus.PENDING_VERIFICATION,
        business_type=BusinessType(verification.business_type),
        email=verification.email,
        country=verification.country,
        provider=prepared.provider,
        provider_account_id=connected.id,
    )
    session.add(account)
    await session.flush()
    external = connected.external_account
    session.add(
        BankAccount(
            organization_id=viewer.organization_id,
            livemode=viewer.livemode,
            payout_account_id=account.id,
            holder_name=verification.bank.account_holder_name,
            last4=external.last4,
            fingerprint=prepared.bank_fingerprint,
            bank_name=external.bank_name,
            country=viewer.country,
            currency=viewer.currency,
            account_type=_account_type(verification.bank.account_type),
            is_default=True,
            status=_bank_status(external.status),
            provider_external_account_id=external.id,
        )
    )
    await session.flush()
    _record_updated(session, account)
    # The provider's webhook may have arrived before this commit: apply it now.
    await apply_pending_for(session, prepared.provider, "account", connected.id)
    return account, "CREATED"


async def request_status_change(
    app: AppServices, viewer: Viewer, status: PayoutAccountStatus
) -> None:
    """Test mode: ask the sandbox to move the account; its webhook does the rest."""
    if viewer.livemode:
        raise DomainError(ErrorCode.TEST_MODE_ONLY, "only available with a test key", None)
    async with app.database.read() as session:
        account = await require_account(session, viewer)
    current = PayoutAccountStatus(account.status)
    if status != current and status not in ACCOUNT_TRANSITIONS[current]:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a {current.value} account cannot become {status.value}",
            ["input", "status"],
        )
    assert account.provider_account_id is not None
    try:
        await app.providers.sandbox.set_account_status(
            account.provider_account_id, TO_PROVIDER_STATUS[status]
        )
    except ProviderError:
        raise DomainError(
            ErrorCode.PROVIDER_ERROR, "the sandbox refused the request", None
        ) from None


async def apply_account_event(session: AsyncSession, provider: str, event: WebhookEvent) -> bool:
    """Apply a provider account event; False while the account is not stored yet."""
    account = (
        await session.execute(
            sa.select(PayoutAccount)
            .where(
                col(PayoutAccount.provider) == provider,
                col(PayoutAccount.provider_account_id) == event.object_id,
                col(PayoutAccount.livemode) == event.livemode,
            )
            .with_for_update()  # no tenant yet: the provider's account id names it
        )
    ).scalar_one_or_none()
    if account is None:
        return False
    seen = account.provider_updated_at
    if seen is not None and event.occurred_at < seen:
        log.info("stale account event %s ignored", event.id)
        return True
    target = FROM_PROVIDER_STATUS.get(str(event.data.get("status")))
    current = PayoutAccountStatus(account.status)
    if target is None or (target != current and target not in ACCOUNT_TRANSITIONS[current]):
        log.info("account event %s: no transition %s → %s", event.id, current, target)
        return True
    changed = _move(account, target, bool(event.data.get("transfers_enabled")))
    account.provider_updated_at = event.occurred_at
    session.add(account)
    if changed:
        _record_updated(session, account)
    return True


def _move(account: PayoutAccount, target: PayoutAccountStatus, transfers_enabled: bool) -> bool:
    enabled = transfers_enabled and target == PayoutAccountStatus.VERIFIED
    changed = account.status != target or account.transfers_enabled != enabled
    account.status = target
    account.transfers_enabled = enabled
    if target == PayoutAccountStatus.VERIFIED and account.verified_at is None:
        account.verified_at = utcnow()
    return changed


def _record_updated(session: AsyncSession, account: PayoutAccount) -> None:
    record_event(
        session,
        organization_id=account.organization_id,
        livemode=account.livemode,
        type=EVENT_UPDATED,
        object_type="payout_account",
        object_id=account.id,
    )


async def _lock_organization(session: AsyncSession, organization_id: str) -> None:
    """Serializes account creation per organization (PostgreSQL; SQLite has one writer)."""
    await session.execute(
        sa.select(col(Organization.id))
        .where(col(Organization.id) == organization_id)
        .with_for_update()
    )


async def _identity_document(fetcher: DocumentFetcher, url: str, livemode: bool) -> Document:
    if not livemode and check_url_form(url).hostname == SANDBOX_DOCUMENT_HOST:
        # SPEC §4: in test mode this reserved host stands for a valid document (once the URL
        # passed the same form rules as any other: https, default port, no credentials).
        return Document(b"", "application/pdf", hashlib.sha256(url.encode()).hexdigest())
    return await fetcher.fetch(url)


def _bank_details(verification: Verification, viewer: Viewer) -> BankDetails:
    bank = verification.bank
    return BankDetails(
        account_number=bank.account_number,
        holder_name=bank.account_holder_name,
        routing_number=bank.routing_number,
        account_type=bank.account_type.lower() if bank.account_type else None,
        country=viewer.country,
        currency=viewer.currency,
    )


def _account_request(
    verification: Verification,
    viewer: Viewer,
    bank: BankDetails,
    document: Document,
    client_ip: str | None,
) -> AccountRequest:
    mode = "live" if viewer.livemode else "test"
    return AccountRequest(
        idempotency_key=f"payout-account:{viewer.organization_id}:{mode}",
        livemode=viewer.livemode,
        email=verification.email,
        business_type=verification.business_type.lower(),
        business_url=verification.business_url,
        country=verification.country,
        bank=bank,
        document=document,
        individual=verification.individual.model_dump() if verification.individual else None,
        company=verification.company.model_dump() if verification.company else None,
        tos_accepted_at=utcnow(),
        tos_ip=client_ip,
    )


def _account_type(value: str | None) -> BankAccountType | None:
    return BankAccountType(value) if value else None


def _bank_status(value: str) -> BankAccountStatus:
    return BankAccountStatus.ERRORED if value == "errored" else BankAccountStatus.ACTIVE
