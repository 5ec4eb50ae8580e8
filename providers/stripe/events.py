"""Stripe's Connect events → neutral ``WebhookEvent``s, and Stripe's account and payout states
→ neutral statuses (SPEC §3.9).

A payout is two Stripe objects: the transfer to the connected account (its id is our
``providerTransferId``) and the payout from that account to the bank, which carries
``metadata.transfer`` so that its events find our payout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from providers.base import WebhookEvent, WebhookIgnored

PAYOUT_STATUSES = {
    "pending": "pending",
    "in_transit": "in_transit",
    "paid": "paid",
    "failed": "failed",
    "canceled": "canceled",
}
PAYOUT_EVENTS = frozenset(
    {"payout.created", "payout.updated", "payout.paid", "payout.failed", "payout.canceled"}
)
# Stripe stops an account for these without asking for information: more than "restricted".
_STOPPED = ("listed", "platform_paused")
REVERSED_CODE = "transfer_reversed"
OUR_REVERSAL = "payout_not_paid"  # metadata.reason of the reversals this server makes
REVERSED_MESSAGE = "The transfer to the connected account was reversed."


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default) if obj is not None else default


def account_state(account: Any) -> tuple[str, bool]:
    """(neutral status, transfers enabled) of a Stripe account object or dict.

    Rejected (``disabled_reason`` ``rejected.*``) → disabled; transfers active, payouts enabled
    and nothing currently or past due → verified; anything due, or a ``requirements.*`` reason
    other than Stripe still verifying, → restricted; otherwise still pending verification.
    """
    requirements = _get(account, "requirements") or {}
    reason = str(_get(requirements, "disabled_reason") or "")
    due = list(_get(requirements, "currently_due") or []) + list(
        _get(requirements, "past_due") or []
    )
    transfers = _get(_get(account, "capabilities") or {}, "transfers")
    enabled = transfers == "active" and bool(_get(account, "payouts_enabled"))
    if reason.startswith("rejected."):
        return "disabled", False
    if enabled and not due:
        return "verified", True
    if due or reason in _STOPPED or reason.startswith("action_required"):
        return "restricted", False
    if reason.startswith("requirements.") and reason != "requirements.pending_verification":
        return "restricted", False
    return "pending_verification", False


def account_event(
    event_id: str, occurred_at: datetime, livemode: bool, account: Any
) -> WebhookEvent:
    status, enabled = account_state(account)
    return WebhookEvent(
        id=event_id,
        type="account.updated",
        occurred_at=occurred_at,
        livemode=livemode,
        object_kind="account",
        object_id=str(_get(account, "id")),
        data={"status": status, "transfers_enabled": enabled},
    )


def payout_event(
    event_id: str, event_type: str, occurred_at: datetime, livemode: bool, payout: Any, account: str
) -> WebhookEvent:
    metadata = _get(payout, "metadata") or {}
    transfer_id = _get(metadata, "transfer")
    if not transfer_id:
        raise WebhookIgnored("a payout this server did not create")
    status = PAYOUT_STATUSES.get(str(_get(payout, "status")))
    if status is None:
        raise ValueError(f"unknown payout status {_get(payout, 'status')!r}")
    data: dict[str, Any] = {
        "status": status,
        "stripe_payout": str(_get(payout, "id")),
        "stripe_account": account,
    }
    if status == "failed":
        data["failure_code"] = _get(payout, "failure_code")
        data["failure_message"] = _get(payout, "failure_message")
    return WebhookEvent(
        id=event_id,
        type=event_type,
        occurred_at=occurred_at,
        livemode=livemode,
        object_kind="transfer",
        object_id=str(transfer_id),
        data=data,
    )


def reversal_event(
    event_id: str, occurred_at: datetime, livemode: bool, transfer: Any
) -> WebhookEvent:
    """A fully reversed transfer never reaches the bank: the payout failed (unless it already
    ended, which the state machine decides)."""
    if not _get(transfer, "reversed"):
        raise WebhookIgnored("a partial reversal")
    reversals = _get(_get(transfer, "reversals"), "data") or []
    if reversals and all(
        _get(_get(r, "metadata") or {}, "reason") == OUR_REVERSAL for r in reversals
    ):
        raise WebhookIgnored("our own reversal after the payout failed or was canceled")
    return WebhookEvent(
        id=event_id,
        type="transfer.reversed",
        occurred_at=occurred_at,
        livemode=livemode,
        object_kind="transfer",
        object_id=str(_get(transfer, "id")),
        data={
            "status": "failed",
            "failure_code": REVERSED_CODE,
            "failure_message": REVERSED_MESSAGE,
        },
    )


def to_event(body: bytes) -> WebhookEvent:
    """Parse a verified Stripe event body."""
    try:
        payload = json.loads(body)
        event_id = str(payload["id"])
        event_type = str(payload["type"])
        obj = payload["data"]["object"]
        occurred_at = datetime.fromtimestamp(int(payload["created"]), UTC)
        livemode = bool(payload["livemode"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed Stripe event: {exc}") from exc
    if event_type == "account.updated":
        return account_event(event_id, occurred_at, livemode, obj)
    if event_type in PAYOUT_EVENTS:
        account = payload.get("account")
        if not account:
            raise WebhookIgnored("a payout of the platform account itself")
        return payout_event(event_id, event_type, occurred_at, livemode, obj, str(account))
    if event_type == "transfer.reversed":
        return reversal_event(event_id, occurred_at, livemode, obj)
    raise WebhookIgnored(f"{event_type} is not used")
