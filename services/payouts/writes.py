"""The lean write path of payouts on PostgreSQL: each money change is one statement.

``requestPayout`` through the unit of work took about 12 round trips inside the transaction
(destination reads, balance upsert, ``SELECT … FOR UPDATE``, payout, balance, ledger entry and
status-history writes, the event sequence, two events, ``pg_notify``). Here one statement with
data-modifying CTEs does all of it: the balance is debited by a conditional ``UPDATE … WHERE
available >= :amount RETURNING`` (the row lock is the update itself, and PostgreSQL re-checks
the condition on the newest row version when it had to wait for a concurrent writer, so
``available`` can never go negative), and the payout, its ledger entry (with the balance's
values after the change), its status history and its events (sequence numbers taken from the
organization row in the same statement) are written from what that update returned.

Lock order is the ORM path's: balance row, then organization row. Events are written by the
statement itself and handed to ``Database.transaction`` for publication after commit
(``services.infra.database.published_later``). SQLite keeps the ORM path
(``services.payouts.service``): its
single writer already serializes these transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from models.base import new_id
from services.infra.database import Database
from services.infra.events import PublishedEvent

_REQUEST = sa.text(
    """
WITH dest AS (
  SELECT pa.id AS account_id, pa.status AS account_status, pa.transfers_enabled,
         pa.provider_account_id, b.id AS bank_id, b.provider_external_account_id
  FROM payout_accounts AS pa
  LEFT JOIN bank_accounts AS b
    ON b.payout_account_id = pa.id AND b.is_default AND b.status = 'ACTIVE'
  WHERE pa.organization_id = :org AND pa.livemode = :livemode
  LIMIT 1
), debit AS (
  UPDATE balances
  SET available = available - :amount, in_transit = in_transit + :amount,
      entry_count = entry_count + 1, updated_at = :now
  FROM dest
  WHERE balances.organization_id = :org AND balances.livemode = :livemode
    AND balances.currency = :currency AND balances.available >= :amount
    AND dest.account_status = 'VERIFIED' AND dest.transfers_enabled AND dest.bank_id IS NOT NULL
  RETURNING balances.id, balances.available, balances.pending, balances.in_transit,
            balances.paid_out, balances.entry_count
), seq AS (
  UPDATE organizations SET event_seq = event_seq + 2
  WHERE id = :org AND EXISTS (SELECT 1 FROM debit)
  RETURNING event_seq
), payout AS (
  INSERT INTO payouts (id, organization_id, livemode, balance_id, payout_account_id,
    bank_account_id, status, amount, fee, net_amount, currency, description, provider,
    provider_idempotency_key, attempts, next_attempt_at, created_at, updated_at)
  SELECT :payout_id, :org, :livemode, debit.id, dest.account_id, dest.bank_id, 'PENDING',
    :amount, :fee, :net, :currency, :description, :provider, :idempotency_key, 1,
    :next_attempt_at, :now, :now
  FROM debit, dest
  RETURNING id
), entry AS (
  INSERT INTO balance_transactions (id, balance_id, seq, organization_id, livemode, currency,
    type, amount, available_change, pending_change, in_transit_change, paid_out_change,
    available_after, pending_after, in_transit_after, paid_out_after, source_type, source_id,
    description, created_at)
  SELECT :entry_id, debit.id, debit.entry_count, :org, :livemode, :currency, 'PAYOUT',
    -:amount, -:amount, 0, :amount, 0, debit.available, debit.pending, debit.in_transit,
    debit.paid_out, 'payout', :payout_id, :description, :now
  FROM debit
), history AS (
  INSERT INTO payout_status_changes (id, payout_id, to_status, source, created_at)
  SELECT :change_id, payout.id, 'PENDING', 'request', :now FROM payout
), logged AS (
  INSERT INTO events (id, organization_id, livemode, seq, type, object_type, object_id,
    occurred_at)
  SELECT :balance_event_id, :org, :livemode, seq.event_seq - 1, 'balance.updated', 'balance',
    debit.id, :now
  FROM seq, debit
  UNION ALL
  SELECT :payout_event_id, :org, :livemode, seq.event_seq, 'payout.created', 'payout',
    :payout_id, :now
  FROM seq
)
SELECT dest.account_id, dest.account_status, dest.transfers_enabled, dest.bank_id,
  dest.provider_account_id, dest.provider_external_account_id, debit.id AS balance_id,
  seq.event_seq,
  (SELECT available FROM balances
   WHERE organization_id = :org AND livemode = :livemode AND currency = :currency)
   AS available_before
