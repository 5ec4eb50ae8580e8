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
away, rereads the event log (``services.infra.event_streams``): the log, not the bus, is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.infra.events import PublishedEvent
from services.infra.mailbox import Accepts, Mailbox, SubscriberHub

log = logging.getLogger(__name__)

DEFAULT_MAILBOX_CAPACITY = 256
DEFAULT_LOG_READERS = 4
DEFAULT_CHANNEL = "payouts_events"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; leave room for the framing.
MAX_NOTIFY_PAYLOAD = 7900


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
                connection = await asyncpg.connect(
                    self.dsn, server_settings={"application_name": "payouts-event-listener"}
                )
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
