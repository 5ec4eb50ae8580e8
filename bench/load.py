"""The load generator: Debian's ``wrk`` in its own process, pinned away from the server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.servers import LOAD_CPU, pinned

LUA_DIR = Path(__file__).resolve().parent / "lua"
THREADS = 2
CONNECTIONS = 64


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    status_errors: int  # non-2xx/3xx answers
    socket_errors: int
    timeouts: int
    wrapped: int  # times a thread started its prepared requests over
    refused: int = 0  # answers a script counted as refused (payout.lua: insufficient balance)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failures(self) -> int:
        return self.status_errors + self.socket_errors + self.timeouts


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: run `sudo apt-get install -y wrk`, then retry")
    print("installing wrk (apt-get install -y wrk)...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get did not provide wrk")
    return found


def run_wrk(
    url: str,
    *,
    script: str,
    seconds: float,
    env: dict[str, str] | None = None,
    connections: int = CONNECTIONS,
) -> LoadResult:
    threads = min(THREADS, connections)
    argv = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    argv += ["--latency", "--timeout", "5s", "-s", str(LUA_DIR / script), url]
    full_env = {**os.environ, **(env or {})}
    full_env.update(BENCH_LUA_DIR=str(LUA_DIR), BENCH_THREADS=str(threads))
    completed = subprocess.run(
        pinned(argv, LOAD_CPU), env=full_env, capture_output=True, text=True, timeout=seconds + 60
    )
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line.removeprefix("BENCH_JSON "))
            return LoadResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                status_errors=data["status_errors"],
                socket_errors=data["socket_errors"],
                timeouts=data["timeouts"],
                wrapped=data["wrapped"],
                refused=data.get("refused", 0),
            )
    raise RuntimeError(f"wrk gave no result:\n{completed.stdout}\n{completed.stderr}")
