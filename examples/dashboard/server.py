"""The dashboard's own backend: holds the secret API key, mints client sessions for the page
and serves the built assets. The key never leaves this process.

    DASHBOARD_API_KEY=ck_test_... python examples/dashboard/server.py --port 5173

Environment:
    DASHBOARD_API_KEY        the merchant's secret key (required; test or live)
    DASHBOARD_API_URL        the payouts API as this backend reaches it
                             (default http://127.0.0.1:8000/graphql)
    DASHBOARD_PUBLIC_API_URL the payouts API as the browser reaches it (default: the same)
    DASHBOARD_SESSION_SECONDS how long each session lives (default 900, 10..3600)

In a real application ``/session`` sits behind the merchant's own login: whoever may call it
acts as the organization within the scopes below.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).resolve().parent
SCOPES = ["PAYOUTS_READ", "PAYOUTS_WRITE", "ACCOUNT_READ", "ACCOUNT_WRITE"]

MINT = """
mutation Mint($input: CreateClientSessionInput!) {
  createClientSession(input: $input) {
    clientSession { token expiresAt scopes livemode }
    userErrors { code message field }
  }
}
"""
CREDIT = """
mutation Credit($input: TestCreditBalanceInput!) {
  testCreditBalance(input: $input) { userErrors { code message field } }
}
"""


class PayoutsApi:
    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self._key = key
        self._http = httpx.AsyncClient(timeout=10.0)

    async def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.post(
            self.url,
            json={"query": query, "variables": variables},
            headers={"x-api-key": self._key, "accept": "application/json"},
        )
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"][0].get("message", "API error"))
        return body["data"]

    async def close(self) -> None:
        await self._http.aclose()


def websocket_url(http_url: str) -> str:
    parts = urlsplit(http_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


def create_app(
    *,
    api_key: str,
    api_url: str = "http://127.0.0.1:8000/graphql",
    public_api_url: str | None = None,
    session_seconds: int = 900,
    assets: Path = HERE / "dist",
) -> Starlette:
    api = PayoutsApi(api_url, api_key)
    browser_api_url = public_api_url or api_url
    api_origin = "{0.scheme}://{0.netloc}".format(urlsplit(browser_api_url))
    ws_origin = "{0.scheme}://{0.netloc}".format(urlsplit(websocket_url(browser_api_url)))

    def from_page(request: Request) -> bool:
        # A custom header forces a CORS preflight, which this backend never answers: other
        # sites cannot make a browser mint (or spend) sessions here.
        return request.headers.get("x-requested-with") == "payouts-dashboard"

    async def session(request: Request) -> Response:
        if not from_page(request):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        data = await api.call(
            MINT, {"input": {"scopes": SCOPES, "expiresInSeconds": session_seconds}}
        )
        payload = data["createClientSession"]
        if payload["userErrors"]:
            return JSONResponse({"error": payload["userErrors"][0]["message"]}, status_code=502)
        minted = payload["clientSession"]
        return JSONResponse(
            {
                "token": minted["token"],
                "expiresAt": minted["expiresAt"],
                "scopes": minted["scopes"],
                "livemode": minted["livemode"],
                "apiUrl": browser_api_url,
                "wsUrl": websocket_url(browser_api_url),
            },
            headers={"cache-control": "no-store"},
        )

    async def credit(request: Request) -> Response:
        """Demo helper (test mode): money to pay out, credited with the key, server-side."""
        if not from_page(request):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        body = await request.json()
        amount = body.get("amount") if isinstance(body, dict) else None
        if not isinstance(amount, int) or not 1 <= amount <= 1_000_000:
            return JSONResponse({"error": "amount: whole cents, 1 to 1000000"}, status_code=400)
        data = await api.call(
            CREDIT, {"input": {"amount": amount, "description": "Dashboard test funds"}}
        )
        errors = data["testCreditBalance"]["userErrors"]
        if errors:
            return JSONResponse({"error": errors[0]["message"]}, status_code=400)
        return JSONResponse({"credited": amount})

    policy = (
        f"default-src 'self'; connect-src 'self' {api_origin} {ws_origin}; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await api.close()

    return Starlette(
        routes=[
            Route("/session", session, methods=["POST"]),
            Route("/demo/credit", credit, methods=["POST"]),
            Mount("/", StaticFiles(directory=assets, html=True, check_dir=False)),
        ],
        middleware=[Middleware(SecurityHeaders, policy=policy)],
        lifespan=lifespan,
    )


class SecurityHeaders:
    """Content-Security-Policy: the page may talk to itself and to the payouts API only."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5173)
    args = parser.parse_args()
    key = os.environ.get("DASHBOARD_API_KEY")
    if not key:
        raise SystemExit("set DASHBOARD_API_KEY to the organization's secret API key")
    app = create_app(
        api_key=key,
        api_url=os.environ.get("DASHBOARD_API_URL", "http://127.0.0.1:8000/graphql"),
        public_api_url=os.environ.get("DASHBOARD_PUBLIC_API_URL"),
        session_seconds=int(os.environ.get("DASHBOARD_SESSION_SECONDS", "900")),
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
