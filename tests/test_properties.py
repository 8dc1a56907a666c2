"""Properties that hold for every input, checked with hypothesis.

Addresses: any text is either refused with :class:`AddressError` or becomes a
plain http(s) address that normalizes to itself. Form tokens: what is issued
checks, anything altered does not. The forwarding protocol: whatever arrives,
the only exception is the protocol's own, and a signature holds for exactly
the bytes it was made over.
"""

from __future__ import annotations

import contextlib
import json
import string
import time
import unicodedata
from urllib.parse import urlsplit

import pytest
from flask import Flask
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from iwf_widget import addresses, protocol
from iwf_widget.tokens import TokenProblem, TokenSigner

# No timing assertions, and no example database left in the work tree.
settings.register_profile(
    "iwf", deadline=None, database=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("iwf")

BIDI_AND_INVISIBLE = set(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff\u00ad"
)

# -- addresses -----------------------------------------------------------------

label = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)
unicode_label = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Lo", "Mn", "Nd")), min_size=1, max_size=10
)
host = st.lists(st.one_of(label, unicode_label), min_size=1, max_size=4).map(".".join)
path_text = st.text(
    alphabet=st.one_of(st.sampled_from(string.printable + "\u00e9\u0627\u4e2d%#?&=/\u202e\u200b\x00"), st.characters()),
    max_size=40,
)
url_like = st.builds(
    lambda scheme, host, port, path: f"{scheme}{host}{port}/{path}",
    st.sampled_from(["http://", "https://", "HTTPS://", "", " ", "\t", "javascript:", "data:", "//", "ftp://"]),
    host,
    st.sampled_from(["", ":80", ":443", ":8080", ":0", ":99999", ":x"]),
    path_text,
)
any_address_text = st.one_of(st.text(max_size=200), url_like)


def assert_plain_address(address: str) -> None:
    parts = urlsplit(address)
    assert parts.scheme in ("http", "https")
    assert parts.hostname and parts.hostname.isascii()
    assert address.isascii(), "paths and queries are percent-encoded"
    assert len(address) <= addresses.MAX_LENGTH
    for ch in address:
        assert unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Zs"), repr(ch)
        assert ch not in BIDI_AND_INVISIBLE


@given(any_address_text)
def test_normalizing_any_text_either_refuses_it_or_gives_a_plain_address(text):
    try:
        address = addresses.normalize(text)
    except addresses.AddressError as e:
        assert e.kind in ("empty", "too_long", "characters", "scheme", "invalid")
        return
    assert_plain_address(address)


@given(any_address_text)
def test_a_normalized_address_normalizes_to_itself(text):
    try:
        address = addresses.normalize(text)
    except addresses.AddressError:
        return
    assert addresses.normalize(address) == address


@given(url_like)
def test_the_readable_form_of_an_address_leads_back_to_it(text):
    try:
        address = addresses.normalize(text)
    except addresses.AddressError:
        return
    shown = addresses.readable(address)
    assert addresses.normalize(shown) == address


@given(
    st.text(max_size=50),
    st.sampled_from(sorted(BIDI_AND_INVISIBLE | {"\x00", "\x1b", "\x7f", "\u2028"})),
    st.text(max_size=50),
)
def test_control_bidi_and_invisible_characters_never_survive(before, hidden, after):
    text = f"https://example.com/{before}{hidden}x{after}"
    with pytest.raises(addresses.AddressError):
        addresses.normalize(text)


# -- form tokens ---------------------------------------------------------------

KEYS = ("first-signing-key-0123456789", "older-signing-key-0123456789")
LANGS = st.sampled_from(["ar", "en", "fr", "uk", "ur", "wo"])


def signer(keys=KEYS, partner="test-partner") -> TokenSigner:
    return TokenSigner(keys, partner, max_age=3600, min_fill=0)


@pytest.fixture(autouse=True)
def app_context():
    """Refusals are worded through the widget's catalogs, which live on the app context."""
    with Flask(__name__).app_context():
        yield


