"""Getting a committed payout accepted by its provider.

Right after ``requestPayout`` commits we ask the provider for the transfer (``submit``). If that
call fails, times out, or the process dies first, the payout keeps ``provider_transfer_id``
empty and a ``next_attempt_at``: the reconciler (``reconcile_due``, run by every server process)
claims such payouts with ``SKIP LOCKED`` and retries with the same provider idempotency key, so
the provider creates at most one transfer. After ``max_attempts`` the reconciler asks the provider
whether a transfer exists for the payout's idempotency key (the process may have died after the
provider created it): if one does, the payout adopts it; if the provider confirms none, the
payout is FAILED (``provider_unavailable``) and its funds return to available. While the provider
cannot answer, the payout stays PENDING: funds are never returned for a transfer that may exist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import BankAccount, PayoutAccount
from models.base import utcnow
from models.payout import Payout, PayoutStatus
from providers.base import (
    PayoutProvider,
    ProviderError,
    ProviderNotConfigured,
    TransferRequest,
)
from providers.registry import ProviderRegistry
from services.infra.database import AfterCommit, Database
from services.infra.faults import NO_FAULTS, FaultPoint, Faults
from services.payouts import service as payouts
from services.payouts import writes as payout_writes
from services.payouts.service import PayoutPolicy
from services.provider_events import ingest as webhooks
from services.scope import locked

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 300.0
GIVE_UP_CODE = "provider_unavailable"


def after_request(
    db: Database,
    registry: ProviderRegistry,
    policy: PayoutPolicy,
    payout_id: str,
    on_accepted: Callable[[str], None] | None = None,
    faults: Faults = NO_FAULTS,
    prepared: tuple[str, TransferRequest] | None = None,
) -> AfterCommit:
    """The provider call made right after a payout commits (``on_accepted`` gets the transfer
    id, so the response can show it). ``prepared``: the (provider, request) the request's
    transaction already knew, so that the payout need not be read again."""

    async def callback() -> None:
        faults.reached(FaultPoint.AFTER_PAYOUT_COMMIT)
        transfer_id = await submit(db, registry, policy, payout_id, prepared)
        if transfer_id is not None and on_accepted is not None:
            on_accepted(transfer_id)

    return callback


async def submit(
    db: Database,
    registry: ProviderRegistry,
    policy: PayoutPolicy,
    payout_id: str,
    prepared: tuple[str, TransferRequest] | None = None,
) -> str | None:
    """Ask the provider for the payout's transfer and record the answer: its id when accepted.

    ``prepared`` is the request as the payout's own transaction built it (right after its
    commit nothing can have changed it; the provider call is idempotent by its key anyway)."""
    request = prepared
    if request is None:
        async with db.read() as session:
            request = await _transfer_request(session, payout_id)
    if request is None:
        return None
    provider_name, transfer_request = request
    try:
        provider = provider_of(registry, provider_name)
        transfer = await provider.create_transfer(transfer_request)
    except (ProviderError, ProviderNotConfigured) as exc:
        log.warning("provider refused payout %s: %s", payout_id, exc)
        async with db.transaction() as session:
            await _record_failure(session, payout_id, str(exc), policy)
        return None
    live = await _record_accepted(db, provider_name, payout_id, transfer.id)
    if not live:
        await _withdraw_orphan(provider, payout_id, transfer.id)
        return None
    return transfer.id


def provider_of(registry: ProviderRegistry, name: str) -> PayoutProvider:
    """The provider a payout was requested from (a payout never moves to another one)."""
    provider = registry.by_name(name)
    if provider is None:
        raise ProviderNotConfigured(f"the payout provider {name!r} is not configured")
    return provider


async def _withdraw_orphan(provider: PayoutProvider, payout_id: str, transfer_id: str) -> None:
    """The provider accepted a payout we had already given up on (and refunded): cancel it."""
    try:
        canceled = await provider.cancel_transfer(transfer_id)
    except ProviderError:
        canceled = False
    if canceled:
        log.warning("canceled transfer %s of abandoned payout %s", transfer_id, payout_id)
    else:
        log.critical(
            "transfer %s of abandoned payout %s could not be canceled: needs manual action",
            transfer_id,
            payout_id,
        )


async def _transfer_request(
    session: AsyncSession, payout_id: str
) -> tuple[str, TransferRequest] | None:
    payout = await session.get(Payout, payout_id)
    if payout is None or payout.provider_transfer_id is not None:
        return None
    if payout.status != PayoutStatus.PENDING:
        return None
    account = await session.get(PayoutAccount, payout.payout_account_id)
    bank = await session.get(BankAccount, payout.bank_account_id)
    if account is None or bank is None:
        return None
    return payout.provider, payouts.transfer_request(
        payout, account.provider_account_id, bank.provider_external_account_id
    )


async def _record_accepted(db: Database, provider: str, payout_id: str, transfer_id: str) -> bool:
    """``record_accepted`` in its own transaction; on PostgreSQL the common case (no events of
    the transfer waiting) is one statement in autocommit (``Database.run_statement``: safe to
    repeat, a second run finds the id set and changes nothing), on the statement pool."""
    if not db.is_sqlite:
        accepted = await payout_writes.record_accepted_alone(
            db, provider=provider, payout_id=payout_id, transfer_id=transfer_id, now=utcnow()
        )
        if accepted is not None:
            live = accepted.status == PayoutStatus.PENDING
            if not live:
                log.error("provider accepted payout %s after it was %s", payout_id, accepted.status)
            if accepted.events_waiting:
                # Events that arrived before we knew the transfer id were kept: apply them now
                # (a crash before this commits leaves them to the pending-event sweep).
                async with db.transaction() as session:
                    await webhooks.apply_pending_for(session, provider, "transfer", transfer_id)
            return live
        # No payout without a transfer id: unknown, or accepted before (checked below).
    async with db.transaction() as session:
        return await record_accepted(session, provider, payout_id, transfer_id)


async def record_accepted(
    session: AsyncSession, provider: str, payout_id: str, transfer_id: str
) -> bool:
    """Store the provider's transfer id; False when the payout was given up on meanwhile."""
    if session.get_bind().dialect.name == "postgresql":
        accepted = await payout_writes.record_accepted(
            session, provider=provider, payout_id=payout_id, transfer_id=transfer_id, now=utcnow()
        )
        if accepted is not None:
            live = accepted.status == PayoutStatus.PENDING
            if not live:
                log.error("provider accepted payout %s after it was %s", payout_id, accepted.status)
            if accepted.events_waiting:
                await webhooks.apply_pending_for(session, provider, "transfer", transfer_id)
            return live
        # No payout without a transfer id: unknown, or accepted before (checked below).
    payout = await payouts.lock_payout(
        session, sa.select(Payout).where(col(Payout.id) == payout_id)
    )
    if payout is None:
        return False
    if payout.provider_transfer_id is not None:
        return payout.provider_transfer_id == transfer_id
    live = payout.status == PayoutStatus.PENDING
    if not live:
        # Keep the id so the provider's events still find the payout.
        log.error("provider accepted payout %s after it was %s", payout_id, payout.status)
    payout.provider_transfer_id = transfer_id
    payout.next_attempt_at = None
    payout.last_error = None
    payout.updated_at = utcnow()
    session.add(payout)
    await session.flush()
    # Events that arrived before we knew the transfer id were kept: apply them now.
    await webhooks.apply_pending_for(session, provider, "transfer", transfer_id)
    return live


