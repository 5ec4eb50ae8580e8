"""Case 1: ``{ viewer { livemode } }`` with a test key vs a raw Starlette route (≥ 25 %)."""

from __future__ import annotations

import json

import httpx

from bench import seed
from bench.harness import BenchContext, Row, row_from
from bench.reference_raw import VIEWER_LIVEMODE

QUERY = "{ viewer { livemode } }"
REFERENCE = "ref: raw Starlette JSON"


class ViewerCase:
    number = 1
    title = "viewer { livemode }, test key"

    async def run(self, ctx: BenchContext) -> list[Row]:
        (org,) = await seed.organizations(ctx.db.url, 1, name="Bench viewer")
        env = {
            "BENCH_BODY": json.dumps({"query": QUERY}),
            "BENCH_HEADERS": f"x-api-key: {org.test_key}",
        }
        with ctx.real_app() as server:
            _check(server.url, org.test_key)
            result, cpu = ctx.load(server, "/graphql", script="post.lua", env=env)
        app_row = row_from(
            "1", "app: viewer { livemode }", result, cpu, target=0.25, reference=REFERENCE
        )
        with ctx.reference_app("raw", "bench.reference_raw:app") as server:
            _check(server.url, org.test_key)
            result, cpu = ctx.load(server, "/graphql", script="post.lua", env=env)
        reference = row_from("1", REFERENCE, result, cpu, is_reference=True)
        return [app_row, reference]


def _check(url: str, key: str) -> None:
    """Both servers must give the same answer before their speeds are compared."""
    answer = httpx.post(f"{url}/graphql", json={"query": QUERY}, headers={"x-api-key": key})
    if answer.status_code != 200 or answer.json() != VIEWER_LIVEMODE:
        raise RuntimeError(f"unexpected answer from {url}: {answer.status_code} {answer.text}")


CASE = ViewerCase()
