"""Browser edges for client sessions, from real Chromium pages on other origins: CORS lets a
listed origin send ``Authorization`` or ``X-Api-Key`` with a token (after a real preflight),
and the WebSocket ``Origin`` check holds for tokens as it does for keys."""

from __future__ import annotations

import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.support.client_sessions import document_id, mint, write_manifest
from tests.support.live_server import LiveServer, start_server
from tests.support.orgs import TestOrg

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BALANCE = "query Balance { balance { currency } }"
LIVE = "subscription Live { balanceUpdated { cursor } }"


class _Blank(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><p>a frontend</p>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def page_server() -> Iterator[str]:
    """A real loopback origin for a page (Chromium refuses pages of unknown address space
    access to loopback before CORS is even asked)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Blank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def origins() -> Iterator[tuple[str, str]]:
    with page_server() as allowed, page_server() as other:
        yield allowed, other


@pytest.fixture(scope="module")
def cors_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, origins: tuple[str, str]
) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("cors")
    manifest = write_manifest(directory / "documents.json", [BALANCE, LIVE])
    with start_server(
        database_url,
        directory / "server.log",
        PAYOUTS_TRUSTED_DOCUMENTS=str(manifest),
        PAYOUTS_CORS_ORIGINS=origins[0],
    ) as live:
        yield live


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield launched
        await launched.close()


async def page_on(browser: Browser, origin: str) -> Page:
    page = await browser.new_page()
    await page.goto(f"{origin}/")
    return page


FETCH = """async ([url, header, value, id]) => {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {"content-type": "application/json", [header]: value},
      body: JSON.stringify({documentId: id}),
    });
    return {status: response.status, body: await response.json()};
  } catch (error) {
    return {blocked: String(error)};
  }
}"""

SOCKET = """([url, token, id]) => new Promise((resolve) => {
  const socket = new WebSocket(url, "graphql-transport-ws");
  const seen = [];
  socket.onopen = () => socket.send(JSON.stringify({type: "connection_init", payload: {"x-api-key": token}}));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    seen.push(message.type);
    if (message.type === "connection_ack") {
      socket.send(JSON.stringify({id: "1", type: "subscribe", payload: {query: "", documentId: id}}));
      setTimeout(() => { socket.close(1000); }, 300);
    }
  };
  socket.onclose = (event) => resolve({code: event.code, seen});
})"""


@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key"])
async def test_a_listed_origin_sends_a_token_after_a_preflight(
    browser: Browser,
    cors_server: LiveServer,
    origins: tuple[str, str],
    org: TestOrg,
    header: str,
) -> None:
    allowed, other_origin = origins
    token = await mint(cors_server.graphql_url, org.test_key, ["PAYOUTS_READ"])
    value = f"Bearer {token}" if header == "Authorization" else token
    page = await page_on(browser, allowed)
    result = await page.evaluate(
        FETCH, [cors_server.graphql_url, header, value, document_id(BALANCE)]
    )
    assert result.get("status") == 200, result
    assert result["body"]["data"] == {"balance": {"currency": "usd"}}
    assert "OPTIONS /graphql 200" in cors_server.log_text()  # the browser asked first
    other = await page_on(browser, other_origin)
    refused = await other.evaluate(
        FETCH, [cors_server.graphql_url, header, value, document_id(BALANCE)]
    )
    assert "blocked" in refused, refused  # the browser refuses: no CORS grant for that origin
    await page.close()
    await other.close()


async def test_the_preflight_answer(cors_server: LiveServer, origins: tuple[str, str]) -> None:
    async with httpx.AsyncClient() as http:
        for origin, granted in ((origins[0], True), (origins[1], False)):
            response = await http.options(
                cors_server.graphql_url,
                headers={
                    "origin": origin,
                    "access-control-request-method": "POST",
                    "access-control-request-headers": "authorization, x-api-key, content-type",
                },
            )
            allowed = response.headers.get("access-control-allow-origin")
            assert (allowed == origin) is granted
            if granted:
                headers = response.headers["access-control-allow-headers"].lower()
                assert "authorization" in headers and "x-api-key" in headers
                assert "access-control-allow-credentials" not in response.headers


async def test_websocket_origin_check_holds_for_tokens(
    browser: Browser, cors_server: LiveServer, origins: tuple[str, str], org: TestOrg
) -> None:
    token = await mint(cors_server.graphql_url, org.test_key, ["PAYOUTS_READ"])
    listed = await page_on(browser, origins[0])
    accepted = await listed.evaluate(SOCKET, [cors_server.ws_url, token, document_id(LIVE)])
    assert accepted["seen"][0] == "connection_ack", accepted
    assert accepted["code"] == 1000
    elsewhere = await page_on(browser, origins[1])
    refused = await elsewhere.evaluate(SOCKET, [cors_server.ws_url, token, document_id(LIVE)])
    assert refused["seen"] == [] and refused["code"] != 1000, refused
    await listed.close()
    await elsewhere.close()
