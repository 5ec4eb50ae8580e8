"""Event buses: how committed events reach the live subscribers of every server process.

Two backends behind one interface (``LiveBus``):

- ``InProcessBus`` (the embedded default): ``Database.transaction()`` hands it the events after
  commit and it fans them out to this process's subscribers.
- ``PostgresBus``: the events ride the committing transaction as ``NOTIFY`` (ids only, each
  payload under 8000 bytes), so PostgreSQL delivers them at commit, and only then, to every
  process listening on the database. Each process keeps one listener connection, which
  reconnects by itself and then asks every subscriber to resync from the event log.

The bus only carries hints. Every subscriber checks that its organization's sequence numbers
arrive without a gap and, whenever one is missing, its mailbox overflowed or the listener was
away, rereads the event log (``services.subscriptions``): the log, not the bus, is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.events import PublishedEvent

log = logging.getLogger(__name__)

DEFAULT_MAILBOX_CAPACITY = 256
DEFAULT_LOG_READERS = 4
DEFAULT_CHANNEL = "payouts_events"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; leave room for the framing.
MAX_NOTIFY_PAYLOAD = 7900

Accepts = Callable[[PublishedEvent], bool]


class MailboxClosed(Exception):
    """The bus stopped (server shutdown): the stream ends."""


class Mailbox:
    """One subscriber's bounded view of its organization's events.

    The hub delivers every event of the organization, in the order the bus saw them; the
    mailbox keeps only those its subscriber accepts, at most ``capacity`` of them. It becomes
    *stale* - and drops what it holds - when it overflows, when a sequence number is missing
    (lost or reordered notification) or when the bus asks for a resync; the reader then rereads
    the log from the last event it handed out.
    """

    def __init__(self, organization_id: str, accepts: Accepts, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("mailbox capacity must be at least 1")
        self.organization_id = organization_id
        self.capacity = capacity
        self.peak = 0  # the most events ever held at once (the memory bound, observable)
        self.overflows = 0
        self._accepts = accepts
        self._queue: deque[PublishedEvent] = deque()
        self._horizon: int | None = None  # highest sequence seen with no gap
        self._lowest_seen: int | None = None  # first sequence seen since the last resync began
        self._stale = True  # nothing is trusted until the reader has read the log once
        self._settled = False  # the reader has read the log and now follows the bus
        self._closed = False
        self._wakeup = asyncio.Event()

    @property
    def stale(self) -> bool:
        return self._stale

    @property
    def live(self) -> bool:
        """The reader has caught up with the log and now takes events from the bus."""
        return self._settled and not self._stale

    def __len__(self) -> int:
        return len(self._queue)

    # Bus side -------------------------------------------------------------------------------

    def deliver(self, event: PublishedEvent) -> None:
        horizon = self._horizon
        if horizon is not None:
            if event.seq <= horizon:
                return  # already seen (or already covered by a log read)
            if event.seq != horizon + 1:
                self.mark_stale()  # a sequence number went missing
        elif self._lowest_seen is None:
            self._lowest_seen = event.seq
        self._horizon = event.seq
        if self._stale or not self._accepts(event):
            return
        if len(self._queue) >= self.capacity:
            self.overflows += 1
            self.mark_stale()
            return
        self._queue.append(event)
        self.peak = max(self.peak, len(self._queue))
        self._wakeup.set()

    def mark_stale(self) -> None:
        self._stale = True
        self._settled = False
        self._queue.clear()
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._queue.clear()
        self._wakeup.set()

    # Reader side ----------------------------------------------------------------------------

    def begin_resync(self) -> None:
        """The reader is about to read the log up to its current head: watch from here on."""
        self._stale = False
        self._settled = False
        self._queue.clear()
        self._horizon = None
        self._lowest_seen = None

    def settle(self, head: int) -> bool:
        """The log has been read up to ``head``; True when what arrived meanwhile joins it.

        Events arriving during the read were queued without knowing where the log would end.
        Those at or below ``head`` were read from the log and are dropped. If the first one
        that arrived is above ``head + 1``, some event in between never arrived: read again.
        """
        if self._stale:
            return False
        if self._lowest_seen is not None and self._lowest_seen > head + 1:
            self.mark_stale()
            return False
        while self._queue and self._queue[0].seq <= head:
            self._queue.popleft()
        self._horizon = head if self._horizon is None else max(self._horizon, head)
        self._settled = True
        return True

    async def next(self) -> PublishedEvent | None:
        """The next accepted event, or None when the reader must resync from the log."""
        while True:
            if self._closed:
                raise MailboxClosed
            if self._stale:
                return None
            if self._queue:
                return self._queue.popleft()
            self._wakeup.clear()
            await self._wakeup.wait()


class SubscriberHub:
    """This process's mailboxes, indexed by organization."""

    def __init__(self) -> None:
        self._by_org: dict[str, set[Mailbox]] = {}

    def open(self, organization_id: str, accepts: Accepts, capacity: int) -> Mailbox:
        mailbox = Mailbox(organization_id, accepts, capacity)
        self._by_org.setdefault(organization_id, set()).add(mailbox)
        return mailbox

    def discard(self, mailbox: Mailbox) -> None:
        mailboxes = self._by_org.get(mailbox.organization_id)
        if mailboxes is None:
            return
        mailboxes.discard(mailbox)
        if not mailboxes:
            del self._by_org[mailbox.organization_id]

    def dispatch(self, events: Iterable[PublishedEvent]) -> None:
        for event in events:
            for mailbox in tuple(self._by_org.get(event.organization_id, ())):
                mailbox.deliver(event)

    def resync_all(self) -> None:
        for mailboxes in self._by_org.values():
            for mailbox in mailboxes:
                mailbox.mark_stale()

    def close_all(self) -> None:
        for mailboxes in self._by_org.values():
            for mailbox in mailboxes:
                mailbox.close()
        self._by_org.clear()

    def mailboxes(self, organization_id: str) -> list[Mailbox]:
        return list(self._by_org.get(organization_id, ()))

    @property
    def subscriber_count(self) -> int:
        return sum(len(mailboxes) for mailboxes in self._by_org.values())


