"""The example dashboard and alert rules load, and name only metrics the package exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from iwf_widget import metrics

DOCS = Path(__file__).resolve().parents[1] / "docs"
DURATION = re.compile(r"^\d+[smhd]$")


def exposed() -> set[str]:
    """Every sample name the package can expose (counters with _total, histograms with _bucket...)."""
    names = {"iwf_widget_outbox_pending", "iwf_widget_outbox_failed", "iwf_widget_outbox_oldest_pending_age_seconds"}
    for family in metrics.REGISTRY.collect():
        names.update(s.name for s in family.samples)
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
        if family.type == "counter":
            names.add(family.name + "_total")
    return names


def metric_names(expr: str) -> set[str]:
    return {w for w in re.findall(r"\b(iwf_[a-z_]+)\b", expr)}


def test_alert_rules_are_valid_and_cover_the_three_conditions():
    rules = yaml.safe_load((DOCS / "alerts.yml").read_text("utf-8"))
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert all(set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"} for rule in alerts)
    for rule in alerts:
        assert rule["alert"] and rule["expr"].strip()
        assert DURATION.match(rule.get("for", "0s")), rule["for"]
        assert rule["expr"].count("(") == rule["expr"].count(")")
        assert metric_names(rule["expr"]) <= exposed(), rule["expr"]
    exprs = " ".join(rule["expr"] for rule in alerts)
    assert "iwf_widget_outbox_pending" in exprs
    assert "iwf_widget_outbox_oldest_pending_age_seconds) > 900" in exprs  # 15 minutes
    assert "iwf_widget_forward_failures_total" in exprs


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian: prometheus)")
def test_promtool_accepts_the_alert_rules():
    checked = subprocess.run(
        ["promtool", "check", "rules", str(DOCS / "alerts.yml")], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafana_dashboard_loads_and_queries_only_exposed_metrics():
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text("utf-8"))
    assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["schemaVersion"], int)
    inputs = {i["name"] for i in dashboard["__inputs"]}
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    queried = set()
    for panel in panels:
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"} and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["datasource"]["uid"].strip("${}") in inputs
        for target in panel["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")")
            queried |= metric_names(target["expr"])
    assert queried <= exposed(), queried - exposed()
    assert {
        "iwf_widget_outbox_pending",
        "iwf_widget_forward_failures_total",
        "iwf_intake_reports_stored_total",
    } <= queried
