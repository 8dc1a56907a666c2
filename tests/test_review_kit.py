"""``iwf-widget review-kit``: one self-contained page per language, each step's screenshot
beside its strings, that a reviewer with nothing but a browser can mark up and send back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from iwf_widget import i18n, reviews

#: The kit is made in Chromium: a browser test, whether or not a test opens it too.
pytestmark = pytest.mark.browser


def kit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", "review-kit", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
    )


@pytest.fixture(scope="module")
def wolof_kit(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kit")
    done = kit("--lang", "wo", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out / 'review-wo.html'}"
    return out / "review-wo.html"


def test_the_kit_opens_in_chromium_with_every_step_photographed_beside_its_strings(browser, wolof_kit, tmp_path):
    context = browser.new_context(accept_downloads=True)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.goto(wolof_kit.as_uri())
    steps = page.locator("section[id^=step-]")
    assert steps.count() == 18
    names = page.locator("section[id^=step-] h2").all_inner_texts()
    for wanted in ("form: scope", "form: report", "form: errors", "thank you", "status: removal_requested"):
        assert any(wanted in name for name in names), wanted
    # Every screenshot decoded (a real picture of a phone-wide page), none fetched from anywhere.
    sizes = page.evaluate("[...document.images].map(i => [i.naturalWidth, i.naturalHeight, i.complete])")
    assert len(sizes) == 18 and all(w >= 390 and h >= 600 and done for w, h, done in sizes)
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    # Beside the thank-you page: its Wolof strings, with the English and a box for a comment.
    wolof = i18n.translations("wo")
    thanks = page.locator("section", has=page.locator("h2", has_text="thank you"))
    heading = wolof.gettext("Thank you. We have received your report.")
    row = thanks.locator("tr", has_text=heading)
    assert row.count() == 1
    assert "Thank you. We have received your report." in row.inner_text()
    assert row.locator("td[lang=wo]").inner_text() == heading
    # A comment typed in the page comes back in the downloaded notes, with the catalog version.
    row.locator("td.comment").fill("Waxal ko ni: Jërëjëf, jot nanu sa yégle.")
    with page.expect_download() as download:
        page.click("#download")
    notes = Path(download.value.path()).read_text("utf-8")
    version = reviews.catalog_version("wo")
    assert f"version {version}" in notes and "Jërëjëf, jot nanu sa yégle." in notes
    assert "English: Thank you. We have received your report." in notes
    assert version in page.inner_text("body")
    context.close()


def test_every_string_of_the_catalog_is_in_the_kit(wolof_kit):
    import re

    from babel.messages.pofile import read_po

    with open(i18n.TRANSLATIONS_DIR / "wo" / "LC_MESSAGES" / "iwf_widget.po", "rb") as f:
        strings = len([m for m in read_po(f) if m.id])
    text = wolof_kit.read_text("utf-8")
    assert len(set(re.findall(r'<tr data-id="(\d+)"', text))) == strings
    assert "http://" not in text.split("<body>", 1)[1].split("data:image")[0]


def test_a_language_that_is_not_shipped_is_refused_in_one_line(tmp_path):
    done = kit("--lang", "xx", "--out", str(tmp_path))
    assert done.returncode == 2 and "not a shipped translation" in done.stderr
    assert "Traceback" not in done.stderr and not list(tmp_path.iterdir())
