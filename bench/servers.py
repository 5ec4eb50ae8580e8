"""Start an ASGI app under uvicorn in its own process, with the same settings for every case."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Server on one core, load generator on the other, when the machine has two or more.
SERVER_CPU = "0"
LOAD_CPU = "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(argv: list[str], cpu: str) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", cpu, *argv]
    return argv


def uvicorn_argv(app: str, port: int, *, factory: bool) -> list[str]:
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", "1", "--loop", "uvloop", "--http", "httptools", "--ws", "auto"]
    # As ``payouts serve`` runs it (proxy headers off), minus the access log.
    argv += ["--no-proxy-headers", "--log-level", "warning", "--no-access-log"]
    return [*argv, "--factory"] if factory else argv


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def cpu_seconds(self) -> float:
        """user+system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(
    name: str,
    app: str,
    *,
    env: dict[str, str],
    workdir: Path,
    factory: bool = False,
    cpu: str = SERVER_CPU,
) -> Iterator[Server]:
    """Run ``app`` (``module:attr``) until the block ends; it must answer ``GET /healthz``."""
    port = free_port()
    log_path = workdir / f"{name}.log"
    full_env = {**os.environ, **env, "PAYOUTS_HOST": "127.0.0.1", "PAYOUTS_PORT": str(port)}
    full_env["PYTHONPATH"] = str(ROOT)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            pinned(uvicorn_argv(app, port, factory=factory), cpu),
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_ready(server)
        yield server
    finally:
        _stop(process)


def _wait_ready(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited; see {server.log_path}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not start in {timeout:.0f} s; see {server.log_path}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
