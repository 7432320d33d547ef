"""``petition-hub calendar``: what the hub counts working days on, and importing a notice.

``status`` lists each year from last year to two years ahead with its source (official /
provisional / none), where the official data came from, and how many open clocks a worker runs on
a provisional year (read from its ``/metrics``). ``import`` reads the text of the State Council's
notice, shows the year it understood day by day for review, and with ``write`` adds it to the
override file (every worker reading that file picks it up within seconds and recomputes the open
clocks that move).
"""

from __future__ import annotations

import calendar as monthcal
import os
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from petition_hub.domain.calendar import (
    OFFICIAL_YEARS,
    CalendarOverrides,
    WorkingCalendar,
    YearOverride,
    YearStatus,
    load_overrides,
)
from petition_hub.domain.notice import ParsedNotice
from petition_hub.ops.cliopts import table

__all__ = [
    "ImportError_",
    "YearRow",
    "format_review",
    "format_status",
    "open_provisional_clocks",
    "status_rows",
    "write_notice",
]


@dataclass(frozen=True, slots=True)
class YearRow:
    year: int
    source: str
    """official, provisional or none."""
    status: YearStatus
    origin: str
    working_days: int | None


def status_rows(cal: WorkingCalendar, today: date) -> list[YearRow]:
    """Last year to two years ahead of ``today``."""
    rows = []
    for year in range(today.year - 1, today.year + 3):
        status = cal.year_status(year)
        count = None if status is YearStatus.UNAVAILABLE else len(cal.working_days_in(year))
        rows.append(YearRow(year, status.source, status, cal.year_origin(year), count))
    return rows


def open_provisional_clocks(metrics_url: str, timeout: float = 2.0) -> float | None:
    """``petition_hub_clocks_provisional`` of the worker serving ``metrics_url``; None when no
    worker answers there. (Each worker counts the partitions it holds: ask each.)"""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(metrics_url, timeout=timeout) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "petition_hub_clocks_provisional":
                return float(sample.value)
    return None


def format_status(
    rows: list[YearRow], source_file: str, clocks: float | None, metrics_url: str
) -> str:
    lines = [f"calendar file: {source_file}", ""]
    body = [
        [r.year, r.source, "-" if r.working_days is None else r.working_days, r.origin]
        for r in rows
    ]
    lines += table(["year", "source", "working days", "from"], body).splitlines()
    lines.append("")
    if clocks is None:
        lines.append(f"open clocks on a provisional year: unknown (no worker at {metrics_url})")
    else:
        lines.append(
            f"open clocks on a provisional year: {int(clocks)} (the worker at {metrics_url})"
        )
    if any(r.status is YearStatus.PROVISIONAL for r in rows):
        lines.append(
            "a provisional year counts the law's statutory holidays (补假 included, no 调休): "
            "when the State Council publishes its notice, run "
            "`petition-hub calendar import NOTICE.txt --write`"
        )
    return "\n".join(lines)


def status_json(rows: list[YearRow], source_file: str, clocks: float | None) -> dict[str, Any]:
    return {
        "calendar_file": source_file,
        "years": [
            {
                "year": r.year,
                "source": r.source,
                "status": r.status.value,
                "origin": r.origin,
                "working_days": r.working_days,
            }
            for r in rows
        ],
        "open_clocks_provisional": clocks,
    }


# --- import ---------------------------------------------------------------------------------------

_MARK = {"work": "·", "rest": "-", "holiday": "H", "makeup": "W"}


def _day_kind(day: date, notice: ParsedNotice) -> str:
    if day in notice.working_days():
        return "makeup"
    if day in notice.days_off():
        return "holiday"
    return "work" if day.weekday() < 5 else "rest"


def notice_working(day: date, notice: ParsedNotice) -> bool:
    """Whether ``day`` is a working day by the notice (weekdays work, weekends rest, apart from
    its days off and make-up days)."""
    return _day_kind(day, notice) in ("work", "makeup")


