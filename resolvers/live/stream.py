"""What every subscription field shares: the viewer's event stream, turned into typed GraphQL
events whose object is re-read from the database, in a session of its own, for each event.

A subscription's context lives as long as its WebSocket connection, so nothing cached in it (a
loader, a session) may serve an event: it would show the object as it was when the connection
opened. ``live_events`` reads the object after each event in a fresh session instead, once per
event and process (``resolvers.live.event_objects``), shared by the subscribers it fans out to.

A subscription field is then a few lines (``Payout`` and its loader come from their module)::

    @strawberry.type
    class PayoutEvent(LiveEvent):
        payout: Payout

    @strawberry.type
    class PayoutSubscription:
        @strawberry.subscription
        async def payout_updated(
            self, info: Info, id: strawberry.ID | None = None, after: str | None = None
        ) -> AsyncGenerator[PayoutEvent, None]:
            return await live_events(
                info,
                object_type="payout",
                object_id=id,
                after=after,
                load=load_payout,  # (session, event) -> Payout | None
                build=lambda fields, payout: PayoutEvent(**fields, payout=payout),
            )
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from datetime import datetime
from typing import TypedDict, TypeVar

import strawberry

from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.errors import bad_user_input
from resolvers.live.event_objects import EVENT_OBJECTS
from services.infra.database import Database, Session
from services.infra.event_bus import LiveBus
from services.infra.event_streams import InvalidEventCursor, encode_event_cursor, open_event_stream
from services.infra.events import PublishedEvent

log = logging.getLogger(__name__)

T = TypeVar("T")
E = TypeVar("E")

Load = Callable[[Session, PublishedEvent], Awaitable[T | None]]


@strawberry.type
class LiveEvent:
    """Fields every subscription event carries; concrete events add their object."""

    cursor: str = strawberry.field(
        description="Opaque position in the event log: pass it as `after` to resume after it."
    )
    type: str = strawberry.field(description="What happened, for example `payout.paid`.")
    occurred_at: datetime = strawberry.field(description="When the change was committed.")


class LiveEventFields(TypedDict):
    cursor: str
    type: str
    occurred_at: datetime


def live_event_fields(event: PublishedEvent) -> LiveEventFields:
    return {
        "cursor": encode_event_cursor(event.seq),
        "type": event.type,
        "occurred_at": event.occurred_at,
    }


async def live_events(
    info: Info,
    *,
    object_type: str,
    after: str | None,
    load: Load[T],
    build: Callable[[LiveEventFields, T], E],
    object_id: str | None = None,
) -> AsyncGenerator[E, None]:
    """Open the viewer's stream of ``object_type`` events (one object when ``object_id``).

    Call it from an ``async def`` subscription resolver and return its result: auth and the
    cursor are checked here, before the stream starts, so a bad ``after`` is a
    ``BAD_USER_INPUT`` error instead of a stream. ``load(session, event)`` reads the object
    (scoped to ``event.organization_id`` and ``event.livemode``) and returns it as its GraphQL
    type; ``build(fields, obj)`` makes the event.
    """
    viewer = require_viewer(info)
    db = info.context.db
    bus = db.bus
    if not isinstance(bus, LiveBus):
        raise RuntimeError("no live event bus is installed on this database")
    try:
        stream = await open_event_stream(
            db,
            bus,
            organization_id=viewer.organization_id,
            livemode=viewer.livemode,
            object_type=object_type,
            object_id=object_id,
            after=after,
        )
    except InvalidEventCursor as exc:
        raise bad_user_input(exc.message) from exc
    return _typed_events(db, stream, load, build)


async def _typed_events(
    db: Database,
    stream: AsyncGenerator[PublishedEvent, None],
    load: Load[T],
    build: Callable[[LiveEventFields, T], E],
) -> AsyncGenerator[E, None]:
    async with aclosing(stream):
        async for event in stream:

            async def read(event: PublishedEvent = event) -> T | None:
                async with db.read() as session:
                    return await load(session, event)

            obj = await EVENT_OBJECTS.get((event.id, load), read)
            if obj is None:
                log.warning("event %s names a missing %s", event.id, event.object_type)
                continue
            yield build(live_event_fields(event), obj)
