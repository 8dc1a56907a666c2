"""Sealing reports to the intake's public key, and opening them at the intake.

A libsodium sealed box (X25519 + XSalsa20-Poly1305, via PyNaCl): the partner can
seal but never open, so a compromised partner server or outbox backup reveals no
report. One construction serves both sides.
"""

from __future__ import annotations

import base64
import json
import typing as t

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

__all__ = ["Opener", "SealError", "Sealer", "generate_keypair", "unseal"]


class SealError(ValueError):
    """A sealed report that does not open with this key."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def generate_keypair() -> tuple[str, str]:
    """A new (private, public) key pair, base64-encoded."""
    private = PrivateKey.generate()
    return _b64(bytes(private)), _b64(bytes(private.public_key))


def decode_key(value: str | bytes) -> bytes:
    raw = base64.b64decode(value, validate=True) if isinstance(value, str) else value
    if len(raw) != 32:
        raise ValueError("a key is 32 bytes")
    return raw


class Sealer:
    """Seals with one public key; built once because building the box is not free."""

    def __init__(self, public_key: str | bytes) -> None:
        self._box = SealedBox(PublicKey(decode_key(public_key)))

    def seal(self, report: t.Mapping[str, t.Any]) -> bytes:
        data = json.dumps(report, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return self._box.encrypt(data.encode("utf-8"))


class Opener:
    """Opens with the current private key, then with older ones during a key rotation."""

    def __init__(self, private_key: str | bytes, *previous: str | bytes) -> None:
        self._boxes = [SealedBox(PrivateKey(decode_key(k))) for k in (private_key, *previous)]

    def open(self, sealed: bytes) -> dict[str, t.Any]:
        data = None
        for box in self._boxes:
            try:
                data = box.decrypt(sealed)
                break
            except (CryptoError, ValueError):
                continue
        if data is None:
            raise SealError("the sealed report does not open with this key")
        try:
            report = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise SealError("the sealed report does not open with this key") from e
        if not isinstance(report, dict):
            raise SealError("the sealed report is not an object")
        return report


def unseal(private_key: str | bytes, sealed: bytes) -> dict[str, t.Any]:
    return Opener(private_key).open(sealed)
