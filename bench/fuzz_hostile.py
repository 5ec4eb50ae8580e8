"""A timed run of hostile requests against a real server: no 5xx, no INTERNAL, no held loop.

    python -m bench.fuzz_hostile --seconds 600

Starts its own server (SQLite in a temporary directory, one uvicorn worker, the settings of
``payouts serve``), creates an organization, then sends, from several clients at once:
documents generated from the live schema (hypothesis-graphql, as schemathesis does), and
hand-made hostile shapes — fragment chains, wide and aliased selections, deep nesting, huge or
deeply nested variables, big numbers, odd encodings, bodies that are not JSON objects,
malformed cursors — each with and without a key. At the end it reads the server's
``payouts_event_loop_busy_max_seconds`` (``api/loop_lag.py``: the most CPU the loop's thread
spent between two ticks, which the machine's other load does not inflate) and prints one line per finding.
The exit status is 1 when any request got a 5xx or an ``INTERNAL`` error, or the loop was held
longer than ``--max-lag-ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from graphql import IntValueNode
from graphql import build_schema as build_sdl_schema
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, queries

from bench.servers import ROOT, serve

Request = tuple[dict[str, str], bytes]  # headers, body
JSON = {"content-type": "application/json"}


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


def _query(query: str, variables: object = None) -> bytes:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return _json(body)


def fragment_chain(rng: random.Random) -> bytes:
    depth, fan = rng.randint(2, 60), rng.randint(2, 4)
    fragments = ["fragment F0 on Viewer { livemode organization { id } }"]
    for i in range(1, depth + 1):
        spreads = " ".join([f"...F{i - 1}"] * fan)
        fragments.append(f"fragment F{i} on Viewer {{ {spreads} }}")
    return _query(f"{{ viewer {{ ...F{depth} }} }} " + " ".join(fragments))


def wide(rng: random.Random) -> bytes:
    count = rng.choice([10, 40, 100, 390, 900])
    field_ = rng.choice(["livemode", "organization { id name }", "__typename"])
    aliased = rng.random() < 0.3
    parts = [f"a{i}: {field_}" if aliased else field_ for i in range(count)]
    return _query("{ viewer { " + " ".join(parts) + " } }")


def conflicting_arguments(rng: random.Random) -> bytes:
    count = rng.choice([10, 50, 200])
    return _query("{ " + " ".join(f'node(id: "{i}") {{ id }}' for i in range(count)) + " }")


def deep(rng: random.Random) -> bytes:
    depth = rng.choice([15, 100, 600])
    return _query("{ " + "viewer { organization { " * depth + "id" + " } }" * depth + " }")


def nested_variables(rng: random.Random) -> bytes:
    depth = rng.choice([100, 5_000, 50_000])
    raw = '{"query":"query($n: ID!) { node(id: $n) { id } }","variables":{"n":'
    return (raw + "[" * depth + "]" * depth + "}}").encode()


def big_numbers(rng: random.Random) -> bytes:
    value = rng.choice(["1" * 5000, "1e999", "-1e999", "123456789012345678901234567890"])
    return (
        b'{"query":"query($f: Int) { payouts(first: $f) { edges { cursor } } }",'
        b'"variables":{"f":' + value.encode() + b"}}"
    )


def odd_strings(rng: random.Random) -> bytes:
    value = rng.choice(["\\ud800", "\\udfff", "a\\u0000b", "\\ufeff", "x" * 70_000])
    return (
        b'{"query":"query($n: ID!) { node(id: $n) { id } }","variables":{"n":"'
        + value.encode()
        + b'"}}'
    )


def odd_bodies(rng: random.Random) -> bytes:
    return rng.choice(
        [
            b"null",
            b'"s"',
            b"123",
            b"true",
            b"[]",
            b"{",
            b"\xff\xfe\x00{",
            '{"query": "{ viewer { livemode } }"}'.encode("utf-16"),
            b'{"query": 5}',
            b'{"query": "{ viewer { livemode } }", "variables": "x"}',
            b'{"query": "subscription { balanceUpdated { available } }"}',
            b'{"query": "{ ...Nope }"}',
            b'{"query": "query A { viewer { livemode } } mutation B { __typename }"}',
        ]
    )


def bad_cursors(rng: random.Random) -> bytes:
    raw = rng.choice(
        [
            b'["2026-01-01T00:00:00","po_x"]',
            b"[" * 5000 + b"]" * 5000,
            b"1e999",
            b"9" * 5000,
            b"\xff\xfe",
            b'["2026-01-01T00:00:00+00:00", 5]',
        ]
    )
    cursor = base64.urlsafe_b64encode(raw).decode()
    return _query(
        "query($a: String) { payouts(first: 5, after: $a) { edges { cursor } } }", {"a": cursor}
    )


HOSTILE: list[Callable[[random.Random], bytes]] = [
    fragment_chain,
    wide,
    conflicting_arguments,
    deep,
    nested_variables,
    big_numbers,
    odd_strings,
    odd_bodies,
    bad_cursors,
]


def schema_documents(sdl: str, count: int, seed: int) -> list[str]:
    """Queries and mutations generated from the live schema, deterministic per seed."""
    schema = build_sdl_schema(sdl)
    found: list[str] = []
    roots = ["Query", "Mutation"]

    scalars = {"Cents": st.integers(-(2**60), 2**60).map(lambda n: IntValueNode(value=str(n)))}
    for root in roots:
        strategy = (queries if root == "Query" else mutations)(schema, custom_scalars=scalars)

        @given(strategy)
        @settings(
            max_examples=count // len(roots),
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def collect(document: str) -> None:
            found.append(document)

        random.seed(seed)
        collect()
    return found


@dataclass
class Findings:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slowest_ms: dict[str, float] = field(default_factory=dict)  # kind -> slowest response

    def record(self, kind: str, body: bytes, response: httpx.Response, elapsed: float) -> None:
        self.requests += 1
        self.statuses[response.status_code] += 1
        self.slowest_ms[kind] = max(self.slowest_ms.get(kind, 0.0), elapsed * 1000)
        if response.status_code >= 500:
            self._fail(kind, body, f"HTTP {response.status_code}: {response.text[:200]}")
            return
        try:
            result = response.json()
        except ValueError:
            return  # 4xx with a text body (413, 415...) is a clear refusal
        errors = result.get("errors") if isinstance(result, dict) else None
        for error in errors or []:
            code = str((error.get("extensions") or {}).get("code"))
            self.codes[code] += 1
            if code in ("INTERNAL", "None"):
                self._fail(kind, body, f"{code}: {error.get('message')}")

    def _fail(self, kind: str, body: bytes, what: str) -> None:
        if len(self.failures) < 50:
            self.failures.append(f"{kind}: {what} <- {body[:160]!r}")


async def fuzz(url: str, key: str, seconds: float, clients: int, seed: int) -> Findings:
    findings = Findings()
    documents = schema_documents((ROOT / "schema.graphql").read_text(), 400, seed)
    deadline = time.monotonic() + seconds

    async def client(number: int) -> None:
        rng = random.Random(seed + number)
        async with httpx.AsyncClient(timeout=30.0) as http:
            while time.monotonic() < deadline:
                if rng.random() < 0.5:
                    kind, body = "schema", _query(rng.choice(documents))
                else:
                    make = rng.choice(HOSTILE)
                    kind, body = make.__name__, make(rng)
                headers = dict(JSON)
                if rng.random() < 0.8:
                    headers["x-api-key"] = key
                started = time.perf_counter()
                try:
                    response = await http.post(f"{url}/graphql", content=body, headers=headers)
                except httpx.HTTPError as exc:
                    findings._fail(kind, body, f"transport error {type(exc).__name__}")
                    continue
                findings.record(kind, body, response, time.perf_counter() - started)

    await asyncio.gather(*(client(n) for n in range(clients)))
    return findings


def busy_buckets(url: str) -> dict[float, float]:
    """Cumulative counts of ``payouts_event_loop_busy_seconds`` by upper bound."""
    return histogram_buckets(url, "payouts_event_loop_busy_seconds")


def full_gc_buckets(url: str) -> dict[float, float]:
    """Cumulative counts of full (generation 2) garbage collections by pause length."""
    return histogram_buckets(url, "payouts_gc_pause_seconds", 'generation="2",')


def histogram_buckets(url: str, name: str, labels: str = "") -> dict[float, float]:
    text = httpx.get(f"{url}/metrics", timeout=10.0).text
    pattern = rf'^{name}_bucket\{{{labels}le="([^"]+)"\}}\s+([0-9.e+-]+)$'
    return {float(le): float(count) for le, count in re.findall(pattern, text, re.M)}


def held_longer_than(before: dict[float, float], after: dict[float, float], bound: float) -> int:
    """Timer ticks, between the two readings, at which the loop's thread had spent more than
    ``bound`` seconds of CPU (bound must be one of the histogram's bucket bounds)."""
    total = after[float("inf")] - before.get(float("inf"), 0.0)
    within = after[bound] - before.get(bound, 0.0)
    return int(total - within)


def worst_bucket(before: dict[float, float], after: dict[float, float]) -> float:
    """The smallest bucket bound that every tick between the two readings stayed within."""
    bounds = sorted(after)
    total = after[float("inf")] - before.get(float("inf"), 0.0)
    return next(b for b in bounds if after[b] - before.get(b, 0.0) >= total)


def loop_figure(url: str, name: str) -> float | None:
    text = httpx.get(f"{url}/metrics", timeout=10.0).text
    found = re.search(rf"^payouts_event_loop_{name}_max_seconds\s+([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else None


def create_org(env: dict[str, str]) -> str:
    payouts = [sys.executable, "-m", "api.cli"]
    full = {**os.environ, **env}
    subprocess.run([*payouts, "migrate"], check=True, env=full, cwd=ROOT, capture_output=True)
    out = subprocess.run(
        [*payouts, "create-org", "--name", "Fuzz"],
        check=True,
        env=full,
        cwd=ROOT,
        capture_output=True,
    )
    return str(json.loads(out.stdout)["testKey"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to send requests")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--seed", type=int, default=17, help="seed of every generator")
    parser.add_argument(
        "--max-lag-ms",
        type=float,
        default=50.0,
        choices=[1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0],
        help="longest loop hold allowed (a bucket bound of payouts_event_loop_busy_seconds)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="payouts-fuzz-") as tmp:
        workdir = Path(tmp)
        env = {
            "PAYOUTS_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'fuzz.db'}",
            "PAYOUTS_LOG_LEVEL": "WARNING",
            "PAYOUTS_DEMO_ORG_ON_START": "false",
            "PAYOUTS_RATE_LIMIT_BUCKET_SIZE": str(10**12),
            "PAYOUTS_RATE_LIMIT_REFILL_PER_SECOND": str(10**12),
        }
        key = create_org(env)
        with serve("fuzz", "api.app:create_app", env=env, workdir=workdir, factory=True) as server:
            # Warm-up: first-use imports and caches are start-up cost, not a request's hold.
            asyncio.run(fuzz(server.url, key, min(10.0, args.seconds), args.clients, args.seed))
            before, gc_before = busy_buckets(server.url), full_gc_buckets(server.url)
            findings = asyncio.run(fuzz(server.url, key, args.seconds, args.clients, args.seed))
            after, gc_after = busy_buckets(server.url), full_gc_buckets(server.url)
            lag = loop_figure(server.url, "lag")
            held = loop_figure(server.url, "busy")
    print(f"interpreter: {sys.executable} ({sys.version.split()[0]})")
    print(f"requests: {findings.requests} in {args.seconds:.0f} s with {args.clients} clients")
    print(f"statuses: {dict(sorted(findings.statuses.items()))}")
    print(f"error codes: {dict(findings.codes.most_common())}")
    ranked = sorted(findings.slowest_ms.items(), key=lambda item: -item[1])
    slowest = ", ".join(f"{k} {v:.0f}" for k, v in ranked)
    print(f"slowest response by kind (ms): {slowest}")
    print(f"event loop late at most: {'unknown' if lag is None else f'{lag * 1000:.1f} ms'}")
    since_start = "unknown" if held is None else f"{held * 1000:.1f} ms"
    print(f"event loop held at most since start, warm-up included (CPU): {since_start}")
    long_holds = held_longer_than(before, after, args.max_lag_ms / 1000)
    print(
        f"after warm-up, every 10 ms tick saw at most {worst_bucket(before, after) * 1000:.0f} ms "
        f"of loop CPU (a bucket bound); ticks over {args.max_lag_ms:.0f} ms: {long_holds}"
    )
    full_passes = int(gc_after[float("inf")] - gc_before.get(float("inf"), 0.0))
    longest = (
        f", each within {worst_bucket(gc_before, gc_after) * 1000:.0f} ms" if full_passes else ""
    )
    print(f"full garbage collections after warm-up: {full_passes}{longest}")
    for failure in findings.failures:
        print(f"FAIL {failure}")
    too_long = long_holds > 0
    if too_long:
        print(f"FAIL the event loop was held longer than {args.max_lag_ms:.0f} ms")
    return 1 if findings.failures or too_long else 0


if __name__ == "__main__":
    raise SystemExit(main())
