"""Checking an unsealed report again, at the intake.

The partner's widget already validated it, but a partner server can be
compromised, outdated or buggy, and analysts will open these addresses. So the
intake trusts nothing it did not check itself: exact fields, the partner it
authenticated, the id it was sent under, every address normalized afresh.
"""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass

from babel import localedata
from email_validator import EmailNotValidError, validate_email

from .. import addresses, report
from ..protocol import REPORT_ID
from ..report import DESCRIPTION_MAX, EMAIL_MAX, FIELDS

KINDS = report.CONTENT_KINDS
PLACES = report.WHERE_SEEN
#: Nothing was reported before the service existed (2024-01-01 UTC).
EARLIEST = 1704067200
#: Clocks differ; a report "from the future" beyond this is refused.
FUTURE_SLACK = 3600


class Rejected(ValueError):
    """Why a report was refused; the text goes back to the partner, never report content."""


@dataclass(frozen=True)
class Report:
    id: str
    partner: str
    locale: str
    created: int
    urls: list[str]
    content_kind: str
    where_seen: str
    description: str
    contact_email: str


def check(data: t.Mapping[str, t.Any], batch_id: str, partner: str, now: float | None = None) -> Report:
    """The report as the intake will store it, or :class:`Rejected`."""
    if not isinstance(data, t.Mapping):
        raise Rejected("the sealed report is not an object")
    unknown = set(data) - FIELDS
    if unknown:
        raise Rejected(f"unexpected fields: {', '.join(sorted(map(str, unknown)))[:200]}")
    missing = FIELDS - set(data)
    if missing:
        raise Rejected(f"missing fields: {', '.join(sorted(missing))}")
    if data["v"] != report.VERSION or isinstance(data["v"], bool):
        raise Rejected("unsupported report version")
    rid = data["id"]
    if not isinstance(rid, str) or not REPORT_ID.match(rid):
        raise Rejected("the id is not 32 lower-case hex characters")
    if rid != batch_id:
        raise Rejected("the sealed id differs from the id it was sent under")
    if data["partner"] != partner:
        raise Rejected("the report was made for another partner")
    locale = data["locale"]
    if (
        not isinstance(locale, str)
        or not report.LANGUAGE_TAG.match(locale)
        or not localedata.exists(locale.split("-")[0])
    ):
        raise Rejected("unknown locale: not a language tag such as fr, pt-BR or es-419")
    created = data["created"]
    now = time.time() if now is None else now
    if not isinstance(created, int) or isinstance(created, bool) or not EARLIEST <= created <= now + FUTURE_SLACK:
        raise Rejected("'created' is not a plausible time")
    if data["content_kind"] not in KINDS:
        raise Rejected("unknown content_kind")
    if data["where_seen"] not in PLACES:
        raise Rejected("unknown where_seen")
    description = data["description"]
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        raise Rejected(f"the description must be text of at most {DESCRIPTION_MAX} characters")
    if not report.is_stream_safe(description):
        raise Rejected("the description holds a run of more than 30 combining marks")
    if report.has_hidden_characters(description):
        raise Rejected("the description holds control or format characters")
    return Report(
        id=rid,
        partner=partner,
        locale=locale,
        created=report.minute(created),  # minute precision, whatever was sent
        urls=_urls(data["urls"]),
        content_kind=data["content_kind"],
        where_seen=data["where_seen"],
        description=description,
        contact_email=_email(data["contact_email"]),
    )


def _urls(value: t.Any) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= addresses.MAX_ADDRESSES:
        raise Rejected(f"'urls' must list 1 to {addresses.MAX_ADDRESSES} addresses")
    out: dict[str, None] = {}
    for n, raw in enumerate(value, 1):
        if not isinstance(raw, str):
            raise Rejected(f"address {n} is not text")
        try:
            out.setdefault(addresses.normalize(raw), None)
        except addresses.AddressError as e:
            raise Rejected(f"address {n} is not acceptable ({e.kind})") from None
    return list(out)


def _email(value: t.Any) -> str:
    if not isinstance(value, str) or len(value) > EMAIL_MAX:
        raise Rejected(f"contact_email must be text of at most {EMAIL_MAX} characters")
    if not value:
        return ""
    if report.has_hidden_characters(value) or not report.is_stream_safe(value):
        raise Rejected("contact_email holds control or format characters")
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise Rejected("contact_email is not an email address") from None
    return value
