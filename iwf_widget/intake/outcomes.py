"""Recording an analyst's outcome for a report, by the reference the reporter was given.

One home for what ``iwf-widget intake-outcome`` and the case-system API
(``POST /cases/outcome``) both do: check the reference's check character,
find its report, record the outcome. The partner learns it at its next fetch.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from .. import reference
from ..protocol import OUTCOMES
from .store import Ambiguous, Store


class OutcomeError(ValueError):
    """Why an outcome was not recorded; ``status`` is the HTTP answer for the case API."""

    status = 400


class UnknownReference(OutcomeError):
    status = 404


class AmbiguousReference(OutcomeError):
    status = 409

    def __init__(self, message: str, partners: t.Sequence[str]) -> None:
        super().__init__(message)
        self.partners = list(partners)


@dataclass(frozen=True)
class Recorded:
    reference: str
    partner: str
    id: str
    outcome: str
    seq: int


def record(store: Store, ref: str, outcome: str, partner: str | None = None) -> Recorded:
    """Set the outcome of the report ``ref`` names; raise :class:`OutcomeError` saying why not."""
    if outcome not in OUTCOMES:
        raise OutcomeError(f"{outcome!r} is not an outcome; use one of {', '.join(OUTCOMES)}")
    problem = reference.problem(ref)
    if problem == reference.MISTYPED:
        raise OutcomeError(f"{ref!r} is mistyped: its last character does not match the others (check each one)")
    code = reference.compact(ref)
    if problem or code is None:
        raise OutcomeError(f"{ref!r} is not a reference (12 letters and digits, such as {reference.EXAMPLE})")
    try:
        found = store.find(code, partner)
    except Ambiguous as e:
        raise AmbiguousReference(
            f"{reference.formatted(code)} names reports of several partners ({', '.join(e.partners)}): "
            "say which partner's",
            e.partners,
        ) from None
    if found is None:
        where = f" from {partner}" if partner else ""
        raise UnknownReference(f"no report{where} has the reference {reference.formatted(code)}")
    seq = store.set_outcome(found[0], found[1], outcome)
    return Recorded(reference.formatted(code), found[0], found[1], outcome, seq)
