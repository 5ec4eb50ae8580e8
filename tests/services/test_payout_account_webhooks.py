"""Account webhooks: transitions, at-most-once, out-of-order, events before the account."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import Event, PayoutAccount, ProviderEvent
from models.base import new_id, utcnow
from models.payout_account import BusinessType, PayoutAccountStatus
from providers.base import ConnectedAccount, ExternalAccount, WebhookEvent
from services.infra.database import Database
from services.organizations.api_keys import Viewer
from services.payout_accounts import service as payout_accounts
from services.payout_accounts.validation import validate_verification
from services.provider_events import ingest as webhooks
from tests.conftest import make_org
from tests.support.orgs import TestOrg


def viewer_of(org: TestOrg) -> Viewer:
    return Viewer(org.id, org.name, "US", "usd", False, "key")


def account_event(
    object_id: str, status: str, *, age: timedelta = timedelta(0), **data: Any
) -> WebhookEvent:
    return WebhookEvent(
        id=new_id("sbevt"),
        type="account.updated",
        occurred_at=utcnow() - age,
        livemode=False,
        object_kind="account",
        object_id=object_id,
        data={"status": status, "transfers_enabled": status == "verified", **data},
    )


def prepared_for(provider_account_id: str) -> payout_accounts.PreparedVerification:
    data = {
        "email": "ada@example.com",
        "business_type": "INDIVIDUAL",
        "business_url": "https://ada.example.com",
        "document_url": "https://docs.sandbox.test/id.pdf",
        "bank": {"account_number": "000123456789", "account_holder_name": "Ada"},
        "individual": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+14155550100",
            "date_of_birth": "1985-12-10",
            "address": {
                "line1": "1 Way",
                "city": "Boston",
                "postal_code": "02110",
                "country": "US",
            },
        },
    }
    external = ExternalAccount(id=new_id("sbba"), bank_name="BANK", last4="6789", status="active")
    return payout_accounts.PreparedVerification(
        validate_verification(data),
        "sandbox",
        ConnectedAccount(provider_account_id, "pending_verification", False, external),
        "f" * 64,
    )


async def create_account(db: Database, org: TestOrg, provider_account_id: str) -> str:
    async with db.transaction() as session:
        account, outcome = await payout_accounts.complete_verification(
            session, viewer_of(org), prepared_for(provider_account_id)
        )
    assert outcome == "CREATED"
    return account.id


async def deliver(db: Database, event: WebhookEvent) -> webhooks.IngestResult:
    async with db.transaction() as session:
        return await webhooks.ingest(session, "sandbox", event)


async def account_row(db: Database, account_id: str) -> PayoutAccount:
    async with db.read() as session:
        row = await session.get(PayoutAccount, account_id)
    assert row is not None
    return row


async def updated_events(db: Database, account_id: str) -> int:
    async with db.read() as session:
        result = await session.execute(
            sa.select(sa.func.count()).where(
                col(Event.object_id) == account_id, col(Event.type) == "payout_account.updated"
            )
        )
        return int(result.scalar_one())


async def test_verified_event_enables_transfers_and_sets_verified_at(db: Database) -> None:
    org = await make_org(db)
    provider_id = new_id("sbacct")
    account_id = await create_account(db, org, provider_id)
    result = await deliver(db, account_event(provider_id, "verified"))
    row = await account_row(db, account_id)
    assert result.applied
    assert row.status == PayoutAccountStatus.VERIFIED and row.transfers_enabled
    assert row.verified_at is not None and row.business_type == BusinessType.INDIVIDUAL
    assert await updated_events(db, account_id) == 2  # created, then verified


async def test_same_event_five_times_is_applied_once(db: Database) -> None:
    org = await make_org(db)
    provider_id = new_id("sbacct")
    account_id = await create_account(db, org, provider_id)
    event = account_event(provider_id, "restricted")
    results = [await deliver(db, event) for _ in range(5)]
    assert [r.duplicate for r in results] == [False, True, True, True, True]
    assert (await account_row(db, account_id)).status == PayoutAccountStatus.RESTRICTED
    assert await updated_events(db, account_id) == 2
    async with db.read() as session:
        stored = await session.execute(
            sa.select(sa.func.count()).where(col(ProviderEvent.event_id) == event.id)
        )
        assert stored.scalar_one() == 1


async def test_verified_account_receiving_an_older_event_stays_verified(db: Database) -> None:
    org = await make_org(db)
    provider_id = new_id("sbacct")
    account_id = await create_account(db, org, provider_id)
    newer = account_event(provider_id, "verified")
    older = account_event(provider_id, "restricted", age=timedelta(seconds=30))
    await deliver(db, newer)
    result = await deliver(db, older)
    row = await account_row(db, account_id)
    assert result.applied  # consumed, not left pending
    assert row.status == PayoutAccountStatus.VERIFIED and row.transfers_enabled
    assert row.provider_updated_at == newer.occurred_at


async def test_event_before_the_account_exists_is_applied_when_it_is_created(db: Database) -> None:
    org = await make_org(db)
    provider_id = new_id("sbacct")
    early = await deliver(db, account_event(provider_id, "verified"))
    assert early.applied is False
    account_id = await create_account(db, org, provider_id)
    row = await account_row(db, account_id)
    assert row.status == PayoutAccountStatus.VERIFIED and row.transfers_enabled
    async with db.read() as session:
        pending = await session.execute(
            sa.select(sa.func.count()).where(
                col(ProviderEvent.object_id) == provider_id, col(ProviderEvent.applied_at).is_(None)
            )
        )
        assert pending.scalar_one() == 0


async def test_disabled_account_never_becomes_verified_again(db: Database) -> None:
    org = await make_org(db)
    provider_id = new_id("sbacct")
    account_id = await create_account(db, org, provider_id)
    await deliver(db, account_event(provider_id, "disabled", age=timedelta(seconds=1)))
    await deliver(db, account_event(provider_id, "verified"))
    row = await account_row(db, account_id)
    assert row.status == PayoutAccountStatus.DISABLED and not row.transfers_enabled


async def test_restricted_account_can_become_verified(db: Database) -> None:
    org = await make_org(db)
    provider_id = new_id("sbacct")
    account_id = await create_account(db, org, provider_id)
    await deliver(db, account_event(provider_id, "restricted", age=timedelta(seconds=1)))
    assert not (await account_row(db, account_id)).transfers_enabled
    await deliver(db, account_event(provider_id, "verified"))
    row = await account_row(db, account_id)
    assert row.status == PayoutAccountStatus.VERIFIED and row.transfers_enabled


async def test_event_of_the_other_mode_does_not_touch_the_account(db: Database) -> None:
    org = await make_org(db)
    provider_id = new_id("sbacct")
    account_id = await create_account(db, org, provider_id)
    live_event = dataclasses.replace(account_event(provider_id, "disabled"), livemode=True)
    result = await deliver(db, live_event)
    assert result.applied is False
    assert (await account_row(db, account_id)).status == PayoutAccountStatus.PENDING_VERIFICATION


@pytest.mark.postgres_only  # SQLite's one writer makes the two wait in turn, never in a cycle
async def test_existing_account_is_returned_while_an_event_holds_its_lock(db: Database) -> None:
    """A provider event locks the account, then the organization (its event sequence); a
    concurrent completeVerification holds the organization and must not wait for the account
    (PostgreSQL found that cycle and aborted one of them)."""
    org = await make_org(db)
    provider_id = new_id("sbacct")
    account_id = await create_account(db, org, provider_id)
    async with db.transaction() as event_session:
        event = account_event(provider_id, "verified")
        assert (await webhooks.ingest(event_session, "sandbox", event)).applied
        async with db.transaction() as session:
            existing, outcome = await asyncio.wait_for(
                payout_accounts.complete_verification(
                    session, viewer_of(org), prepared_for(new_id("sbacct"))
                ),
                timeout=10,
            )
        assert (outcome, existing.id) == ("EXISTING", account_id)
    row = await account_row(db, account_id)
    assert row.status == PayoutAccountStatus.VERIFIED
    assert await updated_events(db, account_id) == 2
