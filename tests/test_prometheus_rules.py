"""deploy/prometheus: the configuration, recording and alert rules, and their promtool unit tests.

``promtool`` (Debian's prometheus package) checks the files and runs the rule unit tests in
deploy/prometheus/tests; CI installs it and sets HUB_REQUIRE_TOOLS, so there they cannot be
skipped. The rest reads the files: every metric a rule uses exists in the worker's registry, and
the four rates are defined as the documents define them.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml
from deploycheck import (
    PROMETHEUS_DIR,
    PROMETHEUS_SERIES,
    RULE_FILES,
    RULE_TESTS,
    exported_names,
    promql_metric_names,
    recording_rule_names,
    require_tool,
    rule_groups,
)

PERIODS = ("1d", "7d", "30d")

#: rate name -> (numerator, denominator), as domain.md and issue 6 define them
RATES = {
    "unit:petition_hub_response_rate:ratio": (  # 响应率
        "petition_hub_signed_for_on_time_total",
        "petition_hub_signed_for_total",
    ),
    "unit:petition_hub_resolution_rate:ratio": (  # 办结率
        "petition_hub_resolved_total",
        'petition_hub_routed_total{role="lead"}',
    ),
    "unit:petition_hub_on_time_resolution_rate:ratio": (  # 限时办结率
        "petition_hub_resolved_on_time_total",
        "petition_hub_resolved_total",
    ),
    "unit:petition_hub_satisfaction_rate:ratio": (  # 满意率
        "petition_hub_satisfied_total",
        "petition_hub_rated_total",
    ),
}

ALERTS = {
    "PetitionHubIntakeStalled",
    "PetitionHubStageStuck",
    "PetitionHubDeadLettersRising",
    "PetitionHubInternalDeadLetters",
    "PetitionHubConsumerLagHigh",
    "PetitionHubTriageBacklog",
    "PetitionHubOverdueGrowing",
    "PetitionHubCalendarYearMissing",
    "PetitionHubNextYearCalendarMissing",
    "PetitionHubProvisionalClocks",
    "PetitionHubWorkerDown",
    "PetitionHubNoWorkers",
}


def _rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool"), *args],
        cwd=PROMETHEUS_DIR.parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_FILES)


def test_promtool_test_rules() -> None:
    assert len(RULE_TESTS) >= 3
    result = _promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_promtool_check_config() -> None:
    result = _promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULE_FILES)} rule files found" in result.stdout


def test_rules_use_only_exported_metrics() -> None:
    known = exported_names() | recording_rule_names() | PROMETHEUS_SERIES
    used: set[str] = set()
    for rule in _rules():
        names = promql_metric_names(rule["expr"])
        assert names, rule
        unknown = names - known
        assert not unknown, f"{rule.get('record') or rule.get('alert')}: {sorted(unknown)}"
        used |= names
    # the lifecycle counters the rates are made of, and the gauges the alerts watch
    assert {
        "petition_hub_signed_for_total",
        "petition_hub_rated_total",
        "petition_hub_triage_backlog",
        "petition_hub_overdue_petitions",
        "petition_hub_calendar_next_year_available",
        "petition_hub_calendar_year_missing",
        "petition_hub_clocks_provisional",
        "up",
    } <= used


def test_the_four_rates_per_unit_and_period() -> None:
    recorded = [rule for rule in _rules() if rule.get("record") in RATES]
    assert sorted((r["record"], r["labels"]["period"]) for r in recorded) == sorted(
        (name, period) for name in RATES for period in PERIODS
    )
    for rule in recorded:
        period = rule["labels"]["period"]
        numerator, denominator = RATES[rule["record"]]
        expr = " ".join(rule["expr"].split())
        # numerator (or 0 where it has no series yet) over the denominator where it grew
        top = (
            f"( sum by (unit) (increase({numerator}[{period}])) "
            f"or sum by (unit) (increase({denominator}[{period}])) * 0 )"
        )
        if rule["record"] == "unit:petition_hub_satisfaction_rate:ratio":
            # ratings the office voided on a unit's dispute leave the denominator (0 where none)
            voided = "petition_hub_ratings_voided_total"
            assert expr == (
                f"{top} / ( sum by (unit) (increase({denominator}[{period}])) - "
                f"( sum by (unit) (increase({voided}[{period}])) "
                f"or sum by (unit) (increase({denominator}[{period}])) * 0 ) > 0 )"
            ), rule["record"]
            continue
        assert expr == (f"{top} / (sum by (unit) (increase({denominator}[{period}])) > 0)"), rule[
            "record"
        ]


def test_alerts() -> None:
    alerts = {rule["alert"]: rule for rule in _rules() if "alert" in rule}
    assert set(alerts) == ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
    # every alert has a promtool unit test
    tested = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            tested |= {t["alertname"] for t in case.get("alert_rule_test", [])}
    assert tested == ALERTS


def test_no_personal_labels_in_rules() -> None:
    # aggregation keeps bounded labels only (never a petition id or anything personal)
    allowed = {"unit", "channel", "kind", "reason", "stage", "role", "year", "le", "instance"}
    for rule in _rules():
        for group in re.findall(r"\bby\s*\(([^)]*)\)", rule["expr"]):
            labels = {label.strip() for label in group.split(",") if label.strip()}
            assert labels <= allowed, (rule.get("record") or rule.get("alert"), labels)


def test_prometheus_scrapes_the_workers() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    assert sorted(config["rule_files"]) == sorted(
        str(p.relative_to(PROMETHEUS_DIR)) for p in RULE_FILES
    )
    (hub,) = [job for job in config["scrape_configs"] if job["job_name"] == "petition-hub"]
    assert hub.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for static in hub["static_configs"] for t in static["targets"]]
    assert targets == ["worker-1:9108", "worker-2:9108"]
    # the alerts select the job by this name
    on_up = [rule for rule in _rules() if "up" in promql_metric_names(rule["expr"])]
    assert len(on_up) == 2
    assert all('up{job="petition-hub"}' in rule["expr"] for rule in on_up)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (unit) (increase(petition_hub_routed_total{role="lead"}[1d]))',
            {"petition_hub_routed_total"},
        ),
        ("a:b:c > 0 and on (unit) delta(x_total[6h:5m]) offset 1h", {"a:b:c", "x_total"}),
        ('month(vector(time() + 8 * 3600)) == 12 and absent(up{job="x"} == 1)', {"up"}),
        ('label_replace(m{stage=~"intake-.+"}, "channel", "$1", "stage", "intake-(.+)")', {"m"}),
        (
            "histogram_quantile(0.95, sum by (le) (rate(h_bucket[$__rate_interval]))) * 1e3",
            {"h_bucket"},
        ),
        ('sum(rate(x_total{unit=~"$unit"}[5m])) / ignoring (kind) group_left y', {"x_total", "y"}),
    ],
)
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names
