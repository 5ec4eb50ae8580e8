"""Event buses: how committed events reach the live subscribers of every server process.

Two backends behind one interface (``LiveBus``):

- ``InProcessBus`` (the embedded default): ``Database.transaction()`` hands it the events after
  commit and it fans them out to this process's subscribers.
- ``PostgresBus``: after commit, the events are announced with ``NOTIFY`` (ids only, each
  payload under 8000 bytes) to every process listening on the database. Not inside the
  committing transaction: a transaction that has notified takes a database-wide lock at commit,
  so every such transaction commits one at a time. The event rows are the outbox; an announcer
  task sends whatever has committed since its last round in one statement, in commit order. A
  process that dies between a commit and its announcement loses only the hint: subscribers see
  the gap in sequence numbers at the organization's next event and reread the log. Each process keeps one listener connection, which
  reconnects by itself and then asks every subscriber to resync from the event log. The same
  connection listens on side channels for other process-wide news (``PostgresBus.listen``: API
  key revocations, which empty every process's key cache).

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

from services.infra.events import PublishedEvent
from services.infra.mailbox import Accepts, Mailbox, SubscriberHub

log = logging.getLogger(__name__)

# Called with each notification's payload; with None whenever notifications may have been
# missed (the listener (re)connected or lost its connection): forget whatever they would change.
SideChannelCallback = Callable[[str | None], None]

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
        self._side_channels: dict[str, list[SideChannelCallback]] = {}
        self._outbox: list[PublishedEvent] = []
        self._announce_wanted = asyncio.Event()
        self._announcer: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """True while notifications reach this process (else callers must not rely on them)."""
        return self.connected.is_set()

    def listen(self, channel: str, callback: SideChannelCallback) -> None:
        """Hear ``channel`` on the listener connection, from the next (re)connection on.

        Register before ``start()``: a channel added later is heard only after a reconnect."""
        self._side_channels.setdefault(channel, []).append(callback)

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
        announcer, self._announcer = self._announcer, None
        if announcer is not None:
            announcer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await announcer
        if self._outbox:  # committed before the stop: announce them on the way out
            try:
                connection = await self._announce_once()
            except Exception as exc:
                log.warning("final event announcement failed: %s", type(exc).__name__)
            else:
                if connection is not None:
                    await connection.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().stop()

    async def publish(self, events: Sequence[PublishedEvent]) -> None:
        """Queue committed events for the announcer (never waits for the database)."""
        self._outbox.extend(events)
        self._announce_wanted.set()
        if self._announcer is None or self._announcer.done():
            self._announcer = asyncio.create_task(
                self._announce_forever(), name="payouts-event-announcer"
            )

    async def _announce_forever(self) -> None:
        connection: Any = None
        try:
            while True:
                await self._announce_wanted.wait()
                self._announce_wanted.clear()
                try:
                    connection = await self._announce_once(connection)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning(
                        "event announcement failed (%s); subscribers will resync at the next event",
                        type(exc).__name__,
                    )
                    connection = None
                    await asyncio.sleep(self._reconnect_delay[0])
        finally:
            if connection is not None:
                connection.terminate()

    async def _announce_once(self, connection: Any = None) -> Any:
        """Send every queued event in one statement; returns the connection used (kept)."""
        import asyncpg

        events, self._outbox = self._outbox, []
        if not events:
            return connection
        try:
            if connection is None or connection.is_closed():
                connection = await asyncpg.connect(
                    self.dsn, server_settings={"application_name": "payouts-event-announcer"}
                )
            await connection.execute(
                "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
                self.channel,
                encode_notifications(events),
            )
        except BaseException:
            if connection is not None and not connection.is_closed():
                connection.terminate()
            raise
        return connection

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
                for side_channel in self._side_channels:
                    await connection.add_listener(side_channel, self._on_side_notification)
                self._connection = connection
                self.connections += 1
                self.connected.set()
                # Whatever committed while nobody listened is in the log: every reader rereads.
                self.hub.resync_all()
                self._side_gap()
                delay = first_delay
                await self._watch(connection, lost)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event listener connection failed: %s", type(exc).__name__)
            finally:
                was_connected = self.connected.is_set()
                self.connected.clear()
                self._connection = None
                if was_connected:
                    self._side_gap()
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

    def _on_side_notification(
        self, _connection: Any, _pid: int, channel: str, payload: str
    ) -> None:
        for callback in self._side_channels.get(channel, ()):
            _call_side(callback, payload)

    def _side_gap(self) -> None:
        for callbacks in self._side_channels.values():
            for callback in callbacks:
                _call_side(callback, None)


def _call_side(callback: SideChannelCallback, payload: str | None) -> None:
    try:
        callback(payload)
    except Exception:  # one listener's bug must not stop the others or the event listener
        log.exception("side channel callback failed")


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
