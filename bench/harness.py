"""What a case gets (``BenchContext``) and gives back (``Row``s); how cases are found.

A case is one module in ``bench/cases/`` that defines ``CASE``: an object with ``number``,
``title`` and ``async def run(ctx) -> list[Row]``. Dropping the module in registers it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench import cases as cases_package
from bench.database import BenchDatabase
from bench.load import LoadResult, run_wrk
from bench.servers import Server, serve


@dataclass
class Row:
    case: str  # "1", "4 dup50"...
    subject: str  # what was measured
    rps: float | None
    p50_ms: float | None
    p99_ms: float | None
    failures: int = 0
    reference: str | None = None  # subject of this case's reference row (ratio is to it)
    is_reference: bool = False
    target: float | None = None  # wanted ratio to the reference (rps, or p99 when lower_is_better)
    lower_is_better: bool = False  # compare p99 instead of rps (fan-out latency)
    notes: list[str] = field(default_factory=list)
    server_cpu: float | None = None  # server CPU seconds per second of load (1.0 = one core)


@dataclass
class Durations:
    warmup: float
    measure: float


@dataclass
class BenchContext:
    db: BenchDatabase
    workdir: Path
    durations: Durations
    quick: bool

    @property
    def app_env(self) -> dict[str, str]:
        """Settings of the real app, identical for every case."""
        return {
            "PAYOUTS_DATABASE_URL": self.db.url,
            "PAYOUTS_LOG_LEVEL": "WARNING",
            "PAYOUTS_DEMO_ORG_ON_START": "false",
            "PAYOUTS_GRAPHIQL": "false",
            # The per-key limiter stays on (its cost is measured) but never refuses: the bench
            # measures throughput far above a key's allowance.
            "PAYOUTS_RATE_LIMIT_BUCKET_SIZE": str(10**12),
            "PAYOUTS_RATE_LIMIT_REFILL_PER_SECOND": str(10**12),
            # PostgreSQL is the production shape: the development default is refused there.
            "PAYOUTS_CLIENT_SESSION_SECRET": "bench-client-session-secret-0123456789abcdef",
        }

    @contextmanager
    def real_app(self, **extra_env: str) -> Iterator[Server]:
        env = {**self.app_env, **extra_env}
        with serve(
            "app", "api.app:create_app", env=env, workdir=self.workdir, factory=True
        ) as server:
            yield server

    @contextmanager
    def reference_app(self, name: str, app: str) -> Iterator[Server]:
        """A reference app from ``bench/`` (``bench.reference_raw:app``...)."""
        env = {"BENCH_DATABASE_DSN": self.db.dsn}
        with serve(name, app, env=env, workdir=self.workdir) as server:
            yield server

    def warm(
        self,
        server: Server,
        path: str,
        *,
        script: str,
        env: dict[str, str] | None = None,
        connections: int | None = None,
    ) -> None:
        """Load that is not measured: JIT-less Python still fills caches, pools and pages."""
        kwargs = {} if connections is None else {"connections": connections}
        run_wrk(server.url + path, script=script, seconds=self.durations.warmup, env=env, **kwargs)

    def measure(
        self,
        server: Server,
        path: str,
        *,
        script: str,
        env: dict[str, str] | None = None,
        connections: int | None = None,
        seconds: float | None = None,
    ) -> tuple[LoadResult, float]:
        """wrk's result and the server's CPU share (1.0 = one core) over the measured run."""
        kwargs = {} if connections is None else {"connections": connections}
        cpu_before = server.cpu_seconds()
        result = run_wrk(
            server.url + path,
            script=script,
            seconds=seconds or self.durations.measure,
            env=env,
            **kwargs,
        )
        cpu = (server.cpu_seconds() - cpu_before) / result.seconds if result.seconds else 0.0
        return result, cpu

    def load(
        self,
        server: Server,
        path: str,
        *,
        script: str,
        env: dict[str, str] | None = None,
        connections: int | None = None,
    ) -> tuple[LoadResult, float]:
        """Warm up, then measure, with the same requests."""
        self.warm(server, path, script=script, env=env, connections=connections)
        return self.measure(server, path, script=script, env=env, connections=connections)


@dataclass(frozen=True)
class Target:
    """One server under one kind of load."""

    server: Server
    path: str
    script: str
    env: dict[str, str]
    # For warm-up, when it must not use the measured requests (prepared unique webhooks...).
    warm_env: dict[str, str] | None = None


def alternate(
    ctx: BenchContext, targets: list[Target], rounds: int
) -> list[tuple[LoadResult, float]]:
    """Warm every target, then measure them in turns (A B A B...), ``rounds`` slices each of
    ``measure / rounds`` seconds: on a shared machine, background load then weighs on a case
    and its reference alike. Requests and time add up over the slices; p50 is their mean and
    p99 the worst slice's."""
    for target in targets:
        warm_env = target.env if target.warm_env is None else target.warm_env
        ctx.warm(target.server, target.path, script=target.script, env=warm_env)
    slices: list[list[tuple[LoadResult, float]]] = [[] for _ in targets]
    seconds = max(1.0, ctx.durations.measure / rounds)
    for _ in range(rounds):
        for index, target in enumerate(targets):
            slices[index].append(
                ctx.measure(
                    target.server,
                    target.path,
                    script=target.script,
                    env=target.env,
                    seconds=seconds,
                )
            )
    return [_combine(parts) for parts in slices]


def _combine(parts: list[tuple[LoadResult, float]]) -> tuple[LoadResult, float]:
    results = [result for result, _ in parts]
    seconds = sum(result.seconds for result in results)
    cpu = sum(share * result.seconds for (result, share) in parts) / seconds if seconds else 0.0
    combined = LoadResult(
        requests=sum(r.requests for r in results),
        seconds=seconds,
        p50_ms=sum(r.p50_ms for r in results) / len(results),
        p99_ms=max(r.p99_ms for r in results),
        status_errors=sum(r.status_errors for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        timeouts=sum(r.timeouts for r in results),
        wrapped=sum(r.wrapped for r in results),
        refused=sum(r.refused for r in results),
    )
    return combined, cpu


def row_from(
    case: str,
    subject: str,
    result: LoadResult,
    cpu: float,
    *,
    reference: str | None = None,
    is_reference: bool = False,
    target: float | None = None,
) -> Row:
    row = Row(
        case,
        subject,
        result.rps,
        result.p50_ms,
        result.p99_ms,
        result.failures,
        reference=reference,
        is_reference=is_reference,
        target=target,
        server_cpu=cpu,
    )
    if result.wrapped:
        row.notes.append(f"prepared requests wrapped {result.wrapped}×")
    if result.failures:
        row.notes.append(
            f"failed: {result.status_errors} non-2xx answers, {result.socket_errors} socket "
            f"errors, {result.timeouts} timeouts (wrk --timeout 5s)"
        )
    return row


class Case(Protocol):
    number: int
    title: str

    def run(self, ctx: BenchContext) -> Awaitable[list[Row]]: ...


def discover() -> dict[int, Case]:
    found: dict[int, Case] = {}
    for module_info in pkgutil.iter_modules(cases_package.__path__):
        module = importlib.import_module(f"{cases_package.__name__}.{module_info.name}")
        case = getattr(module, "CASE", None)
        if case is not None:
            found[case.number] = case
    return dict(sorted(found.items()))
