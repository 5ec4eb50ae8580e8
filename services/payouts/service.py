"""Payouts: request, cancel, and the state machine. The ONLY code that changes a payout's
status; every change moves the ledger, writes the status history and records events in the
same transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import BankAccount, BankAccountStatus, PayoutAccount, PayoutAccountStatus
from models.base import built_unsaved, new_id, utcnow
from models.ledger import BalanceTransactionType
from models.payout import (
    PAYOUT_TRANSITIONS,
    Payout,
    PayoutStatus,
    PayoutStatusChange,
    transition_path,
)
from providers.base import TransferRequest, WebhookEvent
from services.errors import DomainError, ErrorCode, NotFound, ValidationFailed
from services.infra.database import published_later
from services.infra.events import record_event
from services.ledger import service as ledger
from services.payouts import writes as payout_writes
from services.scope import TenantId, locked, scoped

log = logging.getLogger(__name__)

MIN_PAYOUT = 1000
MAX_DESCRIPTION = 500
PROVIDER_STATUSES = {
    "in_transit": PayoutStatus.IN_TRANSIT,
    "paid": PayoutStatus.PAID,
    "failed": PayoutStatus.FAILED,
    "canceled": PayoutStatus.CANCELED,
}


@dataclass(frozen=True, slots=True)
class PayoutPolicy:
    """Fee policy and the provider-retry schedule (from settings)."""

    fee_bps: int = 0
    fee_fixed: int = 0
    max_attempts: int = 5
    retry_base_seconds: float = 2.0
    retry_grace_seconds: float = 10.0
    # How long a reconciler claim keeps other processes off a payout. A process that dies
    # holding the claim delays the payout that long; the provider call is idempotent, so a
    # short lease is safe.
    claim_lease_seconds: float = 30.0

    def fee_for(self, amount: int) -> int:
        return amount * self.fee_bps // 10_000 + self.fee_fixed


async def lock_payout(session: AsyncSession, stmt: sa.Select[Any]) -> Payout | None:
    # populate_existing: the identity map must not hand back a copy read before the lock.
    result = await session.execute(locked(stmt).execution_options(populate_existing=True))
    row: Payout | None = result.scalars().first()
    return row


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def check_request(amount: int, description: str | None) -> None:
    problems = []
    if amount < MIN_PAYOUT:
        problems.append(
            DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"amount must be at least {MIN_PAYOUT}",
                ["input", "amount"],
            )
        )
    if description is not None and len(description) > MAX_DESCRIPTION:
        problems.append(
            DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"description must be at most {MAX_DESCRIPTION} characters",
                ["input", "description"],
            )
        )
    if problems:
        raise ValidationFailed(problems)


@dataclass(frozen=True, slots=True)
class _Request:
    """A checked payout request: what both ways of writing it (ORM, one statement) share."""

    organization_id: str
    livemode: bool
    currency: str
    amount: int
    fee: int
    description: str | None
    provider: str
    retry_grace: timedelta
    payout_id: str = field(default_factory=lambda: new_id("po"))

    @property
    def idempotency_key(self) -> str:
        return f"payout_{self.payout_id}"

    def pending_payout(
        self, now: datetime, *, balance_id: str, payout_account_id: str, bank_account_id: str
    ) -> Payout:
        """The new PENDING payout, its first provider attempt due after the grace period."""
        return Payout(**self._pending_values(now, balance_id, payout_account_id, bank_account_id))

    def written_payout(
        self, now: datetime, *, balance_id: str, payout_account_id: str, bank_account_id: str
    ) -> Payout:
        """``pending_payout`` as a statement has already inserted it: the same values, built
        without SQLModel's constructor (``models.base.built_unsaved``)."""
        values = self._pending_values(now, balance_id, payout_account_id, bank_account_id)
        return built_unsaved(Payout, {**_UNSET_PAYOUT_COLUMNS, **values})

    def _pending_values(
        self, now: datetime, balance_id: str, payout_account_id: str, bank_account_id: str
    ) -> dict[str, Any]:
        return {
            "id": self.payout_id,
            "organization_id": self.organization_id,
            "livemode": self.livemode,
            "balance_id": balance_id,
            "payout_account_id": payout_account_id,
            "bank_account_id": bank_account_id,
            "status": PayoutStatus.PENDING,
            "amount": self.amount,
            "fee": self.fee,
            "net_amount": self.amount - self.fee,
            "currency": self.currency,
            "description": self.description,
            "provider": self.provider,
            "provider_idempotency_key": self.idempotency_key,
            "attempts": 1,
            "next_attempt_at": now + self.retry_grace,
            "created_at": now,
            "updated_at": now,
        }


