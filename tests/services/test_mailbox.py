"""Mailboxes and the hub (no database needed)."""

from __future__ import annotations

import asyncio

import pytest

from services.infra.mailbox import Mailbox, MailboxClosed, SubscriberHub
from tests.support.live import published as event


def settled_mailbox(head: int, capacity: int = 4) -> Mailbox:
    mailbox = Mailbox("org_a", lambda e: e.object_type == "payout", capacity)
    mailbox.begin_resync()
    assert mailbox.settle(head)
    return mailbox


def drain(mailbox: Mailbox) -> list[int]:
    seqs = []
    while len(mailbox):
        item = asyncio.run(mailbox.next())
        assert item is not None
        seqs.append(item.seq)
    return seqs


def test_mailbox_queues_accepted_events_and_drops_repeats() -> None:
    mailbox = settled_mailbox(head=10)
    for seq in (9, 10, 11, 11, 12):
        mailbox.deliver(event(seq))
    mailbox.deliver(event(13, object_type="balance"))  # not accepted, but keeps the count
    mailbox.deliver(event(14))
    assert not mailbox.stale
    assert drain(mailbox) == [11, 12, 14]


def test_mailbox_missing_sequence_number_makes_it_stale() -> None:
    mailbox = settled_mailbox(head=10)
    mailbox.deliver(event(11))
    mailbox.deliver(event(13))
    assert mailbox.stale and len(mailbox) == 0
    assert asyncio.run(mailbox.next()) is None


def test_mailbox_overflow_drops_everything_and_never_exceeds_capacity() -> None:
    mailbox = settled_mailbox(head=0, capacity=4)
    for seq in range(1, 50):
        mailbox.deliver(event(seq))
    assert mailbox.stale and mailbox.overflows == 1
    assert mailbox.peak == 4 and len(mailbox) == 0


def test_mailbox_settle_keeps_only_events_after_the_log_head() -> None:
    mailbox = Mailbox("org_a", lambda e: True, 10)
    mailbox.begin_resync()
    for seq in (5, 6, 7, 8):  # arrived while the reader read the log up to 6
        mailbox.deliver(event(seq))
    assert mailbox.settle(6)
    assert mailbox.live
    assert drain(mailbox) == [7, 8]


def test_mailbox_settle_refuses_when_an_event_between_head_and_arrivals_is_missing() -> None:
    mailbox = Mailbox("org_a", lambda e: True, 10)
    mailbox.begin_resync()
    mailbox.deliver(event(9))
    assert not mailbox.settle(6)  # 7 and 8 never arrived
    assert mailbox.stale


def test_mailbox_close_ends_the_reader() -> None:
    mailbox = settled_mailbox(head=0)

    async def read() -> None:
        waiting = asyncio.create_task(mailbox.next())
        await asyncio.sleep(0)
        mailbox.close()
        await waiting

    with pytest.raises(MailboxClosed):
        asyncio.run(read())


def test_hub_delivers_only_to_the_events_organization() -> None:
    hub = SubscriberHub()
    a = hub.open("org_a", lambda e: True, 10)
    b = hub.open("org_b", lambda e: True, 10)
    for mailbox in (a, b):
        mailbox.begin_resync()
        mailbox.settle(0)
    hub.dispatch([event(1, "org_a"), event(1, "org_b"), event(2, "org_a")])
    assert drain(a) == [1, 2] and drain(b) == [1]
    hub.discard(a)
    assert hub.mailboxes("org_a") == [] and hub.subscriber_count == 1
