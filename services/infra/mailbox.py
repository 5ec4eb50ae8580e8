"""Subscriber mailboxes: each live stream's bounded, gap-checked view of its organization's
events, and the hub that fans a process's events out to them (``services.infra.event_bus`` feeds it).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable

from services.infra.events import PublishedEvent

Accepts = Callable[[PublishedEvent], bool]


# Observers (metrics): a mailbox's new peak depth, and each overflow. Called rarely: a peak
# only rises ``capacity`` times per mailbox at most.
PEAK_OBSERVERS: list[Callable[[int], None]] = []
OVERFLOW_OBSERVERS: list[Callable[[], None]] = []


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
            for observe_overflow in OVERFLOW_OBSERVERS:
                observe_overflow()
            self.mark_stale()
            return
        self._queue.append(event)
        if len(self._queue) > self.peak:
            self.peak = len(self._queue)
            for observe_peak in PEAK_OBSERVERS:
                observe_peak(self.peak)
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
        # Process-wide observers of every event the bus delivers (e.g. key revocations).
        self.observers: list[Callable[[PublishedEvent], None]] = []
        # ... and of every resync (events may have been missed: client-session revocations).
        self.resync_observers: list[Callable[[], None]] = []

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
            for observe in self.observers:
                observe(event)
            for mailbox in tuple(self._by_org.get(event.organization_id, ())):
                mailbox.deliver(event)

    def resync_all(self) -> None:
        for resync in self.resync_observers:
            resync()
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
