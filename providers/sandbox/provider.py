"""The sandbox provider: a real component with its own tables that talks to our webhook
endpoint over HTTP, signed with Standard Webhooks, like a real provider would."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _SignatureError

from providers.base import TransactionFactory, WebhookEvent, WebhookVerificationError
from providers.sandbox.accounts import SandboxAccounts
from providers.sandbox.config import SandboxConfig
from providers.sandbox.outbox import WebhookDeliverer
from providers.sandbox.transfers import SandboxTransfers

NAME = "sandbox"
# Sandbox vocabulary → neutral statuses.
ACCOUNT_STATUSES = {
    "pending": "pending_verification",
    "verified": "verified",
    "restricted": "restricted",
    "rejected": "disabled",
}
TRANSFER_STATUSES = {s: s for s in ("pending", "in_transit", "paid", "failed", "canceled")}


class SandboxProvider(SandboxAccounts, SandboxTransfers):
    name = NAME

    def __init__(self, db: TransactionFactory, config: SandboxConfig, *, is_postgres: bool) -> None:
        self.db = db
        self.config = config
        self.deliverer = WebhookDeliverer(db, config, is_postgres=is_postgres)
        self._verifier = Webhook(config.webhook_secret)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        try:
            # Only the signature check here: anything that fails before it passed (a body that
            # is not UTF-8, a garbled signature header) is unverified, never a "signed" event.
            self._verifier.verify(
                body, {k.lower(): v for k, v in headers.items()}, json_parse=False
            )
        except (_SignatureError, ValueError) as exc:
            raise WebhookVerificationError(str(exc)) from exc
        try:
            return _to_event(json.loads(body))
        except RecursionError:
            raise ValueError("malformed sandbox event: JSON nests too deeply") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed sandbox event: {exc}") from exc


def _to_event(payload: dict[str, Any]) -> WebhookEvent:
    event_type = str(payload["type"])
    obj = payload["data"]["object"]
    kind, _, _ = event_type.partition(".")
    if kind == "account":
        data = {
            "status": ACCOUNT_STATUSES[obj["status"]],
            "transfers_enabled": bool(obj.get("transfers_enabled", False)),
        }
    elif kind == "transfer":
        data = {
            "status": TRANSFER_STATUSES[obj["status"]],
            "failure_code": obj.get("failure_code"),
            "failure_message": obj.get("failure_message"),
        }
    else:
        raise ValueError(f"unknown event type {event_type!r}")
    return WebhookEvent(
        id=str(payload["id"]),
        type=event_type,
        occurred_at=datetime.fromisoformat(payload["created"]),
        livemode=bool(payload["livemode"]),
        object_kind=kind,  # type: ignore[arg-type]
        object_id=str(obj["id"]),
        data=data,
    )
