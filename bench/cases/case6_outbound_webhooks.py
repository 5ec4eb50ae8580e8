"""Case 6: outbound webhooks. A burst of 10,000 events (``payout.available``, committed as fast
as the ledger takes them) for one endpoint on a local receiver that answers at once: deliveries
per second until the last one lands, end-to-end latency (event committed → 2xx recorded) and the
queue age (the oldest event not yet delivered) sampled during the drain. Default settings (one
process, 32 attempts in flight, 8 per endpoint). No reference: the numbers are the result."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from bench.harness import BenchContext, Row
from bench.servers import LOAD_CPU, Server, serve
from services.infra.database import Database
from services.ledger import service as ledger
from services.organizations import api_keys

EVENTS = 10_000
QUICK_EVENTS = 500
EXTRA_ENV: dict[str, str] = {}

CREATE = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { webhookEndpoint { id } userErrors { code message } }
}"""

OLDEST_UNDELIVERED = """
SELECT extract(epoch FROM now() - min(e.occurred_at))
FROM events e
LEFT JOIN webhook_deliveries d ON d.source_event_id = e.id
WHERE e.organization_id = $1 AND e.type = 'payout.available'
  AND (d.id IS NULL OR d.status <> 'SUCCEEDED')
"""
# The burst: events that read like the release above, as ledger.release records them.
BURST = """
INSERT INTO events (id, organization_id, livemode, seq, type, object_type, object_id, occurred_at)
SELECT 'evt_bench' || lpad(n::text, 12, '0') || substr(md5(random()::text), 1, 10), $1, false,
       $2 + n, 'payout.available', 'balance_transaction', $4, now()
FROM generate_series(1, $3) AS n
"""
LATENCIES = """
SELECT extract(epoch FROM d.completed_at - e.occurred_at) * 1000
FROM webhook_deliveries d JOIN events e ON e.id = d.source_event_id
WHERE d.organization_id = $1 AND d.status = 'SUCCEEDED'
ORDER BY d.created_at
"""


class OutboundWebhooksCase:
    number = 6
    title = "outbound webhooks: a 10,000-event burst to a local receiver"

    async def run(self, ctx: BenchContext) -> list[Row]:
        events = QUICK_EVENTS if ctx.quick else EVENTS
        env = {**ctx.app_env, "PAYOUTS_WEBHOOK_ALLOW_PRIVATE_URLS": "true", **EXTRA_ENV}
        db = Database(ctx.db.url)
        try:
            async with db.transaction() as session:
                org = await api_keys.create_organization(session, name="Bench outbound")
            with (
                serve(
                    "receiver",
                    "bench.webhook_receiver:app",
                    env={},
                    workdir=ctx.workdir,
                    cpu=LOAD_CPU,
                ) as receiver,
                serve(
                    "app", "api.app:create_app", env=env, workdir=ctx.workdir, factory=True
                ) as app,
            ):
                async with httpx.AsyncClient(headers={"x-api-key": org.test_key}) as http:
                    answer = await http.post(
                        f"{app.url}/graphql",
                        json={
                            "query": CREATE,
                            "variables": {"input": {"url": f"{receiver.url}/hook"}},
                        },
                    )
                    assert answer.json()["data"]["createWebhookEndpoint"]["userErrors"] == []
                    return [await _burst(ctx, db, app, receiver.url, org.organization.id, events)]
        finally:
            await db.dispose()


async def _burst(
    ctx: BenchContext, db: Database, app: Server, receiver_url: str, org_id: str, events: int
) -> Row:
    async with db.transaction() as session:  # one real release: the events' data
        result = await ledger.credit(
            session,
            organization_id=org_id,
            livemode=False,
            currency="usd",
            amount=100,
            description=None,
            available_in_seconds=0,
        )
    connection = await asyncpg.connect(ctx.db.dsn)
    ages: list[float] = []
    try:
        await _wait_delivered(connection, receiver_url, org_id, 1)  # the credit's own event
        cpu_before = app.cpu_seconds()
        started = time.monotonic()
        async with connection.transaction():  # the burst: committed at once, in log order
            seq = await connection.fetchval(
                "UPDATE organizations SET event_seq = event_seq + $2 WHERE id = $1 "
                "RETURNING event_seq",
                org_id,
                events,
            )
            await connection.execute(BURST, org_id, seq - events, events, result.transaction.id)
        done = await _wait_delivered(connection, receiver_url, org_id, events + 1, ages)
        elapsed = done - started
        cpu = (app.cpu_seconds() - cpu_before) / elapsed
        latencies = [float(v) for (v,) in await connection.fetch(LATENCIES, org_id)][1:]
        attempts = await connection.fetchval("SELECT count(*) FROM webhook_attempts")
    finally:
        await connection.close()
    latencies.sort()
    row = Row(
        "6 burst",
        f"outbound webhooks: {events:,}-event burst, 1 endpoint",
        len(latencies) / elapsed,
        _percentile(latencies, 0.5),
        _percentile(latencies, 0.99),
        failures=events - len(latencies),
        server_cpu=cpu,
    )
    row.notes += [
        f"{len(latencies)} of {events} events delivered {elapsed:.1f} s after the burst's "
        f"commit; {attempts - 1} attempts; p50/p99 = event committed → 2xx recorded",
        f"queue age (oldest event not yet delivered), sampled every 0.5 s: max "
        f"{max(ages, default=0):.1f} s, median {_percentile(sorted(ages), 0.5):.1f} s",
    ]
    return row


async def _wait_delivered(
    connection: asyncpg.Connection,
    receiver_url: str,
    org_id: str,
    count: int,
    ages: list[float] | None = None,
) -> float:
    async with httpx.AsyncClient() as http:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            age = await connection.fetchval(OLDEST_UNDELIVERED, org_id)
            if age is not None and ages is not None:
                ages.append(float(age))
            if age is None and (await http.get(f"{receiver_url}/count")).json()["count"] >= count:
                return time.monotonic()
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{count} deliveries not done in 900 s")


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


CASE = OutboundWebhooksCase()
