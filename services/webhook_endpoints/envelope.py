"""The JSON body of a delivery: the platform's envelope (SPEC §3.10) around the event's data.

``{"id": "whev_…", "event", "timestamp", "organizationId", "mode", "apiVersion", "data"}``.
The body is built once, when the delivery is created, and sent byte for byte on every retry.
``data`` describes the object as the event saw it: a payout's ``status`` comes from the event
type (a ``payout.created`` says ``pending`` even if the payout has moved on since), and each
type carries its own timestamps, as the platform's payloads do.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import BalanceTransaction, BankAccount, Event, Payout, PayoutAccount
from models.base import new_id

API_VERSION = "2026-07-31"
PAYOUT_EVENTS = (
    "payout.created",
    "payout.in_transit",
    "payout.paid",
    "payout.failed",
    "payout.canceled",
)
# The payout's status as of each event (lower case, as the platform sends it).
EVENT_STATUS = {
    "payout.created": "pending",
    "payout.in_transit": "in_transit",
    "payout.paid": "paid",
    "payout.failed": "failed",
    "payout.canceled": "canceled",
}
EVENT_TYPES = (*PAYOUT_EVENTS, "payout.available", "payout_account.updated")
TEST_EVENT_TYPE = "webhook.test"


def event_id_for(source_event_id: str) -> str:
    """One envelope id per logged event, the same for every endpoint and every retry."""
    return "whev_" + source_event_id.partition("_")[2]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(
    *,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    organization_id: str,
    livemode: bool,
    data: dict[str, Any],
) -> str:
    return json.dumps(
        {
            "id": event_id,
            "event": event_type,
            "timestamp": iso(occurred_at),
            "organizationId": organization_id,
            "mode": "live" if livemode else "sandbox",
            "apiVersion": API_VERSION,
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


async def event_data(session: AsyncSession, event: Event) -> dict[str, Any] | None:
    """``data`` for a logged event, or None when the type is not sent to merchants."""
    if event.type in PAYOUT_EVENTS:
        payout = await session.get(Payout, event.object_id)
        return None if payout is None else await payout_data(session, payout, event.type)
    if event.type == "payout.available":
        entry = await session.get(BalanceTransaction, event.object_id)
        if entry is None:
            return None
        return {"availableAmount": entry.available_after, "currency": entry.currency}
    if event.type == "payout_account.updated":
        account = await session.get(PayoutAccount, event.object_id)
        return None if account is None else payout_account_data(account)
    return None


async def payout_data(session: AsyncSession, payout: Payout, event_type: str) -> dict[str, Any]:
    bank = await session.get(BankAccount, payout.bank_account_id)
    data: dict[str, Any] = {
        "payoutId": payout.id,
        "amount": payout.amount,
        "fee": payout.fee,
        "netAmount": payout.net_amount,
        "currency": payout.currency,
        "status": EVENT_STATUS[event_type],
        "destinationBank": (
            None if bank is None else {"last4": bank.last4, "bankName": bank.bank_name}
        ),
        "description": payout.description,
        "createdAt": iso(payout.created_at),
    }
    if event_type == "payout.paid":
        data["paidAt"] = iso(payout.paid_at)
    if event_type == "payout.failed":
        data["failedAt"] = iso(payout.failed_at)
        data["failureCode"] = payout.failure_code
        data["failureMessage"] = payout.failure_message
    if event_type == "payout.canceled":
        data["canceledAt"] = iso(payout.canceled_at)
    return data


def payout_account_data(account: PayoutAccount) -> dict[str, Any]:
    return {
        "payoutAccountId": account.id,
        "status": str(account.status).lower(),
        "transfersEnabled": account.transfers_enabled,
        "businessType": str(account.business_type).lower(),
        "country": account.country,
        "verifiedAt": iso(account.verified_at),
    }


def test_body(organization_id: str, livemode: bool, endpoint_id: str) -> tuple[str, str]:
    """(event id, body) of a test event sent on request."""
    event_id = new_id("whev")
    now = datetime.now(UTC)
    body = envelope(
        event_id=event_id,
        event_type=TEST_EVENT_TYPE,
        occurred_at=now,
        organization_id=organization_id,
        livemode=livemode,
        data={"webhookEndpointId": endpoint_id, "message": "A test event from payouts."},
    )
    return event_id, body
