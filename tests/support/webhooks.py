"""Build signed sandbox webhooks the way the sandbox provider does (Standard Webhooks)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook

from api.settings import Settings
from models.base import new_id, utcnow


def sandbox_event(
    event_type: str, obj: dict[str, Any], *, livemode: bool = False, created: datetime | None = None
) -> dict[str, Any]:
    return {
        "id": new_id("sbevt"),
        "type": event_type,
        "created": (created or utcnow()).isoformat(),
        "livemode": livemode,
        "data": {"object": obj},
    }


def signed(
    payload: dict[str, Any],
    *,
    secret: str | None = None,
    age: timedelta = timedelta(0),
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, separators=(",", ":"))
    timestamp = utcnow() - age
    signer = Webhook(secret or Settings().sandbox_webhook_secret)
    headers = {
        "content-type": "application/json",
        "webhook-id": payload["id"],
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signer.sign(payload["id"], timestamp, body),
    }
    return body.encode(), headers