@given(LANGS)
def test_an_issued_token_checks_once_issued(lang):
    claims = signer().check(signer().issue(lang), lang)
    assert len(claims.nonce) == 32 and int(claims.nonce, 16) >= 0
    assert claims.expires == pytest.approx(claims.issued + 3600)


@given(LANGS)
def test_a_token_signed_with_an_older_key_still_checks(lang):
    old = signer(keys=KEYS[1:]).issue(lang)
    assert signer().check(old, lang).nonce


#: One token per language for the whole run: hypothesis replays examples against the same text.
ISSUED = {lang: signer().issue(lang) for lang in ("ar", "en", "fr", "uk", "ur", "wo")}


@given(LANGS, st.data())
def test_any_single_character_changed_in_a_token_is_refused(lang, data):
    token = ISSUED[lang]
    i = data.draw(st.integers(0, len(token) - 1))
    ch = data.draw(st.characters(blacklist_characters=token[i]))
    tampered = token[:i] + ch + token[i + 1 :]
    with pytest.raises(TokenProblem):
        signer().check(tampered, lang)


@given(LANGS, st.data())
def test_any_insertion_or_deletion_in_a_token_is_refused(lang, data):
    token = ISSUED[lang]
    i = data.draw(st.integers(0, len(token)))
    if data.draw(st.booleans()) and i < len(token):
        tampered = token[:i] + token[i + 1 :]
    else:
        tampered = token[:i] + data.draw(st.text(min_size=1, max_size=3)) + token[i:]
    assume(tampered != token)
    with pytest.raises(TokenProblem):
        signer().check(tampered, lang)


@given(st.text(max_size=300), LANGS)
def test_any_text_as_a_token_is_refused_without_another_error(text, lang):
    with pytest.raises(TokenProblem):
        signer().check(text, lang)


@given(LANGS, LANGS)
def test_a_token_checks_only_for_its_partner_and_language(issued_for, sent_with):
    token = signer().issue(issued_for)
    with pytest.raises(TokenProblem):
        signer(partner="other-partner").check(token, issued_for)
    if sent_with != issued_for:
        with pytest.raises(TokenProblem):
            signer().check(token, sent_with)


# -- the forwarding protocol -----------------------------------------------------

PARTNERS = {"test-partner": ["partner-key-0123456789abcdef", "older-key-0123456789abcdef"]}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
batch_like = st.fixed_dictionaries(
    {
        "v": st.one_of(st.just(1), json_values),
        "partner": st.one_of(st.just("test-partner"), st.text(max_size=10)),
        "reports": st.one_of(
            st.lists(
                st.one_of(
                    st.fixed_dictionaries(
                        {
                            "id": st.one_of(st.from_regex(r"\A[0-9a-f]{32}\Z"), st.text(max_size=40)),
                            "sealed": st.one_of(
                                st.binary(max_size=64).map(lambda b: __import__("base64").b64encode(b).decode()),
                                st.text(max_size=40),
                                json_values,
                            ),
                        }
                    ),
                    json_values,
                ),
                max_size=5,
            ),
            json_values,
        ),
    }
)
header_names = st.sampled_from(
    [
        protocol.PARTNER_HEADER,
        protocol.TIMESTAMP_HEADER,
        protocol.SIGNATURE_HEADER,
        "Content-Type",
        "X-Other",
    ]
)
header_values = st.one_of(
    st.text(max_size=80),
    st.just("test-partner"),
    st.integers(-(10**13), 10**13).map(str),
    st.builds(lambda: str(int(time.time()))),
    st.from_regex(r"\A[0-9a-fA-F]{64}\Z"),
)
random_headers = st.dictionaries(header_names, header_values, max_size=5)


