"""The headers of one delivery attempt: both signature schemes, with every live secret.

- The platform's (as its SDK's ``webhooks.verify`` checks them): ``X-Commet-Signature`` is the
  hex HMAC-SHA256 of the raw body keyed with the secret string's UTF-8 bytes; plus
  ``X-Commet-Event``, ``X-Commet-Event-Id`` and ``X-Commet-Timestamp`` (the event's time).
  That header holds one value, so during a rotation it carries the new secret's signature and
  ``X-Commet-Signature-Previous`` the old one's.
- Standard Webhooks (the ``standardwebhooks`` library): ``webhook-id`` (the event id),
  ``webhook-timestamp`` (this attempt, unix seconds) and ``webhook-signature``, a
  space-separated ``v1,<base64>`` per secret, newest first.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

COMMET_SIGNATURE = "X-Commet-Signature"
COMMET_SIGNATURE_PREVIOUS = "X-Commet-Signature-Previous"


def commet_signature(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def delivery_headers(
    *,
    body: str,
    event_id: str,
    event_type: str,
    event_timestamp: str,
    secrets: Sequence[str],
    sent_at: datetime,
) -> dict[str, str]:
    """``secrets``: the current one first, then the previous one while it still signs."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "payouts-webhooks/1",
        COMMET_SIGNATURE: commet_signature(body, secrets[0]),
        "X-Commet-Event": event_type,
        "X-Commet-Event-Id": event_id,
        "X-Commet-Timestamp": event_timestamp,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(
            Webhook(secret).sign(event_id, sent_at, body) for secret in secrets
        ),
    }
    if len(secrets) > 1:
        headers[COMMET_SIGNATURE_PREVIOUS] = commet_signature(body, secrets[1])
    return headers
