"""``python -m bench.run [--quick] [--cases 1,4]``: run the bench cases, print and write the table."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from api import migrations
from bench import report
from bench.database import throwaway_database
from bench.harness import BenchContext, Durations, Row, discover
from bench.load import CONNECTIONS, THREADS, ensure_wrk
from bench.servers import uvicorn_argv

FULL = Durations(warmup=3, measure=10)
QUICK = Durations(warmup=1, measure=2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke test")
    parser.add_argument("--cases", default=None, help="comma-separated case numbers (default all)")
    return parser.parse_args(argv)


def selected(spec: str | None) -> list[int]:
    available = discover()
    if spec is None:
        return list(available)
    wanted = [int(part) for part in spec.split(",") if part.strip()]
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise SystemExit(f"no such case(s): {unknown}; available: {list(available)}")
    return wanted


async def run_cases(numbers: list[int], quick: bool) -> list[Row]:
    cases = discover()
    rows: list[Row] = []
    async with throwaway_database() as db:
        await asyncio.to_thread(migrations.upgrade, db.url)
        with tempfile.TemporaryDirectory(prefix="payouts-bench-") as workdir:
            ctx = BenchContext(db, Path(workdir), QUICK if quick else FULL, quick)
            for number in numbers:
                case = cases[number]
                started = time.monotonic()
                print(f"case {number}: {case.title}...", flush=True)
                try:
                    rows += await case.run(ctx)
                except Exception as error:  # one broken case must not hide the others
                    print(f"case {number} FAILED: {error!r}", flush=True)
                    _print_server_logs(Path(workdir))
                    failed = Row(str(number), f"{case.title}: FAILED", None, None, None)
                    failed.notes.append(f"failed: {error!r}")
                    rows.append(failed)
                print(f"case {number} done in {time.monotonic() - started:.0f} s", flush=True)
    return rows


def _print_server_logs(workdir: Path, lines: int = 20) -> None:
    for log in sorted(workdir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last lines of {log.name}:", *tail, sep="\n", flush=True)


def settings_line() -> str:
    server = " ".join(uvicorn_argv("APP", 0, factory=False)[3:]).replace("--port 0 ", "")
    return (
        f"uvicorn {server} (pinned to cpu0 when there are 2+ cores); "
        f"wrk -t{THREADS} -c{CONNECTIONS} (cpu1); PostgreSQL, fresh database per run"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    numbers = selected(args.cases)
    ensure_wrk()
    started = time.monotonic()
    rows = asyncio.run(run_cases(numbers, args.quick))
    print()
    print(report.table(rows))
    for line in report.notes(rows):
        print(line)
    report.write_results(rows, quick=args.quick, settings=settings_line())
    print(f"\nwritten to {report.RESULTS} ({time.monotonic() - started:.0f} s in all)")
    return 1 if any(row.subject.endswith(": FAILED") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