FROM (SELECT 1) AS one
LEFT JOIN dest ON TRUE LEFT JOIN debit ON TRUE LEFT JOIN seq ON TRUE
"""
)


@dataclass(frozen=True, slots=True)
class RequestedPayout:
    """What the statement wrote (``payout_id`` … ``events``), or why it wrote nothing."""

    account_id: str | None
    account_verified: bool
    bank_id: str | None
    provider_account_id: str | None
    provider_external_account_id: str | None
    balance_id: str | None
    available_before: int
    events: tuple[PublishedEvent, ...]

    @property
    def written(self) -> bool:
        return self.balance_id is not None


async def request_payout(
    session: AsyncSession,
    *,
    payout_id: str,
    organization_id: str,
    livemode: bool,
    currency: str,
    amount: int,
    fee: int,
    description: str | None,
    provider: str,
    idempotency_key: str,
    next_attempt_at: datetime,
    now: datetime,
) -> RequestedPayout:
    """Debit ``amount`` (available → in transit) and write the PENDING payout with its ledger
    entry, history and events, all in one statement; nothing when the destination is not
    ready or the balance is short (the caller raises the matching domain error)."""
    balance_event_id, payout_event_id = new_id("evt"), new_id("evt")
    params: dict[str, Any] = {
        "org": organization_id,
        "livemode": livemode,
        "currency": currency,
        "amount": amount,
        "fee": fee,
        "net": amount - fee,
        "description": description,
        "provider": provider,
        "payout_id": payout_id,
        "idempotency_key": idempotency_key,
        "next_attempt_at": next_attempt_at,
        "now": now,
        "entry_id": new_id("txn"),
        "change_id": new_id("pstc"),
        "balance_event_id": balance_event_id,
        "payout_event_id": payout_event_id,
    }
    row = (await session.execute(_REQUEST, params)).one()
    events: tuple[PublishedEvent, ...] = ()
    if row.balance_id is not None:
        last = int(row.event_seq)
        events = (
            PublishedEvent(
                balance_event_id,
                organization_id,
                livemode,
                last - 1,
                "balance.updated",
                "balance",
                row.balance_id,
                now,
            ),
            PublishedEvent(
                payout_event_id,
                organization_id,
                livemode,
                last,
                "payout.created",
                "payout",
                payout_id,
                now,
            ),
        )
    return RequestedPayout(
        account_id=row.account_id,
        account_verified=row.account_status == "VERIFIED" and bool(row.transfers_enabled),
        bank_id=row.bank_id,
        provider_account_id=row.provider_account_id,
        provider_external_account_id=row.provider_external_account_id,
        balance_id=row.balance_id,
        available_before=int(row.available_before or 0),
        events=events,
    )


_ACCEPTED = sa.text(
    """
UPDATE payouts
SET provider_transfer_id = :transfer_id, next_attempt_at = NULL, last_error = NULL,
    updated_at = :now