async def _record_failure(
    session: AsyncSession, payout_id: str, error: str, policy: PayoutPolicy
) -> None:
    payout = await payouts.lock_payout(
        session, sa.select(Payout).where(col(Payout.id) == payout_id)
    )
    if payout is None or payout.provider_transfer_id is not None:
        return
    payout.last_error = error[:500]
    if payout.status == PayoutStatus.PENDING:
        payout.next_attempt_at = utcnow() + _backoff(policy, payout.attempts)
    session.add(payout)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _backoff(policy: PayoutPolicy, attempts: int) -> timedelta:
    seconds = policy.retry_base_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, MAX_BACKOFF_SECONDS))


async def reconcile_due(
    db: Database, registry: ProviderRegistry, policy: PayoutPolicy, *, limit: int = 20
) -> int:
    """One pass: retry due payouts the provider has not accepted; give up on exhausted ones."""
    async with db.transaction() as session:
        retry, exhausted = await _claim_due(session, policy, limit)
    for payout_id in retry:
        await submit(db, registry, policy, payout_id)
    for payout_id in exhausted:
        await _adopt_or_give_up(db, registry, policy, payout_id)
    return len(retry) + len(exhausted)


async def _adopt_or_give_up(
    db: Database, registry: ProviderRegistry, policy: PayoutPolicy, payout_id: str
) -> None:
    async with db.read() as session:
        payout = await session.get(Payout, payout_id)
    if payout is None or payout.provider_transfer_id is not None:
        return
    try:
        provider = provider_of(registry, payout.provider)
        existing = await provider.find_transfer(payout.provider_idempotency_key)
    except ProviderNotConfigured as exc:
        # The provider that took this payout is no longer configured: whether it created a
        # transfer is unknown, so the funds stay reserved until an operator restores it.
        log.critical("payout %s cannot be reconciled: %s", payout_id, exc)
        async with db.transaction() as session:
            await _record_failure(session, payout_id, str(exc), policy)
        return
    except ProviderError as exc:
        log.warning("cannot learn whether payout %s has a transfer: %s", payout_id, exc)
        async with db.transaction() as session:
            await _record_failure(session, payout_id, str(exc), policy)
        return
    async with db.transaction() as session:
        if existing is not None:
            await record_accepted(session, payout.provider, payout_id, existing.id)
            return
        locked = await payouts.lock_payout(
            session, sa.select(Payout).where(col(Payout.id) == payout_id)
        )
        if locked is None or locked.provider_transfer_id is not None:
            return
        if locked.status != PayoutStatus.PENDING:
            return
        await payouts.transition(
            session,
            locked,
            PayoutStatus.FAILED,
            source="reconciler",
            failure_code=GIVE_UP_CODE,
            failure_message=f"The provider did not accept the transfer after "
            f"{locked.attempts} attempts: {locked.last_error or 'no answer'}"[:500],
        )


