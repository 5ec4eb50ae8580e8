"""The NOTIFY wire format of the PostgreSQL bus (no database needed)."""

from __future__ import annotations

import pytest

from services.event_bus import MAX_NOTIFY_PAYLOAD, decode_notification, encode_notifications
from tests.support.live import published as event


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
