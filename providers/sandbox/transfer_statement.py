"""A sandbox transfer and its two settlement webhooks in one statement (PostgreSQL).

Through the unit of work, creating a transfer took six round trips inside the transaction (the
idempotency lookup, the account and destination reads, the transfer insert, the two outbox
inserts). Here data-modifying CTEs do the same in one: an existing transfer with the key is
returned as it is; otherwise the destination is checked against the account and, only if it
belongs to it, the transfer and both webhook rows are written. Whether the final webhook says
``paid`` or ``failed`` depends on the destination, so both payloads are bound and the statement
picks one. A concurrent creation with the same key fails on the unique index, as the ORM path
did (the caller then reads the winner).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_CREATE = sa.text(
    """
WITH existing AS (
  SELECT id, status FROM sandbox_transfers WHERE idempotency_key = :key
), destination AS (
  SELECT e.id, e.fails_transfers FROM sandbox_external_accounts AS e
  WHERE e.id = :external_account_id AND e.account_id = :account_id
    AND NOT EXISTS (SELECT 1 FROM existing)
), created AS (
  INSERT INTO sandbox_transfers (id, idempotency_key, livemode, account_id, external_account_id,
    amount, currency, status, failure_code, created_at)
  SELECT :transfer_id, :key, :livemode, :account_id, destination.id, :amount, :currency,
    'pending', NULL, :now
  FROM destination
  RETURNING id, status
), scheduled AS (
  INSERT INTO sandbox_webhook_deliveries (id, event_id, event_type, object_id, payload,
    deliver_at, attempts, created_at)
  SELECT :first_id, :first_event_id, :event_type, :transfer_id, :first_payload,
    CAST(:first_deliver_at AS timestamptz), 0, CAST(:now AS timestamptz)
  FROM destination
  UNION ALL
  SELECT :final_id, :final_event_id, :event_type, :transfer_id,
    CASE WHEN destination.fails_transfers THEN :failed_payload ELSE :paid_payload END,
    CAST(:final_deliver_at AS timestamptz), 0, CAST(:now AS timestamptz)
  FROM destination
)
SELECT id, status FROM existing
UNION ALL
SELECT id, status FROM created
"""
)


@dataclass(frozen=True, slots=True)
class Webhook:
    """One scheduled webhook's columns (``outbox.webhook_values``)."""

    id: str
    event_id: str
    payload: str
    deliver_at: datetime


async def create_transfer(
    connection: AsyncConnection,
    *,
    transfer_id: str,
    key: str,
    livemode: bool,
    account_id: str,
    external_account_id: str,
    amount: int,
    currency: str,
    event_type: str,
    first: Webhook,
    paid: Webhook,
    failed_payload: str,
    now: datetime,
) -> tuple[str, str] | None:
    """(id, status) of the transfer with ``key``: the existing one, or the one written now;
    None when the destination does not belong to the account (nothing written)."""
    params: dict[str, Any] = {
        "key": key,
        "transfer_id": transfer_id,
        "livemode": livemode,
        "account_id": account_id,
        "external_account_id": external_account_id,
        "amount": amount,
        "currency": currency,
        "now": now,
        "event_type": event_type,
        "first_id": first.id,
        "first_event_id": first.event_id,
        "first_payload": first.payload,
        "first_deliver_at": first.deliver_at,
        "final_id": paid.id,
        "final_event_id": paid.event_id,
        "paid_payload": paid.payload,
        "failed_payload": failed_payload,
        "final_deliver_at": paid.deliver_at,
    }
    row = (await connection.execute(_CREATE, params)).first()
    return None if row is None else (str(row.id), str(row.status))
