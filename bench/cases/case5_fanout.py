"""Case 5: ``payoutUpdated`` fan-out to 1,000 WebSocket subscribers on one server process vs a
bare Starlette broadcast of the same bytes to as many sockets (``bench/reference_ws.py``):
p99 ≤ 2× the reference's, every event delivered to every subscriber.

A change is one signed ``transfer.updated`` webhook (in_transit, then paid, for 51 seeded
payouts whose transfers only this case drives). Latency = the last subscriber's receipt minus
the moment the driver sends the webhook POST (reference: the moment it sends ``POST
/publish``), both wall-clock on this machine. The subscribers run in their own processes on
the load CPU; their receive overhead weighs on the case and the reference alike.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import UTC, datetime

import asyncpg
import httpx
from standardwebhooks.webhooks import Webhook

from api.schema import build_schema
from api.settings import Settings
from bench import seed, webhook_bodies
from bench.harness import BenchContext, Row
from bench.subscribers import Subscribers
from services.infra.database import Database
from services.payouts import service as payouts

SUBSCRIBERS = 1000
PROCESSES = 4
CHANGES = 100
# Warm-up changes are sent, one at a time, until one reaches every socket: then every
# subscription is live (a subscription opened after a change never receives it).
MAX_WARMUP = 10
WARMUP_TIMEOUT = 30.0
# Time the product side may take in all (the whole bench must stay under 10 minutes): when a
# change has not reached every socket by then, measuring stops and the row says how many
# changes were measured. A change still in flight gets GRACE seconds to arrive before the
# sockets close, so that the delivered count is not cut short by the stop itself.
BUDGET = 180.0
GRACE = 10.0
QUERY = "subscription($id: ID) { payoutUpdated(id: $id) { cursor type payout { id status } } }"
REFERENCE = "ref: bare Starlette broadcast"
TRANSFER_PREFIX = "sbtr_bench_"
STATUSES = ("in_transit", "paid")
PAYOUT = re.compile(r'"payout":\{"id":"([^"]+)","status":"([A-Z_]+)"')


class FanoutCase:
    number = 5
    title = "payoutUpdated fan-out, 1,000 WebSocket subscribers"

    async def run(self, ctx: BenchContext) -> list[Row]:
        if "payoutUpdated" not in build_schema().as_str():
            raise RuntimeError(
                "subscriptions not in schema: payoutUpdated is missing (case 5 runs once the "
                "subscriptions work is merged)"
            )
        (org,) = await seed.organizations(ctx.db.url, 1, name="Bench fan-out")
        payout_ids = await _payouts_with_transfers(ctx, org.organization_id)
        changes = [(payout_id, status) for payout_id in payout_ids for status in STATUSES][
            : MAX_WARMUP + CHANGES
        ]
        with ctx.real_app() as app:
            signer = Webhook(Settings().sandbox_webhook_secret)
            webhook_url = f"{app.url}/webhooks/sandbox"

            async def change(client: httpx.AsyncClient, index: int) -> str:
                payout_id, status = changes[index]
                payload = webhook_bodies.transfer_event(TRANSFER_PREFIX + payout_id, status)
                headers, body = webhook_bodies.signed(signer, payload, datetime.now(UTC))
                answer = await client.post(webhook_url, content=body, headers=headers)
                answer.raise_for_status()
                return f"{payout_id}:{status.upper()}"

            ws_url = app.url.replace("http://", "ws://") + "/graphql"
            subscribers = Subscribers.of(
                ws_url, SUBSCRIBERS, PROCESSES, key=org.test_key, query=QUERY
            )
            app_row, sample = await _fan_out(subscribers, change, "app: payoutUpdated fan-out")
        if sample is None:
            raise RuntimeError("no payoutUpdated message reached a subscriber")
        with ctx.reference_app("ws", "bench.reference_ws:app") as ws:
            publish_url = f"{ws.url}/publish"

            async def publish(client: httpx.AsyncClient, index: int) -> str:
                payout_id, status = changes[index]
                message = PAYOUT.sub(
                    f'"payout":{{"id":"{payout_id}","status":"{status.upper()}"', sample, count=1
                )
                answer = await client.post(publish_url, content=message.encode())
                answer.raise_for_status()
                return f"{payout_id}:{status.upper()}"

            ws_subscribers = Subscribers.of(
                ws.url.replace("http://", "ws://") + "/ws",
                SUBSCRIBERS,
                PROCESSES,
                key=None,
                query="",
            )
            ref_row, _ = await _fan_out(ws_subscribers, publish, REFERENCE)
        app_row.reference = REFERENCE
        app_row.target = 0.5  # reference p99 / case p99: p99 at most 2× the reference's
        app_row.lower_is_better = True
        ref_row.is_reference = True
        app_row.notes.append(f"message sent to each subscriber: {len(sample.encode())} bytes")
        return [app_row, ref_row]


async def _fan_out(
    subscribers: Subscribers, change: object, subject: str
) -> tuple[Row, str | None]:
    assert callable(change)
    await subscribers.start()
    latencies: list[float] = []
    spreads: list[float] = []  # first to last receipt of one change, over all sockets
    measured: list[str] = []
    warmups = 0
    deadline = time.monotonic() + BUDGET
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            live = False
            while not live and warmups < MAX_WARMUP:
                key = await change(client, warmups)
                warmups += 1
                live = await subscribers.delivered(key, WARMUP_TIMEOUT) is not None
            if not live:
                raise RuntimeError(
                    f"{subject}: none of {warmups} warm-up changes reached all {SUBSCRIBERS} "
                    f"subscribers within {WARMUP_TIMEOUT:.0f} s each"
                )
            for index in range(warmups, warmups + CHANGES):
                sent = time.time()
                key = await change(client, index)
                measured.append(key)
                remaining = deadline - time.monotonic()
                delivery = await subscribers.delivered(key, max(remaining, 0.1))
                if delivery is None:
                    await subscribers.delivered(key, GRACE)
                    break
                latencies.append((delivery.last - sent) * 1000)
                spreads.append((delivery.last - delivery.first) * 1000)
    finally:
        await subscribers.stop()
    expected = SUBSCRIBERS * len(measured)
    delivered = sum(subscribers.counts[key] for key in measured)
    row = Row("5", subject, None, _percentile(latencies, 50), _percentile(latencies, 99))
    row.failures = expected - delivered
    row.notes.append(
        f"p50/p99 over {len(latencies)} changes"
        + (
            ""
            if len(latencies) == CHANGES
            else f" (of {CHANGES}: the {BUDGET:.0f} s budget ran out)"
        )
        + f"; {delivered:,} of {expected:,} messages delivered ({SUBSCRIBERS} sockets × "
        f"{len(measured)} changes) after {warmups} warm-up change(s); "
        f"{len(subscribers.errors)} GraphQL errors"
        + (f", first: {subscribers.errors[0][:200]}" if subscribers.errors else "")
    )
    if spreads:
        row.notes.append(
            f"first to last subscriber's receipt: p50 {_percentile(spreads, 50):.1f} ms "
            f"(the {PROCESSES} client processes share one core: part of this is theirs)"
        )
    return row, subscribers.sample


def _percentile(values: list[float], percent: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


async def _payouts_with_transfers(ctx: BenchContext, org_id: str) -> list[str]:
    """Payouts requested through the service, given transfer ids that only this case drives
    (the sandbox never settles them on its own): one per two changes."""
    await seed.payout_ready(ctx.db.url, [org_id], funds=10**9)
    db = Database(ctx.db.url)
    try:
        for _ in range((MAX_WARMUP + CHANGES + 1) // len(STATUSES)):
            async with db.transaction() as session:
                await payouts.request_payout(
                    session,
                    organization_id=org_id,
                    livemode=False,
                    currency="usd",
                    amount=5000,
                    description="bench fan-out",
                    provider="sandbox",
                    policy=payouts.PayoutPolicy(),
                )
    finally:
        await db.dispose()
    connection = await asyncpg.connect(ctx.db.dsn)
    try:
        rows = await connection.fetch(
            "UPDATE payouts SET provider_transfer_id = $2 || id, next_attempt_at = NULL "
            "WHERE organization_id = $1 RETURNING id, created_at",
            org_id,
            TRANSFER_PREFIX,
        )
    finally:
        await connection.close()
    return [row["id"] for row in sorted(rows, key=lambda r: r["created_at"])]


CASE = FanoutCase()
