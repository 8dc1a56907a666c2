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
    code = body + check_character(body)
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def check_character(body: str) -> str:
    number = 0
    for ch in body:
        number = number * 32 + ALPHABET.index(ch)
    return CHECK_ALPHABET[number % 37]


def is_valid(reference: str) -> bool:
    """True for a well-formed reference; accepts lower case, spaces and I/L/O read as 1/1/0."""
    code = reference.upper().replace("-", "").replace(" ", "")
    code = code.translate(str.maketrans("ILO", "110"))
    if len(code) != DATA_CHARS + 1 or any(ch not in ALPHABET for ch in code[:-1]):
        return False
    return check_character(code[:-1]) == code[-1]