# The columns a new payout leaves at their defaults (``written_payout`` sets every column).
_UNSET_PAYOUT_COLUMNS: dict[str, Any] = dict.fromkeys(
    (
        "provider_transfer_id",
        "last_error",
        "failure_code",
        "failure_message",
        "paid_at",
        "failed_at",
        "canceled_at",
    )
)


async def request_payout(
    session: AsyncSession,
    *,
    organization_id: str,
    livemode: bool,
    currency: str,
    amount: int,
    description: str | None,
    provider: str,
    policy: PayoutPolicy,
) -> Payout:
    """Reserve ``amount`` (available → in transit) and create the payout PENDING. The caller
    asks the provider for the transfer after commit (``services.payouts.reconciler.submit``)."""
    check_request(amount, description)
    fee = policy.fee_for(amount)
    if fee >= amount:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, f"amount must exceed the fee of {fee}", ["input", "amount"]
        )
    request = _Request(
        organization_id=organization_id,
        livemode=livemode,
        currency=currency,
        amount=amount,
        fee=fee,
        description=description,
        provider=provider,
        retry_grace=_seconds(policy.retry_grace_seconds),
    )
    if _is_postgres(session):
        return await _request_in_one_statement(session, request)
    account, bank = await _destination(session, organization_id, livemode)
    balance = await ledger.lock_balance(session, organization_id, livemode, currency)
    if balance.available < amount:
        raise ledger.InsufficientBalance(balance.available, amount)
    now = utcnow()
    payout = request.pending_payout(
        now, balance_id=balance.id, payout_account_id=account.id, bank_account_id=bank.id
    )
    session.add(payout)
    await session.flush()
    await ledger.post_entry(
        session,
        balance,
        type=BalanceTransactionType.PAYOUT,
        amount=-amount,
        changes={"available": -amount, "in_transit": amount},
        source_type="payout",
        source_id=payout.id,
        description=description,
    )
    session.add(
        PayoutStatusChange(
            payout_id=payout.id, to_status=payout.status, source="request", created_at=now
        )
    )
    _record(session, payout, "payout.created")
    return payout


def transfer_request(
    payout: Payout, provider_account_id: str | None, external_account_id: str | None
) -> TransferRequest:
    """What the provider is asked for a payout (its destination's provider ids given)."""
    return TransferRequest(
        idempotency_key=payout.provider_idempotency_key,
        livemode=payout.livemode,
        account_id=provider_account_id or "",
        external_account_id=external_account_id or "",
        amount=payout.net_amount,
        currency=payout.currency,
        description=payout.description,
        metadata={"payout_id": payout.id},
    )


async def _request_in_one_statement(session: AsyncSession, request: _Request) -> Payout:
    """PostgreSQL: the same request as ``request_payout``'s ORM path, written by one statement
    (``services.payouts.writes``); the same refusals, in the same order."""
    now = utcnow()
    written = await payout_writes.request_payout(
        session,
        payout_id=request.payout_id,
        organization_id=request.organization_id,
        livemode=request.livemode,
        currency=request.currency,
        amount=request.amount,
        fee=request.fee,
        description=request.description,
        provider=request.provider,
        idempotency_key=request.idempotency_key,
        next_attempt_at=now + request.retry_grace,
        now=now,
    )
    if not written.written:
        if written.account_id is None:
            raise _refused(ErrorCode.PAYOUT_ACCOUNT_REQUIRED)
        if not written.account_verified:
            raise _refused(ErrorCode.PAYOUT_ACCOUNT_NOT_VERIFIED)
        if written.bank_id is None:
            raise _refused(ErrorCode.NO_DEFAULT_BANK_ACCOUNT)
        raise ledger.InsufficientBalance(written.available_before, request.amount)
    published_later(session, written.events)
    assert written.balance_id and written.account_id and written.bank_id  # written: all known
    payout = request.written_payout(
        now,
        balance_id=written.balance_id,
        payout_account_id=written.account_id,
        bank_account_id=written.bank_id,
    )
    transfer = transfer_request(
        payout, written.provider_account_id, written.provider_external_account_id
    )
    session.info.setdefault(_PREPARED_KEY, {})[payout.id] = transfer
    return payout


