"""``python -m bench.inprocess``: CPU time per GraphQL request of the real app, driven in-process.

No sockets and no load generator: the ASGI app is called directly, one request after another,
and the process's CPU time (``time.process_time``) is divided by the number of requests. On a
machine shared with other work this moves far less than requests/s under ``wrk`` does, which
makes it the tool for A/B comparisons of per-request machinery (``--profile`` writes a cProfile
of the measured requests). HTTP parsing (uvicorn/httptools) is not in the figure.

It needs PostgreSQL (``PAYOUTS_BENCH_PG_URL``) and uses a throwaway database.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from api import migrations
from bench import seed
from bench.database import throwaway_database

PAGE_FIELDS = "id status amount fee netAmount currency description createdAt paidAt livemode"
QUERIES = {
    "viewer": "{ viewer { livemode } }",
    "payouts": f"{{ payouts(first: 50) {{ edges {{ cursor node {{ {PAGE_FIELDS} }} }} }} }}",
    "request": "mutation { requestPayout(input: {amount: 1000}) "
    "{ payout { id status amount createdAt } userErrors { code message field } } }",
}
PAGE_PAYOUTS = 10_000

Message = dict[str, Any]


async def _call(app: Any, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def _lifespan(app: Any) -> tuple[Callable[[], Awaitable[None]], asyncio.Task[None]]:
    queue: asyncio.Queue[Message] = asyncio.Queue()
    started = asyncio.Event()
    stopped = asyncio.Event()
    await queue.put({"type": "lifespan.startup"})

    async def send(message: Message) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()
        if message["type"].startswith("lifespan.shutdown"):
            stopped.set()

    task = asyncio.create_task(app({"type": "lifespan", "state": {}}, queue.get, send))
    await started.wait()

    async def stop() -> None:
        await queue.put({"type": "lifespan.shutdown"})
        await stopped.wait()

    return stop, task


async def measure(query: str, requests: int, rounds: int, profile: str | None) -> None:
    async with throwaway_database() as db:
        await asyncio.to_thread(migrations.upgrade, db.url)
        (org,) = await seed.organizations(db.url, 1, name="In-process")
        if "payouts(" in query:
            (destination,) = await seed.payout_ready(db.url, [org.organization_id], funds=10**9)
            await seed.insert_payouts(db.dsn, destination, seed.payout_rows(PAGE_PAYOUTS))
        if "requestPayout" in query:
            # Settlement webhooks are pushed out of the measurement (no server listens here).
            os.environ["PAYOUTS_SANDBOX_DELAY_SECONDS"] = "3600"
            await seed.payout_ready(db.url, [org.organization_id], funds=10**11)
        os.environ.update(
            {
                "PAYOUTS_DATABASE_URL": db.url,
                "PAYOUTS_LOG_LEVEL": "WARNING",
                "PAYOUTS_DEMO_ORG_ON_START": "false",
                "PAYOUTS_GRAPHIQL": "false",
                "PAYOUTS_CLIENT_SESSION_SECRET": "bench-client-session-secret-0123456789abcdef",
                "PAYOUTS_RATE_LIMIT_BUCKET_SIZE": str(10**12),
                "PAYOUTS_RATE_LIMIT_REFILL_PER_SECOND": str(10**12),
            }
        )
        from api.app import create_app

        app = create_app()
        stop, _task = await _lifespan(app)
        body = orjson.dumps({"query": query})
        headers = [
            (b"content-type", b"application/json"),
            (b"x-api-key", org.test_key.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        try:
            status, answer = await _call(app, body, headers)
            if status != 200 or b'"errors"' in answer or b'"code"' in answer:
                raise SystemExit(f"unexpected answer {status}: {answer[:300]!r}")
            for _ in range(200):  # warm caches and pools
                await _call(app, body, headers)
            per_round = []
            profiler = cProfile.Profile(time.process_time) if profile else None
            for _ in range(rounds):
                if profiler:
                    profiler.enable()
                started = time.process_time()
                for _ in range(requests):
                    await _call(app, body, headers)
                per_round.append((time.process_time() - started) / requests * 1e6)
                if profiler:
                    profiler.disable()
            print(
                f"{query!r}: CPU µs/request median {statistics.median(per_round):.0f} "
                f"(rounds: {', '.join(f'{v:.0f}' for v in per_round)})"
            )
            if profiler and profile:
                profiler.dump_stats(profile)
                pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        finally:
            await stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--query", default="viewer", help=f"one of {sorted(QUERIES)} or a query")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", default=None, help="write a cProfile here")
    args = parser.parse_args()
    query = QUERIES.get(args.query, args.query)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(measure(query, args.requests, args.rounds, args.profile))


if __name__ == "__main__":
    main()
