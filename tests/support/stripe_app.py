"""The real app configured for Stripe (settings from the environment), with one test-only
change: the guarded document download reaches a local TLS server through an injected resolver,
connector and trust store (every check of the download still runs). Run as its own uvicorn
process by ``start_stripe_server``."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.applications import Starlette

from api.app import create_app
from services.payout_accounts.documents import DocumentFetcher
from tests.support.live_server import ROOT, LiveServer, server_env, stop, wait_until_ready
from tests.support.sensitive import SERVER_LOGS
from tests.support.stripe_double import StripeDouble
from tests.support.tls_server import RedirectingConnector, static_resolver

DOCS_HOST = "docs.example.com"
DOCS_PUBLIC_IP = "93.184.216.34"  # what the injected resolver answers for DOCS_HOST
# Fast retries: outages here last a second, not an hour.
FAST_RECOVERY = {
    "PAYOUTS_RECONCILER_INTERVAL_SECONDS": "0.2",
    "PAYOUTS_PAYOUT_RETRY_BASE_SECONDS": "0.2",
    "PAYOUTS_PAYOUT_RETRY_GRACE_SECONDS": "0.5",
    "PAYOUTS_PAYOUT_CLAIM_LEASE_SECONDS": "1",
    "PAYOUTS_PAYOUT_MAX_ATTEMPTS": "50",
}


def create_stripe_test_app() -> Starlette:
    app = create_app()
    context = ssl.create_default_context(cafile=os.environ["STRIPE_E2E_DOCS_CA"])
    app.state.payouts.services.document_fetcher = DocumentFetcher(
        resolver=static_resolver({DOCS_HOST: [DOCS_PUBLIC_IP]}),  # type: ignore[arg-type]
        connector=RedirectingConnector(int(os.environ["STRIPE_E2E_DOCS_PORT"])),
        ssl_context=context,
    )
    return app


def stripe_env(double: StripeDouble, *, test_provider: bool = False) -> dict[str, str]:
    env = {
        "PAYOUTS_STRIPE_SECRET_KEY": double.api_key,
        "PAYOUTS_STRIPE_WEBHOOK_SECRET": double.webhook_secret,
        "PAYOUTS_STRIPE_API_BASE": double.url,
        "PAYOUTS_SECRET_KEY": "e2e-stripe-secret-key-not-the-default",
        **FAST_RECOVERY,
    }
    if test_provider:
        env["PAYOUTS_TEST_PROVIDER"] = "stripe"
        env["PAYOUTS_LIVE_PROVIDER"] = "none"
    return env


@contextmanager
def start_stripe_server(
    database_url: str,
    log_path: Path,
    *,
    port: int,
    double: StripeDouble,
    docs_port: int,
    docs_ca: Path,
    test_provider: bool = False,
    **overrides: str,
) -> Iterator[LiveServer]:
    SERVER_LOGS.append(log_path)
    env = server_env(
        database_url,
        port,
        STRIPE_E2E_DOCS_PORT=str(docs_port),
        STRIPE_E2E_DOCS_CA=str(docs_ca),
        **{**stripe_env(double, test_provider=test_provider), **overrides},
    )
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.support.stripe_app:create_stripe_test_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
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