_PREPARED_KEY = "prepared_transfers"


def prepared_transfer(session: AsyncSession, payout_id: str) -> TransferRequest | None:
    """The provider request for a payout this transaction created, when it already knows
    every part of it (the one-statement path reads the destination's provider ids)."""
    prepared: dict[str, TransferRequest] = session.info.get(_PREPARED_KEY, {})
    return prepared.pop(payout_id, None)


async def _destination(
    session: AsyncSession, organization_id: str, livemode: bool
) -> tuple[PayoutAccount, BankAccount]:
    tenant = TenantId(organization_id, livemode)
    account = (await session.execute(scoped(PayoutAccount, tenant))).scalar_one_or_none()
    if account is None:
        raise _refused(ErrorCode.PAYOUT_ACCOUNT_REQUIRED)
    if account.status != PayoutAccountStatus.VERIFIED or not account.transfers_enabled:
        raise _refused(ErrorCode.PAYOUT_ACCOUNT_NOT_VERIFIED)
    bank = (
        await session.execute(
            sa.select(BankAccount).where(
                col(BankAccount.payout_account_id) == account.id,
                col(BankAccount.is_default).is_(True),
                col(BankAccount.status) == BankAccountStatus.ACTIVE,
            )
        )
    ).scalar_one_or_none()
    if bank is None:
        raise _refused(ErrorCode.NO_DEFAULT_BANK_ACCOUNT)
    return account, bank


_DESTINATION_REFUSALS = {
    ErrorCode.PAYOUT_ACCOUNT_REQUIRED: "complete verification before payouts",
    ErrorCode.PAYOUT_ACCOUNT_NOT_VERIFIED: (
        "the payout account must be verified with transfers enabled"
    ),
    ErrorCode.NO_DEFAULT_BANK_ACCOUNT: "add an active default bank account before payouts",
}


def _refused(code: ErrorCode) -> DomainError:
    """Why a payout's destination is refused, the same on both request paths."""
    return DomainError(code, _DESTINATION_REFUSALS[code])


async def get_payout(
    session: AsyncSession, organization_id: str, livemode: bool, payout_id: str
) -> Payout | None:
    tenant = TenantId(organization_id, livemode)
    stmt = scoped(Payout, tenant, col(Payout.id) == payout_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def require_payout(
    session: AsyncSession, organization_id: str, livemode: bool, payout_id: str
) -> Payout:
    payout = await get_payout(session, organization_id, livemode, payout_id)
    if payout is None:
        raise NotFound("payout", ["input", "payoutId"])
    return payout


def check_cancelable(payout: Payout) -> str:
    """The provider transfer id of a payout that may be canceled, or INVALID_TRANSITION."""
    if payout.status != PayoutStatus.PENDING:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"a {payout.status} payout cannot be canceled",
            ["input", "payoutId"],
        )
    if payout.provider_transfer_id is None:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "the provider has not accepted this payout yet; try again shortly",
            ["input", "payoutId"],
        )
    return payout.provider_transfer_id


async def cancel_payout(
    session: AsyncSession, organization_id: str, livemode: bool, payout_id: str
) -> Payout:
    """Mark a payout CANCELED once the provider has canceled its transfer."""
    tenant = TenantId(organization_id, livemode)
    payout = await lock_payout(session, scoped(Payout, tenant, col(Payout.id) == payout_id))
    if payout is None:
        raise NotFound("payout", ["input", "payoutId"])
    if payout.status == PayoutStatus.CANCELED:
        return payout  # the provider's cancel event landed first: the same outcome
    check_cancelable(payout)
    if _is_postgres(session):
        session.expunge(payout)  # written by one statement below; this copy only answers
        now = await _step_in_one_statement(
            session, payout.id, PayoutStatus(payout.status), PayoutStatus.CANCELED,
            updated_at=payout.updated_at, source="cancel", bank_account_id=payout.bank_account_id,
        )  # fmt: skip
        payout.status = PayoutStatus.CANCELED
        payout.updated_at = payout.canceled_at = now
        payout.next_attempt_at = None
        return payout
    await transition(session, payout, PayoutStatus.CANCELED, source="cancel")
    return payout


