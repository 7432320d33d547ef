"""The report's formats: the text an operator reads (tables through
:func:`petition_hub.ops.cliopts.table`), CSV for Excel, JSON for machines. Pure but for
:func:`write_csv`.

Names: a unit's from the reference data (:func:`unit_namer`), a theme's and a county's as routing
gave them to the units (:attr:`Report.labels`), a channel's from :data:`CHANNEL_NAMES`; a type is
its own Chinese name.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from petition_hub.domain.rules import RuleSet
from petition_hub.ops.cliopts import table
from petition_hub.ops.report import (
    CITY,
    DIMENSIONS,
    RESOLUTION_TARGET,
    UNKNOWN,
    Report,
    Row,
)

__all__ = [
    "CHANNEL_NAMES",
    "DIMENSION_NAMES",
    "Namer",
    "csv_rows",
    "format_json",
    "format_text",
    "namer",
    "unit_namer",
    "write_csv",
]

DASH: Final = "—"
#: The mark of a 办结率 below the province's target.
BELOW: Final = "▼"

#: Each breakdown's heading.
DIMENSION_NAMES: Final = {
    "unit": "单位",
    "county": "属地(县区)",
    "type": "诉求类型",
    "channel": "渠道",
    "theme": "主题",
}
CHANNEL_NAMES: Final = {
    "HOTLINE": "12345热线",
    "MINIPROGRAM": "企业诉求小程序",
    "PROVINCE": "省平台",
}

#: (header, English key, kind) of every column of the text table and the CSV. Later parts of
#: issue 14 add theirs here (转省), with the count in report.COUNTS.
_COLUMNS: Final = (
    ("受理", "received", "count"),
    ("签收", "signed_for", "count"),
    ("按时签收", "signed_for_on_time", "count"),
    ("响应率", "response_rate", "rate"),
    ("办结", "resolved", "count"),
    ("按时办结", "resolved_on_time", "count"),
    ("问题解决", "replied_resolved", "count"),
    ("解释说明", "replied_explained", "count"),
    ("办结率", "resolution_rate", "rate"),
    ("限时办结率", "on_time_resolution_rate", "rate"),
    ("评价", "rated", "count"),
    ("满意", "satisfied", "count"),
    ("满意率", "satisfaction_rate", "rate"),
    ("评价作废", "voided", "count"),
    ("逾期", "overdue", "count"),
    ("逾期未办结", "overdue_open", "count"),
    ("重复诉求", "repeats", "count"),
    ("重复诉求率", "repeat_rate", "rate"),
    ("并案", "linked", "count"),
)
#: The columns of the other breakdowns' text tables (the CSV and JSON have them all).
_SHORT: Final = ("received", "resolved", "resolution_rate", "rated", "satisfaction_rate")
_TARGET_TEXT: Final = f"{RESOLUTION_TARGET * 100:.0f}%"

Namer = Callable[[str, str], str]
"""(dimension, key) → the name shown."""


def unit_namer(rules: RuleSet) -> Callable[[str], str]:
    """Unit key → Chinese name from the reference data (a department's name, a county-level
    unit's government); a key the data does not know is shown as it is."""

    def name(key: str) -> str:
        if key == "total":
            return "合计"
        kind, _, code = key.partition(".")
        known = rules.department_by_code if kind == "dept" else rules.county_by_code
        if kind not in ("dept", "county") or code not in known:
            return key
        return rules.unit_name(kind, code)

    return name


def namer(report: Report, units: Callable[[str], str]) -> Namer:
    """The names of every dimension's keys: ``units`` for units, the records' for the rest."""

    def name(dimension: str, key: str) -> str:
        if key == "total":
            return "合计"
        if key == UNKNOWN:
            return "未知"
        if dimension == "unit":
            return units(key)
        if dimension == "county" and key == CITY:
            return "市本级"
        if dimension == "channel":
            return CHANNEL_NAMES.get(key, key)
        return report.labels.get((dimension, key), key)

    return name


def _percent(rate: float | None) -> str:
    return DASH if rate is None else f"{rate * 100:.1f}%"


def _title(report: Report) -> str:
    p = report.period
    return f"{p.title()} ({p}, Asia/Shanghai {p.start:%Y-%m-%d %H:%M} – {p.end:%Y-%m-%d %H:%M})"


def _cells(row: Row, keys: Sequence[str]) -> list[str]:
    values = row.as_dict()
    cells = []
    for key in keys:
        value = values[key]
        if key == "resolution_rate":
            cells.append(_percent(value) + (BELOW if row.below_target else ""))
        elif isinstance(value, float) or value is None:
            cells.append(_percent(value))
        else:
            cells.append(str(value))
    return cells


def _table(report: Report, dimension: str, name: Namer, keys: Sequence[str]) -> list[str]:
    rows = report.breakdowns[dimension]
    heads = {k: h for h, k, _ in _COLUMNS}
    body = [
        [name(dimension, r.key), "" if r.key == "total" else r.key, *_cells(r, keys)]
        for r in [*rows, report.total]
    ]
    head = [DIMENSION_NAMES[dimension], "代码", *(heads[k] for k in keys)]
    return table(head, body, right_from=2).splitlines()


def _common_problems(report: Report, name: Namer) -> list[str]:
    most = report.most_petitions()
    lowest = report.lowest_satisfaction()
    lines = ["共性问题研判"]
    lines.append(
        "  诉求最多的主题: "
        + ("; ".join(f"{name('theme', r.key)} {r.received}件" for r in most) or DASH)
    )
    lines.append(
        "  满意率最低的主题: "
        + (
            "; ".join(
                f"{name('theme', r.key)} {_percent(r.satisfaction_rate)} ({r.rated}件评价)"
                for r in lowest
            )
            or DASH
        )
    )
    return lines


def format_text(report: Report, name: Namer) -> str:
    """The tables an operator reads: one line per unit, then the city-wide total, the units
    below the 办结率 target, each other breakdown, and the common problems."""
    head = _title(report)
    if not report.units:
        return f"{head}\nno events in this period"
    lines = [head, *_table(report, "unit", name, [k for _, k, _ in _COLUMNS])]
    below = [r for r in report.units if r.below_target]
    lines.append(
        f"办结率目标 {_TARGET_TEXT} (省定): "
        + (
            f"{len(below)} 个单位低于目标 {BELOW}: "
            + ", ".join(f"{name('unit', r.key)} {_percent(r.resolution_rate)}" for r in below)
            if below
            else "所有单位达到目标"
        )
    )
    for dimension in DIMENSIONS[1:]:
        lines.append("")
        lines.extend(_table(report, dimension, name, _SHORT))
    lines.append("")
    lines.extend(_common_problems(report, name))
    lines.append(
        "响应率 = 按时签收/签收  办结率 = 办结/受理  限时办结率 = 按时办结/办结  "
        "满意率 = (满意+基本满意)/评价  "
        "评价作废: 单位异议经联席办作废的不满意 (不计入评价与满意率)  "
        "问题解决/解释说明: 答复的类别  逾期未办结: 期末仍逾期未办结  "
        "重复诉求率 = 重复诉求/受理 (前案已办结后再次诉求, 另立新案)  "
        "并案: 前案未办结时的重复诉求, 并入前案, 不另计受理  —: 分母为0  "
        f"{BELOW}: 办结率低于{_TARGET_TEXT}"
    )
    return "\n".join(lines)


def csv_rows(report: Report, name: Namer) -> list[list[str]]:
    """The CSV's rows, header first: every breakdown's rows (the dimension first), each followed
    by the city-wide total; rates in percent with one decimal, empty when undefined; 低于目标 is
    1 for a 办结率 below the province's target."""
    out = [
        [
            "维度",
            "名称",
            "代码",
            *(h + ("(%)" if k == "rate" else "") for h, _, k in _COLUMNS),
            f"低于{_TARGET_TEXT}目标",
        ]
    ]
    if not report.units:
        return out
    for dimension in DIMENSIONS:
        for row in [*report.breakdowns[dimension], report.total]:
            values = row.as_dict()
            out.append(
                [
                    DIMENSION_NAMES[dimension],
                    name(dimension, row.key),
                    "" if row.key == "total" else row.key,
                    *(
                        ("" if values[key] is None else f"{values[key] * 100:.1f}")
                        if kind == "rate"
                        else str(values[key])
                        for _, key, kind in _COLUMNS
                    ),
                    "1" if row.below_target else "0",
                ]
            )
    return out


def write_csv(path: Path, report: Report, name: Namer) -> None:
    """The rows as CSV, UTF-8 with a byte-order mark (so Excel reads the Chinese right)."""
    buf = io.StringIO()
    csv.writer(buf).writerows(csv_rows(report, name))
    path.write_text(buf.getvalue(), encoding="utf-8-sig", newline="")


def format_json(report: Report, name: Namer) -> str:
    """The figures for machines: counts, rates as fractions (``null`` when undefined)."""
    p = report.period

    def rows(dimension: str, key_name: str) -> list[dict[str, object]]:
        return [
            {**r.as_dict(key_name), "name": name(dimension, r.key)}
            for r in report.breakdowns[dimension]
        ]

    return json.dumps(
        {
            "period": str(p),
            "kind": p.kind,
            "timezone": "Asia/Shanghai",
            "from": p.start.isoformat(),
            "to": p.end.isoformat(),
            "resolution_target": RESOLUTION_TARGET,
            "units": rows("unit", "unit"),
            "total": report.total.as_dict(),
            "breakdowns": {d: rows(d, "key") for d in DIMENSIONS[1:]},
            "common_problems": {
                "most_petitions": [
                    {"theme": r.key, "name": name("theme", r.key), "received": r.received}
                    for r in report.most_petitions()
                ],
                "lowest_satisfaction": [
                    {
                        "theme": r.key,
                        "name": name("theme", r.key),
                        "rated": r.rated,
                        "satisfaction_rate": r.satisfaction_rate,
                    }
                    for r in report.lowest_satisfaction()
                ],
            },
        },
        ensure_ascii=False,
        indent=2,
    )
