"""Test support: the VERIFIED payout account with a default bank account that payouts need.

``verify_through_api`` takes the real path (``completeVerification`` over HTTP, the sandbox's
signed webhook, VERIFIED). ``insert_verified_payout_account`` writes the same end state as rows,
for service-level tests without a server, for servers of a test's own, and for live mode (which
has no provider to verify with by default).
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
from services.infra.database import Database
from tests.support.accounts import verified_payout_account
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg


@dataclass(frozen=True)
class VerifiedAccount:
    payout_account_id: str
    bank_account_id: str


async def insert_verified_payout_account(
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


async def verify_through_api(
    server: LiveServer, org: TestOrg, *, account_number: str = "000123456789"
) -> VerifiedAccount:
    account = await verified_payout_account(
        server.graphql_url, org.test_key, account_number=account_number
    )
    return VerifiedAccount(account["id"], account["defaultBankAccount"]["id"])