async def _step_in_one_statement(
    session: AsyncSession,
    payout_id: str,
    current: PayoutStatus,
    to: PayoutStatus,
    *,
    updated_at: datetime,
    source: str,
    bank_account_id: str,
    failure_code: str | None = None,
    failure_message: str | None = None,
) -> datetime:
    """PostgreSQL: ``transition`` for a payout locked by this transaction, written by one
    statement (``services.payouts.writes``). Returns the step's time."""
    if to not in PAYOUT_TRANSITIONS[current]:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"{current.value} → {to.value} is not allowed"
        )
    now = max(utcnow(), updated_at + timedelta(microseconds=1))
    move = _MOVES.get((current, to))
    events = await payout_writes.transition(
        session,
        payout_id=payout_id,
        from_status=current.value,
        to_status=to.value,
        move=None if move is None else (move[0].value, move[1], move[2]),
        source=source,
        now=now,
        failure_code=failure_code,
        failure_message=failure_message,
    )
    published_later(session, events)
    if to == PayoutStatus.FAILED and failure_code == "account_closed":
        await session.execute(
            sa.update(BankAccount)
            .where(
                col(BankAccount.id) == bank_account_id,
                col(BankAccount.status) != BankAccountStatus.ERRORED,
            )
            .values(status=BankAccountStatus.ERRORED)
        )
    return now


async def transition(
    session: AsyncSession,
    payout: Payout,
    to: PayoutStatus,
    *,
    source: str,
    failure_code: str | None = None,
    failure_message: str | None = None,
) -> None:
    """Apply one allowed step to a payout locked by this transaction."""
    current = PayoutStatus(payout.status)
    if to not in PAYOUT_TRANSITIONS[current]:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"{current.value} → {to.value} is not allowed"
        )
    await _move_funds(session, payout, current, to)
    # Strictly after the previous change, so history order never depends on clock ties.
    now = max(utcnow(), payout.updated_at + timedelta(microseconds=1))
    payout.status = to
    payout.updated_at = now
    payout.next_attempt_at = None
    if to == PayoutStatus.PAID:
        payout.paid_at = now
    elif to == PayoutStatus.FAILED:
        payout.failed_at = now
        payout.failure_code = failure_code or "unknown"
        payout.failure_message = failure_message or "The payout failed."
        if failure_code == "account_closed":
            await _mark_bank_errored(session, payout.bank_account_id)
    elif to == PayoutStatus.CANCELED:
        payout.canceled_at = now
    session.add(payout)
    session.add(
        PayoutStatusChange(
            payout_id=payout.id, from_status=current, to_status=to, source=source, created_at=now
        )
    )
    _record(session, payout, f"payout.{to.value.lower()}")


_MOVES: dict[tuple[PayoutStatus, PayoutStatus], tuple[BalanceTransactionType, str, str]] = {
    (PayoutStatus.IN_TRANSIT, PayoutStatus.PAID): (
        BalanceTransactionType.PAYOUT_PAID,
        "in_transit",
        "paid_out",
    ),
    (PayoutStatus.PENDING, PayoutStatus.FAILED): (
        BalanceTransactionType.PAYOUT_FAILED,
        "in_transit",
        "available",
    ),
    (PayoutStatus.IN_TRANSIT, PayoutStatus.FAILED): (
        BalanceTransactionType.PAYOUT_FAILED,
        "in_transit",
        "available",
    ),
    (PayoutStatus.PENDING, PayoutStatus.CANCELED): (
        BalanceTransactionType.PAYOUT_CANCELED,
        "in_transit",
        "available",
    ),
    (PayoutStatus.PAID, PayoutStatus.FAILED): (
        BalanceTransactionType.PAYOUT_REVERSED,
        "paid_out",
        "available",
    ),
}


async def _move_funds(
    session: AsyncSession, payout: Payout, current: PayoutStatus, to: PayoutStatus
) -> None:
    move = _MOVES.get((current, to))
    if move is None:
        return
    kind, source_bucket, target_bucket = move
    balance = await ledger.lock_balance_by_id(session, payout.balance_id)
    await ledger.post_entry(
        session,
        balance,
        type=kind,
        amount=payout.amount if target_bucket == "available" else -payout.amount,
        changes={source_bucket: -payout.amount, target_bucket: payout.amount},
        source_type="payout",
        source_id=payout.id,
    )


