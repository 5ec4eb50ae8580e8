"""The sandbox's webhook outbox: schedule events as rows, deliver them by signed HTTP POST,
retry with backoff until a 2xx. Several server processes may run the deliverer: rows are
claimed with a short lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and posted outside any
transaction, so the receiving server can write while we wait for its answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from standardwebhooks.webhooks import Webhook

from models.base import new_id, utcnow
from models.sandbox import SandboxWebhookDelivery
from providers.base import TransactionFactory
from providers.sandbox.config import SandboxConfig

log = logging.getLogger(__name__)
BATCH = 50


def schedule_webhook(
    session: AsyncSession,
    *,
    event_type: str,
    livemode: bool,
    obj: dict[str, Any],
    delay_seconds: float,
    created: datetime | None = None,
) -> SandboxWebhookDelivery:
    """Queue one event (in the sandbox's own transaction)."""
    row = SandboxWebhookDelivery(
        **webhook_values(
            event_type=event_type,
            livemode=livemode,
            obj=obj,
            delay_seconds=delay_seconds,
            created=created,
        )
    )
    session.add(row)
    return row


def webhook_values(
    *,
    event_type: str,
    livemode: bool,
    obj: dict[str, Any],
    delay_seconds: float,
    created: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The columns of one queued event (id, event id, type, object id, payload, deliver_at)."""
    created = created or utcnow()
    event_id = event_id or new_id("sbevt")
    payload = {
        "id": event_id,
        "type": event_type,
        "created": created.isoformat(),
        "livemode": livemode,
        "data": {"object": obj},
    }
    return {
        "id": new_id("sbwh"),
        "event_id": event_id,
        "event_type": event_type,
        "object_id": str(obj["id"]),
        "payload": json.dumps(payload, separators=(",", ":")),
        "deliver_at": created + timedelta(seconds=delay_seconds),
    }


async def cancel_scheduled(session: AsyncSession, object_id: str) -> int:
    """Withdraw undelivered webhooks about an object (a canceled transfer sends no more)."""
    result = await session.execute(
        sa.update(SandboxWebhookDelivery)
        .where(
            col(SandboxWebhookDelivery.object_id) == object_id,
            col(SandboxWebhookDelivery.delivered_at).is_(None),
            col(SandboxWebhookDelivery.canceled_at).is_(None),
        )
        .values(canceled_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


MAX_FAILURE_BACKOFF_SECONDS = 30.0


def failure_backoff(base_seconds: float, failures: int) -> float:
    """Seconds to wait after ``failures`` failed passes in a row: doubling, capped."""
    return min(MAX_FAILURE_BACKOFF_SECONDS, max(base_seconds, 0.1) * 2.0 ** min(failures, 16))


class WebhookDeliverer:
    def __init__(self, db: TransactionFactory, config: SandboxConfig, *, is_postgres: bool) -> None:
        self.db = db
        self.config = config
        self.is_postgres = is_postgres
        self.signer = Webhook(config.webhook_secret)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        self._wake.set()

    def wake_in(self, seconds: float) -> None:
        """Wake the deliverer when something scheduled now falls due (the poll is the backstop)."""
        if seconds <= 0:
            self._wake.set()
        else:
            asyncio.get_running_loop().call_later(seconds, self._wake.set)

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.config.request_timeout_seconds)
        self._task = asyncio.create_task(self._run(), name="sandbox-webhook-deliverer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                delivered = await self.deliver_due()
            except Exception as exc:
                failures += 1
                delivered = 0
                # With the database gone every pass fails: the first is logged in full, the
                # next ones in one line each, further and further apart.
                if failures == 1:
                    log.exception("sandbox webhook delivery pass failed")
                else:
                    log.warning(
                        "sandbox webhook delivery still failing (%s, %d passes in a row)",
                        type(exc).__name__,
                        failures,
                    )
                await asyncio.sleep(failure_backoff(self.config.poll_seconds, failures))
                continue
            if failures:
                log.info("sandbox webhook delivery recovered after %d failed passes", failures)
                failures = 0
            if delivered == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.config.poll_seconds)
                self._wake.clear()

    async def deliver_due(self) -> int:
        """One pass: claim due rows, post them concurrently, record the outcomes."""
        claimed = await self._claim()
        if not claimed:
            return 0
        outcomes = await asyncio.gather(
            *(self._post(row_id, payload) for row_id, payload in claimed)
        )
        async with self.db.transaction() as session:
            for (row_id, _), error in zip(claimed, outcomes, strict=True):
                await self._record(session, row_id, error)
        return len(claimed)

    async def _claim(self) -> list[tuple[str, str]]:
        now = utcnow()
        table = SandboxWebhookDelivery
        lease_until = now + timedelta(seconds=self.config.delivery_lease_seconds)
        due = (
            sa.select(col(table.id))
            .where(
                col(table.delivered_at).is_(None),
                col(table.canceled_at).is_(None),
                col(table.deliver_at) <= now,
                sa.or_(col(table.lease_until).is_(None), col(table.lease_until) < now),
            )
            .order_by(col(table.deliver_at), col(table.id))
            .limit(BATCH)
        )
        async with self.db.transaction() as session:
            if self.is_postgres:
                # One round trip: the due rows are locked (SKIP LOCKED) and leased by the update.
                connection = await session.connection()
                claim = (
                    sa.update(table)
                    .where(
                        col(table.id).in_(due.with_for_update(skip_locked=True).scalar_subquery())
                    )
                    .values(lease_until=lease_until)
                    .returning(col(table.id), col(table.payload), col(table.deliver_at))
                )
                claimed = sorted(
                    (await connection.execute(claim)).all(), key=lambda r: (r[2], r[0])
                )
                return [(str(r[0]), str(r[1])) for r in claimed]
            stmt = due.add_columns(col(table.payload))
            rows = [(str(r[0]), str(r[1])) for r in (await session.execute(stmt)).all()]
            if rows:
                await session.execute(
                    sa.update(table)
                    .where(col(table.id).in_([r[0] for r in rows]))
                    .values(lease_until=lease_until)
                )
        return rows

    async def _post(self, row_id: str, payload: str) -> str | None:
        assert self._client is not None
        event_id = json.loads(payload)["id"]
        timestamp = utcnow()
        signature = self.signer.sign(event_id, timestamp, payload)
        headers = {
            "content-type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signature,
        }
        try:
            response = await self._client.post(
                self.config.webhook_url, content=payload, headers=headers
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    async def _record(self, session: AsyncSession, row_id: str, error: str | None) -> None:
        row = await session.get(SandboxWebhookDelivery, row_id)
        if row is None:
            return
        row.lease_until = None
        if error is None:
            row.delivered_at = utcnow()
        else:
            row.attempts += 1
            row.last_error = error
            backoff = min(0.2 * 2**row.attempts, self.config.max_backoff_seconds)
            row.deliver_at = utcnow() + timedelta(seconds=backoff)
            self.wake_in(backoff)
            log.warning("sandbox webhook %s failed (%s); retry in %.1fs", row_id, error, backoff)
        session.add(row)
