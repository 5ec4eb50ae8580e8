"""GraphiQL served from this server: our own page and boot script, and the browser assets from
the project's npm install (no CDN, so it works offline and under a strict CSP)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

ASSETS_PATH = "/graphiql/assets"
_STATIC = Path(__file__).resolve().parent / "static"
_NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"

# The only files the asset route serves: name → file.
ASSET_FILES: dict[str, Path] = {
    "graphiql-boot.js": _STATIC / "graphiql-boot.js",
    "graphiql.min.js": _NODE_MODULES / "graphiql" / "graphiql.min.js",
    "graphiql.min.css": _NODE_MODULES / "graphiql" / "graphiql.min.css",
    "react.production.min.js": _NODE_MODULES / "react" / "umd" / "react.production.min.js",
    "react-dom.production.min.js": _NODE_MODULES
    / "react-dom"
    / "umd"
    / "react-dom.production.min.js",
    "graphql-ws.min.js": _NODE_MODULES / "graphql-ws" / "umd" / "graphql-ws.min.js",
}


@cache
def page_html() -> str:
    return (_STATIC / "graphiql.html").read_text().replace("{{ASSETS}}", ASSETS_PATH)


def missing_assets() -> list[str]:
    return [name for name, path in ASSET_FILES.items() if not path.is_file()]


def render_page(request: Request) -> Response:
    host = request.url.netloc
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return HTMLResponse(
        page_html(),
        headers={
            "content-security-policy": policy,
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cache-control": "no-store",
        },
    )


async def serve_asset(request: Request) -> Response:
    path = ASSET_FILES.get(request.path_params["name"])
    if path is None or not path.is_file():
        return PlainTextResponse("not found", status_code=404)
    return FileResponse(
        path,
        headers={"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"},
    )
