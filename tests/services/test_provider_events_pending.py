"""Provider events about objects not stored yet: stored pending by one statement (PostgreSQL),
and left out of the pending sweep until their object appears."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import asyncpg
import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import ProviderEvent
from models.base import new_id, utcnow
from models.payout_account import PayoutAccountStatus
from services.infra.database import Database
from services.infra.statement_pool import StatementPool
from services.provider_events import ingest as webhooks
from services.provider_events.pending_batch import PendingBatcher
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
    assert db.statement_pool is not None
    return db.statement_pool


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


def batcher(db: Database) -> PendingBatcher:
    return PendingBatcher(statements(db), max_in_flight=2)


@pytest.mark.postgres_only
async def test_events_stored_at_once_each_get_their_own_outcome(db: Database) -> None:
    org = await make_org(db)
    known_id = new_id("sbacct")
    account_id = await create_account(db, org, known_id)
    unknown = [account_event(new_id("sbacct"), "verified") for _ in range(6)]
    stored_before = account_event(new_id("sbacct"), "restricted")
    await deliver(db, stored_before)
    known = account_event(known_id, "verified")
    events = [*unknown, known, stored_before, unknown[0]]  # unknown[0] twice in the batch
    store = batcher(db)
    results = await asyncio.gather(*(store.store("sandbox", event) for event in events))
    assert results[1:6] == [webhooks.IngestResult(duplicate=False, applied=False)] * 5
    assert results[6] is None  # known: nothing written, the transaction applies it
    assert results[7] == webhooks.IngestResult(duplicate=True, applied=False)
    assert sorted([results[0], results[8]], key=lambda r: r is not None and r.duplicate) == [
        webhooks.IngestResult(duplicate=False, applied=False),
        webhooks.IngestResult(duplicate=True, applied=False),
    ]
    for event in unknown:
        assert len(await stored_rows(db, event.id)) == 1
    assert await stored_rows(db, known.id) == []
    assert (await deliver(db, known)).applied
    assert (await account_row(db, account_id)).status == PayoutAccountStatus.VERIFIED


@pytest.mark.postgres_only
async def test_an_event_the_table_refuses_fails_alone(db: Database) -> None:
    good = [account_event(new_id("sbacct"), "verified") for _ in range(3)]
    bad = account_event(new_id("sbacct"), "verified")
    store = batcher(db)
    results = await asyncio.gather(
        store.store("sandbox", good[0]),
        store.store("p" * 40, bad),  # the provider column holds 32 characters
        *(store.store("sandbox", event) for event in good[1:]),
        return_exceptions=True,
    )
    assert isinstance(results[1], asyncpg.exceptions.StringDataRightTruncationError)
    assert [results[0], *results[2:]] == [webhooks.IngestResult(False, False)] * 3
    for event in good:
        assert len(await stored_rows(db, event.id)) == 1
    assert await stored_rows(db, bad.id) == []


@pytest.mark.postgres_only
async def test_a_batch_inserts_its_events_in_key_order(db: Database) -> None:
    """Two batches holding the same events must take their rows' locks in one order, or each
    waits for the other (PostgreSQL aborts one after a second). Another transaction holds the
    first event of that order; a batch listing the events the other way round must not have
    taken the second one meanwhile."""
    token = new_id("x")
    low, high = (
        dataclasses.replace(account_event(new_id("sbacct"), "verified"), id=f"sbevt_{c}{token}")
        for c in "ab"
    )
    pool = await statements(db).open()
    async with pool.acquire() as other:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("SET LOCAL lock_timeout = '2s'")
        insert = (
            "INSERT INTO provider_events (id, provider, event_id, type, livemode, object_kind,"
            " object_id, data, occurred_at, received_at) VALUES ($1, 'sandbox', $2,"
            " 'account.updated', false, 'account', $3, '{}', now(), now())"
        )
        await other.execute(insert, new_id("pevt"), low.id, low.object_id)
        store = batcher(db)
        both = asyncio.gather(store.store("sandbox", high), store.store("sandbox", low))
        await asyncio.sleep(0.3)  # the batch is waiting for ``low``
        started = asyncio.get_running_loop().time()
        await other.execute(insert, new_id("pevt"), high.id, high.object_id)
        # Not taken by the batch: no wait (a cycle would wait for the deadlock check, 1 s).
        assert asyncio.get_running_loop().time() - started < 0.5
        await transaction.commit()
    assert await both == [webhooks.IngestResult(duplicate=True, applied=False)] * 2
