"""Case 4: signed provider webhooks stored and applied per second, all unique and with 50 %
duplicates. No reference: the rate and latencies are the result."""

from __future__ import annotations

import asyncpg

from api.settings import Settings
from bench import webhook_bodies
from bench.harness import BenchContext, Row, row_from
from bench.servers import Server

# Enough prepared requests per second of load that threads rarely start over (it is reported).
EVENTS_PER_SECOND = 6000


class WebhooksCase:
    number = 4
    title = "provider webhooks stored and applied"

    async def run(self, ctx: BenchContext) -> list[Row]:
        rows = []
        with ctx.real_app() as server:
            for duplicates in (False, True):
                rows.append(await self._measure(ctx, server, duplicates=duplicates))
        return rows

    async def _measure(self, ctx: BenchContext, server: Server, *, duplicates: bool) -> Row:
        label = "dup50" if duplicates else "unique"
        env = {}
        for phase in ("warmup", "measure"):
            seconds = getattr(ctx.durations, phase)
            path = ctx.workdir / f"webhooks-{label}-{phase}.txt"
            webhook_bodies.write(
                path,
                Settings().sandbox_webhook_secret,
                int(seconds * EVENTS_PER_SECOND) + 1000,
                duplicates=duplicates,
            )
            env[phase] = {"BENCH_REQUESTS_FILE": str(path)}
        ctx.warm(server, "/webhooks/sandbox", script="cycle.lua", env=env["warmup"])
        stored_before = await _stored_events(ctx.db.dsn)
        result, cpu = ctx.measure(
            server, "/webhooks/sandbox", script="cycle.lua", env=env["measure"]
        )
        stored = await _stored_events(ctx.db.dsn) - stored_before
        subject = "webhooks, 50 % duplicates" if duplicates else "webhooks, each unique"
        row = row_from(f"4 {label}", subject, result, cpu)
        row.notes.append(
            f"{result.requests} requests answered, {stored} events newly stored (± the 64 in flight at either edge)"
        )
        return row


async def _stored_events(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM provider_events"))
    finally:
        await connection.close()


CASE = WebhooksCase()
