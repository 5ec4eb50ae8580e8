"""Test support: the VERIFIED payout account with a default bank account that payouts need.

Until ``completeVerification`` lands (the payout-accounts work), this inserts that state
directly: our PayoutAccount/BankAccount rows and the sandbox's own account rows. The
coordinator switches it to the real flow at merge. Everything else in the payout tests goes
through the real server.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from models import (
    BankAccount,
    BankAccountStatus,
    BusinessType,
    PayoutAccount,
    PayoutAccountStatus,
    SandboxAccount,
    SandboxExternalAccount,
)
from models.base import new_id, utcnow
from services.database import Database


@dataclass(frozen=True)
class VerifiedAccount:
    payout_account_id: str
    bank_account_id: str


async def verified_payout_account(
    db: Database,
    org_id: str,
    *,
    livemode: bool = False,
    account_number_last4: str = "6789",
    fails_transfers: bool = False,
) -> VerifiedAccount:
    async with db.transaction() as session:
        sandbox_account = SandboxAccount(
            idempotency_key=new_id("test"),
            livemode=livemode,
            status="verified",
            planned_status="verified",
            transfers_enabled=True,
            business_type="individual",
            email="owner@example.com",
        )
        session.add(sandbox_account)
        await session.flush()
        external = SandboxExternalAccount(
            account_id=sandbox_account.id,
            idempotency_key=new_id("test"),
            last4=account_number_last4,
            fails_transfers=fails_transfers or account_number_last4 == "0002",
        )
        session.add(external)
        account = PayoutAccount(
            organization_id=org_id,
            livemode=livemode,
            status=PayoutAccountStatus.VERIFIED,
            transfers_enabled=True,
            business_type=BusinessType.INDIVIDUAL,
            email="owner@example.com",
            country="US",
            provider="sandbox",
            provider_account_id=sandbox_account.id,
            verified_at=utcnow(),
        )
        session.add(account)
        await session.flush()
        bank = BankAccount(
            organization_id=org_id,
            livemode=livemode,
            payout_account_id=account.id,
            holder_name="Owner",
            last4=account_number_last4,
            fingerprint=hashlib.sha256(new_id("fp").encode()).hexdigest(),
            country="US",
            currency="usd",
            is_default=True,
            status=BankAccountStatus.ACTIVE,
            provider_external_account_id=external.id,
        )
        session.add(bank)
        await session.flush()
        return VerifiedAccount(account.id, bank.id)
