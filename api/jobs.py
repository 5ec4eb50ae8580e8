"""Background jobs of every server process: the balance release job and the payout
reconciler. Both are safe to run in several processes at once (rows claimed with SKIP LOCKED)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from api.metrics import set_reconciler_backlog
from api.settings import Settings
from services.ledger import release as balance_release
from services.payouts import reconciler
from services.payouts.service import PayoutPolicy

if TYPE_CHECKING:
    from api.app import AppState


def failure_backoff(interval: float, failures: int) -> float:
    return min(30.0, interval * 2.0 ** min(failures, 16))


log = logging.getLogger(__name__)


def payout_policy(settings: Settings) -> PayoutPolicy:
    return PayoutPolicy(
        fee_bps=settings.payout_fee_bps,
        fee_fixed=settings.payout_fee_fixed,
        max_attempts=settings.payout_max_attempts,
        retry_base_seconds=settings.payout_retry_base_seconds,
        retry_grace_seconds=settings.payout_retry_grace_seconds,
        claim_lease_seconds=settings.payout_claim_lease_seconds,
    )


async def start_payout_jobs(state: AppState) -> Callable[[], Awaitable[None]]:
    settings = state.settings
    policy = state.services.payout_policy

    async def release() -> int:
        return await balance_release.release_pass(state.db)

    async def reconcile() -> int:
        done = await reconciler.reconcile_due(state.db, state.providers, policy)
        set_reconciler_backlog(await reconciler.backlog(state.db))
        return done

    tasks = [
        asyncio.create_task(
            _every(settings.balance_release_interval_seconds, release), name="balance-release"
        ),
        asyncio.create_task(
            _every(settings.reconciler_interval_seconds, reconcile), name="payout-reconciler"
        ),
    ]

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    return stop


async def _every(interval: float, work: Callable[[], Awaitable[int]]) -> None:
    failures = 0
    while True:
        try:
            done = await work()
        except Exception as exc:
            failures += 1
            # A database outage fails every pass: one traceback, then a line per pass, backing off.
            if failures == 1:
                log.exception("background job pass failed; retrying")
            else:
                log.warning(
                    "background job still failing (%s, %d passes)", type(exc).__name__, failures
                )
            await asyncio.sleep(failure_backoff(interval, failures))
            continue
        failures = 0
        if done == 0:
            await asyncio.sleep(interval)
