"""deploy/grafana: the provisioned datasource and dashboard.

The dashboard is JSON with a fixed uid; every PromQL expression in it may only use series a
worker exports (the hub's metrics and faust's sensors), Prometheus's own ``up``, or the
recording rules of deploy/prometheus. No Grafana runs here: the files are read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploycheck import (
    DEPLOY,
    PROMETHEUS_SERIES,
    exported_names,
    promql_metric_names,
    recording_rule_names,
    rule_groups,
)

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "petition-hub.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out += panel.get("panels", [])  # a collapsed row keeps its panels inside
    return out


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(dashboard) for t in p.get("targets", []) if "expr" in t]


def test_fixed_uid_and_title(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "petition-hub"
    assert dashboard["title"] == "Petition hub"
    assert isinstance(dashboard["schemaVersion"], int)


def test_every_query_uses_the_provisioned_datasource(dashboard: dict[str, Any]) -> None:
    (source,) = _yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    want = {"type": "prometheus", "uid": source["uid"]}
    panels = [p for p in _panels(dashboard) if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"] == want, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == want, panel["title"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == want


def test_exprs_use_only_existing_series(dashboard: dict[str, Any]) -> None:
    known = exported_names() | recording_rule_names() | PROMETHEUS_SERIES
    exprs = _exprs(dashboard)
    assert len(exprs) >= 20
    for expr in exprs:
        names = promql_metric_names(expr)
        assert names, expr
        assert names <= known, f"{expr}: unknown {sorted(names - known)}"
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
        assert match, query
        assert match.group(1) in known


def test_what_the_dashboard_shows(dashboard: dict[str, Any]) -> None:
    used = set().union(*(promql_metric_names(e) for e in _exprs(dashboard)))
    assert {
        # intake and routing flow
        "petition_hub_intake_messages_total",
        "petition_hub_petitions_received_total",
        "petition_hub_routing_decisions_total",
        "petition_hub_routed_total",
        # the four rates per unit (recording rules)
        "unit:petition_hub_response_rate:ratio",
        "unit:petition_hub_resolution_rate:ratio",
        "unit:petition_hub_on_time_resolution_rate:ratio",
        "unit:petition_hub_satisfaction_rate:ratio",
        # overdue by unit, SLA steps, triage, timers
        "unit:petition_hub_overdue_petitions:sum",
        "petition_hub_sla_steps_total",
        "petition_hub_triage_backlog",
        "petition_hub_timers_pending",
        # latency, lag, dead letters
        "petition_hub_routing_latency_seconds_bucket",
        "petition_hub_consumer_lag_records",
        "petition_hub_dead_letters_total",
    } <= used
    latency = [e for e in _exprs(dashboard) if "routing_latency_seconds_bucket" in e]
    assert all(e.startswith("histogram_quantile(") and "by (le)" in e for e in latency)


def test_period_variable_matches_the_recorded_periods(dashboard: dict[str, Any]) -> None:
    (period,) = [v for v in dashboard["templating"]["list"] if v["name"] == "period"]
    offered = [option["value"] for option in period["options"]]
    recorded = sorted(
        {
            rule["labels"]["period"]
            for group in rule_groups()
            for rule in group["rules"]
            if "record" in rule and "period" in rule.get("labels", {})
        }
    )
    assert sorted(offered) == recorded
    assert period["current"]["value"] in offered
    rate_exprs = [e for e in _exprs(dashboard) if "_rate:ratio" in e]
    assert rate_exprs and all('period="$period"' in e for e in rate_exprs)


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids))


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    (provider,) = _yaml(GRAFANA / "provisioning" / "dashboards" / "hub.yml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
