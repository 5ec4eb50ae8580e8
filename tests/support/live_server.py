"""Run the real server (``payouts serve``) as a subprocess on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.sensitive import SERVER_LOGS

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return self.graphql_url.replace("http://", "ws://")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


TEST_CLIENT_SESSION_SECRET = "test-client-session-secret-0123456789abcdef"


def server_env(database_url: str, port: int, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTS_")}
    env.update(
        {
            "PAYOUTS_DATABASE_URL": database_url,
            "PAYOUTS_HOST": "127.0.0.1",
            "PAYOUTS_PORT": str(port),
            "PAYOUTS_SANDBOX_DELAY_SECONDS": "0.2",
            "PAYOUTS_DEMO_ORG_ON_START": "false",
            # Several servers share the test PostgreSQL (max_connections 100 by default).
            "PAYOUTS_DB_POOL_SIZE": "5",
            # Production shape (PostgreSQL) refuses the development default.
            "PAYOUTS_CLIENT_SESSION_SECRET": TEST_CLIENT_SESSION_SECRET,
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(overrides)
    return env


@contextmanager
def start_server(
    database_url: str, log_path: Path, *, port: int | None = None, **overrides: str
) -> Iterator[LiveServer]:
    port = port or free_port()
    SERVER_LOGS.append(log_path)
    env = server_env(database_url, port, **overrides)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--no-migrate"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    live = LiveServer(f"http://127.0.0.1:{port}", port, process, log_path, env)
    try:
        wait_until_ready(live)
        yield live
    finally:
        stop(process)


def wait_until_ready(live: LiveServer, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if live.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{live.log_text()}")
        try:
            if httpx.get(f"{live.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"server not ready in {timeout}s:\n{live.log_text()}")


def stop(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
