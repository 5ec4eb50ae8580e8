"""Every IANA special-purpose range (and multicast/reserved space) is refused, edge to edge."""

from __future__ import annotations

import ipaddress

import pytest

from services.infra.netguard import SPECIAL_IPV4, SPECIAL_IPV6, is_public_address, parse_address

RANGES = [*SPECIAL_IPV4, *SPECIAL_IPV6]


@pytest.mark.parametrize("network", RANGES, ids=str)
def test_special_range_is_refused_at_both_ends(network: ipaddress._BaseNetwork) -> None:
    assert not is_public_address(network.network_address)
    assert not is_public_address(network.broadcast_address)
    assert not is_public_address(network.network_address + network.num_addresses // 2)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "192.0.0.9",
        "192.0.0.170",
        "198.18.0.1",
        "198.19.255.255",
        "240.0.0.1",
        "255.255.255.255",
        "224.0.0.1",
        "192.0.2.10",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:8.8.8.8",
        "::127.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::808:808",
        "64:ff9b:1::1",
        "2002:7f00:1::",
        "2001::1",
        "2001:db8::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fe80::1%eth0",
        "fec0::1",
        "ff02::1",
        "100::1",
        "3fff::1",
        "5f00::1",
    ],
)
def test_listed_special_addresses_are_not_public(address: str) -> None:
    parsed = parse_address(address)
    assert parsed is not None
    assert not is_public_address(parsed)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"])
def test_global_unicast_is_public(address: str) -> None:
    parsed = parse_address(address)
    assert parsed is not None and is_public_address(parsed)


def test_ranges_python_311_misses_are_still_refused() -> None:
    # CVE-2024-4032: older tables called some of these global.
    for text in ("100.64.0.1", "192.0.0.9", "64:ff9b::a00:1", "2001:2::1", "198.18.0.1"):
        address = parse_address(text)
        assert address is not None and not is_public_address(address)


def test_non_addresses_do_not_parse() -> None:
    assert parse_address("docs.example.com") is None
