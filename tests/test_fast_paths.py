"""Shortcuts taken for speed give exactly what the general code gives."""

from __future__ import annotations

import string

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iwf_widget import addresses

settings.register_profile("iwf-fast-paths", deadline=None, database=None, max_examples=400)


def host_through_idna(host: str) -> str:
    """``addresses._host`` as it is without the shortcut for plain hosts."""
    host = host.rstrip(".")
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise addresses.AddressError("invalid") from None
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(addresses._LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise addresses.AddressError("invalid")
    return ascii_host


def outcome(f, host: str) -> str:
    try:
        return f(host)
    except addresses.AddressError as e:
        return f"refused: {e.kind}"


PLAIN = string.ascii_letters + string.digits + ".-"


@settings(settings.get_profile("iwf-fast-paths"))
@given(st.text(alphabet=PLAIN, min_size=1, max_size=80))
def test_a_plain_host_is_what_idna_makes_of_it(host):
    if addresses._PLAIN_HOST.fullmatch(host) and len(host.rstrip(".")) <= 253:
        try:
            addresses.ipaddress.IPv4Address(host)
        except ValueError:
            assert outcome(addresses._host, host) == outcome(host_through_idna, host)


@pytest.mark.parametrize(
    "host",
    [
        "Example.COM",
        "a.b",
        "a-b.example",
        "-a.example",
        "a-.example",
        "ab--cd.example",
        "xn--bcher-kva.example",
        "XN--BCHER-KVA.example",
        "xn--abc.example",
        "1.2.3",
        "example.123",
        "a..b",
        ".a.b",
        "a" * 64 + ".com",
        "a.b.",
        "localhost",
        "my_host.example",
        "bücher.example",
    ],
)
def test_edge_hosts_as_idna_has_them(host):
    assert outcome(addresses._host, host) == outcome(host_through_idna, host)