async def _mark_bank_errored(session: AsyncSession, bank_account_id: str) -> None:
    bank = await session.get(BankAccount, bank_account_id)
    if bank is not None and bank.status != BankAccountStatus.ERRORED:
        bank.status = BankAccountStatus.ERRORED
        session.add(bank)


def _record(session: AsyncSession, payout: Payout, type: str) -> None:
    record_event(
        session,
        organization_id=payout.organization_id,
        livemode=payout.livemode,
        type=type,
        object_type="payout",
        object_id=payout.id,
    )


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


async def apply_transfer_event(session: AsyncSession, provider: str, event: WebhookEvent) -> bool:
    """Move the payout of a provider transfer to the event's status, never backwards.

    Steps the event skipped (PAID before IN_TRANSIT) are applied in order; an event whose
    status is behind the payout's (or the same) is recorded as applied and changes nothing.
    """
    if _is_postgres(session):
        return await _apply_transfer_event_in_statements(session, provider, event)
    payout = await lock_payout(
        session,
        sa.select(Payout).where(
            col(Payout.provider) == provider,
            col(Payout.provider_transfer_id) == event.object_id,
        ),
    )
    if payout is None:
        return False  # the transfer is not known to us yet: keep the event pending
    target = PROVIDER_STATUSES.get(str(event.data.get("status")))
    if target is None or target == payout.status or event.livemode != payout.livemode:
        return True
    path = transition_path(PayoutStatus(payout.status), target)
    if path is None:
        log.info("ignoring %s for payout %s in %s", target, payout.id, payout.status)
        return True
    for step in path:
        await transition(
            session,
            payout,
            step,
            source=f"webhook:{event.id}",
            failure_code=_opt(event.data.get("failure_code")),
            failure_message=_opt(event.data.get("failure_message")),
        )
    return True


_LOCK_BY_TRANSFER = (
    sa.select(
        col(Payout.id),
        col(Payout.status),
        col(Payout.livemode),
        col(Payout.updated_at),
        col(Payout.bank_account_id),
        col(Payout.balance_id),
    )
    .where(
        col(Payout.provider) == sa.bindparam("provider"),
        col(Payout.provider_transfer_id) == sa.bindparam("transfer_id"),
    )
    .with_for_update()
)


_LOCK_BALANCE = sa.text("SELECT 1 FROM balances WHERE id = :balance_id FOR NO KEY UPDATE")


async def _apply_transfer_event_in_statements(
    session: AsyncSession, provider: str, event: WebhookEvent
) -> bool:
    """``apply_transfer_event`` on PostgreSQL: the payout row locked by one statement, each
    step written by one more (no ORM objects)."""
    params = {"provider": provider, "transfer_id": event.object_id}
    row = (await session.execute(_LOCK_BY_TRANSFER, params)).first()
    if row is None:
        return False  # the transfer is not known to us yet: keep the event pending
    current = PayoutStatus(row.status)
    target = PROVIDER_STATUSES.get(str(event.data.get("status")))
    if target is None or target == current or event.livemode != row.livemode:
        return True
    path = transition_path(current, target)
    if path is None:
        log.info("ignoring %s for payout %s in %s", target, row.id, current)
        return True
    steps = list(zip([current, *path], path, strict=False))
    if len(steps) > 1 and any((a, b) in _MOVES for a, b in steps):
        # Each step takes the organization row (its event sequence) at once: a step moving
        # funds after one that did not would take the balance row after it, against the order
        # every other writer keeps (balance, then organization). Take the balance first.
        await session.execute(_LOCK_BALANCE, {"balance_id": row.balance_id})
    updated_at = row.updated_at
    for step in path:
        updated_at = await _step_in_one_statement(
            session,
            row.id,
            current,
            step,
            updated_at=updated_at,
            source=f"webhook:{event.id}",
            bank_account_id=row.bank_account_id,
            failure_code=_opt(event.data.get("failure_code")),
            failure_message=_opt(event.data.get("failure_message")),
        )
        current = step
    return True


def _opt(value: object) -> str | None:
    return None if value is None else str(value)[:500]