class LiveBus:
    """What ``Database`` and the subscription streams need from a bus."""

    def __init__(
        self, *, capacity: int = DEFAULT_MAILBOX_CAPACITY, log_readers: int = DEFAULT_LOG_READERS
    ) -> None:
        self.capacity = capacity
        self.hub = SubscriberHub()
        # After a reconnect every subscriber rereads the log at once: take turns, so that the
        # resync cannot drain the connection pool the rest of the server needs.
        self.log_reads = asyncio.Semaphore(log_readers)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.hub.close_all()

    async def stage(self, session: AsyncSession, events: Sequence[PublishedEvent]) -> None:
        """Inside the transaction, just before commit."""

    async def publish(self, events: Sequence[PublishedEvent]) -> None:
        """After commit (never after a rollback)."""

    def subscribe(self, organization_id: str, accepts: Accepts) -> Mailbox:
        return self.hub.open(organization_id, accepts, self.capacity)

    def unsubscribe(self, mailbox: Mailbox) -> None:
        self.hub.discard(mailbox)


class InProcessBus(LiveBus):
    """One process: committed events go straight to this process's mailboxes."""

    async def publish(self, events: Sequence[PublishedEvent]) -> None:
        self.hub.dispatch(events)


class PostgresBus(LiveBus):
    """Every process on one PostgreSQL database hears every event, through LISTEN/NOTIFY."""

    def __init__(
        self,
        dsn: str,
        *,
        channel: str = DEFAULT_CHANNEL,
        capacity: int = DEFAULT_MAILBOX_CAPACITY,
        log_readers: int = DEFAULT_LOG_READERS,
        reconnect_delay: tuple[float, float] = (0.1, 5.0),
        health_check_seconds: float = 15.0,
    ) -> None:
        super().__init__(capacity=capacity, log_readers=log_readers)
        self.dsn = dsn
        self.channel = channel
        self.connected = asyncio.Event()
        self.connections = 0  # how many times the listener has (re)connected
        self._reconnect_delay = reconnect_delay
        self._health_check_seconds = health_check_seconds
        self._connection: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def listener_pid(self) -> int | None:
        """The server process id of the listener connection (for operators and tests)."""
        connection = self._connection
        return None if connection is None else int(connection.get_server_pid())

    async def start(self, *, wait_seconds: float = 10.0) -> None:
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._listen_forever(), name="payouts-event-listener")
        try:
            await asyncio.wait_for(self.connected.wait(), wait_seconds)
        except TimeoutError:
            log.warning("event listener not connected yet; it keeps retrying in the background")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().stop()

    async def stage(self, session: AsyncSession, events: Sequence[PublishedEvent]) -> None:
        # NOTIFY is transactional: PostgreSQL delivers it at commit and drops it on rollback.
        for payload in encode_notifications(events):
            await session.execute(
                sa.text("SELECT pg_notify(:channel, :payload)"),
                {"channel": self.channel, "payload": payload},
            )

    async def _listen_forever(self) -> None:
        import asyncpg

        delay, max_delay = self._reconnect_delay
        first_delay = delay
        while True:
            lost = asyncio.Event()
            connection: Any = None
            try:
                connection = await asyncpg.connect(self.dsn)
                connection.add_termination_listener(_setter(lost))
                await connection.add_listener(self.channel, self._on_notification)
                self._connection = connection
                self.connections += 1
                self.connected.set()
                # Whatever committed while nobody listened is in the log: every reader rereads.
                self.hub.resync_all()
                delay = first_delay
                await self._watch(connection, lost)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event listener connection failed: %s", type(exc).__name__)
            finally:
                self.connected.clear()
                self._connection = None
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            log.info("event listener reconnecting in %.1fs", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)

    async def _watch(self, connection: Any, lost: asyncio.Event) -> None:
        """Return when the connection is gone; a periodic ping catches half-open sockets."""
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), self._health_check_seconds)
            except TimeoutError:
                await connection.fetchval("SELECT 1", timeout=self._health_check_seconds)
        log.warning("event listener connection lost")

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            events = decode_notification(payload)
        except (ValueError, TypeError, KeyError) as exc:
            log.error("unreadable event notification (%s); resyncing readers", exc)
            self.hub.resync_all()
            return
        self.hub.dispatch(events)


