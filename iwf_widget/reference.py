"""Short, human-friendly report references: Crockford base32 with a check character.

Crockford's alphabet has no I, L, O or U, so a reference read over the phone or
copied by hand survives; the check character catches a mistyped one.
"""

from __future__ import annotations

import hashlib

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"
DATA_CHARS = 11  # 55 bits


def for_report(report_id: str) -> str:
    """The reference of a report id: ``XXXX-XXXX-XXXX``, the last character a check."""
    value = int.from_bytes(hashlib.sha256(report_id.encode("ascii")).digest()[:8], "big") >> 9
    chars = []
    for _ in range(DATA_CHARS):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    body = "".join(reversed(chars))
    return formatted(body + check_character(body))


def check_character(body: str) -> str:
    number = 0
    for ch in body:
        number = number * 32 + ALPHABET.index(ch)
    return CHECK_ALPHABET[number % 37]


#: The reference shown as an example (to people, in messages, in the review kit): well-formed,
#: its check character right, and nobody's.
EXAMPLE = "4K7Q-2M9X-8RTC"

#: What :func:`problem` says about a reference that is not one.
MALFORMED = "malformed"
MISTYPED = "mistyped"

#: What people type around and inside a reference: hyphens of any kind, spaces.
_SEPARATORS = dict.fromkeys(map(ord, "-\u2010\u2011\u2012\u2013\u2014\u2212 \u00a0\t\r\n"))
#: Crockford's reading of letters that look like digits.
_LOOKALIKES = str.maketrans("ILO", "110")


def compact(reference: str) -> str | None:
    """The reference as 12 upper-case characters, however it was typed; None if it cannot be one.

    Lower case, spaces, any kind of hyphen and I/L/O (read as 1/1/0) are accepted;
    the check character is not tested here (see :func:`problem`).
    """
    if len(reference) > 64:
        return None
    code = reference.translate(_SEPARATORS).upper().translate(_LOOKALIKES)
    if len(code) != DATA_CHARS + 1 or any(ch not in ALPHABET for ch in code[:-1]) or code[-1] not in CHECK_ALPHABET:
        return None
    return code


def problem(reference: str) -> str | None:
    """None for a reference that may exist; :data:`MISTYPED` when its check character
    does not match (a typo), :data:`MALFORMED` when it is not a reference at all."""
    code = compact(reference)
    if code is None:
        return MALFORMED
    return None if check_character(code[:-1]) == code[-1] else MISTYPED


def formatted(code: str) -> str:
    """``XXXX-XXXX-XXXX`` from the compact form."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def is_valid(reference: str) -> bool:
    """True for a well-formed reference; accepts lower case, spaces and I/L/O read as 1/1/0."""
    return problem(reference) is None
