"""Sphinx configuration: the README, docs/*.md and the API reference, Furo theme."""

from __future__ import annotations

import iwf_widget

project = "iwf-widget"
copyright = "2026 iwf-widget contributors"
release = iwf_widget.__version__
version = release

extensions = ["sphinx.ext.autodoc", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
# The pages are also read on GitHub, where a heading level may be skipped and
# the README's sections are its top level: heading-level notes are not errors.
suppress_warnings = ["myst.header"]

html_theme = "furo"
html_title = f"iwf-widget {release}"
