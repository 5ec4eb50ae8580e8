"""``payouts verify-ledger``: check every ledger invariant over one consistent snapshot."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.ledger import (
    BUCKETS,
    Balance,
    BalanceTransaction,
    BalanceTransactionType,
    PendingRelease,
)
from models.payout import Payout, PayoutStatus

T = BalanceTransaction


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str
    object_id: str
    detail: str


async def verify(session: AsyncSession) -> list[Violation]:
    """Every violation found (none on a healthy ledger). Run in one snapshot transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
    balances = {b.id: b for b in (await session.execute(sa.select(Balance))).scalars()}
    violations = _negative(balances)
    violations += await _sums(session, balances)
    violations += await _last_entries(session, balances)
    violations += await _pending(session, balances)
    violations += await _payouts(session)
    return violations


def _negative(balances: dict[str, Balance]) -> list[Violation]:
    return [
        Violation("negative_bucket", b.id, f"{bucket} = {getattr(b, bucket)}")
        for b in balances.values()
        for bucket in BUCKETS
        if getattr(b, bucket) < 0
    ]


async def _sums(session: AsyncSession, balances: dict[str, Balance]) -> list[Violation]:
    stmt = sa.select(
        col(T.balance_id),
        sa.func.count(),
        sa.func.max(col(T.seq)),
        *(sa.func.coalesce(sa.func.sum(getattr(T, f"{b}_change")), 0) for b in BUCKETS),
    ).group_by(col(T.balance_id))
    seen: dict[str, tuple[int, ...]] = {
        str(row[0]): tuple(int(v) for v in row[1:]) for row in (await session.execute(stmt)).all()
    }
    found: list[Violation] = []
    for balance in balances.values():
        count, max_seq, *sums = seen.get(balance.id, (0, 0, 0, 0, 0, 0))
        if count != balance.entry_count or max_seq != balance.entry_count:
            found.append(
                Violation(
                    "entry_count",
                    balance.id,
                    f"{count} entries (max seq {max_seq}), row says {balance.entry_count}",
                )
            )
        for bucket, total in zip(BUCKETS, sums, strict=True):
            if total != getattr(balance, bucket):
                found.append(
                    Violation(
                        "balance_not_sum_of_entries",
                        balance.id,
                        f"{bucket}: row {getattr(balance, bucket)}, entries {total}",
                    )
                )
    found += [
        Violation("entries_without_balance", bid, "entries for an unknown balance")
        for bid in seen
        if bid not in balances
    ]
    return found


async def _last_entries(session: AsyncSession, balances: dict[str, Balance]) -> list[Violation]:
    found: list[Violation] = []
    entries = (
        await session.execute(sa.select(T).order_by(col(T.balance_id), col(T.seq)))
    ).scalars()
    running: dict[str, dict[str, int]] = {}
    for entry in entries:
        state = running.setdefault(entry.balance_id, dict.fromkeys(BUCKETS, 0))
        for bucket in BUCKETS:
            state[bucket] += getattr(entry, f"{bucket}_change")
            if state[bucket] != getattr(entry, f"{bucket}_after"):
                found.append(
                    Violation(
                        "balance_after_mismatch",
                        entry.id,
                        f"{bucket}_after {getattr(entry, f'{bucket}_after')}, running {state[bucket]}",
                    )
                )
        if any(state[b] < 0 for b in BUCKETS):
            found.append(Violation("negative_bucket_in_history", entry.id, str(state)))
    return found


async def _pending(session: AsyncSession, balances: dict[str, Balance]) -> list[Violation]:
    stmt = (
        sa.select(col(PendingRelease.balance_id), sa.func.sum(col(PendingRelease.amount)))
        .where(col(PendingRelease.released_at).is_(None))
        .group_by(col(PendingRelease.balance_id))
    )
    unreleased = {str(r[0]): int(r[1]) for r in (await session.execute(stmt)).all()}
    return [
        Violation(
            "pending_mismatch", b.id, f"pending {b.pending}, unreleased {unreleased.get(b.id, 0)}"
        )
        for b in balances.values()
        if b.pending != unreleased.get(b.id, 0)
    ]


def _expected(payout: Payout) -> tuple[int, int, int]:
    """Net (available, in_transit, paid_out) change a payout's entries must add up to."""
    a = payout.amount
    if payout.status in (PayoutStatus.PENDING, PayoutStatus.IN_TRANSIT):
        return (-a, a, 0)
    if payout.status == PayoutStatus.PAID:
        return (-a, 0, a)
    return (0, 0, 0)


async def _payouts(session: AsyncSession) -> list[Violation]:
    stmt = (
        sa.select(
            col(T.source_id),
            sa.func.sum(col(T.available_change)),
            sa.func.sum(col(T.in_transit_change)),
            sa.func.sum(col(T.paid_out_change)),
            sa.func.sum(sa.case((col(T.type) == BalanceTransactionType.PAYOUT.value, 1), else_=0)),
        )
        .where(col(T.source_type) == "payout")
        .group_by(col(T.source_id))
    )
    sums = {str(r[0]): tuple(int(v) for v in r[1:]) for r in (await session.execute(stmt)).all()}
    found: list[Violation] = []
    for payout in (await session.execute(sa.select(Payout))).scalars():
        *net, reserves = sums.get(payout.id, (0, 0, 0, 0))
        if reserves != 1:
            found.append(Violation("payout_reservations", payout.id, f"{reserves} PAYOUT entries"))
        if tuple(net) != _expected(payout):
            found.append(
                Violation(
                    "payout_entries_mismatch",
                    payout.id,
                    f"{payout.status}: entries {tuple(net)}, expected {_expected(payout)}",
                )
            )
    return found
