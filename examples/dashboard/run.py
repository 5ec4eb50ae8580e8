"""``make dashboard``: the payouts API on an embedded SQLite database and the dashboard beside
it, in one command. Ctrl-C stops both.

    API        http://127.0.0.1:8000/graphql   (trusted documents: this build's manifest)
    dashboard  http://127.0.0.1:5173/          (holds the demo organization's secret key)

The demo organization's keys are kept in examples/dashboard/.data/ (ignored by git) so a
restart shows the same payouts. Build the page first (``npm ci && npm run build``; the make
target does both).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = HERE / ".data"
MANIFEST = HERE / "src" / "gql" / "persisted-documents.json"
API_PORT = int(os.environ.get("DASHBOARD_API_PORT", "8000"))
PORT = int(os.environ.get("DASHBOARD_PORT", "5173"))
PAYOUTS = [sys.executable, "-m", "api.cli"]


def api_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PAYOUTS_DATABASE_URL": f"sqlite+aiosqlite:///{DATA / 'payouts.db'}",
            "PAYOUTS_TRUSTED_DOCUMENTS": str(MANIFEST),
            "PAYOUTS_CORS_ORIGINS": f"http://127.0.0.1:{PORT},http://localhost:{PORT}",
            "PAYOUTS_DEMO_ORG_ON_START": "false",
            "PAYOUTS_SANDBOX_DELAY_SECONDS": env.get("PAYOUTS_SANDBOX_DELAY_SECONDS", "2"),
        }
    )
    return env


def demo_key(env: dict[str, str]) -> str:
    saved = DATA / "organization.json"
    if not saved.exists():
        subprocess.run([*PAYOUTS, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
        created = subprocess.run(
            [*PAYOUTS, "create-org", "--name", "Dashboard demo"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        saved.write_text(created.stdout.strip().splitlines()[-1])
        saved.chmod(0o600)
    key: str = json.loads(saved.read_text())["testKey"]
    return key


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the API exited with status {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the API was not ready at {url} within {timeout:.0f}s")


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops both servers like Ctrl-C does


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    if not (HERE / "dist" / "index.html").exists() or not MANIFEST.exists():
        raise SystemExit("build the page first: cd examples/dashboard && npm ci && npm run build")
    DATA.mkdir(exist_ok=True)
    env = api_env()
    key = demo_key(env)
    api = subprocess.Popen([*PAYOUTS, "serve", "--port", str(API_PORT)], env=env, cwd=ROOT)
    processes = [api]
    try:
        wait_ready(f"http://127.0.0.1:{API_PORT}/readyz", api)
        dashboard_env = {
            **os.environ,
            "DASHBOARD_API_KEY": key,
            "DASHBOARD_API_URL": f"http://127.0.0.1:{API_PORT}/graphql",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, str(HERE / "server.py"), "--port", str(PORT)], env=dashboard_env
            )
        )
        print(f"\n  dashboard: http://127.0.0.1:{PORT}/   (Ctrl-C stops both)\n", flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
