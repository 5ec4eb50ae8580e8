"""The deliverer every server process runs: fan out the event log, claim due deliveries, send
them, record each attempt, schedule retries, disable endpoints that keep failing.

Claims are leases: a claiming transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; the single
writer on SQLite) gives each delivery a fresh ``lease_token`` and moves ``next_attempt_at`` past
the attempt's timeout, so no other process sends it meanwhile, and a process that dies
mid-attempt only delays it by the lease. The attempt is recorded only under the same token.
Concurrency is bounded overall and per endpoint (per process).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.base import utcnow
from models.webhook_endpoint import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from services.infra.database import Database
from services.webhook_endpoints import dispatch
from services.webhook_endpoints.policy import WebhookPolicy
from services.webhook_endpoints.secrets import SecretBox
from services.webhook_endpoints.service import signing_secrets
from services.webhook_endpoints.signing import delivery_headers
from services.webhook_endpoints.transport import AttemptOutcome, WebhookTransport

log = logging.getLogger(__name__)

ENDPOINTS = cast(sa.Table, WebhookEndpoint.__table__)  # type: ignore[attr-defined]

SUCCEEDED = "succeeded"
RETRYING = "retrying"
FAILED = "failed"


class DeliveryObserver(Protocol):
    def attempt_finished(self, outcome: str, seconds: float) -> None: ...

    def queue_age(self, seconds: float) -> None: ...


class NullObserver:
    def attempt_finished(self, outcome: str, seconds: float) -> None:
        return None

    def queue_age(self, seconds: float) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: str
    endpoint_id: str
    lease_token: str
    url: str
    body: str
    event_id: str
    event_type: str
    event_timestamp: str
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    claim: Claim
    attempted_at: datetime
    outcome: AttemptOutcome


class Deliverer:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        transport: WebhookTransport,
        policy: WebhookPolicy,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self._db = db
        self._box = box
        self._transport = transport
        self._policy = policy
        self._observer = observer or NullObserver()
        self._in_flight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._finished: list[Finished] = []
        self._recorder: asyncio.Task[None] | None = None
        self._is_postgres = not db.is_sqlite

    async def run(self) -> None:
        """Until cancelled. Each pass fans out (at most every poll interval), then claims as
        many deliveries as slots allow; it sleeps only when a pass found nothing to do."""
        last_fan_out = last_age = 0.0
        claimed_last_pass = False
        try:
            while True:
                busy = False
                try:
                    due: bool | None = None  # not known: _claim_and_start looks
                    if time.monotonic() - last_fan_out >= self._policy.poll_interval_seconds:
                        last_fan_out = time.monotonic()
                        backlog, due = await self._backlog_and_due()
                        if backlog:
                            busy = await dispatch.fan_out_pass(self._db) > 0
                            due = None  # the fan-out may have made deliveries due
                    started = await self._claim_and_start(
                        look_first=not claimed_last_pass, known_due=due
                    )
                    claimed_last_pass = started > 0
                    busy = busy or claimed_last_pass
                    if time.monotonic() - last_age > 5.0:
                        last_age = time.monotonic()
                        self._observer.queue_age(await self.queue_age())
                except Exception:
                    log.exception("webhook deliverer pass failed; retrying")
                if not busy:
                    await self._wait_for_work()
        finally:
            await self.drain()

    async def _wait_for_work(self) -> None:
        """Until an attempt finishes (a slot is free) or the poll interval has passed."""
        self._slot_freed.clear()
        try:
            async with asyncio.timeout(self._policy.poll_interval_seconds):
                await self._slot_freed.wait()
        except TimeoutError:
            pass

    async def drain(self) -> None:
        """Cancel attempts in flight (their leases expire); record what has finished."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)

    async def run_once(self) -> int:
        """One fan-out and one round of attempts, awaited (the CLI and tests use this)."""
        await dispatch.fan_out_pass(self._db)
        started = await self._claim_and_start(look_first=False)
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._recorder is not None:
            await self._recorder
        return started

    async def queue_age(self) -> float:
        """Seconds the oldest due delivery has waited (0 when none is due)."""
        now = utcnow()
        async with self._db.read() as session:
            oldest = (
                await session.execute(
                    sa.select(sa.func.min(WebhookDelivery.next_attempt_at)).where(
                        col(WebhookDelivery.status) == WebhookDeliveryStatus.PENDING.value,
                        col(WebhookDelivery.next_attempt_at) <= now,
                    )
                )
            ).scalar_one_or_none()
        return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())

    async def _claim_and_start(
        self, *, look_first: bool = True, known_due: bool | None = None
    ) -> int:
        """``look_first``: a cheap read before the claiming (write) transaction, for when the
        last pass found nothing: an idle deliverer then never takes SQLite's write lock.
        ``known_due``: that read's answer, when this pass has already made it."""
        free = self._policy.concurrency - sum(self._in_flight.values())
        if free <= 0:
            return 0
        if look_first and not (await self._anything_due() if known_due is None else known_due):
            return 0
        claims = await self._claim(free)
        for claim in claims:
            self._in_flight[claim.endpoint_id] += 1
            task = asyncio.create_task(self._attempt(claim), name="webhook-attempt")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claims)

    async def _anything_due(self) -> bool:
        async with self._db.read() as session:
            found = await session.execute(_due_query())
            return found.first() is not None

    async def _backlog_and_due(self) -> tuple[bool, bool]:
        """``dispatch.has_backlog`` and ``_anything_due`` in one read: an idle deliverer's
        poll is one statement (it was two read transactions every interval)."""
        async with self._db.read() as session:
            found = await session.execute(
                sa.select(sa.exists(dispatch.backlog_query()), sa.exists(_due_query()))
            )
            backlog, due = found.one()
            return bool(backlog), bool(due)

    async def _claim(self, free: int) -> list[Claim]:
        now = utcnow()
        stmt = (
            sa.select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
            .where(
                col(WebhookDelivery.status) == WebhookDeliveryStatus.PENDING.value,
                col(WebhookDelivery.next_attempt_at) <= now,
                col(WebhookEndpoint.enabled).is_(True),
            )
            .order_by(col(WebhookDelivery.next_attempt_at))
            .limit(free * 2)
        )
        if self._is_postgres:
            stmt = stmt.with_for_update(of=WebhookDelivery, skip_locked=True)
        saturated = [
            endpoint_id
            for endpoint_id, count in self._in_flight.items()
            if count >= self._policy.endpoint_concurrency
        ]
        if saturated:  # their due deliveries must not crowd out other endpoints' ones
            stmt = stmt.where(col(WebhookDelivery.endpoint_id).not_in(saturated))
        claims: list[Claim] = []
        lease_until = now + timedelta(seconds=self._policy.lease_seconds)
        async with self._db.transaction() as session:
            per_endpoint = Counter(self._in_flight)
            for delivery, endpoint in (await session.execute(stmt)).all():
                if len(claims) >= free:
                    break
                if per_endpoint[endpoint.id] >= self._policy.endpoint_concurrency:
                    continue
                try:
                    secrets = tuple(signing_secrets(self._box, endpoint, now))
                except ValueError:
                    # Sealed under another PAYOUTS_SECRET_KEY: nothing valid can be signed.
                    log.error("webhook endpoint %s: its secret does not open", endpoint.id)
                    continue
                per_endpoint[endpoint.id] += 1
                token = uuid.uuid4().hex
                delivery.lease_token = token
                delivery.next_attempt_at = lease_until
                session.add(delivery)
                claims.append(
                    Claim(
                        delivery_id=delivery.id,
                        endpoint_id=endpoint.id,
                        lease_token=token,
                        url=endpoint.url,
                        body=delivery.body,
                        event_id=delivery.event_id,
                        event_type=delivery.event_type,
                        event_timestamp=_timestamp_of(delivery.body),
                        secrets=secrets,
                    )
                )
        return claims

    async def _attempt(self, claim: Claim) -> None:
        try:
            attempted_at = utcnow()
            headers = delivery_headers(
                body=claim.body,
                event_id=claim.event_id,
                event_type=claim.event_type,
                event_timestamp=claim.event_timestamp,
                secrets=claim.secrets,
                sent_at=attempted_at,
            )
            outcome = await self._transport.post(claim.url, claim.body.encode(), headers)
            self._finished.append(Finished(claim, attempted_at, outcome))
            if self._recorder is None or self._recorder.done():
                self._recorder = asyncio.create_task(self._record_finished(), name="webhook-record")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook attempt failed unexpectedly; the lease will expire")
        finally:
            self._in_flight[claim.endpoint_id] -= 1
            if self._in_flight[claim.endpoint_id] <= 0:
                del self._in_flight[claim.endpoint_id]
            self._slot_freed.set()

    async def _record_finished(self) -> None:
        """Group commit: every attempt finished meanwhile is recorded in one transaction (a
        crash before it only means the lease expires and the attempt is made again)."""
        while self._finished:
            batch, self._finished = self._finished, []
            try:
                results = await self._record(batch)
            except Exception:
                log.exception("recording webhook attempts failed; their leases will expire")
                continue
            for item, result in zip(batch, results, strict=True):
                if result is not None:
                    self._observer.attempt_finished(result, item.outcome.duration_ms / 1000)

    async def _record(self, batch: list[Finished]) -> list[str | None]:
        results: list[str | None] = []
        streaks: dict[str, list[bool]] = {}
        async with self._db.transaction() as session:
            stmt = (
                sa.select(WebhookDelivery)
                .where(col(WebhookDelivery.id).in_([f.claim.delivery_id for f in batch]))
                .order_by(col(WebhookDelivery.id))
            )
            if self._is_postgres:
                stmt = stmt.with_for_update()
            rows = {row.id: row for row in (await session.execute(stmt)).scalars()}
            now = utcnow()
            for item in batch:
                delivery = rows.get(item.claim.delivery_id)
                if delivery is None or delivery.lease_token != item.claim.lease_token:
                    results.append(None)  # deleted meanwhile, or the lease was lost
                    continue
                result = self._apply(session, delivery, item, now)
                results.append(result)
                if result != RETRYING:
                    streaks.setdefault(item.claim.endpoint_id, []).append(result == SUCCEEDED)
            for endpoint_id in sorted(streaks):  # one lock order for every process
                await self._update_streak(session, endpoint_id, streaks[endpoint_id])
        return results

    def _apply(
        self, session: AsyncSession, delivery: WebhookDelivery, item: Finished, now: datetime
    ) -> str:
        outcome = item.outcome
        number = delivery.attempt_count + 1
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                number=number,
                attempted_at=item.attempted_at,
                duration_ms=outcome.duration_ms,
                status_code=outcome.status_code,
                error=outcome.error,
                response_body=outcome.response_body,
            )
        )
        delivery.attempt_count = number
        delivery.lease_token = None
        if outcome.succeeded:
            delivery.status = WebhookDeliveryStatus.SUCCEEDED
            delivery.next_attempt_at = None
            delivery.completed_at = now
            result = SUCCEEDED
        elif number < self._policy.max_attempts:
            delivery.next_attempt_at = now + timedelta(seconds=self._retry_delay(number))
            result = RETRYING
        else:
            delivery.status = WebhookDeliveryStatus.FAILED
            delivery.next_attempt_at = None
            delivery.completed_at = now
            result = FAILED
        session.add(delivery)
        return result

    def _retry_delay(self, attempts_made: int) -> float:
        base = self._policy.retry_schedule[attempts_made - 1]
        spread = self._policy.retry_jitter
        return max(0.0, base * random.uniform(1 - spread, 1 + spread))

    async def _update_streak(
        self, session: AsyncSession, endpoint_id: str, outcomes: list[bool]
    ) -> None:
        """``outcomes``: finished events in order (True delivered, False exhausted)."""
        if all(outcomes):
            # Usually already 0: then no row matches and no lock is taken on the endpoint.
            await session.execute(
                sa.update(ENDPOINTS)
                .where(ENDPOINTS.c.id == endpoint_id, ENDPOINTS.c.consecutive_failures != 0)
                .values(consecutive_failures=0, updated_at=utcnow())
            )
            return
        stmt = sa.select(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint_id)
        if self._is_postgres:
            stmt = stmt.with_for_update()
        endpoint = (await session.execute(stmt)).scalar_one_or_none()
        if endpoint is None:
            return
        limit = self._policy.disable_after_failed_events
        for delivered in outcomes:
            endpoint.consecutive_failures = 0 if delivered else endpoint.consecutive_failures + 1
            if endpoint.enabled and endpoint.consecutive_failures >= limit:
                endpoint.enabled = False
                endpoint.disabled_reason = (
                    f"{endpoint.consecutive_failures} events in a row exhausted their attempts."
                )
                log.warning("webhook endpoint %s disabled after failed deliveries", endpoint.id)
        endpoint.updated_at = utcnow()
        session.add(endpoint)


def _due_query() -> sa.Select[str]:
    return (
        sa.select(col(WebhookDelivery.id))
        .where(
            col(WebhookDelivery.status) == WebhookDeliveryStatus.PENDING.value,
            col(WebhookDelivery.next_attempt_at) <= utcnow(),
        )
        .limit(1)
    )


def _timestamp_of(body: str) -> str:
    # The envelope's own "timestamp" (the event's time) is sent as X-Commet-Timestamp.
    value = json.loads(body).get("timestamp")
    return str(value) if value is not None else ""
