"""Which addresses a server-side download may connect to: global unicast only.

Python 3.11's ``ipaddress`` special-purpose tables are incomplete (CVE-2024-4032), so the
IANA special-purpose registries are listed here explicitly (plus multicast and reserved space)
and ``is_global`` is only a second opinion. IPv6 must also lie in 2000::/3 (global unicast), and
every form that embeds an IPv4 address (IPv4-mapped, -compatible, NAT64, 6to4, Teredo) is refused
outright rather than unpacked.

``GuardedBackend`` applies the rule to a connection: an httpcore network backend that resolves
the host itself, refuses unless every address passes, and connects to an address it checked (TLS
still verifies the certificate for the host name, sent as SNI and Host).
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SPECIAL_IPV4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local (cloud metadata services live here)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.31.196.0/24",  # AS112-v4
        "192.52.193.0/24",  # AMT
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private
        "192.175.48.0/24",  # direct delegation AS112
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, including 255.255.255.255
    )
)

GLOBAL_UNICAST_IPV6 = ipaddress.IPv6Network("2000::/3")
SPECIAL_IPV6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/96",  # unspecified, loopback, IPv4-compatible
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated
        "64:ff9b::/96",  # NAT64 well-known prefix
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "100:0:0:1::/64",  # dummy prefix
        "2001::/23",  # IETF protocol assignments (Teredo, benchmarking, ORCHID...)
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "2620:4f:8000::/48",  # AS112-v6
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)


def parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def is_public_address(address: IPAddress) -> bool:
    """True only for an address a server-side fetch may connect to."""
    if isinstance(address, ipaddress.IPv4Address):
        if any(address in net for net in SPECIAL_IPV4):
            return False
    else:
        if address not in GLOBAL_UNICAST_IPV6 or any(address in net for net in SPECIAL_IPV6):
            return False
        if address.ipv4_mapped is not None or address.sixtofour is not None or address.teredo:
            return False
    return address.is_global


# (host, port) → the addresses it resolves to, as text.
Resolver = Callable[[str, int], Awaitable[list[str]]]
# (checked address, port, timeout) → an open TCP stream to exactly that address.
Connector = Callable[[str, int, float | None], Awaitable[httpcore.AsyncNetworkStream]]


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def direct_connector(
    address: str,
    port: int,
    timeout: float | None,  # noqa: ASYNC109
) -> httpcore.AsyncNetworkStream:
    return await httpcore.AnyIOBackend().connect_tcp(address, port, timeout=timeout)


class Refusal(enum.Enum):
    """Why ``GuardedBackend`` did not connect; each caller says it in its own words."""

    UNRESOLVED = enum.auto()  # the resolver failed or timed out
    NO_ADDRESS = enum.auto()  # it answered no address, or one that does not parse
    NON_PUBLIC = enum.auto()
    PORT = enum.auto()  # a port outside ``allowed_ports``
    UNREACHABLE = enum.auto()  # no checked address accepted the connection
    UNIX_SOCKET = enum.auto()


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks the host itself, then connects to an address it checked.

    ``refuse`` turns a ``Refusal`` into the exception to raise. ``allow_private`` skips the
    public-address check (development and tests only); ``allowed_ports`` (when given) is
    checked after the addresses."""

    def __init__(
        self,
        *,
        resolver: Resolver,
        refuse: Callable[[Refusal], Exception],
        resolve_timeout: float,
        connector: Connector = direct_connector,
        allow_private: bool = False,
        allowed_ports: frozenset[int] | None = None,
    ) -> None:
        self._resolver = resolver
        self._refuse = refuse
        self._resolve_timeout = resolve_timeout
        self._connector = connector
        self._allow_private = allow_private
        self._allowed_ports = allowed_ports

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last_error: Exception | None = None
        for address in await self._checked_addresses(host, port):
            try:
                return await self._connector(address, port, timeout)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                last_error = exc
        raise self._refuse(Refusal.UNREACHABLE) from last_error

    async def _checked_addresses(self, host: str, port: int) -> list[str]:
        literal = parse_address(host)
        if literal is not None:
            found = [str(literal)]
        else:
            try:
                async with asyncio.timeout(self._resolve_timeout):
                    found = await self._resolver(host, port)
            except (OSError, TimeoutError, UnicodeError):
                raise self._refuse(Refusal.UNRESOLVED) from None
        parsed = [parse_address(a) for a in found]
        addresses = [a for a in parsed if a is not None]
        if not addresses or len(addresses) < len(parsed):
            raise self._refuse(Refusal.NO_ADDRESS)
        if not self._allow_private and not all(is_public_address(a) for a in addresses):
            raise self._refuse(Refusal.NON_PUBLIC)
        if self._allowed_ports is not None and port not in self._allowed_ports:
            raise self._refuse(Refusal.PORT)
        return [str(a) for a in addresses]

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise self._refuse(Refusal.UNIX_SOCKET)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
