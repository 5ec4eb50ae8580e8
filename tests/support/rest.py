"""Drive ``/api/v1`` with the platform's official SDKs, pointed at a test server.

Neither SDK takes a base URL: the Python SDK's httpx client gets ours assigned
(``base_url``), the Node SDK's ``fetch`` is redirected by ``commet_node_client.mjs``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from commet import AsyncCommet, Commet

from tests.support.live_server import ROOT, LiveServer
from tests.support.sensitive import remember_sensitive_fields

NODE_CLIENT = ROOT / "tests" / "support" / "commet_node_client.mjs"
LEGACY_VERSION = "2026-07-11"  # what @commet/node 7.x pins


def rest_url(server: LiveServer) -> str:
    return f"{server.url}/api/v1"


@asynccontextmanager
async def python_sdk(server: LiveServer, key: str, **options: Any) -> AsyncIterator[AsyncCommet]:
    client = AsyncCommet(key, retries=options.pop("retries", 0), telemetry=False, **options)
    client._http._client.base_url = httpx.URL(rest_url(server))
    try:
        yield client
    finally:
        await client.close()


async def node_sdk(
    server: LiveServer, key: str, calls: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run ``calls`` (``{"resource", "method", "params", "options"}``) through @commet/node in
    one Node process; one ``{"ok", "result" | "error"}`` per call."""
    remember_sensitive_fields([call.get("params") for call in calls])
    process = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_CLIENT),
        server.url,
        key,
        cwd=ROOT,
        env={**os.environ, "COMMET_NO_UPDATE_CHECK": "1"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(json.dumps(calls).encode()), 60)
    assert process.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert len(lines) == len(calls), (out.decode(), err.decode())
    return lines


def call(resource: str, method: str, params: Any = None, **options: Any) -> dict[str, Any]:
    return {"resource": resource, "method": method, "params": params, "options": options or None}


class RestClient:
    """Plain HTTP against /api/v1 (for what the SDKs cannot send: bad keys, raw bodies...)."""

    def __init__(self, server: LiveServer, key: str | None = None) -> None:
        headers = {"x-api-key": key} if key else {}
        self.http = httpx.AsyncClient(base_url=rest_url(server), headers=headers, timeout=30)

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        remember_sensitive_fields(kwargs.get("json"))
        return await self.http.request(method, path, **kwargs)


def kyc_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``POST /payouts/verification`` body (individual, sandbox document host)."""
    body: dict[str, Any] = {
        "email": "ada@example.com",
        "businessType": "individual",
        "businessUrl": "https://ada.example.com",
        "documentUrl": "https://docs.sandbox.test/passport.pdf",
        "bank": {
            "accountNumber": "000123456789",
            "accountHolderName": "Ada Lovelace",
            "routingNumber": "110000000",
            "accountType": "checking",
        },
        "individual": {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "phone": "+14155550100",
            "dateOfBirth": "1985-12-10",
            "ssnLast4": "4321",
            "idNumber": "123456789",
            "address": {
                "line1": "1 Analytical Way",
                "city": "London",
                "postalCode": "N1 9GU",
                "country": "GB",
            },
        },
    }
    body.update(overrides)
    return body


def sync_python_sdk(server: LiveServer, key: str, **options: Any) -> Commet:
    """The blocking client (use it from a thread in async tests); close it when done."""
    client = Commet(key, retries=options.pop("retries", 0), telemetry=False, **options)
    client._http._client.base_url = httpx.URL(rest_url(server))
    return client
