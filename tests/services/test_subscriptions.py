"""Event streams over a real database and bus: replay, seam, isolation, bounded memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from models import Event
from services.infra.database import Database
from services.infra.event_bus import LiveBus
from services.infra.event_streams import (
    EventFilter,
    InvalidEventCursor,
    decode_event_cursor,
    encode_event_cursor,
    event_stream,
    log_head,
    open_event_stream,
)
from services.infra.events import PublishedEvent, record_event
from tests.conftest import make_org
from tests.support.live import Change, Collector, live_database, record, take, wait_until_live
from tests.support.orgs import TestOrg

BUS_KINDS = ["memory", pytest.param("postgres", marks=pytest.mark.postgres_only)]


@pytest.fixture(params=BUS_KINDS)
def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def live(database_url: str, bus_kind: str) -> AsyncIterator[tuple[Database, LiveBus]]:
    async with live_database(database_url, bus_kind) as pair:
        yield pair


def payout(org: TestOrg, object_id: str, type: str = "payout.updated", livemode: bool = False):
    return Change(org.id, livemode, "payout", object_id, type)


async def open_payouts(
    db: Database, bus: LiveBus, org: TestOrg, after: str | None = None, object_id: str | None = None
):
    return await open_event_stream(
        db,
        bus,
        organization_id=org.id,
        livemode=False,
        object_type="payout",
        object_id=object_id,
        after=after,
    )


async def committed_event(db: Database, event_id: str) -> Event | None:
    async with db.read() as session:
        return await session.get(Event, event_id)


async def test_stream_delivers_committed_events_in_order(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, bus = live
    stream = await open_payouts(db, bus, org)
    received: list[tuple[PublishedEvent, bool]] = []

    async def consume() -> None:
        async for event in stream:
            # Delivered only after commit: a fresh session already sees the event row.
            received.append((event, await committed_event(db, event.id) is not None))
            if len(received) == 3:
                return

    consumer = asyncio.create_task(consume())
    await wait_until_live(bus, org.id)
    await record(db, payout(org, "po_a", "payout.created"))
    await record(
        db, payout(org, "po_a", "payout.in_transit"), payout(org, "po_b", "payout.created")
    )
    await asyncio.wait_for(consumer, 15)
    await stream.aclose()

    assert [(e.type, e.object_id) for e, _ in received] == [
        ("payout.created", "po_a"),
        ("payout.in_transit", "po_a"),
        ("payout.created", "po_b"),
    ]
    assert all(visible for _, visible in received)
    seqs = [e.seq for e, _ in received]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


async def test_rolled_back_transaction_is_never_delivered(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, bus = live
    collector = Collector(await open_payouts(db, bus, org))
    await wait_until_live(bus, org.id)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            record_event(
                session,
                organization_id=org.id,
                livemode=False,
                type="payout.created",
                object_type="payout",
                object_id="po_ghost",
            )
            raise RuntimeError("the change fails")
    await record(db, payout(org, "po_real", "payout.created"))

    events = await collector.wait_for(1)
    await collector.close()
    assert [e.object_id for e in events] == ["po_real"]


async def test_resume_after_cursor_replays_missed_events_once_then_goes_live(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, bus = live
    await record(db, *[payout(org, f"po_{i}") for i in range(5)])
    head = await log_head(db, org.id)
    after = head - 3  # the client saw the first two of the five

    collector = Collector(await open_payouts(db, bus, org, after=encode_event_cursor(after)))
    replayed = await collector.wait_for(3)
    assert [e.object_id for e in replayed] == ["po_2", "po_3", "po_4"]

    await record(db, payout(org, "po_5"))
    await record(db, payout(org, "po_6"))
    events = await collector.wait_for(5)
    await record(db, payout(org, "po_last"))
    events = await collector.wait_for(6)
    await collector.close()

    assert [e.object_id for e in events] == ["po_2", "po_3", "po_4", "po_5", "po_6", "po_last"]
    assert [e.seq for e in events] == list(range(after + 1, after + 7))


async def test_resume_while_events_are_being_written_has_no_gap_or_duplicate(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, bus = live
    total = 60

    async def writer() -> None:
        for i in range(total):
            await record(db, payout(org, f"po_{i}"))

    writing = asyncio.create_task(writer())
    while await log_head(db, org.id) < 10:
        await asyncio.sleep(0.005)
    after = await log_head(db, org.id)
    stream = await open_payouts(db, bus, org, after=encode_event_cursor(after))
    events = await take(stream, total - after)
    await writing
    await stream.aclose()

    assert [e.seq for e in events] == list(range(after + 1, total + 1))
    assert [e.object_id for e in events] == [f"po_{i}" for i in range(after, total)]


async def test_streams_see_only_their_organization_and_mode(
    live: tuple[Database, LiveBus], db: Database
) -> None:
    live_db, bus = live
    first, second = await make_org(db, "Iso A"), await make_org(db, "Iso B")
    combos = [(o, mode) for o in (first, second) for mode in (False, True)]
    collectors = {}
    for o, mode in combos:
        stream = await open_event_stream(
            live_db, bus, organization_id=o.id, livemode=mode, object_type="payout"
        )
        collectors[(o.id, mode)] = Collector(stream)
    await wait_until_live(bus, first.id, 2)
    await wait_until_live(bus, second.id, 2)

    for round_ in range(3):
        for o, mode in combos:
            tag = f"po_{o.name[-1]}{int(mode)}_{round_}"
            await record(
                live_db,
                Change(o.id, mode, "payout", tag),
                Change(o.id, mode, "payout_account", f"pacct_{tag}"),
            )
    for (org_id, mode), collector in collectors.items():
        events = await collector.wait_for(3)
        await collector.close()
        assert len(events) == 3
        assert all(e.organization_id == org_id and e.livemode == mode for e in events)
        assert all(e.object_type == "payout" for e in events)


async def test_stream_for_one_object_skips_the_others(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, bus = live
    collector = Collector(await open_payouts(db, bus, org, object_id="po_mine"))
    await wait_until_live(bus, org.id)
    await record(db, payout(org, "po_other", "payout.created"))
    await record(db, payout(org, "po_mine", "payout.created"), payout(org, "po_other", "x"))
    await record(db, payout(org, "po_mine", "payout.paid"))
    events = await collector.wait_for(2)
    await collector.close()
    assert [(e.object_id, e.type) for e in events] == [
        ("po_mine", "payout.created"),
        ("po_mine", "payout.paid"),
    ]


async def test_slow_consumer_stays_within_its_bound_and_ends_with_every_event(
    database_url: str, bus_kind: str, org: TestOrg
) -> None:
    capacity, total, per_transaction = 32, 2000, 20
    async with live_database(database_url, bus_kind, capacity=capacity) as (db, bus):
        await record(db, payout(org, "po_start"))
        start = await log_head(db, org.id)
        stream = await open_payouts(db, bus, org, after=encode_event_cursor(start))
        gate = asyncio.Event()
        received: list[PublishedEvent] = []

        async def slow_reader() -> None:
            async for event in stream:
                received.append(event)
                if len(received) == 1:
                    await gate.wait()  # reads nothing while the 2,000 events are written
                if len(received) == total:
                    return

        reader = asyncio.create_task(slow_reader())
        await wait_until_live(bus, org.id)
        for batch in range(total // per_transaction):
            await record(
                db,
                *[payout(org, f"po_{batch}_{i}") for i in range(per_transaction)],
            )
        (mailbox,) = bus.hub.mailboxes(org.id)
        assert mailbox.overflows >= 1  # it fell behind...
        gate.set()
        await asyncio.wait_for(reader, 60)
        await stream.aclose()

    assert mailbox.peak <= capacity  # ...without holding more than its bound
    assert [e.seq for e in received] == list(range(start + 1, start + total + 1))


async def test_out_of_order_and_lost_publications_are_repaired_from_the_log(
    database_url: str, db: Database, org: TestOrg
) -> None:
    # ``db`` has no bus: its commits reach the log but no subscriber, as if lost in transit.
    async with live_database(database_url, "memory") as (live_db, bus):
        collector = Collector(await open_payouts(live_db, bus, org))
        await wait_until_live(bus, org.id)
        head = await log_head(db, org.id)
        await record(db, *[payout(org, f"po_{i}") for i in range(3)])
        async with db.read() as session:
            rows = (
                await session.execute(
                    sa.select(Event).where(Event.organization_id == org.id, Event.seq > head)  # type: ignore[arg-type]
                )
            ).scalars()
            logged = sorted((PublishedEvent.from_row(row) for row in rows), key=lambda e: e.seq)
        await bus.publish([logged[1]])  # the first one never arrives; the second comes early
        await bus.publish([logged[0]])
        await bus.publish([logged[2]])
        events = await collector.wait_for(3)
        await record(live_db, payout(org, "po_after"))
        events = await collector.wait_for(4)
        await collector.close()
    assert [e.object_id for e in events] == ["po_0", "po_1", "po_2", "po_after"]


async def test_stream_ends_when_the_bus_stops(database_url: str, bus_kind: str, org: TestOrg):
    async with live_database(database_url, bus_kind) as (db, bus):
        stream = event_stream(db, bus, EventFilter(org.id, False, "payout"))
        reader = asyncio.create_task(take(stream, 1))
        await wait_until_live(bus, org.id)
        await bus.stop()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(reader, 5)
        assert bus.hub.subscriber_count == 0


async def test_closing_a_stream_unsubscribes_it(live: tuple[Database, LiveBus], org: TestOrg):
    db, bus = live
    collector = Collector(await open_payouts(db, bus, org))
    await wait_until_live(bus, org.id)
    await collector.close()
    assert bus.hub.mailboxes(org.id) == []


def test_event_cursor_round_trips_and_is_opaque() -> None:
    cursor = encode_event_cursor(42)
    assert "42" not in cursor
    assert decode_event_cursor(cursor) == 42
    assert decode_event_cursor(encode_event_cursor(2**62)) == 2**62


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "bm90LWEtY3Vyc29y",
        encode_event_cursor(1)[:-1] + "*",
        "ZXZ0OjA",
        "ZXZ0Oi0x",
        "x" * 65,
    ],
)
def test_malformed_event_cursor_is_a_validation_error(cursor: str) -> None:
    with pytest.raises(InvalidEventCursor) as error:
        decode_event_cursor(cursor)
    assert error.value.code == "VALIDATION_ERROR" and error.value.field == ["after"]


async def test_cursor_ahead_of_the_log_is_refused(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, bus = live
    await record(db, payout(org, "po_1"))
    ahead = encode_event_cursor(await log_head(db, org.id) + 1)
    with pytest.raises(InvalidEventCursor):
        await open_payouts(db, bus, org, after=ahead)
    assert bus.hub.subscriber_count == 0
