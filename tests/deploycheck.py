"""Test helpers for deploy/: the metric names a PromQL expression uses, the names the worker
exports, the recording rules' names, and whether a tool the tests need is installed."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from petition_hub.service import metrics

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))

#: Series Prometheus makes itself (per scrape target).
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "ALERTS", "ALERTS_FOR_STATE"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_OFFSET = re.compile(r"\boffset\s+-?\w+")
_VARIABLE = re.compile(r"\$\{?\w+(?::\w+)?\}?")
_NUMBER = re.compile(r"(?<![\w:])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w:])")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "Inf", "NaN"}
)


def promql_metric_names(expr: str) -> set[str]:
    """The metric (or recording rule) names ``expr`` selects: identifiers that are not functions,
    aggregations, keywords, label names, strings, durations or Grafana variables."""
    text = _STRING.sub(" ", expr)
    text = _VARIABLE.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names: set[str] = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("("):  # a function or an aggregation
            continue
        if match.group() not in _KEYWORDS:
            names.add(match.group())
    return names


def exported_names() -> set[str]:
    """Every series name a worker exports: the hub's metrics and faust's sensors, with the
    suffixes Prometheus sees (``_total``, ``_bucket``/``_count``/``_sum``)."""
    from petition_hub.service.app import faust_metrics

    faust_metrics()  # registered once per process, as create_app does
    names: set[str] = set()
    for family in metrics.REGISTRY.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_count", "_sum")}
        elif family.type == "summary":
            names |= {family.name, family.name + "_count", family.name + "_sum"}
        else:
            names.add(family.name)
    return names


def rule_groups() -> list[dict[str, Any]]:
    """Every rule group of deploy/prometheus/rules/*.yml."""
    groups: list[dict[str, Any]] = []
    for path in RULE_FILES:
        groups += yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return groups


def recording_rule_names() -> set[str]:
    """The names the recording rules record."""
    return {
        rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule
    }


def require_tool(name: str) -> str:
    """The path of ``name``; skips the test when it is missing, unless HUB_REQUIRE_TOOLS is set
    (CI installs the tools and sets it, so there a missing tool is a failure)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("HUB_REQUIRE_TOOLS"):
            pytest.fail(f"{name} is not installed, and HUB_REQUIRE_TOOLS says it must be")
        pytest.skip(f"{name} not installed (CI installs it and sets HUB_REQUIRE_TOOLS)")
    return path
