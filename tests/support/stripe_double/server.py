"""``StripeDouble``: the HTTP server (uvicorn in a thread, on a free port), the Connect events
it sends to a webhook URL signed as Stripe signs them, and the controls tests steer it with
(reviews, bank outcomes, outages, hooks)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import queue
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import uvicorn
from starlette.requests import Request

from tests.support.stripe_double.app import build_app
from tests.support.stripe_double.state import State, new_id, now

API_VERSION = "2026-10-28.endive"
Hook = Callable[[dict[str, Any]], Awaitable[None] | None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """``Stripe-Signature``: HMAC-SHA256 keyed with the whole ``whsec_`` string over
    ``"<t>.<raw body>"``."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class StripeDouble:
    def __init__(
        self,
        *,
        api_key: str = "sk_test_double_0123456789abcdef",
        webhook_secret: str = "whsec_double_signing_secret",
        webhook_url: str | None = None,
        port: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.port = port or free_port()
        self.state = State(livemode=api_key.startswith(("sk_live_", "rk_live_")))
        self.outage: str | None = None  # "503" / "429" answer so; stop() closes the port
        self.hold_events = False  # queue events without delivering (reordering tests)
        self.deliveries: list[tuple[str, int | str]] = []
        self._hooks: dict[str, list[Hook]] = {}
        self._lose_answers: dict[str, int] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._held: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> StripeDouble:
        config = uvicorn.Config(
            build_app(self),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="stripe-double", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Stripe double did not start")
            time.sleep(0.01)
        if self._sender is None:
            self._sender = threading.Thread(target=self._send_loop, name="stripe-double-events")
            self._sender.daemon = True
            self._sender.start()
        return self

    def stop(self) -> None:
        """Close the port (connection refused), keeping every object: ``start()`` resumes."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def close(self) -> None:
        self.stop()
        if self._sender is not None:
            self._outbox.put(None)
            self._sender.join(timeout=10)
            self._sender = None

    def __enter__(self) -> StripeDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def down(self, mode: str = "stopped") -> Iterator[None]:
        """An outage: ``stopped`` (port closed), ``503`` (Stripe answers 503) or ``429``
        (rate limited)."""
        if mode in ("503", "429"):
            self.outage = mode
        else:
            self.stop()
        try:
            yield
        finally:
            self.outage = None
            if self._server is None:
                self.start()

    # -- hooks ------------------------------------------------------------------------------

    def on_created(self, object_type: str, hook: Hook) -> None:
        """Run ``hook(object)`` after an object of this type is stored, before the answer."""
        self._hooks.setdefault(object_type, []).append(hook)

    def remove_hooks(self, object_type: str) -> None:
        self._hooks.pop(object_type, None)

    def lose_next_answer(self, object_type: str, times: int = 1) -> None:
        """Store the next created object of this type, then answer 500 (a lost response)."""
        self._lose_answers[object_type] = times

    async def run_hooks(self, request: Request, body: dict[str, Any]) -> None:
        if request.method != "POST":
            return
        for hook in self._hooks.get(str(body.get("object")), []):
            result = hook(copy.deepcopy(body))
            if asyncio.iscoroutine(result):
                await result

    def take_lost_answer(self, request: Request, body: dict[str, Any]) -> bool:
        kind = str(body.get("object"))
        if request.method != "POST" or self._lose_answers.get(kind, 0) <= 0:
            return False
        self._lose_answers[kind] -= 1
        return True

    # -- reading state (tests) --------------------------------------------------------------

    def objects(self, kind: str) -> list[dict[str, Any]]:
        with self.state.lock:
            if kind == "transfer":
                return copy.deepcopy(list(self.state.transfers.values()))
            if kind == "payout":
                rows = [p for by in self.state.payouts.values() for p in by.values()]
                return copy.deepcopy(rows)
            if kind == "account":
                return [self.state.account_view(a) for a in self.state.accounts]
            if kind == "bank_account":
                rows = [b for by in self.state.external_accounts.values() for b in by.values()]
                return copy.deepcopy(rows)
            if kind == "file":
                return copy.deepcopy(list(self.state.files.values()))
            if kind == "person":
                rows = [p for by in self.state.persons.values() for p in by.values()]
                return copy.deepcopy(rows)
        raise ValueError(kind)

    def file_bytes(self, file_id: str) -> bytes:
        with self.state.lock:
            return self.state.file_bytes[file_id]

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            return [
                copy.deepcopy(r)
                for r in self.state.requests
                if (method is None or r["method"] == method) and (path is None or r["path"] == path)
            ]

    # -- steering (tests) -------------------------------------------------------------------

    def review_account(
        self, account_id: str, outcome: str, *, due: list[str] | None = None
    ) -> dict[str, Any]:
        """Stripe's verification finishes: ``verified``, ``requirements_due`` or
        ``rejected.<reason>``; sends ``account.updated``."""
        with self.state.lock:
            before = self.state.account_view(account_id)
            self.state.review_account(account_id, outcome, due=due)
            return self.account_changed(before, self.state.account_view(account_id))

    def settle_payout(
        self,
        payout_id: str,
        status: str | None = None,
        failure_code: str | None = None,
    ) -> dict[str, Any]:
        """The bank answers: ``in_transit``, ``paid`` or ``failed``; without a status, what
        Stripe's test bank accounts do for this destination. Sends the payout event."""
        with self.state.lock:
            account_id = self._payout_owner(payout_id)
            if status is None:
                status, failure_code = self.state.natural_outcome(account_id, payout_id)
            before = copy.deepcopy(self.state.payout(account_id, payout_id))
            payout = self.state.settle_payout(account_id, payout_id, status, failure_code)
            event_type = {
                "paid": "payout.paid",
                "failed": "payout.failed",
            }.get(status, "payout.updated")
            return self.emit(event_type, payout, account=account_id, before=before)

    def _payout_owner(self, payout_id: str) -> str:
        for account_id, payouts in self.state.payouts.items():
            if payout_id in payouts:
                return account_id
        raise KeyError(payout_id)

    # -- events -----------------------------------------------------------------------------

    def account_changed(self, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        return self.emit("account.updated", after, account=after["id"], before=before)

    def emit(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        account: str | None = None,
        before: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record an event as Stripe builds it and queue it for the webhook endpoint."""
        previous = None
        if before is not None:
            previous = {k: v for k, v in before.items() if obj.get(k) != v}
        event: dict[str, Any] = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": self.state.livemode,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        if previous is not None:
            event["data"]["previous_attributes"] = previous
        if account is not None:
            event["account"] = account
        with self.state.lock:
            self.state.events.append(event)
        if self.webhook_url is not None:
            if self.hold_events:
                self._held.append(event)
            else:
                self._outbox.put(event)
        return event

    def held_events(self) -> list[dict[str, Any]]:
        taken, self._held = self._held, []
        return taken

    def deliver(
        self,
        event: dict[str, Any],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """POST one event now, signed (with another secret or time to test refusals)."""
        assert self.webhook_url is not None
        payload = body if body is not None else json.dumps(event, indent=2).encode()
        header = sign(payload, secret or self.webhook_secret, timestamp or int(time.time()))
        return httpx.post(
            self.webhook_url,
            content=payload,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": header,
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
            timeout=10,
        )

    def wait_delivered(self, timeout: float = 10.0) -> None:
        """Until every queued event got a 2xx (or gave up)."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError("Stripe double events not delivered")
            time.sleep(0.02)

    def _send_loop(self) -> None:
        while True:
            event = self._outbox.get()
            try:
                if event is None:
                    return
                for attempt in range(20):
                    try:
                        status: int | str = self.deliver(event).status_code
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    self.deliveries.append((event["id"], status))
                    if isinstance(status, int) and 200 <= status < 300:
                        break
                    time.sleep(min(0.1 * 2**attempt, 2.0))
            finally:
                self._outbox.task_done()
