"""Addresses are made strict and comparable before anything is stored."""

from __future__ import annotations

import pytest

from iwf_widget.addresses import AddressError, normalize, readable
from iwf_widget.reference import for_report, is_valid


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("https://Example.COM", "https://example.com/"),
        ("  http://example.com:80/a  ", "http://example.com/a"),
        ("https://example.com:443/a?b=1#c", "https://example.com/a?b=1#c"),
        ("example.com/page", "http://example.com/page"),
        ("www.example.org", "http://www.example.org/"),
        ("example.com:8080/x", "http://example.com:8080/x"),
        ("https://bücher.example/ä", "https://xn--bcher-kva.example/%C3%A4"),
        ("https://1.2.3.4/x", "https://1.2.3.4/x"),
        ("https://[2001:db8::1]/x", "https://[2001:db8::1]/x"),
        ("https://user:pw@example.com/", "https://example.com/"),
    ],
)
def test_addresses_are_normalized(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw, kind",
    [
        ("javascript:alert(1)", "scheme"),
        ("JaVaScRiPt:alert(1)", "scheme"),
        ("data:text/html;base64,PHNjcmlwdD4=", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("ftp://example.com/x", "scheme"),
        ("vbscript:msgbox", "scheme"),
        ("https://exa\u202emple.com/", "characters"),
        ("https://example.com/\x00x", "characters"),
        ("https://example.com/\u2066x", "characters"),
        ("not a url", "invalid"),
        ("http://", "invalid"),
        ("https://[::1", "invalid"),
        ("https://localhost/", "invalid"),
        ("https://-bad-.example/", "invalid"),
        ("https://" + "a" * 3000 + ".com/", "too_long"),
    ],
)
def test_hostile_addresses_are_refused(raw, kind):
    with pytest.raises(AddressError) as info:
        normalize(raw)
    assert info.value.kind == kind


@pytest.mark.parametrize(
    "raw",
    [
        "\u200ehttps://example.com/a\u200e",  # left-to-right marks, as an Arabic chat app shares a link
        "\u2066https://example.com/a\u2069",  # isolates, as the widget's own right-to-left pages show one
        " \u200f\u2068https://example.com/a\u2069 ",
    ],
)
def test_bidi_marks_around_a_copied_address_are_dropped(raw):
    assert normalize(raw) == "https://example.com/a"


def test_international_domains_are_shown_readable():
    assert readable(normalize("https://bücher.example/x")) == "https://bücher.example/x"


def test_references_are_grouped_and_checked():
    ref = for_report("0" * 32)
    assert len(ref) == 14 and ref[4] == ref[9] == "-"
    assert is_valid(ref) and is_valid(ref.lower())
    assert for_report("0" * 32) == ref, "a report's reference never changes"
    assert for_report("1" * 32) != ref
    # One mistyped character is caught by the check character.
    for i, ch in enumerate(ref):
        if ch == "-":
            continue
        wrong = ref[:i] + ("7" if ch != "7" else "8") + ref[i + 1 :]
        assert not is_valid(wrong)