WHERE id = :payout_id AND provider_transfer_id IS NULL
RETURNING status, EXISTS (
  SELECT 1 FROM provider_events
  WHERE provider = :provider AND object_kind = 'transfer' AND object_id = :transfer_id
    AND applied_at IS NULL
) AS events_waiting
"""
)


@dataclass(frozen=True, slots=True)
class Accepted:
    status: str
    events_waiting: bool


async def record_accepted(
    session: AsyncSession | AsyncConnection,
    *,
    provider: str,
    payout_id: str,
    transfer_id: str,
    now: datetime,
) -> Accepted | None:
    """Store the provider's transfer id on a payout that has none yet (one statement, the row
    lock its own); None when there is no such payout (unknown, or its id already set)."""
    params = {"transfer_id": transfer_id, "now": now, "payout_id": payout_id, "provider": provider}
    row = (await session.execute(_ACCEPTED, params)).first()
    return None if row is None else Accepted(str(row.status), bool(row.events_waiting))


async def record_accepted_alone(
    db: Database, *, provider: str, payout_id: str, transfer_id: str, now: datetime
) -> Accepted | None:
    """``record_accepted`` as a statement of its own (``Database.run_text``: a second run finds
    the id set and changes nothing, so it is safe to repeat)."""
    params = {"transfer_id": transfer_id, "now": now, "payout_id": payout_id, "provider": provider}
    row = await db.run_text(_ACCEPTED, params)
    return None if row is None else Accepted(str(row["status"]), bool(row["events_waiting"]))


# (from, to) → (ledger entry type, bucket the amount leaves, bucket it enters); the same moves
# as ``services.payouts._MOVES``, which the ORM path applies.
Move = tuple[str, str, str]
_BUCKETS = ("available", "pending", "in_transit", "paid_out")
_STAMPS = {
    "PAID": ", paid_at = :now",
    "FAILED": ", failed_at = :now, failure_code = :failure_code, failure_message = :failure_message",
    "CANCELED": ", canceled_at = :now",
    "IN_TRANSIT": "",
}


def _transition_sql(to: str, move: Move | None) -> sa.TextClause:
    payout = f"""
