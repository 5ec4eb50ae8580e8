"""Live event streams for subscriptions: replay from the log, then live, with no gap and no
duplicate, in bounded memory.

A stream subscribes to the bus *before* it reads the log, so nothing committed afterwards can
slip between the two; it then drops whatever the bus repeats of what the log already gave
(sequence numbers are dense per organization and commit in order, see
``services.infra.events.persist_pending_events``). When its mailbox overflows, a sequence number goes
missing or the bus reconnects, the stream rereads the log from the last event it yielded: a
slow reader costs at most ``capacity`` queued events plus one page, never a lost event.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import sqlalchemy as sa

from models import Event
from services.errors import DomainError, ErrorCode
from services.infra.database import Database
from services.infra.event_bus import LiveBus
from services.infra.events import PublishedEvent
from services.infra.mailbox import MailboxClosed

_events = Event.__table__  # type: ignore[attr-defined]

REPLAY_PAGE_SIZE = 200
_CURSOR_PREFIX = "evt:"
_CURSOR_BODY = re.compile(r"^[1-9][0-9]{0,18}$")


class InvalidEventCursor(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.VALIDATION_ERROR, message, ["after"])


def encode_event_cursor(seq: int) -> str:
    """An opaque, URL-safe cursor for one position in an organization's event log."""
    raw = f"{_CURSOR_PREFIX}{seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_event_cursor(cursor: str) -> int:
    if not cursor or len(cursor) > 64:
        raise InvalidEventCursor("after is not a valid event cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidEventCursor("after is not a valid event cursor") from exc
    body = text.removeprefix(_CURSOR_PREFIX)
    if not text.startswith(_CURSOR_PREFIX) or not _CURSOR_BODY.match(body):
        raise InvalidEventCursor("after is not a valid event cursor")
    return int(body)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What one subscriber may see: its organization and mode, one object type (and id)."""

    organization_id: str
    livemode: bool
    object_type: str
    object_id: str | None = None

    def accepts(self, event: PublishedEvent) -> bool:
        return (
            event.organization_id == self.organization_id
            and event.livemode == self.livemode
            and event.object_type == self.object_type
            and (self.object_id is None or event.object_id == self.object_id)
        )


async def open_event_stream(
    db: Database,
    bus: LiveBus,
    *,
    organization_id: str,
    livemode: bool,
    object_type: str,
    object_id: str | None = None,
    after: str | None = None,
) -> AsyncGenerator[PublishedEvent, None]:
    """Check ``after`` now (a bad cursor is the caller's error), then return the stream.

    Without ``after`` the stream starts with the next event committed; with it, it first
    replays every matching event after the cursor, in order.
    """
    after_seq: int | None = None
    if after is not None:
        after_seq = decode_event_cursor(after)
        if after_seq > await log_head(db, organization_id):
            raise InvalidEventCursor("after is ahead of this organization's event log")
    return event_stream(
        db,
        bus,
        EventFilter(organization_id, livemode, object_type, object_id),
        after_seq=after_seq,
    )


async def event_stream(
    db: Database,
    bus: LiveBus,
    wanted: EventFilter,
    *,
    after_seq: int | None = None,
    page_size: int = REPLAY_PAGE_SIZE,
) -> AsyncGenerator[PublishedEvent, None]:
    """The events ``wanted`` accepts, each exactly once, in sequence order, until closed."""
    mailbox = bus.subscribe(wanted.organization_id, wanted.accepts)
    position = after_seq  # every accepted event up to here has been yielded
    try:
        while True:
            event = await mailbox.next()
            if event is not None:
                position = event.seq
                yield event
                continue
            mailbox.begin_resync()
            async with bus.log_reads:
                head = await log_head(db, wanted.organization_id)
            if position is not None:
                async for replayed in _replay(db, bus, wanted, position, head, page_size):
                    yield replayed
            position = head if position is None else max(position, head)
            mailbox.settle(head)  # when it cannot join the log, it stays stale: read again
    except MailboxClosed:
        return
    finally:
        bus.unsubscribe(mailbox)


async def log_head(db: Database, organization_id: str) -> int:
    """The organization's last committed sequence number (0 before its first event)."""
    async with db.read() as session:
        head = await session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(_events.c.seq), 0)).where(
                _events.c.organization_id == organization_id
            )
        )
    return int(head or 0)


async def _replay(
    db: Database, bus: LiveBus, wanted: EventFilter, after_seq: int, head: int, page_size: int
) -> AsyncGenerator[PublishedEvent, None]:
    """Accepted events in ``(after_seq, head]``, one short read per page (no session is held
    open while the consumer takes its time)."""
    position = after_seq
    while position < head:
        async with bus.log_reads:
            page = await _read_page(db, wanted, position, head, page_size)
        for event in page:
            yield event
        if len(page) < page_size:
            return
        position = page[-1].seq


async def _read_page(
    db: Database, wanted: EventFilter, after_seq: int, head: int, limit: int
) -> list[PublishedEvent]:
    stmt = (
        sa.select(Event)
        .where(
            _events.c.organization_id == wanted.organization_id,
            _events.c.seq > after_seq,
            _events.c.seq <= head,
            _events.c.livemode == wanted.livemode,
            _events.c.object_type == wanted.object_type,
        )
        .order_by(_events.c.seq)
        .limit(limit)
    )
    if wanted.object_id is not None:
        stmt = stmt.where(_events.c.object_id == wanted.object_id)
    async with db.read() as session:
        rows = (await session.execute(stmt)).scalars().all()
    return [PublishedEvent.from_row(row) for row in rows]