def _setter(flag: asyncio.Event) -> Callable[[Any], None]:
    return lambda _connection: flag.set()


# Wire format: {"v": 1, "e": [[id, organization_id, livemode, seq, type, object_type,
# object_id, occurred_at], ...]}: ids only, packed several to a notification.


def _encode_event(event: PublishedEvent) -> list[Any]:
    return [
        event.id,
        event.organization_id,
        event.livemode,
        event.seq,
        event.type,
        event.object_type,
        event.object_id,
        event.occurred_at.isoformat(),
    ]


def _pack(items: list[str]) -> str:
    return '{"v":1,"e":[' + ",".join(items) + "]}"


def encode_notifications(events: Sequence[PublishedEvent]) -> list[str]:
    """Pack events into as few payloads as fit under ``MAX_NOTIFY_PAYLOAD`` bytes."""
    payloads: list[str] = []
    batch: list[str] = []
    size = len(_pack([]))
    for event in events:
        item = json.dumps(_encode_event(event), separators=(",", ":"))
        item_size = len(item.encode()) + 1
        if len(_pack([item]).encode()) > MAX_NOTIFY_PAYLOAD:
            raise ValueError(f"event {event.id} does not fit in a notification")
        if batch and size + item_size > MAX_NOTIFY_PAYLOAD:
            payloads.append(_pack(batch))
            batch, size = [], len(_pack([]))
        batch.append(item)
        size += item_size
    if batch:
        payloads.append(_pack(batch))
    return payloads


def decode_notification(payload: str) -> list[PublishedEvent]:
    message = json.loads(payload)
    if message.get("v") != 1:
        raise ValueError(f"unknown notification version {message.get('v')!r}")
    events = []
    for item in message["e"]:
        event_id, org_id, livemode, seq, type_, object_type, object_id, occurred = item
        events.append(
            PublishedEvent(
                id=str(event_id),
                organization_id=str(org_id),
                livemode=bool(livemode),
                seq=int(seq),
                type=str(type_),
                object_type=str(object_type),
                object_id=str(object_id),
                occurred_at=datetime.fromisoformat(occurred),
            )
        )
    return events
