"""Sandbox connected accounts and external bank accounts.

Outcomes are decided at creation (SPEC §4): an ``id_number`` / ``tax_id`` of ``000000000``
ends ``rejected`` (our DISABLED), anything else ``verified``. The ``account.updated`` webhook is
scheduled in the sandbox's own transaction and delivered by the outbox after the delay. Only
last4 of a bank account number is kept; the ``fails_transfers`` flag is derived at creation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.sandbox import SandboxAccount, SandboxExternalAccount
from providers.base import (
    AccountRequest,
    BankDetails,
    ConnectedAccount,
    ExternalAccount,
    ProviderError,
)
from providers.sandbox.outbox import schedule_webhook

if TYPE_CHECKING:
    from providers.base import TransactionFactory
    from providers.sandbox.config import SandboxConfig
    from providers.sandbox.outbox import WebhookDeliverer

REJECTED_ID_NUMBER = "000000000"
FAILING_ACCOUNT_SUFFIX = "0002"
BANK_NAME = "SANDBOX TEST BANK"
# Neutral status → sandbox vocabulary (the reverse of provider.ACCOUNT_STATUSES).
TO_SANDBOX_STATUS = {
    "pending_verification": "pending",
    "verified": "verified",
    "restricted": "restricted",
    "disabled": "rejected",
}
_NEUTRAL = {v: k for k, v in TO_SANDBOX_STATUS.items()}


class SandboxAccounts:
    db: TransactionFactory
    config: SandboxConfig
    deliverer: WebhookDeliverer

    async def create_account(self, request: AccountRequest) -> ConnectedAccount:
        try:
            async with self.db.transaction() as session:
                found = await _account_by_key(session, request.idempotency_key)
                if found is None:
                    found = self._open_account(session, request)
                    await session.flush()
                external = await self._attach(
                    session, found.id, request.bank, f"{request.idempotency_key}:bank"
                )
                result = _connected(found, external)
        except IntegrityError:
            # A concurrent request with the same idempotency key created it first.
            async with self.db.transaction() as session:
                found = await _account_by_key(session, request.idempotency_key)
                if found is None:
                    raise ProviderError("sandbox account creation conflicted") from None
                external = await self._attach(
                    session, found.id, request.bank, f"{request.idempotency_key}:bank"
                )
                result = _connected(found, external)
        self.deliverer.wake_in(self.config.delay_seconds)  # the review's outcome falls due
        return result

    async def add_external_account(
        self, account_id: str, bank: BankDetails, *, idempotency_key: str, default: bool = False
    ) -> ExternalAccount:
        # The sandbox keeps no default: which account is paid travels with each transfer.
        try:
            async with self.db.transaction() as session:
                external = await self._attach(session, account_id, bank, idempotency_key)
        except IntegrityError:
            async with self.db.transaction() as session:
                external = await self._attach(session, account_id, bank, idempotency_key)
        return _external(external)

    async def set_account_status(self, account_id: str, status: str) -> None:
        """Test helper: move an account to a neutral ``status`` through a real webhook."""
        sandbox_status = TO_SANDBOX_STATUS.get(status)
        if sandbox_status is None:
            raise ProviderError(f"unknown account status {status!r}")
        async with self.db.transaction() as session:
            account = await session.get(SandboxAccount, account_id)
            if account is None:
                raise ProviderError("no such sandbox account")
            account.status = sandbox_status
            account.planned_status = sandbox_status
            account.transfers_enabled = sandbox_status == "verified"
            session.add(account)
            self._schedule_update(
                session, account, status=sandbox_status, transfers_enabled=account.transfers_enabled
            )
        self.deliverer.wake_in(self.config.delay_seconds)  # the review's outcome falls due

    def _open_account(self, session: AsyncSession, request: AccountRequest) -> SandboxAccount:
        id_number = (request.individual or {}).get("id_number") or (request.company or {}).get(
            "tax_id"
        )
        planned = "rejected" if id_number == REJECTED_ID_NUMBER else "verified"
        account = SandboxAccount(
            idempotency_key=request.idempotency_key,
            livemode=request.livemode,
            status="pending",
            planned_status=planned,
            business_type=request.business_type,
            email=request.email,
            document_sha256=request.document.sha256 if request.document else None,
        )
        session.add(account)
        enabled = planned == "verified"
        # The outcome is delivered later, as the real provider's review would be.
        self._schedule_update(session, account, status=planned, transfers_enabled=enabled)
        return account

    def _schedule_update(
        self,
        session: AsyncSession,
        account: SandboxAccount,
        *,
        status: str,
        transfers_enabled: bool,
    ) -> None:
        schedule_webhook(
            session,
            event_type="account.updated",
            livemode=account.livemode,
            obj={
                "id": account.id,
                "object": "account",
                "status": status,
                "transfers_enabled": transfers_enabled,
            },
            delay_seconds=self.config.delay_seconds,
        )

    async def _attach(
        self, session: AsyncSession, account_id: str, bank: BankDetails, idempotency_key: str
    ) -> SandboxExternalAccount:
        existing = (
            await session.execute(
                sa.select(SandboxExternalAccount).where(
                    col(SandboxExternalAccount.idempotency_key) == idempotency_key
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            if existing.account_id != account_id:
                raise ProviderError("idempotency key reused for another account")
            return existing
        if await session.get(SandboxAccount, account_id) is None:
            raise ProviderError("no such sandbox account")
        digits = "".join(ch for ch in bank.account_number if ch.isdigit())
        external = SandboxExternalAccount(
            account_id=account_id,
            idempotency_key=idempotency_key,
            last4=digits[-4:],
            bank_name=BANK_NAME,
            fails_transfers=digits.endswith(FAILING_ACCOUNT_SUFFIX),
        )
        session.add(external)
        await session.flush()
        return external


async def _account_by_key(session: AsyncSession, key: str) -> SandboxAccount | None:
    return (
        await session.execute(
            sa.select(SandboxAccount).where(col(SandboxAccount.idempotency_key) == key)
        )
    ).scalar_one_or_none()


def _external(row: SandboxExternalAccount) -> ExternalAccount:
    return ExternalAccount(id=row.id, bank_name=row.bank_name, last4=row.last4, status=row.status)


def _connected(account: SandboxAccount, external: SandboxExternalAccount) -> ConnectedAccount:
    return ConnectedAccount(
        id=account.id,
        status=_NEUTRAL.get(account.status, "pending_verification"),
        transfers_enabled=account.transfers_enabled,
        external_account=_external(external),
    )
