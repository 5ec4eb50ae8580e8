"""Case 1: ``{ viewer { livemode } }`` with a test key vs a raw Starlette route (≥ 25 %)."""

from __future__ import annotations

import json

import httpx

from bench import seed
from bench.harness import BenchContext, Row, Target, alternate, row_from
from bench.reference_raw import VIEWER_LIVEMODE

QUERY = "{ viewer { livemode } }"
REFERENCE = "ref: raw Starlette JSON"
ROUNDS = 2  # app and reference measured in turns


class ViewerCase:
    number = 1
    title = "viewer { livemode }, test key"

    async def run(self, ctx: BenchContext) -> list[Row]:
        (org,) = await seed.organizations(ctx.db.url, 1, name="Bench viewer")
        env = {
            "BENCH_BODY": json.dumps({"query": QUERY}),
            "BENCH_HEADERS": f"x-api-key: {org.test_key}",
        }
        with (
            ctx.real_app() as app,
            ctx.reference_app("raw", "bench.reference_raw:app") as raw,
        ):
            for server in (app, raw):
                _check(server.url, org.test_key)
            (app_result, app_cpu), (raw_result, raw_cpu) = alternate(
                ctx,
                [
                    Target(app, "/graphql", "post.lua", env),
                    Target(raw, "/graphql", "post.lua", env),
                ],
                rounds=ROUNDS,
            )
        return [
            row_from(
                "1",
                "app: viewer { livemode }",
                app_result,
                app_cpu,
                target=0.25,
                reference=REFERENCE,
            ),
            row_from("1", REFERENCE, raw_result, raw_cpu, is_reference=True),
        ]


def _check(url: str, key: str) -> None:
    """Both servers must give the same data before their speeds are compared (the app also
    reports the query cost in ``extensions``)."""
    answer = httpx.post(f"{url}/graphql", json={"query": QUERY}, headers={"x-api-key": key})
    if answer.status_code != 200 or answer.json().get("data") != VIEWER_LIVEMODE["data"]:
        raise RuntimeError(f"unexpected answer from {url}: {answer.status_code} {answer.text}")


CASE = ViewerCase()
