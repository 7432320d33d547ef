"""The per-unit topics the reference data calls for (``departments.yaml``, ``regions.yaml``).

A test keeps ``topics.yaml`` in step with the reference data through :func:`expected_unit_topics`;
:func:`render_unit_topics` prints the entries to paste when the data changes
(``python -m petition_hub.topics``). The names themselves are spelled in :mod:`.names`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from petition_hub.topics.names import UNIT_TOPIC_SCHEMAS, UNIT_TOPIC_SUFFIXES, unit_topic


@dataclass(frozen=True)
class _Unit:
    kind: str  # "dept" | "county"
    code: str
    name: str
    handler: str | None


def _units(departments_yaml: Path | str, regions_yaml: Path | str) -> list[_Unit]:
    departments = yaml.safe_load(Path(departments_yaml).read_text(encoding="utf-8"))
    regions = yaml.safe_load(Path(regions_yaml).read_text(encoding="utf-8"))
    units: list[_Unit] = []
    for dept in departments["departments"]:
        if dept.get("kind") == "pseudo":  # COUNTY: resolved to a county unit, no topic of its own
            continue
        units.append(_Unit("dept", str(dept["code"]), str(dept["name"]), None))
    for county in regions["county_units"]:
        code = str(county["code"])
        if not re.fullmatch(r"\d{6}", code):
            raise ValueError(f"{regions_yaml}: county unit code {code!r} is not 6 digits")
        units.append(_Unit("county", code, str(county["name"]), county.get("handler")))
    return units


def expected_unit_topics(departments_yaml: Path | str, regions_yaml: Path | str) -> list[str]:
    """The per-unit topics the reference data calls for, in reference-data order.

    ``dept.<CODE>.petitions`` / ``dept.<CODE>.status`` for every department except the ``COUNTY``
    placeholder (kind ``pseudo``), then ``county.<DIV>.petitions`` / ``county.<DIV>.status`` for
    every county-level unit.
    """
    names: list[str] = []
    for unit in _units(departments_yaml, regions_yaml):
        names += [unit_topic(unit.kind, unit.code, s) for s in UNIT_TOPIC_SUFFIXES]
    return names


def render_unit_topics(
    departments_yaml: Path | str, regions_yaml: Path | str, partitions: int = 3
) -> str:
    """The unit topics as topics.yaml entries (one line each), to paste when the data changes.

    ``python -m petition_hub.topics`` prints them for the packaged reference data.
    """
    lines: list[str] = []
    for unit in _units(departments_yaml, regions_yaml):
        who = f"{unit.code} {unit.name}" + (f" ({unit.handler})" if unit.handler else "")
        for suffix, text in (
            ("petitions", f"hub → {who}: petitions it leads or co-handles"),
            ("status", f"{who} → hub: what the unit did with its petitions"),
        ):
            description = json.dumps(text, ensure_ascii=False)
            lines.append(
                f"  - {{name: {unit_topic(unit.kind, unit.code, suffix)}, "
                f"partitions: {partitions}, schemas: [{', '.join(UNIT_TOPIC_SCHEMAS[suffix])}], "
                f"description: {description}}}"
            )
    return "\n".join(lines) + "\n"