WITH p AS (
  UPDATE payouts SET status = :to, updated_at = :now, next_attempt_at = NULL{_STAMPS[to]}
  WHERE id = :payout_id AND status = :from_status
  RETURNING id, organization_id, livemode, balance_id, amount
)"""
    if move is None:
        return sa.text(
            payout
            + """, seq AS (
  UPDATE organizations SET event_seq = event_seq + 1 FROM p
  WHERE organizations.id = p.organization_id
  RETURNING event_seq
), history AS (
  INSERT INTO payout_status_changes (id, payout_id, from_status, to_status, source, created_at)
  SELECT :change_id, p.id, :from_status, :to, :source, :now FROM p
), logged AS (
  INSERT INTO events (id, organization_id, livemode, seq, type, object_type, object_id,
    occurred_at)
  SELECT :payout_event_id, p.organization_id, p.livemode, seq.event_seq, :event_type, 'payout',
    p.id, :now
  FROM p, seq
)
SELECT p.id, p.organization_id, p.livemode, NULL AS balance_id, seq.event_seq
FROM (SELECT 1) AS one LEFT JOIN p ON TRUE LEFT JOIN seq ON TRUE
"""
        )
    kind, source, target = move
    sets = f"{source} = {source} - p.amount, {target} = {target} + p.amount"
    changes = ", ".join(
        "p.amount" if b == target else "-p.amount" if b == source else "0" for b in _BUCKETS
    )
    signed = "p.amount" if target == "available" else "-p.amount"
    return sa.text(
        payout
        + f""", bal AS (
  UPDATE balances SET {sets}, entry_count = entry_count + 1, updated_at = :now
  FROM p WHERE balances.id = p.balance_id AND balances.{source} >= p.amount
  RETURNING balances.id, balances.organization_id, balances.livemode, balances.currency,
    balances.available, balances.pending, balances.in_transit, balances.paid_out,
    balances.entry_count
), seq AS (
  UPDATE organizations SET event_seq = event_seq + 2 FROM p
  WHERE organizations.id = p.organization_id AND EXISTS (SELECT 1 FROM bal)
  RETURNING event_seq
), entry AS (
  INSERT INTO balance_transactions (id, balance_id, seq, organization_id, livemode, currency,
    type, amount, available_change, pending_change, in_transit_change, paid_out_change,
    available_after, pending_after, in_transit_after, paid_out_after, source_type, source_id,
    created_at)
  SELECT :entry_id, bal.id, bal.entry_count, bal.organization_id, bal.livemode, bal.currency,
    '{kind}', {signed}, {changes}, bal.available, bal.pending, bal.in_transit, bal.paid_out,
    'payout', p.id, :now
  FROM bal, p
), history AS (
  INSERT INTO payout_status_changes (id, payout_id, from_status, to_status, source, created_at)
  SELECT :change_id, p.id, :from_status, :to, :source, :now FROM p, bal
), logged AS (
  INSERT INTO events (id, organization_id, livemode, seq, type, object_type, object_id,
    occurred_at)
  SELECT :balance_event_id, bal.organization_id, bal.livemode, seq.event_seq - 1,
    'balance.updated', 'balance', bal.id, :now
  FROM bal, seq
  UNION ALL
  SELECT :payout_event_id, p.organization_id, p.livemode, seq.event_seq, :event_type, 'payout',
    p.id, :now
  FROM p, seq
)
SELECT p.id, p.organization_id, p.livemode, bal.id AS balance_id, seq.event_seq
FROM (SELECT 1) AS one LEFT JOIN p ON TRUE LEFT JOIN bal ON TRUE LEFT JOIN seq ON TRUE
"""
    )


_TRANSITIONS: dict[tuple[str, Move | None], sa.TextClause] = {}


async def transition(
    session: AsyncSession,
    *,
    payout_id: str,
    from_status: str,
    to_status: str,
    move: Move | None,
    source: str,
    now: datetime,
    failure_code: str | None = None,
    failure_message: str | None = None,
) -> tuple[PublishedEvent, ...]:
    """One allowed step of a payout locked by this transaction (``from_status`` is what it is
    now): status, timestamps, the ledger move with its entry, the history row and the events,
    in one statement. Returns the events, to publish after commit."""
    key = (to_status, move)
    statement = _TRANSITIONS.get(key)
    if statement is None:
        statement = _TRANSITIONS[key] = _transition_sql(to_status, move)
    balance_event_id, payout_event_id = new_id("evt"), new_id("evt")
    event_type = f"payout.{to_status.lower()}"
    params: dict[str, Any] = {
        "payout_id": payout_id,
        "from_status": from_status,
        "to": to_status,
        "now": now,
        "source": source,
        "change_id": new_id("pstc"),
        "payout_event_id": payout_event_id,
        "event_type": event_type,
    }
    if to_status == "FAILED":
        params["failure_code"] = failure_code or "unknown"
        params["failure_message"] = failure_message or "The payout failed."
    if move is not None:
        params["entry_id"] = new_id("txn")
        params["balance_event_id"] = balance_event_id
    row = (await session.execute(statement, params)).one()
    if row.id is None:
        raise RuntimeError(f"payout {payout_id} is not {from_status} under this lock")
    if move is not None and row.balance_id is None:
        # The status changed but the funds could not move: never commit that.
        raise RuntimeError(f"ledger would make {move[1]} negative for payout {payout_id}")
    last = int(row.event_seq)
    payout_event = PublishedEvent(
        payout_event_id,
        row.organization_id,
        row.livemode,
        last,
        event_type,
        "payout",
        payout_id,
        now,
    )
    if move is None:
        return (payout_event,)
    balance_event = PublishedEvent(
        balance_event_id,
        row.organization_id,
        row.livemode,
        last - 1,
        "balance.updated",
        "balance",
        row.balance_id,
        now,
    )
    return (balance_event, payout_event)