async def backlog(db: Database) -> int:
    """Payouts committed but not yet accepted by the provider (the reconciler's work list)."""
    async with db.read() as session:
        count = await session.execute(
            sa.select(sa.func.count())
            .select_from(Payout)
            .where(
                col(Payout.provider_transfer_id).is_(None),
                col(Payout.status) == PayoutStatus.PENDING,
            )
        )
    return int(count.scalar_one())


async def _claim_due(
    session: AsyncSession, policy: PayoutPolicy, limit: int
) -> tuple[list[str], list[str]]:
    """Lease due payouts: those to retry, and those out of attempts (to adopt or give up)."""
    now = utcnow()
    stmt = (
        sa.select(Payout)
        .where(
            col(Payout.provider_transfer_id).is_(None),
            col(Payout.status) == PayoutStatus.PENDING,
            col(Payout.next_attempt_at) <= now,
        )
        .order_by(col(Payout.next_attempt_at))
        .limit(limit)
    )
    stmt = locked(stmt, skip_locked=True)
    retry: list[str] = []
    exhausted: list[str] = []
    for payout in (await session.execute(stmt.execution_options(populate_existing=True))).scalars():
        if payout.attempts >= policy.max_attempts:
            exhausted.append(payout.id)
        else:
            payout.attempts += 1
            retry.append(payout.id)
        payout.next_attempt_at = now + _seconds(policy.claim_lease_seconds)
        session.add(payout)
    return retry, exhausted
