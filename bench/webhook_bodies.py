"""Signed sandbox webhook requests, prepared ahead of a run (signing is not what we measure)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks.webhooks import Webhook

ACCOUNT_STATUSES = ("pending", "verified", "restricted")
TRANSFER_STATUSES = ("pending", "in_transit", "paid", "failed")
# Duplicates follow their originals one block later (like provider retries). The block is a
# multiple of wrk's thread count, so an original and its duplicate go to the same thread.
DUPLICATE_BLOCK = 64


def event(index: int, now: datetime) -> dict[str, object]:
    if index % 2:
        obj = {
            "id": f"sbacct_bench{secrets.token_hex(6)}",
            "status": ACCOUNT_STATUSES[index % 3],
            "transfers_enabled": index % 3 == 1,
        }
        kind = "account.updated"
    else:
        obj = {"id": f"sbtr_bench{secrets.token_hex(6)}", "status": TRANSFER_STATUSES[index % 4]}
        kind = "transfer.updated"
    return {
        "id": f"sbevt_bench{secrets.token_hex(8)}",
        "type": kind,
        "created": now.isoformat(),
        "livemode": False,
        "data": {"object": obj},
    }


def signed(
    signer: Webhook, payload: dict[str, object], now: datetime
) -> tuple[dict[str, str], str]:
    """Standard Webhooks headers and the body, as the sandbox signs them."""
    body = json.dumps(payload, separators=(",", ":"))
    message_id = str(payload["id"])
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signer.sign(message_id, now, body),
    }
    return headers, body


def transfer_event(transfer_id: str, status: str) -> dict[str, object]:
    return {
        "id": f"sbevt_bench{secrets.token_hex(8)}",
        "type": "transfer.updated",
        "created": datetime.now(UTC).isoformat(),
        "livemode": False,
        "data": {"object": {"id": transfer_id, "status": status}},
    }


def signed_lines(secret: str, count: int) -> Iterator[str]:
    signer = Webhook(secret)
    now = datetime.now(UTC)
    for index in range(count):
        headers, body = signed(signer, event(index, now), now)
        yield "|".join(f"{k}: {v}" for k, v in headers.items()) + "\t" + body


def write(path: Path, secret: str, count: int, *, duplicates: bool) -> int:
    """Write ``count`` unique events (each twice when ``duplicates``); returns the line count."""
    lines = list(signed_lines(secret, count))
    if duplicates:
        doubled: list[str] = []
        for start in range(0, len(lines), DUPLICATE_BLOCK):
            block = lines[start : start + DUPLICATE_BLOCK]
            doubled += block + block
        lines = doubled
    path.write_text("\n".join(lines) + "\n")
    return len(lines)
