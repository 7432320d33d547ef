"""What ``petition-hub dev`` prints: its progress while it starts, its banner, the calendar's
warnings and the live summary (read from the worker's own metrics).

Consumes the process's Prometheus registry and the working-day calendar; emits text only. Every
line fits in :data:`COLUMNS` terminal columns (a Chinese character takes two), so nothing wraps on
an ordinary terminal; every command line it prints works from any folder (absolute paths).
"""

from __future__ import annotations

import shlex
import unicodedata
from collections import Counter as Tally
from datetime import date
from pathlib import Path

from prometheus_client import Metric

from petition_hub.domain.calendar import WorkingCalendar, YearStatus
from petition_hub.service import metrics

#: The width of every line dev prints.
COLUMNS = 100
#: How the summary's lines after the first are indented (under the elapsed time).
INDENT = " " * 8


def width(text: str) -> int:
    """Terminal columns ``text`` takes: wide and full-width characters (Chinese) take two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def fit(line: str, columns: int = COLUMNS) -> str:
    """``line`` cut to ``columns`` terminal columns, ending in ``…`` when something was cut."""
    if width(line) <= columns:
        return line
    out, used = [], 0
    for char in line:
        w = width(char)
        if used + w > columns - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + "…"


def wrap(text: str, columns: int = COLUMNS, indent: str = "    ") -> str:
    """``text`` (a log line, say) folded into lines of at most ``columns`` terminal columns, the
    later ones indented by ``indent``: nothing is cut. Breaks after a space where one is near
    the end of a line, else at the column (a long path, a run of Chinese)."""
    lines: list[str] = []
    for raw in text.split("\n"):
        rest, lead = raw, ""
        while width(lead + rest) > columns:
            room, used, cut, space = columns - width(lead), 0, 0, -1
            for i, char in enumerate(rest):
                used += width(char)
                if used > room:
                    break
                cut = i + 1
                if char == " ":
                    space = cut
            if space > room // 2:  # a word boundary not too far back
                cut = space
            lines.append((lead + rest[:cut]).rstrip())
            rest, lead = rest[cut:].lstrip(" "), indent
        lines.append(lead + rest)
    return "\n".join(lines)


def _samples(metric_name: str) -> list[tuple[dict[str, str], float]]:
    out: list[tuple[dict[str, str], float]] = []
    for family in metrics.REGISTRY.collect():
        fam: Metric = family
        for sample in fam.samples:
            if sample.name == metric_name:
                out.append((sample.labels, sample.value))
    return out


def _total(name: str, **labels: str) -> int:
    return int(
        sum(
            value
            for found, value in _samples(name)
            if all(found.get(k) == v for k, v in labels.items())
        )
    )


def summary_lines(elapsed: int) -> list[str]:
    """What the worker has done so far, from its Prometheus metrics: petitions in and dead
    letters; where they were routed; what the units and petitioners did, and the SLA ladder's
    steps. Five lines of at most :data:`COLUMNS` columns."""
    accepted = Tally[str]()
    for labels, value in _samples("petition_hub_petitions_received_total"):
        if labels["kind"] in ("new", "edit"):
            accepted[labels["channel"]] += int(value)
    dead = Tally[str]()
    for labels, value in _samples("petition_hub_dead_letters_total"):
        dead[labels["reason"]] += int(value)
    led = Tally[str]()
    for labels, value in _samples("petition_hub_routed_total"):
        if labels["role"] == "lead" and value:  # every unit's series exists, at 0 until used
            led[labels["unit"]] += int(value)
    elsewhere = Tally[str]()
    for labels, value in _samples("petition_hub_routing_decisions_total"):
        if labels["kind"] != "units":
            elsewhere[labels["kind"]] += int(value)
    steps = Tally[str]()
    for labels, value in _samples("petition_hub_sla_steps_total"):
        steps[labels["step"]] += int(value)
    ratings = _total("petition_hub_lifecycle_events_total", source="evaluation", result="accepted")
    per_channel = ", ".join(f"{c} {n}" for c, n in sorted(accepted.items())) or "none yet"
    reasons = ", ".join(f"{r} {n}" for r, n in dead.most_common(5)) or "none"
    units = ", ".join(f"{u} {n}" for u, n in led.most_common(2)) or "none yet"
    other = ", ".join(f"{k} {n}" for k, n in sorted(elsewhere.items())) or "none"
    ladder = ", ".join(f"{s} {n}" for s, n in sorted(steps.items()) if n) or "none yet"
    lines = [
        f"[{elapsed:>4}s] petitions in: {sum(accepted.values())} ({per_channel})",
        f"{INDENT}dead letters: {sum(dead.values())} ({reasons})",
        f"{INDENT}routed to {len(led)} units (top: {units}; {other})",
        f"{INDENT}signed for {_total('petition_hub_signed_for_total')}, "
        f"replied {_total('petition_hub_resolved_total')}, ratings {ratings}, "
        f"reopened {_total('petition_hub_reopened_total')}, "
        f"closed {_total('petition_hub_closed_total')}",
        f"{INDENT}SLA ladder: {ladder}",
    ]
    return [fit(line) for line in lines]


def calendar_warnings(cal: WorkingCalendar, today: date) -> list[str]:
    """A line for each year a clock started today can reach (this one and the next) whose working
    days are not official: provisional (the law's holidays, no 调休) or missing altogether."""
    lines = []
    for year in (today.year, today.year + 1):
        status = cal.year_status(year)
        if status.is_official:
            continue
        if status is YearStatus.PROVISIONAL:
            what = (
                f"{year} is provisional (no official notice yet): its deadlines are marked "
                "provisional"
            )
        else:
            what = f"{year} has no calendar: a deadline that falls in it cannot be computed"
        lines.append(fit(f"  calendar {what}"))
    if lines:
        lines.append(
            fit("           import the notice: petition-hub calendar import NOTICE.txt --write")
        )
    return lines


def cli_line(broker_url: str, key_file: Path | None, data_dir: Path) -> str:
    """A command line for the operator's tools against dev's broker, that works from any folder:
    every path in it is absolute."""
    key = (
        f'HUB_PII_KEY="$(cat {shlex.quote(str(key_file.resolve()))})" '
        if key_file is not None
        else ""
    )
    data = shlex.quote(str(data_dir.resolve()))
    return f"HUB_BROKER={broker_url} {key}HUB_DATA_DIR={data} petition-hub dlq list"


def banner(
    *,
    bootstrap: str,
    topics: str,
    port: int,
    demo: str,
    key: str,
    cli: str,
    calendar: list[str],
    console: list[str] | None = None,
) -> str:
    """What dev prints once the broker runs and the topics exist, before the worker starts."""
    lines = [
        "petition hub (dev)",
        f"  broker   {bootstrap}  (embedded Tansu, memory only)",
        f"  topics   {topics}",
        f"  metrics  http://127.0.0.1:{port}/metrics",
        f"  health   http://127.0.0.1:{port}/health",
        *(console or []),
        f"  demo     {demo}",
        f"  key      {key}",
        *calendar,
        f"  CLI      {cli}",
        "           (the operator's tools on this hub: from any folder, in another terminal)",
        "  stop     Ctrl-C",
    ]
    # the command line and the lines naming a file (key, topics) stay whole: cut, a command would
    # not run and a path would lead nowhere; everything else fits the screen
    whole = (f"  CLI      {cli}", f"  key      {key}", f"  topics   {topics}")
    physical = "\n".join(lines).split("\n")
    return "\n".join(line if line in whole else fit(line) for line in physical)
