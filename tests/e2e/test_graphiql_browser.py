"""GraphiQL in a real headless Chromium (Debian's, driven by Playwright): set the key header, run
a query, see the organization's name; assets come from this server, never a CDN."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from api.graphiql import ASSET_FILES
from tests.support.graphql import GraphQLClient
from tests.support.live_client import open_subscriptions, wait_for_open_subscriptions
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payout_setup import verify_through_api
from tests.support.payouts import credit, request_payout

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

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


async def test_graphiql_subscription_tab_watches_a_payout_reach_paid(
    browser: Browser, server: LiveServer, org: TestOrg
) -> None:
    await verify_through_api(server, org)
    page, _ = await open_graphiql(browser, server)
    await set_editor(
        page,
        ".graphiql-query-editor .CodeMirror",
        "subscription { payoutUpdated { type payout { id status } } }",
    )
    await page.get_by_role("button", name="Headers", exact=True).click()
    await set_editor(
        page,
        ".graphiql-editor-tool .CodeMirror >> visible=true",
        f'{{"x-api-key": "{org.test_key}"}}',
    )
    baseline = await open_subscriptions(server)
    await page.locator(".graphiql-execute-button").click()
    await wait_for_open_subscriptions(server, baseline + 1)
    # The other "tab": the payout requested over HTTP.
    async with GraphQLClient(server.graphql_url, org.test_key) as http:
        await credit(http, 5_000)
        payout_id = (await request_payout(http, 2_000))["payout"]["id"]
    result = page.locator(".graphiql-response")
    await result.get_by_text("payout.paid").wait_for(timeout=20_000)
    shown = await result.inner_text()
    assert "PAID" in shown and payout_id in shown
    await page.close()


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
