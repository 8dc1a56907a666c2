"""``bench/run.py --quick --json`` runs end to end and its last line holds every figure.

A smoke test only: the figures depend on the machine and are not judged here
(docs/PERFORMANCE.md has them); what is checked is that the benchmark works and
that what it measured was right (reports on disk and sealed, every report
forwarded exactly once).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {
    "embed_js_gzip_bytes",
    "form_page_gzip_bytes",
    "form_page_requests",
    "form_get_rps",
    "form_get_p50_ms",
    "form_get_p99_ms",
    "baseline_get_rps",
    "ceiling_get_rps",
    "form_get_vs_baseline",
    "form_get_vs_ceiling",
    "submit_rps",
    "raw_insert_rps",
    "submit_vs_raw_insert",
    "drain_reports_per_s",
    "e2e_p50_ms",
    "e2e_p99_ms",
    "peak_rss_mb",
    "flood_junk_per_s",
    "flood_real_p99_ms",
    "form_visible_slow3g_ms",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("gunicorn", "flask_wtf", "flask_babel")),
        reason="needs the bench extra: pip install '.[bench]'",
    ),
]


def test_the_quick_benchmark_prints_every_figure():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--json", "--no-install"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures.keys() >= FIGURES
    assert all(isinstance(figures[k], (int, float)) and figures[k] > 0 for k in FIGURES)
    assert figures["form_page_third_party_requests"] == 0
    assert figures["submit_durable_check"] is True
    assert figures["drain_exactly_once"] is True
    assert figures["e2e_arrived"] == figures["e2e_reports"] and figures["e2e_failed"] == 0
    # The flood: junk from over a thousand addresses, refused and stored nowhere; real reports timed beside it.
    assert figures["flood_junk_clients"] >= 1000
    assert figures["flood_junk_accepted"] == 0 and figures["flood_junk_stored"] == 0
    assert figures["flood_real_sent"] > 0
    assert figures["flood_real_accepted_ratio"] == 1.0, figures["flood_real_refusals"]