def format_review(notice: ParsedNotice, cal: WorkingCalendar) -> str:
    """The year as understood: each holiday line, a month grid, and how it differs from what the
    hub counts now (the provisional year, or the official data)."""
    year = notice.year
    lines = [notice.title, ""]
    for h in notice.holidays:
        off = f"{h.days_off[0].isoformat()} to {h.days_off[-1].isoformat()}"
        work = ", ".join(d.isoformat() for d in h.working_days) or "none"
        lines.append(
            f"line {h.line}: {h.festival}: {len(h.days_off)} days off ({off}); worked: {work}"
        )
    lines += [
        "",
        f"legend: {_MARK['work']} working day, {_MARK['rest']} weekend, "
        f"{_MARK['holiday']} holiday, {_MARK['makeup']} make-up working day (调休)",
    ]
    lines.append("         " + "".join(str(d % 10) for d in range(1, 32)))
    for month in range(1, 13):
        days = monthcal.monthrange(year, month)[1]
        marks = "".join(_MARK[_day_kind(date(year, month, d), notice)] for d in range(1, days + 1))
        lines.append(f"{year}-{month:02d}  {marks}")
    first = date(year, 1, 1)
    all_days = [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]
    working = sum(notice_working(d, notice) for d in all_days)
    lines += ["", f"{working} working days in {year}"]
    status = cal.year_status(year)
    if status is not YearStatus.UNAVAILABLE:
        moved = [d for d in all_days if notice_working(d, notice) != cal.is_working_day(d)]
        what = f"the hub's {status.source} {year} ({cal.year_origin(year)})"
        if moved:
            shown = ", ".join(
                f"{d.isoformat()} {'work' if notice_working(d, notice) else 'off'}"
                for d in moved[:20]
            )
            more = f" and {len(moved) - 20} more" if len(moved) > 20 else ""
            lines.append(f"differs from {what} on {len(moved)} days: {shown}{more}")
        else:
            lines.append(f"identical to {what}")
    return "\n".join(lines)


class ImportError_(ValueError):
    """The notice cannot be added to the override file (the message says why)."""


def write_notice(notice: ParsedNotice, path: Path, cal: WorkingCalendar) -> str:
    """Add ``notice``'s year to the override file at ``path`` (written atomically, validated
    before it replaces the old file; its header comments are kept). Returns what was done."""
    year = notice.year
    outside = [d for d in (*notice.days_off(), *notice.working_days()) if d.year != year]
    for day in outside:
        if cal.is_working_day(day) != notice_working(day, notice):
            raise ImportError_(
                f"{day.isoformat()} lies in {day.year} and the hub counts it differently: "
                f"correct {day.year} in {path} by hand"
            )
    if year in OFFICIAL_YEARS:
        first = date(year, 1, 1)
        days = [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]
        moved = [d for d in days if notice_working(d, notice) != cal.is_working_day(d)]
        if not moved:
            return f"{year} is already official (chinesecalendar) and identical: nothing written"
        raise ImportError_(
            f"{year} is already official (chinesecalendar) and differs on "
            f"{', '.join(d.isoformat() for d in moved[:10])}: correct those dates by hand"
        )
    current = load_overrides(path) if path.exists() else CalendarOverrides()
    entry = YearOverride(
        notice=notice.title,
        holidays=tuple(d for d in notice.days_off() if d.year == year),
        working_days=tuple(d for d in notice.working_days() if d.year == year),
        note="imported with petition-hub calendar import",
    )
    if current.years.get(year) == entry:
        return f"{year} is already in {path}: nothing written"
    replaced = year in current.years
    years = {**current.years, year: entry}
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    body = {
        "years": {
            y: {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in e.model_dump(mode="python").items()
                if v not in (None, (), [])
            }
            for y, e in sorted(years.items())
        }
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(
        header + "\n" + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=100),
        encoding="utf-8",
    )
    try:
        load_overrides(tmp)  # never leave a file the workers would refuse
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    verb = "replaced" if replaced else "added"
    return f"{year} {verb} in {path}: workers reading it recompute their open clocks within seconds"
