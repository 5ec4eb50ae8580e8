"""``PAYOUTS_EVENT_BUS`` wiring: which bus each setting gives, and the app starting/stopping it."""

from __future__ import annotations

import gc

import pydantic
import pytest

from api.app import create_app
from api.bus import EventBusMisconfigured, asyncpg_dsn, build_event_bus
from api.settings import Settings
from services.infra.event_bus import InProcessBus, PostgresBus
from services.infra.event_streams import open_event_stream
from tests.conftest import BACKEND, make_org
from tests.support.live import Change, Collector, record, wait_until_live

SQLITE_URL = "sqlite+aiosqlite:///./payouts.db"
PG_URL = "postgresql+asyncpg://payouts:s3cret@db.internal:5433/payouts"


def test_memory_bus_is_the_default_on_sqlite() -> None:
    bus = build_event_bus(Settings(database_url=SQLITE_URL, subscription_queue_size=64))
    assert isinstance(bus, InProcessBus) and bus.capacity == 64


def test_postgres_bus_is_the_default_on_postgresql() -> None:
    bus = build_event_bus(Settings(database_url=PG_URL, event_channel="payouts_live"))
    assert isinstance(bus, PostgresBus)
    assert bus.dsn == "postgresql://payouts:s3cret@db.internal:5433/payouts"
    assert bus.channel == "payouts_live"


def test_memory_bus_can_be_chosen_on_postgresql() -> None:
    assert isinstance(
        build_event_bus(Settings(database_url=PG_URL, event_bus="memory")), InProcessBus
    )


def test_postgres_bus_on_sqlite_is_refused() -> None:
    with pytest.raises(EventBusMisconfigured, match="PostgreSQL"):
        build_event_bus(Settings(database_url=SQLITE_URL, event_bus="postgres"))


@pytest.mark.parametrize(
    "overrides",
    [{"event_bus": "redis"}, {"event_channel": "no spaces; DROP"}, {"subscription_queue_size": 0}],
)
def test_bad_live_update_settings_are_rejected(overrides: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        Settings(database_url=SQLITE_URL, **overrides)  # type: ignore[arg-type]


def test_asyncpg_dsn_keeps_query_parameters() -> None:
    assert asyncpg_dsn(PG_URL + "?ssl=require").endswith("/payouts?ssl=require")


async def test_app_lifespan_starts_the_bus_and_stops_it(private_database_url: str) -> None:
    settings = Settings(database_url=private_database_url, demo_org_on_start=False)
    app = create_app(settings)
    db = app.state.payouts.db
    try:
        async with app.router.lifespan_context(app):
            bus = db.bus
            expected = PostgresBus if BACKEND == "postgres" else InProcessBus
            assert isinstance(bus, expected)
            org = await make_org(db, "Lifespan")
            collector = Collector(
                await open_event_stream(
                    db, bus, organization_id=org.id, livemode=False, object_type="payout"
                )
            )
            await wait_until_live(bus, org.id)
            await record(db, Change(org.id, False, "payout", "po_1", "payout.created"))
            (event,) = await collector.wait_for(1)
            assert event.object_id == "po_1"
        await collector.ended()  # the stream ended with the app, without an error
        assert bus.hub.subscriber_count == 0
        if isinstance(bus, PostgresBus):
            assert not bus.connected.is_set() and bus.listener_pid is None
    finally:
        gc.unfreeze()  # the lifespan freezes the heap; give this test process its GC back
