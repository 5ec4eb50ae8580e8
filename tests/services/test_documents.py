"""The guarded document download: refused URLs make no connection; good documents arrive
through a local TLS server reached via an injected resolver, connector and trust store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from services.payout_accounts.documents import DocumentFetcher, DocumentRejected, Limits
from tests.support.tls_server import (
    RecordingConnector,
    RecordingListener,
    RedirectingConnector,
    Route,
    TlsServer,
    recording_listener,
    static_resolver,
    tls_server,
)

PUBLIC_IP = "93.184.216.34"
PDF = b"%PDF-1.7\n" + b"0" * 1000
PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"2" * 100


@pytest.fixture
async def listener() -> AsyncIterator[RecordingListener]:
    async with recording_listener() as live:
        yield live


@pytest.fixture
async def docs() -> AsyncIterator[TlsServer]:
    async with tls_server("docs.example.com", "other.example.com") as server:
        yield server


def public_fetcher(
    docs: TlsServer, **table: list[str]
) -> tuple[DocumentFetcher, RedirectingConnector]:
    connector = RedirectingConnector(docs.port)
    resolver = static_resolver(
        {"docs.example.com": [PUBLIC_IP], "other.example.com": [PUBLIC_IP], **table}
    )
    fetcher = DocumentFetcher(
        resolver=resolver,  # type: ignore[arg-type]
        connector=connector,
        ssl_context=docs.client_context,
        limits=Limits(total_timeout=10),
    )
    return fetcher, connector


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/id.pdf",
        "https://localhost:{port}/id.pdf",
        "https://127.0.0.1:{port}/id.pdf",
        "https://[::1]:{port}/id.pdf",
        "https://10.0.0.1:{port}/id.pdf",
        "https://172.16.0.1:{port}/id.pdf",
        "https://192.168.1.1:{port}/id.pdf",
        "https://169.254.169.254:{port}/latest/meta-data",
        "https://100.64.0.1:{port}/id.pdf",
        "https://0.0.0.0:{port}/id.pdf",
        "https://[::ffff:127.0.0.1]:{port}/id.pdf",
        "https://127.1:{port}/id.pdf",
        "https://2130706433:{port}/id.pdf",
        "https://user:pw@docs.example.com/id.pdf",
    ],
)
async def test_refused_url_makes_no_connection(listener: RecordingListener, url: str) -> None:
    connector = RecordingConnector()
    fetcher = DocumentFetcher(connector=connector)
    reason = "https" if url.startswith("http:") else "credentials" if "@" in url else "non-public"
    with pytest.raises(DocumentRejected, match=reason) as refused:
        await fetcher.fetch(url.format(port=listener.port))
    assert refused.value.code == "DOCUMENT_URL_REJECTED"
    assert refused.value.field == ["input", "documentUrl"]
    assert connector.calls == []
    assert listener.connections == 0


@pytest.mark.parametrize("addresses", [["10.1.2.3"], [PUBLIC_IP, "127.0.0.1"], ["fd00::1"], []])
async def test_name_resolving_to_any_private_address_is_refused(
    listener: RecordingListener, addresses: list[str]
) -> None:
    connector = RecordingConnector()
    resolver = static_resolver({"internal.example.com": addresses})
    fetcher = DocumentFetcher(resolver=resolver, connector=connector)  # type: ignore[arg-type]
    with pytest.raises(DocumentRejected, match="non-public"):
        await fetcher.fetch("https://internal.example.com/id.pdf")
    assert connector.calls == [] and listener.connections == 0


async def test_unresolvable_host_is_refused() -> None:
    fetcher = DocumentFetcher(resolver=static_resolver({}))  # type: ignore[arg-type]
    with pytest.raises(DocumentRejected, match="does not resolve"):
        await fetcher.fetch("https://nowhere.invalid/id.pdf")


async def test_non_default_port_on_public_address_is_refused(docs: TlsServer) -> None:
    fetcher, connector = public_fetcher(docs)
    with pytest.raises(DocumentRejected, match="port"):
        await fetcher.fetch("https://docs.example.com:8443/id.pdf")
    assert connector.calls == []


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (PDF, "application/pdf", "application/pdf"),
        (PNG, "image/png", "image/png"),
        (JPEG, None, "image/jpeg"),
    ],
)
async def test_document_is_downloaded_from_the_checked_address(
    docs: TlsServer, body: bytes, content_type: str | None, kind: str
) -> None:
    headers = [("content-type", content_type)] if content_type else []
    docs.routes["/id"] = lambda: (200, headers, [body])
    fetcher, connector = public_fetcher(docs)
    document = await fetcher.fetch("https://docs.example.com/id")
    assert document.content == body and document.content_type == kind
    assert document.sha256 == hashlib.sha256(body).hexdigest()
    assert connector.calls == [(PUBLIC_IP, 443)]
    assert docs.hosts_seen == ["docs.example.com"]


async def test_redirect_to_private_address_is_refused(
    docs: TlsServer, listener: RecordingListener
) -> None:
    docs.routes["/go"] = lambda: (302, [("location", f"https://127.0.0.1:{listener.port}/x")], [])
    fetcher, connector = public_fetcher(docs)
    with pytest.raises(DocumentRejected, match="non-public"):
        await fetcher.fetch("https://docs.example.com/go")
    assert connector.calls == [(PUBLIC_IP, 443)]
    assert listener.connections == 0


async def test_redirect_to_a_name_resolving_private_is_refused(docs: TlsServer) -> None:
    docs.routes["/go"] = lambda: (301, [("location", "https://evil.example.com/x")], [])
    fetcher, connector = public_fetcher(docs, **{"evil.example.com": ["192.168.0.10"]})
    with pytest.raises(DocumentRejected, match="non-public"):
        await fetcher.fetch("https://docs.example.com/go")
    assert connector.calls == [(PUBLIC_IP, 443)]


async def test_redirect_to_http_is_refused(docs: TlsServer) -> None:
    docs.routes["/go"] = lambda: (302, [("location", "http://other.example.com/id.pdf")], [])
    fetcher, _ = public_fetcher(docs)
    with pytest.raises(DocumentRejected, match="https"):
        await fetcher.fetch("https://docs.example.com/go")


async def test_up_to_three_redirects_are_followed(docs: TlsServer) -> None:
    docs.routes["/1"] = lambda: (302, [("location", "/2")], [])
    docs.routes["/2"] = lambda: (307, [("location", "https://other.example.com/3")], [])
    docs.routes["/3"] = lambda: (308, [("location", "/doc")], [])
    docs.routes["/doc"] = lambda: (200, [("content-type", "application/pdf")], [PDF])
    fetcher, connector = public_fetcher(docs)
    assert (await fetcher.fetch("https://docs.example.com/1")).content == PDF
    assert docs.hosts_seen == [
        "docs.example.com",
        "docs.example.com",
        "other.example.com",
        "other.example.com",
    ]


async def test_a_fourth_redirect_is_refused(docs: TlsServer) -> None:
    def hop(to: int) -> Route:
        return lambda: (302, [("location", f"/{to}")], [])

    for step in range(4):
        docs.routes[f"/{step}"] = hop(step + 1)
    docs.routes["/4"] = lambda: (200, [("content-type", "application/pdf")], [PDF])
    fetcher, _ = public_fetcher(docs)
    with pytest.raises(DocumentRejected, match="redirects"):
        await fetcher.fetch("https://docs.example.com/0")


async def test_body_over_10_mb_is_refused_while_streaming(docs: TlsServer) -> None:
    chunk = b"%PDF-" + b"0" * (1024 * 1024 - 5)
    docs.routes["/big"] = lambda: (200, [("content-type", "application/pdf")], [chunk] * 11)
    fetcher, _ = public_fetcher(docs)
    with pytest.raises(DocumentRejected, match="10 MB"):
        await fetcher.fetch("https://docs.example.com/big")


async def test_declared_length_over_10_mb_is_refused(docs: TlsServer) -> None:
    docs.routes["/big"] = lambda: (200, [("content-length", str(11 * 1024 * 1024))], [PDF])
    fetcher, _ = public_fetcher(docs)
    with pytest.raises(DocumentRejected, match="10 MB"):
        await fetcher.fetch("https://docs.example.com/big")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html", b"<html><body>hello</body></html>"),
        (None, b"<html><body>hello</body></html>"),
        ("application/pdf", b"<html>not a pdf</html>"),
        ("image/png", PDF),
    ],
)
async def test_html_or_mislabelled_body_is_refused(
    docs: TlsServer, content_type: str | None, body: bytes
) -> None:
    headers = [("content-type", content_type)] if content_type else []
    docs.routes["/doc"] = lambda: (200, headers, [body])
    fetcher, _ = public_fetcher(docs)
    with pytest.raises(DocumentRejected, match="PDF, JPEG or PNG|does not match"):
        await fetcher.fetch("https://docs.example.com/doc")


async def test_untrusted_certificate_is_refused(docs: TlsServer) -> None:
    docs.routes["/id"] = lambda: (200, [], [PDF])
    connector = RedirectingConnector(docs.port)
    fetcher = DocumentFetcher(
        resolver=static_resolver({"docs.example.com": [PUBLIC_IP]}),  # type: ignore[arg-type]
        connector=connector,
    )
    with pytest.raises(DocumentRejected, match="could not be downloaded"):
        await fetcher.fetch("https://docs.example.com/id")


async def test_error_status_is_refused(docs: TlsServer) -> None:
    fetcher, _ = public_fetcher(docs)
    with pytest.raises(DocumentRejected, match="HTTP 404"):
        await fetcher.fetch("https://docs.example.com/missing")


async def test_stalled_body_times_out(docs: TlsServer) -> None:
    docs.routes["/slow"] = lambda: (200, [("content-type", "application/pdf")], [b"%PDF-", None])
    fetcher = DocumentFetcher(
        resolver=static_resolver({"docs.example.com": [PUBLIC_IP]}),  # type: ignore[arg-type]
        connector=RedirectingConnector(docs.port),
        ssl_context=docs.client_context,
        limits=Limits(read_timeout=0.3, total_timeout=5),
    )
    with pytest.raises(DocumentRejected, match="timed out"):
        await fetcher.fetch("https://docs.example.com/slow")


async def test_overall_deadline_covers_slow_trickles(docs: TlsServer) -> None:
    docs.routes["/slow"] = lambda: (200, [("content-type", "application/pdf")], [b"%PDF-", None])
    fetcher = DocumentFetcher(
        resolver=static_resolver({"docs.example.com": [PUBLIC_IP]}),  # type: ignore[arg-type]
        connector=RedirectingConnector(docs.port),
        ssl_context=docs.client_context,
        limits=Limits(read_timeout=10, total_timeout=0.3),
    )
    with pytest.raises(DocumentRejected, match="timed out"):
        await fetcher.fetch("https://docs.example.com/slow")