@given(st.one_of(st.binary(max_size=300), batch_like.map(lambda d: json.dumps(d).encode())))
def test_parsing_any_body_raises_only_the_protocols_error(body):
    try:
        batch = protocol.decode_batch(body, "test-partner")
    except protocol.ProtocolError as e:
        assert e.status == 400 and str(e)
        return
    assert batch.partner == "test-partner" and 1 <= len(batch.reports) <= protocol.MAX_REPORTS
    for report in batch.reports:
        assert protocol.REPORT_ID.match(report.id) and 1 <= len(report.sealed) <= protocol.MAX_SEALED_BYTES


@given(random_headers, st.binary(max_size=200))
def test_verifying_any_headers_and_body_raises_only_the_protocols_error(headers, body):
    try:
        protocol.verify(headers, body, PARTNERS)
    except protocol.AuthError as e:
        assert e.status == 401
        return
    pytest.fail("a request nobody signed was accepted")


@given(random_headers, st.binary(max_size=200), st.text(max_size=70))
def test_checking_any_answer_raises_only_the_protocols_error(headers, body, request_signature):
    with pytest.raises(protocol.ProtocolError):
        protocol.verify_response(headers, body, "test-partner", PARTNERS["test-partner"], request_signature)
    with contextlib.suppress(protocol.ProtocolError):
        protocol.decode_results(body)


@given(st.text(max_size=60))
def test_any_retry_after_value_reads_as_seconds_or_nothing(value):
    seconds = protocol.retry_after(value)
    assert seconds is None or seconds >= 0


@given(st.binary(max_size=500), st.sampled_from(PARTNERS["test-partner"]))
def test_a_valid_signature_over_any_body_verifies(body, key):
    headers = protocol.request_headers("test-partner", key, body)
    signed = protocol.verify(headers, body, PARTNERS)
    assert signed.partner == "test-partner" and signed.key == key


@given(st.binary(min_size=1, max_size=500), st.data())
def test_any_byte_flipped_in_the_body_breaks_the_signature(body, data):
    headers = protocol.request_headers("test-partner", PARTNERS["test-partner"][0], body)
    i = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    altered = body[:i] + bytes([body[i] ^ flip]) + body[i + 1 :]
    with pytest.raises(protocol.AuthError):
        protocol.verify(headers, altered, PARTNERS)


@given(st.binary(max_size=200), st.data())
def test_any_change_to_the_signature_or_signed_headers_is_refused(body, data):
    headers = protocol.request_headers("test-partner", PARTNERS["test-partner"][0], body)
    signature = headers[protocol.SIGNATURE_HEADER]
    i = data.draw(st.integers(0, len(signature) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789abcdef" if d != signature[i]]))
    with pytest.raises(protocol.AuthError):
        protocol.verify(
            headers | {protocol.SIGNATURE_HEADER: signature[:i] + digit + signature[i + 1 :]}, body, PARTNERS
        )
    shifted = str(int(headers[protocol.TIMESTAMP_HEADER]) + data.draw(st.integers(1, 200)))
    with pytest.raises(protocol.AuthError):
        protocol.verify(headers | {protocol.TIMESTAMP_HEADER: shifted}, body, PARTNERS)


@given(st.binary(max_size=200))
def test_a_signed_answer_verifies_only_for_the_request_it_answers(body):
    request = protocol.request_headers("test-partner", PARTNERS["test-partner"][0], b"request")
    signed = protocol.verify(request, b"request", PARTNERS)
    answer = protocol.response_headers(signed, body)
    protocol.verify_response(answer, body, "test-partner", PARTNERS["test-partner"], signed.signature)
    other = protocol.request_headers("test-partner", PARTNERS["test-partner"][0], b"another request")
    with pytest.raises(protocol.AuthError):
        protocol.verify_response(
            answer, body, "test-partner", PARTNERS["test-partner"], other[protocol.SIGNATURE_HEADER]
        )


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "\u2460", "\U0001d7d9"])
def test_retry_after_in_digits_of_other_scripts_is_no_number_of_seconds(value):
    assert protocol.retry_after(value) is None
