"""Case 1: ``{ viewer { livemode } }`` with a test key vs a raw Starlette route (≥ 25 %); and
the same operation from a browser's point of view: a client-session token naming the trusted
document by ``documentId`` (issue 19: no slower than the key with the raw query)."""

from __future__ import annotations

import hashlib
import json

import httpx

from bench import seed
from bench.harness import BenchContext, Row, Target, alternate, row_from
from bench.reference_raw import VIEWER_LIVEMODE

QUERY = "{ viewer { livemode } }"
DOCUMENT_ID = "sha256:" + hashlib.sha256(QUERY.encode()).hexdigest()
MINT = (
    "mutation { createClientSession(input: {scopes: [PAYOUTS_READ], expiresInSeconds: 3600})"
    " { clientSession { token } } }"
)
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
        manifest = ctx.workdir / "case1-documents.json"
        manifest.write_text(json.dumps({DOCUMENT_ID: QUERY}))
        with (
            ctx.real_app(PAYOUTS_TRUSTED_DOCUMENTS=str(manifest)) as app,
            ctx.reference_app("raw", "bench.reference_raw:app") as raw,
        ):
            for server in (app, raw):
                _check(server.url, {"query": QUERY}, org.test_key)
            token = _mint(app.url, org.test_key)
            session_env = {
                "BENCH_BODY": json.dumps({"documentId": DOCUMENT_ID}),
                "BENCH_HEADERS": f"x-api-key: {token}",
            }
            _check(app.url, {"documentId": DOCUMENT_ID}, token)
            (app_result, app_cpu), (session_result, session_cpu), (raw_result, raw_cpu) = alternate(
                ctx,
                [
                    Target(app, "/graphql", "post.lua", env),
                    Target(app, "/graphql", "post.lua", session_env),
                    Target(raw, "/graphql", "post.lua", env),
                ],
                rounds=ROUNDS,
            )
        key_row = row_from(
            "1", "app: viewer { livemode }", app_result, app_cpu, target=0.25, reference=REFERENCE
        )
        session_row = row_from(
            "1",
            "app: same, client session + documentId",
            session_result,
            session_cpu,
            reference=REFERENCE,
        )
        if app_result.rps and session_result.rps:
            session_row.notes.append(
                f"{session_result.rps / app_result.rps:.0%} of the key + raw query variant's "
                "req/s in the same run"
            )
        return [
            key_row,
            session_row,
            row_from("1", REFERENCE, raw_result, raw_cpu, is_reference=True),
        ]


def _mint(url: str, key: str) -> str:
    answer = httpx.post(f"{url}/graphql", json={"query": MINT}, headers={"x-api-key": key})
    token: str = answer.json()["data"]["createClientSession"]["clientSession"]["token"]
    return token


def _check(url: str, body: dict[str, str], key: str) -> None:
    """Both servers must give the same data before their speeds are compared (the app also
    reports the query's cost under ``extensions``)."""
    answer = httpx.post(f"{url}/graphql", json=body, headers={"x-api-key": key})
    body = answer.json() if answer.status_code == 200 else {}
    if body.get("errors") or body.get("data") != VIEWER_LIVEMODE["data"]:
        raise RuntimeError(f"unexpected answer from {url}: {answer.status_code} {answer.text}")


CASE = ViewerCase()
