"""Proof-of-work: a small cost per report that a person never notices and a flood pays for.

The scheme is ALTCHA's (the ``altcha`` package, v1 challenges): find the number
whose SHA-256 with the challenge's salt matches, signed by the server so it
cannot be forged. The form's script solves it in a Web Worker while the person
types. Each challenge is bound to the form token it was served with, so it is
as single-use as the token. Difficulty rises with this process's recent load.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import json
import threading
import time

from altcha.v1 import ChallengeOptions, create_challenge, extract_params, verify_solution

from .ratelimit import NO_WORK_COST

BASE_MAX_NUMBER = 20_000
MAX_FACTOR = 32
#: Submissions a minute per process before difficulty starts to rise.
CALM_PER_MINUTE = 60


class ProofOfWork:
    def __init__(self, key: str, lifetime: int, base: int = BASE_MAX_NUMBER) -> None:
        self.key = hashlib.sha256(b"iwf-widget.work|" + key.encode()).hexdigest()
        self.lifetime = lifetime
        self.base = base
        self._recent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def difficulty(self) -> int:
        """The challenge's largest number: the base, doubled per doubling of load past calm."""
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0] > 60:
                self._recent.popleft()
            load = len(self._recent)
        factor = 1
        while factor < MAX_FACTOR and load > CALM_PER_MINUTE * factor:
            factor *= 2
        return self.base * factor

    def note_submission(self) -> None:
        with self._lock:
            self._recent.append(time.monotonic())
            if len(self._recent) > CALM_PER_MINUTE * MAX_FACTOR * 2:
                self._recent.popleft()

    @property
    def enabled(self) -> bool:
        """``IWF_WIDGET_WORK_DIFFICULTY=0`` turns proof-of-work off."""
        return self.base > 0

    def weight(self, worked: bool) -> int:
        """What one request (a report, a status lookup) counts against a rate limit: more without
        a solved proof (JavaScript off); when proof-of-work is off, nobody pays extra."""
        return 1 if worked or not self.enabled else NO_WORK_COST

    def challenge(self, token: str) -> str | None:
        """A signed challenge for the form carrying ``token``, as JSON for the page; None when off."""
        if not self.enabled:
            return None
        expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=self.lifetime)
        options = ChallengeOptions(
            hmac_key=self.key,
            max_number=self.difficulty(),
            expires=expires,
            params={"t": _bind(token)},
        )
        ch = create_challenge(options)
        return json.dumps(ch.to_dict(), separators=(",", ":"))

    def verify(self, payload: str | None, token: str) -> bool:
        """True when ``payload`` solves a challenge we issued for this very token."""
        if not self.enabled or not isinstance(payload, str) or not payload or len(payload) > 2048:
            return False
        try:
            ok, _ = verify_solution(payload, self.key, check_expires=True)
            if not ok:
                return False
            data = json.loads(base64.b64decode(payload))
            params = extract_params(data)
        except Exception:  # whatever a hostile payload provokes (deep JSON, odd types): no work
            return False
        return bool(params.get("t") == [_bind(token)])


def _bind(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]
