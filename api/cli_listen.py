"""``payouts listen URL``: forward the organization's events to a local URL (development)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from http import HTTPStatus

from api.settings import Settings
from services.infra.database import Database
from services.organizations import api_keys
from services.webhook_endpoints.envelope import EVENT_TYPES
from services.webhook_endpoints.listen import Forwarded, forward, local_url
from services.webhook_endpoints.secrets import new_secret


def listen_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="where to forward: a URL, host:port/path, or a port")
    p.add_argument(
        "--api-key",
        default=None,
        help="the organization's key (or PAYOUTS_LISTEN_API_KEY); its mode picks the events",
    )
    p.add_argument("--events", default="", help="comma-separated event types (default: all)")
    p.add_argument("--secret", default=None, help="sign with this whsec_ secret (default: new)")


def listen(args: argparse.Namespace, settings: Settings) -> int:
    key = args.api_key or os.environ.get("PAYOUTS_LISTEN_API_KEY")
    if not key:
        _say("an API key is required: --api-key or PAYOUTS_LISTEN_API_KEY", error=True)
        return 2
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        _say(f"unknown event types: {', '.join(unknown)}", error=True)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_listen(settings, key, local_url(args.url), events, args.secret))
    return 0


async def _listen(
    settings: Settings, key: str, url: str, events: list[str], secret: str | None
) -> None:
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            found = await api_keys.authenticate(session, key)
        if found is None:
            _say("  ✗ The API key was not accepted", error=True)
            raise SystemExit(2)
        viewer = found[0]
        secret = secret or new_secret()
        mode = "live" if viewer.livemode else "sandbox"
        _say(f"  ✓ Authenticated (org: {viewer.organization_name}, mode: {mode})")
        _say(f"  ⟶ Forwarding to {url}")
        _say(f"  ⟶ Signing secret: {secret}")
        _say("\n  Ready! Listening for webhook events...\n")
        async for item in forward(db, viewer, url, secret, events=events):
            _say(_line(item))
    finally:
        await db.dispose()


def _line(item: Forwarded) -> str:
    clock = item.at.astimezone().strftime("%H:%M:%S")
    outcome = item.outcome
    if outcome.status_code is not None:
        try:
            phrase = HTTPStatus(outcome.status_code).phrase
        except ValueError:
            phrase = ""
        result = f"{outcome.status_code} {phrase}".strip()
    else:
        result = f"✗ {outcome.error}"
    return f"  {clock}  {item.event_type:<24}  →  {result}  ({outcome.duration_ms}ms)"


def _say(text: str, *, error: bool = False) -> None:
    stream = sys.stderr if error else sys.stdout
    stream.write(text + "\n")
    stream.flush()
