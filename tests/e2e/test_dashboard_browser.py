"""The reference dashboard (examples/dashboard) in real Chromium: built with its own toolchain,
served by its own backend, talking to a real API server on another origin with a client
session and trusted documents only.

Onboarding completes live, a payout request shows its field error next to the field, a
payout goes PENDING → PAID without a reload (across a reconnect that mints a fresh session
and resumes from the last cursor). Every GraphQL request names a documentId and carries no
query; the secret key never reaches the browser.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, WebSocket, async_playwright, expect

from services.infra.database import Database
from tests.conftest import make_org
from tests.support.live_server import ROOT, LiveServer, free_port, start_server
from tests.support.orgs import TestOrg

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DASHBOARD = ROOT / "examples" / "dashboard"
MANIFEST = DASHBOARD / "src" / "gql" / "persisted-documents.json"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def built_dashboard() -> Path:
    """``npm ci`` (when needed) and ``npm run build``: codegen, type check, Vite."""
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to build examples/dashboard (.ci/run installs it)"
    if not (DASHBOARD / "node_modules" / ".package-lock.json").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=DASHBOARD, check=True)
    subprocess.run([npm, "run", "build"], cwd=DASHBOARD, check=True, capture_output=True)
    assert (DASHBOARD / "dist" / "index.html").exists() and MANIFEST.exists()
    return DASHBOARD / "dist"


@dataclass
class Dashboard:
    url: str
    api: LiveServer
    org: TestOrg
    log: Path


@pytest.fixture
async def dashboard(
    built_dashboard: Path, private_database_url: str, tmp_path: Path
) -> AsyncIterator[Dashboard]:
    """A database of its own: the session server's sandbox deliverer would otherwise claim this
    server's webhooks and apply them where this server's subscribers never hear of them (the
    SQLite bus is in-process)."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    db = Database(private_database_url)
    try:
        org = await make_org(db, "Dashboard Browser Co")
    finally:
        await db.dispose()
    with (
        start_server(
            private_database_url,
            tmp_path / "api.log",
            PAYOUTS_TRUSTED_DOCUMENTS=str(MANIFEST),
            PAYOUTS_CORS_ORIGINS=origin,
            # Slow enough to reconnect while the payout is on its way.
            PAYOUTS_SANDBOX_DELAY_SECONDS="1.5",
        ) as api,
        _dashboard_server(port, api, org, tmp_path / "dashboard.log") as log,
    ):
        yield Dashboard(origin, api, org, log)


@contextmanager
def _dashboard_server(port: int, api: LiveServer, org: TestOrg, log_path: Path) -> Iterator[Path]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PAYOUTS_", "DASHBOARD_"))},
        "DASHBOARD_API_KEY": org.test_key,
        "DASHBOARD_API_URL": api.graphql_url,
        "PYTHONPATH": str(ROOT),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, str(DASHBOARD / "server.py"), "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the dashboard backend did not start"
            time.sleep(0.1)
        yield log_path
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@dataclass
class Traffic:
    graphql_bodies: list[dict[str, Any]] = field(default_factory=list)
    ws_sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[str] = field(default_factory=list)  # every response body and ws frame
    sessions_minted: int = 0


def watch(page: Page, graphql_url: str) -> Traffic:
    traffic = Traffic()

    def on_request(request: Any) -> None:
        if request.url.startswith(graphql_url):
            if request.method == "POST":
                traffic.graphql_bodies.append(json.loads(request.post_data or "{}"))
            elif request.method == "GET":
                traffic.graphql_bodies.append({"url": request.url})
        if request.url.endswith("/session"):
            traffic.sessions_minted += 1

    async def on_response(response: Any) -> None:
        with contextlib.suppress(Exception):  # redirects and aborted requests have no body
            traffic.received.append(await response.text())

    def on_websocket(ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: traffic.ws_sent.append(json.loads(payload)))
        ws.on("framereceived", lambda payload: traffic.received.append(str(payload)))

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("websocket", on_websocket)
    return traffic


async def test_payout_goes_from_pending_to_paid_live_in_the_dashboard(
    browser: Browser, dashboard: Dashboard
) -> None:
    page = await browser.new_page()
    traffic = watch(page, dashboard.api.graphql_url)
    await page.goto(dashboard.url)
    await page.evaluate("window.__sameDocument = true")
    await expect(page.locator("#connection")).to_have_text("live", timeout=20_000)

    # Onboarding: the status arrives live (PENDING_VERIFICATION, then VERIFIED by webhook).
    await page.get_by_role("button", name="Complete verification").click()
    status = page.get_by_test_id("account-status")
    await expect(status).to_have_text("VERIFIED", timeout=20_000)

    # Funds (minted server-side with the key), then the balance updates live.
    await page.get_by_role("button", name="Add $500.00 test funds").click()
    await expect(page.locator('[data-balance="available"]')).to_have_text("$500.00", timeout=20_000)

    # A refused request: the userError sits next to its field.
    form = page.locator("#payout-form")
    await form.get_by_label("Amount (USD)").fill("5")
    await form.get_by_role("button", name="Request payout").click()
    await expect(page.get_by_test_id("amount-error")).to_contain_text("1000", timeout=10_000)

    await form.get_by_label("Amount (USD)").fill("25")
    await form.get_by_label("Description").fill("First payout")
    await form.get_by_role("button", name="Request payout").click()
    row = page.locator("#payouts tbody tr").first
    await expect(row.get_by_test_id("payout-status")).to_have_text("PENDING", timeout=10_000)
    await expect(page.get_by_test_id("amount-error")).to_have_text("", timeout=10_000)

    # A fresh session mid-flight; the subscription resumes from its last cursor.
    await page.get_by_role("button", name="Reconnect").click()
    await expect(page.locator("#connection")).to_have_text("live", timeout=20_000)
    await expect(row.get_by_test_id("payout-status")).to_have_text("PAID", timeout=30_000)
    await expect(page.locator('[data-balance="paidOut"]')).to_have_text("$25.00", timeout=20_000)
    assert await page.evaluate("window.__sameDocument") is True  # never reloaded
    assert traffic.sessions_minted >= 2

    # Every GraphQL request named a trusted document and carried no query text.
    assert traffic.graphql_bodies, "the page made no GraphQL request"
    for body in traffic.graphql_bodies:
        assert "query" not in body and str(body.get("documentId", "")).startswith("sha256:"), body
    subscribes = [m for m in traffic.ws_sent if m.get("type") == "subscribe"]
    assert len(subscribes) >= 6  # three live streams, twice
    for message in subscribes:
        assert not message["payload"].get("query"), message  # empty: graphql-ws needs a string
        assert message["payload"]["documentId"].startswith("sha256:")
    resumed = [m["payload"]["variables"].get("after") for m in subscribes[3:]]
    assert any(resumed), "the reconnect did not resume from a cursor"
    inits = [m for m in traffic.ws_sent if m.get("type") == "connection_init"]
    assert inits and all(m["payload"]["x-api-key"].startswith("cs_test_") for m in inits)

    # The secret key never reached the browser: not in any response, frame, script or page.
    key = dashboard.org.test_key
    assert all(key not in text for text in traffic.received)
    assert key not in await page.content()
    scripts = await page.evaluate(
        "Promise.all([...document.scripts].map(s => s.src ? fetch(s.src).then(r => r.text()) : s.text))"
    )
    assert scripts and all(key not in script for script in scripts)
    for asset in (DASHBOARD / "dist").rglob("*"):
        if asset.is_file():
            assert key.encode() not in asset.read_bytes()
    await page.close()
