"""Wiring of the event bus from settings (``PAYOUTS_EVENT_BUS``; docs/live-updates.md)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from api.settings import Settings
from services.infra.event_bus import InProcessBus, LiveBus, PostgresBus

if TYPE_CHECKING:
    from api.app import AppState

log = logging.getLogger(__name__)


class EventBusMisconfigured(ValueError):
    pass


def build_event_bus(settings: Settings) -> LiveBus:
    kind = settings.event_bus_kind
    if kind == "memory":
        return InProcessBus(capacity=settings.subscription_queue_size)
    if settings.is_sqlite:
        raise EventBusMisconfigured(
            "PAYOUTS_EVENT_BUS=postgres needs a PostgreSQL PAYOUTS_DATABASE_URL"
        )
    return PostgresBus(
        asyncpg_dsn(settings.database_url),
        channel=settings.event_channel,
        capacity=settings.subscription_queue_size,
    )


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+asyncpg://...``) as a plain libpq-style DSN."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def start_event_bus(state: AppState) -> Callable[[], Awaitable[None]]:
    """A startup hook: start the bus ``create_app`` installed on ``db.bus`` (or install one)."""
    db = state.db
    bus = db.bus if isinstance(db.bus, LiveBus) else build_event_bus(state.settings)
    db.bus = bus
    state.services.bus = bus
    await bus.start()
    log.info("event bus: %s", type(bus).__name__)

    async def stop() -> None:
        # db.bus stays: components stopping after us may still commit events, and a PostgreSQL
        # bus still announces them (NOTIFY needs no listener).
        await bus.stop()

    return stop
