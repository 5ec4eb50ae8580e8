"""Case 2: ``payouts(first: 50)`` with 10 fields over 10,000 seeded payouts vs the naive
strawberry + SQLModel baseline (``bench/reference_naive.py``) seeded with the same rows (≥ 2×)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from bench import reference_naive, seed
from bench.harness import BenchContext, Row, Target, alternate, row_from

PAYOUTS = 10_000
FIELDS = "id status amount fee netAmount currency description createdAt paidAt livemode"
QUERY = f"{{ payouts(first: 50) {{ edges {{ cursor node {{ {FIELDS} }} }} }} }}"
REFERENCE = "ref: naive strawberry + SQLModel"
ROUNDS = 2


class PayoutsPageCase:
    number = 2
    title = "payouts(first: 50), 10 fields, 10,000 payouts"

    async def run(self, ctx: BenchContext) -> list[Row]:
        (org,) = await seed.organizations(ctx.db.url, 1, name="Bench payouts page")
        (destination,) = await seed.payout_ready(ctx.db.url, [org.organization_id], funds=10**9)
        rows = seed.payout_rows(PAYOUTS)
        await seed.insert_payouts(ctx.db.dsn, destination, rows)
        await reference_naive.seed(
            ctx.db.dsn, key=org.test_key, organization_id=org.organization_id, rows=rows
        )
        env = {
            "BENCH_BODY": json.dumps({"query": QUERY}),
            "BENCH_HEADERS": f"x-api-key: {org.test_key}",
        }
        with (
            ctx.real_app() as app,
            ctx.reference_app("naive", "bench.reference_naive:app") as naive,
        ):
            _same_page(_page(app.url, org.test_key), _page(naive.url, org.test_key))
            (app_result, app_cpu), (naive_result, naive_cpu) = alternate(
                ctx,
                [
                    Target(app, "/graphql", "post.lua", env),
                    Target(naive, "/graphql", "post.lua", env),
                ],
                rounds=ROUNDS,
            )
        return [
            row_from(
                "2", "app: payouts(first: 50)", app_result, app_cpu, target=2.0,
                reference=REFERENCE,
            ),
            row_from("2", REFERENCE, naive_result, naive_cpu, is_reference=True),
        ]  # fmt: skip


def _page(url: str, key: str) -> list[dict[str, Any]]:
    answer = httpx.post(f"{url}/graphql", json={"query": QUERY}, headers={"x-api-key": key})
    body = answer.json() if answer.status_code == 200 else {}
    edges = (body.get("data") or {}).get("payouts", {}).get("edges")
    if not edges or len(edges) != 50 or body.get("errors"):
        raise RuntimeError(f"unexpected answer from {url}: {answer.status_code} {answer.text}")
    return [edge["node"] for edge in edges]


def _same_page(app: list[dict[str, Any]], naive: list[dict[str, Any]]) -> None:
    """Both servers must give the same 50 payouts, field for field, before being compared."""
    if app != naive:
        first = next(i for i, (a, b) in enumerate(zip(app, naive, strict=True)) if a != b)
        raise RuntimeError(f"pages differ at {first}: {app[first]} vs {naive[first]}")


CASE = PayoutsPageCase()
