"""The PostgreSQL LISTEN/NOTIFY bus: several processes, reconnects, transactional delivery."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.bus import asyncpg_dsn
from services.infra.event_bus import PostgresBus
from services.infra.event_streams import encode_event_cursor, log_head, open_event_stream
from services.infra.events import persist_pending_events, record_event
from tests.support.live import Change, Collector, live_database, record, wait_until_live
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.postgres_only


def payout(org: TestOrg, object_id: str) -> Change:
    return Change(org.id, False, "payout", object_id, "payout.updated")


async def test_events_recorded_in_one_process_reach_a_stream_in_another(
    database_url: str, org: TestOrg
) -> None:
    async with (
        live_database(database_url, "postgres") as (writer_db, writer_bus),
        live_database(database_url, "postgres") as (reader_db, reader_bus),
    ):
        assert isinstance(writer_bus, PostgresBus) and isinstance(reader_bus, PostgresBus)
        assert writer_bus.listener_pid != reader_bus.listener_pid  # one listener per process
        stream = await open_event_stream(
            reader_db, reader_bus, organization_id=org.id, livemode=False, object_type="payout"
        )
        collector = Collector(stream)
        await wait_until_live(reader_bus, org.id)
        for i in range(5):
            await record(writer_db, payout(org, f"po_{i}"))
        events = await collector.wait_for(5)
        await collector.close()
    assert [e.object_id for e in events] == [f"po_{i}" for i in range(5)]


async def test_listener_reconnects_and_the_stream_resyncs_without_losing_events(
    database_url: str, org: TestOrg
) -> None:
    async with (
        live_database(database_url, "postgres") as (writer_db, _),
        live_database(database_url, "postgres", reconnect_delay=(0.5, 1.0)) as (db, bus),
    ):
        assert isinstance(bus, PostgresBus)
        stream = await open_event_stream(
            db, bus, organization_id=org.id, livemode=False, object_type="payout"
        )
        collector = Collector(stream)
        await wait_until_live(bus, org.id)
        await record(writer_db, payout(org, "po_before"))
        await collector.wait_for(1)

        old_pid = bus.listener_pid
        admin = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", old_pid)
        finally:
            await admin.close()
        while bus.connected.is_set():
            await asyncio.sleep(0.01)
        # Committed while nobody in this process listens: only the log has them.
        await record(writer_db, payout(org, "po_during_1"))
        await record(writer_db, payout(org, "po_during_2"))
        await asyncio.wait_for(bus.connected.wait(), 10)
        # Nothing new is committed: only the resync after reconnecting can bring these.
        await collector.wait_for(3)
        await record(writer_db, payout(org, "po_after"))
        await collector.wait_for(4)
        await record(writer_db, payout(org, "po_last"))
        events = await collector.wait_for(5)
        await collector.close()
        assert bus.listener_pid != old_pid and bus.connections == 2
    assert [e.object_id for e in events] == [
        "po_before",
        "po_during_1",
        "po_during_2",
        "po_after",
        "po_last",
    ]


async def test_a_notification_staged_in_a_rolled_back_transaction_is_never_heard(
    database_url: str, org: TestOrg
) -> None:
    async with (
        live_database(database_url, "postgres") as (writer_db, writer_bus),
        live_database(database_url, "postgres") as (reader_db, reader_bus),
    ):
        stream = await open_event_stream(
            reader_db, reader_bus, organization_id=org.id, livemode=False, object_type="payout"
        )
        collector = Collector(stream)
        await wait_until_live(reader_bus, org.id)
        # The NOTIFY is issued, then the transaction rolls back (as when a commit fails).
        async with AsyncSession(writer_db.write_engine) as session:
            record_event(
                session,
                organization_id=org.id,
                livemode=False,
                type="payout.created",
                object_type="payout",
                object_id="po_ghost",
            )
            published = await persist_pending_events(session)
            await writer_bus.stage(session, published)
            await session.rollback()
        await record(writer_db, payout(org, "po_real"))
        events = await collector.wait_for(1)
        await asyncio.sleep(0.2)
        await collector.close()
    assert [e.object_id for e in collector.events] == ["po_real"]
    assert events[0].seq == published[0].seq  # the rolled-back sequence number was reused


async def test_resume_on_another_process_with_a_cursor_from_the_first(
    database_url: str, org: TestOrg
) -> None:
    async with (
        live_database(database_url, "postgres") as (first_db, first_bus),
        live_database(database_url, "postgres") as (second_db, second_bus),
    ):
        first = Collector(
            await open_event_stream(
                first_db, first_bus, organization_id=org.id, livemode=False, object_type="payout"
            )
        )
        await wait_until_live(first_bus, org.id)
        await record(first_db, payout(org, "po_0"))
        (seen,) = await first.wait_for(1)
        await first.close()  # the client disconnects...
        await record(second_db, payout(org, "po_1"))
        await record(second_db, payout(org, "po_2"))
        resumed = Collector(
            await open_event_stream(  # ...and reconnects to another server with its cursor
                second_db,
                second_bus,
                organization_id=org.id,
                livemode=False,
                object_type="payout",
                after=encode_event_cursor(seen.seq),
            )
        )
        await resumed.wait_for(2)
        await record(first_db, payout(org, "po_3"))
        events = await resumed.wait_for(3)
        await resumed.close()
        assert events[-1].seq == await log_head(first_db, org.id)
    assert [e.object_id for e in events] == ["po_1", "po_2", "po_3"]


async def test_many_subscribers_resync_after_a_reconnect_and_none_misses_an_event(
    database_url: str, org: TestOrg
) -> None:
    async with (
        live_database(database_url, "postgres") as (writer_db, _),
        live_database(database_url, "postgres", reconnect_delay=(0.3, 1.0)) as (db, bus),
    ):
        assert isinstance(bus, PostgresBus)
        collectors = [
            Collector(
                await open_event_stream(
                    db, bus, organization_id=org.id, livemode=False, object_type="payout"
                )
            )
            for _ in range(40)
        ]
        await wait_until_live(bus, org.id, len(collectors))
        admin = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await admin.fetchval("SELECT pg_terminate_backend($1)", bus.listener_pid)
        finally:
            await admin.close()
        while bus.connected.is_set():
            await asyncio.sleep(0.01)
        for i in range(3):
            await record(writer_db, payout(org, f"po_{i}"))
        await asyncio.wait_for(bus.connected.wait(), 10)
        await record(writer_db, payout(org, "po_3"))
        for collector in collectors:
            events = await collector.wait_for(4)
            await collector.close()
            assert [e.object_id for e in events] == ["po_0", "po_1", "po_2", "po_3"]
