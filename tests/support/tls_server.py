"""A tiny local HTTPS server (certificate from a throw-away ``trustme`` CA) and a plain TCP
listener that records every connection made to it, for the document download tests."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpcore
import trustme

# path → (status, headers, body chunks); a None chunk stalls the response for 3 s.
Reply = tuple[int, list[tuple[str, str]], list[bytes | None]]
Route = Callable[[], Reply]


@dataclass
class TlsServer:
    port: int
    client_context: ssl.SSLContext
    routes: dict[str, Route]
    hosts_seen: list[str] = field(default_factory=list)
    ca_pem: bytes = b""  # the throw-away CA, for clients in other processes


@dataclass
class RecordingListener:
    port: int
    connections: int = 0


@asynccontextmanager
async def tls_server(*names: str) -> AsyncIterator[TlsServer]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    state = TlsServer(0, client_context, {}, ca_pem=ca.cert_pem.bytes())

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            host = next(
                (ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("host:")), ""
            )
            state.hosts_seen.append(host)
            route = state.routes.get(path)
            status, headers, chunks = route() if route else (404, [], [b"not found"])
            writer.write(f"HTTP/1.1 {status} X\r\n".encode())
            for name, value in [*headers, ("connection", "close")]:
                writer.write(f"{name}: {value}\r\n".encode())
            writer.write(b"\r\n")
            for chunk in chunks:
                if chunk is None:
                    await asyncio.sleep(3)
                    continue
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()


@asynccontextmanager
async def recording_listener() -> AsyncIterator[RecordingListener]:
    state = RecordingListener(0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()


class RedirectingConnector:
    """Stands in for the network between us and a public host: records the (checked) address
    asked for and connects to the local TLS server instead. Every check still runs before."""

    def __init__(self, local_port: int) -> None:
        self.local_port = local_port
        self.calls: list[tuple[str, int]] = []

    async def __call__(
        self, address: str, port: int, timeout: float | None
    ) -> httpcore.AsyncNetworkStream:
        self.calls.append((address, port))
        return await httpcore.AnyIOBackend().connect_tcp(
            "127.0.0.1", self.local_port, timeout=timeout
        )


class RecordingConnector:
    """The production connector, recording each address it is asked to connect to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def __call__(
        self, address: str, port: int, timeout: float | None
    ) -> httpcore.AsyncNetworkStream:
        from services.payout_accounts.documents import direct_connector

        self.calls.append((address, port))
        return await direct_connector(address, port, timeout)


def static_resolver(table: dict[str, list[str]]) -> Callable[[str, int], object]:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve
