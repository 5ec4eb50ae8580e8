"""GraphiQL in a real headless Chromium (Debian's, driven by Playwright): the README's walkthrough
step by step, its operations read from README.md; assets come from this server, never a CDN."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from api.graphiql import ASSET_FILES
from tests.support.live_client import open_subscriptions, wait_for_open_subscriptions
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

README = Path(__file__).resolve().parents[2] / "README.md"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUERY = "{ viewer { organization { name } } }"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def open_graphiql(browser: Browser, server: LiveServer) -> tuple[Page, list[str]]:
    page = await browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await page.goto(server.graphql_url, wait_until="networkidle")
    await page.wait_for_selector(".graphiql-container", timeout=20_000)
    return page, requested


async def set_editor(page: Page, selector: str, text: str) -> None:
    await page.locator(selector).first.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Backspace")
    await page.keyboard.insert_text(text)


def walkthrough_blocks() -> tuple[str, dict[str, tuple[str, str | None]]]:
    """The README's "Try it in GraphiQL": its headers block, and each operation by name with the
    variables block that follows it (if any)."""
    section = README.read_text().split("## Try it in GraphiQL", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    headers = blocks[0][1]
    assert blocks[0][0] == "json" and "x-api-key" in headers
    operations: dict[str, tuple[str, str | None]] = {}
    for index, (language, body) in enumerate(blocks[1:], start=1):
        if language != "graphql":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else ("", "")
        variables = following[1] if following[0] == "json" else None
        name = re.search(r"\b(?:query|mutation|subscription)\s+(\w+)", body)
        assert name, f"unnamed operation in the README walkthrough: {body}"
        operations[name.group(1)] = (
            textwrap.dedent(body),
            variables and textwrap.dedent(variables),
        )
    return headers, operations


async def set_tool_editor(page: Page, tab: str, text: str) -> None:
    await page.get_by_role("button", name=tab, exact=True).click()
    await set_editor(page, ".graphiql-editor-tool .CodeMirror >> visible=true", text)


async def run(
    page: Page, operation: tuple[str, str | None], *expected: str, timeout: float = 20.0
) -> str:
    """Paste the operation (and its variables) as the README says, run it, wait for the texts."""
    query, variables = operation
    await set_editor(page, ".graphiql-query-editor .CodeMirror", query)
    if variables is not None:
        await set_tool_editor(page, "Variables", variables)
    # GraphiQL reads the operation's name from the editor a moment after a change, as a person
    # pasting then reaching for the run button gives it.
    await asyncio.sleep(0.5)
    await page.locator(".graphiql-execute-button").click()
    return await response_showing(page, *expected, timeout=timeout)


async def response_showing(page: Page, *expected: str, timeout: float = 20.0) -> str:
    result = page.locator(".graphiql-response")
    deadline = asyncio.get_running_loop().time() + timeout
    shown = ""
    while asyncio.get_running_loop().time() < deadline:
        shown = await result.inner_text()
        if all(text in shown for text in expected):
            return shown
        await asyncio.sleep(0.05)
    raise AssertionError(f"GraphiQL never showed {expected} within {timeout} s; it shows:\n{shown}")


async def test_readme_walkthrough_step_by_step(
    browser: Browser, server: LiveServer, org: TestOrg
) -> None:
    headers, operations = walkthrough_blocks()
    assert list(operations) == [
        "Viewer",
        "Verify",
        "AccountStatus",
        "WatchPayouts",
        "Fund",
        "Payout",
        "WatchMissing",
    ]
    key_headers = headers.replace("ck_test_...", org.test_key)
    first, _ = await open_graphiql(browser, server)
    # 1. the key in the Headers editor; 2. the first query.
    await set_tool_editor(first, "Headers", key_headers)
    await run(first, operations["Viewer"], org.name)
    # 3. KYC with the README's variables; 4. VERIFIED once the sandbox's webhook lands.
    assert json.loads(operations["Verify"][1] or "")["input"]["documentUrl"]
    await run(first, operations["Verify"], '"CREATED"', "PENDING_VERIFICATION")
    async with asyncio.timeout(20):
        while "VERIFIED" not in (await run(first, operations["AccountStatus"], "status")).replace(
            "PENDING_VERIFICATION", ""
        ):
            await asyncio.sleep(0.3)
    # 5. A second tab watches payouts.
    second, _ = await open_graphiql(browser, server)
    await set_tool_editor(second, "Headers", key_headers)
    baseline = await open_subscriptions(server)
    await run(second, operations["WatchPayouts"])
    await wait_for_open_subscriptions(server, baseline + 1)
    # 6. Fund, then request a payout, one block at a time; the second tab reaches payout.paid.
    await run(first, operations["Fund"], '"available": 5000')
    shown = await run(first, operations["Payout"], "PENDING", '"userErrors": []')
    payout_id = re.search(r'"id": "(po_\w+)"', shown)
    assert payout_id, shown
    paid = await response_showing(second, "payout.paid", "PAID")
    assert payout_id.group(1) in paid
    assert '"cost"' not in paid  # charged once at subscribe, not repeated on every event
    # 7. (stop the running subscription first) A refused subscription shows the server's error,
    # code included, at once.
    await second.locator(".graphiql-execute-button").click()
    refused = await run(second, operations["WatchMissing"], "NOT_FOUND", timeout=5)
    assert "No payout with this id" in refused
    # ... and a wrong key names the header to fix, at once.
    await set_tool_editor(first, "Headers", headers.replace("ck_test_...", "ck_test_wrong"))
    await run(first, operations["Viewer"], "UNAUTHENTICATED", "x-api-key", timeout=5)
    await first.close()
    await second.close()


async def test_graphiql_shows_a_bad_cursor_error_with_its_code(
    browser: Browser, server: LiveServer, org: TestOrg
) -> None:
    page, _ = await open_graphiql(browser, server)
    await set_tool_editor(page, "Headers", f'{{"x-api-key": "{org.test_key}"}}')
    shown = await run(
        page,
        ('subscription { payoutUpdated(after: "not-a-cursor") { type } }', None),
        "BAD_USER_INPUT",
    )
    assert "subscription failed" not in shown
    await page.close()


async def test_graphiql_runs_viewer_query_with_key_header(
    browser: Browser, server: LiveServer, org: TestOrg
) -> None:
    page, requested = await open_graphiql(browser, server)
    await set_editor(page, ".graphiql-query-editor .CodeMirror", QUERY)
    await page.get_by_role("button", name="Headers", exact=True).click()
    await set_editor(
        page,
        ".graphiql-editor-tool .CodeMirror >> visible=true",
        f'{{"x-api-key": "{org.test_key}"}}',
    )
    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response")
    await result.get_by_text(org.name).wait_for(timeout=15_000)
    assert org.name in await result.inner_text()
    hosts = {urlparse(url).netloc for url in requested if url.startswith("http")}
    assert hosts == {urlparse(server.url).netloc}, hosts  # no CDN, nothing off-server
    assert org.test_key not in page.url  # header values never enter the URL
    await page.close()


async def test_graphiql_without_key_shows_unauthenticated(
    browser: Browser, server: LiveServer
) -> None:
    page, _ = await open_graphiql(browser, server)
    await set_editor(page, ".graphiql-query-editor .CodeMirror", "{ viewer { livemode } }")
    await page.locator(".graphiql-execute-button").click()
    await page.locator(".graphiql-response").get_by_text("UNAUTHENTICATED").wait_for(timeout=15_000)
    await page.close()


async def test_graphiql_page_has_strict_csp_and_only_listed_assets(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unpkg" not in page.text
        for name in ASSET_FILES:
            assert (await http.get(f"/graphiql/assets/{name}")).status_code == 200
        assert (await http.get("/graphiql/assets/..%2Fsettings.py")).status_code == 404
        assert (await http.get("/graphiql/assets/package.json")).status_code == 404


async def test_graphiql_subscription_with_placeholder_key_says_why_at_once(
    browser: Browser, server: LiveServer
) -> None:
    # The README's placeholder key: the socket closes 4403 with a reason, and GraphiQL's client
    # must not retry it (it used to spin ~50 s, then show only "Forbidden").
    page, _ = await open_graphiql(browser, server)
    await set_editor(
        page, ".graphiql-query-editor .CodeMirror", "subscription { balanceUpdated { type } }"
    )
    await page.get_by_role("button", name="Headers", exact=True).click()
    await set_editor(
        page, ".graphiql-editor-tool .CodeMirror >> visible=true", '{"x-api-key": "ck_test_..."}'
    )
    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response")
    await result.get_by_text("API key is not valid").wait_for(timeout=8_000)
    assert "Forbidden" in await result.inner_text()
    await page.close()
