"""Provider events about objects not stored yet: stored pending by one statement (PostgreSQL),
and left out of the pending sweep until their object appears."""

from __future__ import annotations

import dataclasses
import json

import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import ProviderEvent
from models.base import new_id, utcnow
from models.payout_account import PayoutAccountStatus
from services.infra.database import Database
from services.infra.statement_pool import StatementPool
from services.provider_events import ingest as webhooks
from tests.conftest import make_org
from tests.services.test_payout_account_webhooks import (
    account_event,
    account_row,
    create_account,
    deliver,
)


async def stored_rows(db: Database, event_id: str) -> list[ProviderEvent]:
    async with db.read() as session:
        result = await session.execute(
            sa.select(ProviderEvent).where(col(ProviderEvent.event_id) == event_id)
        )
        return list(result.scalars().all())


def statements(db: Database) -> StatementPool:
    assert db.write_statements is not None
    return db.write_statements


@pytest.mark.postgres_only
async def test_event_about_an_unknown_object_is_stored_pending_once(db: Database) -> None:
    event = account_event(new_id("sbacct"), "verified")
    first = await webhooks.store_pending(statements(db), "sandbox", event)
    again = await webhooks.store_pending(statements(db), "sandbox", event)
    assert first == webhooks.IngestResult(duplicate=False, applied=False)
    assert again == webhooks.IngestResult(duplicate=True, applied=False)
    (row,) = await stored_rows(db, event.id)
    assert row.applied_at is None and row.object_kind == "account" and row.livemode is False
    assert (row.object_id, row.type, row.occurred_at) == (
        event.object_id,
        event.type,
        event.occurred_at,
    )
    assert json.loads(row.data) == dict(event.data)
    # The ORM path agrees that it is stored.
    assert (await deliver(db, event)).duplicate


@pytest.mark.postgres_only
async def test_event_about_a_known_object_is_left_to_the_transaction(db: Database) -> None:
    org = await make_org(db)
    provider_id = new_id("sbacct")
    account_id = await create_account(db, org, provider_id)
    event = account_event(provider_id, "verified")
    assert await webhooks.store_pending(statements(db), "sandbox", event) is None
    assert await stored_rows(db, event.id) == []
    result = await deliver(db, event)
    assert result == webhooks.IngestResult(duplicate=False, applied=True)
    assert (await account_row(db, account_id)).status == PayoutAccountStatus.VERIFIED


@pytest.mark.postgres_only
async def test_event_of_the_other_mode_is_stored_pending(db: Database) -> None:
    """The handler ignores an account of the other mode (False): so does the statement."""
    org = await make_org(db)
    provider_id = new_id("sbacct")
    await create_account(db, org, provider_id)
    event = dataclasses.replace(account_event(provider_id, "disabled"), livemode=True)
    result = await webhooks.store_pending(statements(db), "sandbox", event)
    assert result == webhooks.IngestResult(duplicate=False, applied=False)
    (row,) = await stored_rows(db, event.id)
    assert row.applied_at is None and row.livemode is True


async def test_sweep_takes_only_events_whose_object_is_stored(db: Database) -> None:
    org = await make_org(db)
    never = new_id("sbacct")
    await deliver(db, account_event(never, "verified"))  # its account never appears
    raced = new_id("sbacct")
    account_id = await create_account(db, org, raced)
    # What a delivery racing the account's creation leaves: committed after the creator looked
    # for pending events, while the handler could not see the account yet.
    event = account_event(raced, "verified")
    async with db.transaction() as session:
        session.add(
            ProviderEvent(
                provider="sandbox",
                event_id=event.id,
                type=event.type,
                livemode=False,
                object_kind="account",
                object_id=raced,
                data=json.dumps(dict(event.data)),
                occurred_at=event.occurred_at,
                received_at=utcnow(),
            )
        )
    async with db.read() as session:
        pending = await webhooks.pending_objects(session, limit=1000)
    assert ("sandbox", "account", raced) in pending
    assert ("sandbox", "account", never) not in pending
    async with db.transaction() as session:
        assert await webhooks.apply_pending_for(session, "sandbox", "account", raced) == 1
    assert (await account_row(db, account_id)).status == PayoutAccountStatus.VERIFIED
    async with db.read() as session:
        assert ("sandbox", "account", raced) not in await webhooks.pending_objects(session, 1000)
