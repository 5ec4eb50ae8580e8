"""Case 3: ``requestPayout`` under 64 concurrent clients, on one organization (hot balance row),
on 64 (one per client) and spread over 100, vs the same transaction written directly with asyncpg
(``bench/reference_asyncpg.py``): hot ≥ 25 %, zero overdrafts on both.

Runs on a database of its own, so ``payouts verify-ledger`` checks exactly this case's ledger.
Idempotency keys are omitted (the reference has none); ``payout.lua`` can send unique ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import subprocess
import sys

import asyncpg
import httpx

from api import migrations
from bench import reference_asyncpg, seed
from bench.database import throwaway_database
from bench.harness import BenchContext, Row, Target, alternate, row_from
from bench.load import LoadResult
from bench.servers import ROOT

SPREAD = 100
WIDE = 64  # one organization per client
FUNDS = 10**11  # cents per organization: far more than a run can pay out
AMOUNT = 1000
REFERENCE = "ref: asyncpg transaction"
ROUNDS = 2
PROBE = {
    "query": "mutation($input: RequestPayoutInput!) { requestPayout(input: $input) "
    "{ payout { id status amount createdAt } userErrors { code message field } } }",
    "variables": {"input": {"amount": AMOUNT}},
}


class RequestPayoutCase:
    number = 3
    title = "requestPayout, 64 clients, hot org, 64 orgs and 100 orgs"

    async def run(self, ctx: BenchContext) -> list[Row]:
        async with throwaway_database() as db:
            await asyncio.to_thread(migrations.upgrade, db.url)
            return await self._run(dataclasses.replace(ctx, db=db))

    async def _run(self, ctx: BenchContext) -> list[Row]:
        orgs = await seed.organizations(ctx.db.url, SPREAD, name="Bench payouts")
        await seed.payout_ready(ctx.db.url, [o.organization_id for o in orgs], funds=FUNDS)
        await reference_asyncpg.seed(
            ctx.db.dsn, {o.test_key: o.organization_id for o in orgs}, available=FUNDS
        )
        loads = {
            "hot": {"BENCH_KEYS": orgs[0].test_key},
            # As many organizations as clients: 64 balance rows written at once.
            "64 orgs": {"BENCH_KEYS": ",".join(o.test_key for o in orgs[:WIDE])},
            "spread": {"BENCH_KEYS": ",".join(o.test_key for o in orgs)},
        }
        rows: list[Row] = []
        with (
            ctx.real_app() as app,
            ctx.reference_app("asyncpg", "bench.reference_asyncpg:app") as raw,
        ):
            for server in (app, raw):
                _probe(server.url, orgs[0].test_key)
            for label, keys in loads.items():
                env = {**keys, "BENCH_AMOUNT": str(AMOUNT), "BENCH_RUN": secrets.token_hex(4)}
                (app_result, app_cpu), (raw_result, raw_cpu) = alternate(
                    ctx,
                    [
                        Target(app, "/graphql", "payout.lua", env),
                        Target(raw, "/graphql", "payout.lua", env),
                    ],
                    rounds=ROUNDS,
                )
                what = {"hot": "1 org (hot balance row)", "64 orgs": f"{WIDE} orgs at once"}.get(
                    label, f"{SPREAD} orgs"
                )
                reference = f"{REFERENCE}, {what}"
                app_row = row_from(
                    f"3 {label}", f"app: requestPayout, {what}", app_result, app_cpu,
                    reference=reference, target=0.25 if label == "hot" else None,
                )  # fmt: skip
                raw_row = row_from(f"3 {label}", reference, raw_result, raw_cpu, is_reference=True)
                _note_refused(app_row, app_result)
                _note_refused(raw_row, raw_result)
                rows += [app_row, raw_row]
        await _check_money(ctx, rows)
        return rows


def _probe(url: str, key: str) -> None:
    """Both servers must pay out before their speeds are compared."""
    answer = httpx.post(f"{url}/graphql", json=PROBE, headers={"x-api-key": key}, timeout=10)
    payload = (answer.json().get("data") or {}).get("requestPayout") or {}
    if answer.status_code != 200 or not payload.get("payout") or payload.get("userErrors"):
        raise RuntimeError(f"unexpected answer from {url}: {answer.status_code} {answer.text}")


def _note_refused(row: Row, result: LoadResult) -> None:
    if result.refused:
        row.notes.append(f"{result.refused} answers refused for insufficient balance")


async def _check_money(ctx: BenchContext, rows: list[Row]) -> None:
    """Zero overdrafts, or the case fails: the product's ledger by ``payouts verify-ledger``,
    the reference's balances by its own check."""
    env = {**os.environ, "PAYOUTS_DATABASE_URL": ctx.db.url, "PYTHONPATH": str(ROOT)}
    verified = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api.cli", "verify-ledger"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    overdrafts = await reference_asyncpg.overdrafts(ctx.db.dsn)
    counts = await _counts(ctx.db.dsn)
    app_rows = [row for row in rows if row.subject.startswith("app")]
    raw_rows = [row for row in rows if row.is_reference]
    app_rows[0].notes.append(
        f"payouts verify-ledger: exit {verified.returncode}, {_violations(verified.stdout)}; "
        f"{counts['payouts']:,} payouts, {counts['entries']:,} ledger entries"
    )
    raw_rows[0].notes.append(
        f"overdraft check: {overdrafts} balances below zero; {counts['raw_payouts']:,} payouts"
    )
    if verified.returncode != 0 or overdrafts:
        raise RuntimeError(
            f"money check failed: verify-ledger exit {verified.returncode} "
            f"{verified.stdout[-2000:]} {verified.stderr[-2000:]}; reference overdrafts {overdrafts}"
        )


def _violations(stdout: str) -> str:
    try:
        report = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return "no report"
    return f"{len(report['violations'])} violations"


async def _counts(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            "payouts": await connection.fetchval("SELECT count(*) FROM payouts"),
            "entries": await connection.fetchval("SELECT count(*) FROM balance_transactions"),
            "raw_payouts": await connection.fetchval("SELECT count(*) FROM bench_raw_payouts"),
        }
    finally:
        await connection.close()


CASE = RequestPayoutCase()
