"""The PostgreSQL bus without a database: its NOTIFY wire format, and an unreachable server."""

from __future__ import annotations

import pytest

from services.infra.event_bus import (
    MAX_NOTIFY_PAYLOAD,
    PostgresBus,
    decode_notification,
    encode_notifications,
)
from services.infra.mailbox import MailboxClosed
from tests.support.live import published as event
from tests.support.live_server import free_port


def test_notification_payloads_stay_under_the_postgres_limit_and_round_trip() -> None:
    events = [event(seq) for seq in range(1, 400)]
    payloads = encode_notifications(events)
    assert len(payloads) > 1
    assert all(len(p.encode()) <= MAX_NOTIFY_PAYLOAD < 8000 for p in payloads)
    decoded = [e for payload in payloads for e in decode_notification(payload)]
    assert decoded == events


@pytest.mark.parametrize("payload", ["{}", '{"v":2,"e":[]}', '{"v":1,"e":[[1,2]]}', "nope"])
def test_unreadable_notification_is_rejected(payload: str) -> None:
    with pytest.raises((ValueError, TypeError, KeyError)):
        decode_notification(payload)


async def test_postgres_bus_keeps_retrying_when_the_database_is_unreachable() -> None:
    bus = PostgresBus(
        f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere", reconnect_delay=(0.05, 0.1)
    )
    await bus.start(wait_seconds=0.3)  # returns: the server must still start
    assert not bus.connected.is_set() and bus.listener_pid is None
    mailbox = bus.subscribe("org_a", lambda e: True)
    await bus.stop()
    assert bus.hub.subscriber_count == 0
    with pytest.raises(MailboxClosed):
        await mailbox.next()
