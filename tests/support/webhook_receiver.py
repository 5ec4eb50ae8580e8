"""A merchant's webhook receiver on loopback: a real uvicorn server in a helper thread that
verifies every delivery with the platform's official SDK (``commet.Commet(...).webhooks.verify``)
and with ``standardwebhooks``, records it, and answers as the test scripts it (a status
sequence per path, a delay)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from commet import Commet
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support.live_server import free_port

COMMET = Commet(api_key="ck_test_receiver", telemetry=False)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    at: float
    commet_valid: dict[str, bool]  # secret -> X-Commet-Signature verifies with it
    commet_previous_valid: dict[str, bool]  # secret -> X-Commet-Signature-Previous verifies
    standard_valid: dict[str, bool]  # secret -> the Standard Webhooks headers verify with it

    @property
    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value

    @property
    def event_id(self) -> str:
        return str(self.json["id"])

    @property
    def event(self) -> str:
        return str(self.json["event"])


@dataclass
class Script:
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    delay: float = 0.0
    fail_first_per_event: bool = False  # 500 to each event's first delivery, then 200
    seen: set[str] = field(default_factory=set)


class Receiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.secrets: dict[str, list[str]] = {}  # path -> secrets to check against
        self.scripts: dict[str, Script] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    async def wait_for(
        self, path: str, count: int, timeout: float = 20.0, *, exactly: bool = False
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.on(path)
            if len(found) >= count:
                if exactly:
                    await asyncio.sleep(1.0)  # nothing more may arrive
                    found = self.on(path)
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.on(path))} deliveries, wanted {count}")

    async def _handle(self, request: Request) -> PlainTextResponse:
        path = request.url.path
        body = (await request.body()).decode()
        headers = {k.lower(): v for k, v in request.headers.items()}
        secrets = list(self.secrets.get(path, []))
        record = Received(
            path=path,
            headers=headers,
            body=body,
            at=time.monotonic(),
            commet_valid={
                s: COMMET.webhooks.verify(
                    payload=body, signature=headers.get("x-commet-signature"), secret=s
                )
                for s in secrets
            },
            commet_previous_valid={
                s: COMMET.webhooks.verify(
                    payload=body, signature=headers.get("x-commet-signature-previous"), secret=s
                )
                for s in secrets
            },
            standard_valid={s: _standard_ok(s, body, headers) for s in secrets},
        )
        with self._lock:
            self.received.append(record)
            script = self.scripts.get(path)
            status = script.statuses.pop(0) if script and script.statuses else 200
            if script and script.fail_first_per_event:
                event_id = json.loads(body)["id"]
                status = 200 if event_id in script.seen else 500
                script.seen.add(event_id)
            delay = script.delay if script else 0.0
        if delay:
            await asyncio.sleep(delay)
        return PlainTextResponse(f"answered {status} " + "x" * 2000, status_code=status)

    def start(self) -> None:
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("receiver did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = None


def _standard_ok(secret: str, body: str, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
