"""``petition-hub report``: each unit's figures for a calendar month (the public 通报).

The source of truth is the event log: ``hub.lifecycle`` (``LifecycleEvent``) and ``hub.sla``
(``SlaEvent``, any version), read whole. Delivery is at-least-once, so events are counted once per
event id: the record's CloudEvents ``ce_id`` (the body's ``eventId`` for a record without one).
The definitions are those of the Prometheus recording rules (see
:mod:`petition_hub.service.metrics`); a period is a calendar month in Asia/Shanghai,
``[start, end)``, and an event belongs to it by its ``at``:

- received (受理): ``state_changed`` to ``routed``, for ``leadUnit`` (else ``unit``);
- signed for: ``hub.sla`` clock ``sign_for``, signal ``met`` or ``missed``, for ``unit``; on time
  is ``met``. 响应率 = on time / signed for;
- resolved (办结): clock ``resolve``, ``met`` or ``missed``; on time is ``met``. 办结率 = resolved /
  received (it can exceed 100 %: a month resolves petitions received earlier), 限时办结率 =
  resolved on time / resolved;
- rated: ``state_changed`` to ``closed`` or ``reopened`` with ``satisfaction`` set (the final
  rating of a reply round), for ``leadUnit`` (else ``unit``); satisfied is ``SATISFIED`` or
  ``BASICALLY_SATISFIED``. 满意率 = satisfied / rated;
- overdue (逾期): ``hub.sla`` signal ``overdue`` in the period (either clock), for ``unit``;
- overdue open (逾期未办结, at the end of the period: "now" for the current month): resolve clocks
  (per petition and round) with an ``overdue`` signal before the end and no ``met``, ``missed``
  or ``cancelled`` before it, for the overdue signal's ``unit`` (the gauge
  ``petition_hub_overdue_petitions``).

A rate whose denominator is zero is ``None``, shown as "—" (empty in CSV), never 0 % or 100 %.
Events that name no unit count for no unit. Everything here but :func:`read_events` is pure.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from petition_hub.domain.rules import RuleSet
from petition_hub.ops.cliopts import table
from petition_hub.topics import names

if TYPE_CHECKING:  # the wire format is imported when the topics are read (start-up time)
    from petition_hub.schemas import records as wire

__all__ = [
    "LIFECYCLE_TOPIC",
    "SLA_TOPIC",
    "TIMEZONE",
    "Events",
    "Period",
    "UnitRow",
    "compute",
    "csv_rows",
    "format_json",
    "format_text",
    "read_events",
    "total",
    "unit_namer",
    "write_csv",
]

LIFECYCLE_TOPIC: Final = names.LIFECYCLE
SLA_TOPIC: Final = names.SLA
#: The joint-meeting office's calendar: months begin at midnight Beijing time.
TIMEZONE: Final = ZoneInfo("Asia/Shanghai")

SATISFIED: Final = frozenset({"SATISFIED", "BASICALLY_SATISFIED"})
RATED_STATES: Final = frozenset({"closed", "reopened"})
STOPPED: Final = frozenset({"met", "missed"})
RESOLVE_ENDED: Final = frozenset({"met", "missed", "cancelled"})
DASH: Final = "—"

_PERIOD: Final = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A calendar month in Asia/Shanghai: ``start`` inclusive, ``end`` exclusive."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9998:
            raise ValueError(f"not a month: {self.year:04d}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``YYYY-MM``; ``ValueError`` for anything else."""
        m = _PERIOD.match(text.strip())
        if m is None:
            raise ValueError(f"period must be YYYY-MM, not {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def start(self) -> datetime:
        """The first instant of the month, Beijing time."""
        return datetime(self.year, self.month, 1, tzinfo=TIMEZONE)

    @property
    def end(self) -> datetime:
        """The first instant of the next month, Beijing time."""
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return datetime(year, month, 1, tzinfo=TIMEZONE)

    def __contains__(self, at: object) -> bool:
        return isinstance(at, datetime) and self.start <= _aware(at) < self.end

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class UnitRow:
    """One unit's counts for a period, and the rates made of them."""

    unit: str
    """The unit key: ``dept.TAX``, ``county.410402`` (``total`` for the city-wide row)."""
    received: int = 0
    signed_for: int = 0
    signed_for_on_time: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    overdue: int = 0
    overdue_open: int = 0

    @property
    def response_rate(self) -> float | None:
        """响应率: signed for on time / signed for."""
        return _ratio(self.signed_for_on_time, self.signed_for)

    @property
    def resolution_rate(self) -> float | None:
        """办结率: resolved / received."""
        return _ratio(self.resolved, self.received)

    @property
    def on_time_resolution_rate(self) -> float | None:
        """限时办结率: resolved on time / resolved."""
        return _ratio(self.resolved_on_time, self.resolved)

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率: (满意 + 基本满意) / rated."""
        return _ratio(self.satisfied, self.rated)

    def as_dict(self) -> dict[str, Any]:
        """Counts and rates (fractions, ``None`` for a zero denominator), English keys."""
        return {
            "unit": self.unit,
            "received": self.received,
            "signed_for": self.signed_for,
            "signed_for_on_time": self.signed_for_on_time,
            "response_rate": self.response_rate,
            "resolved": self.resolved,
            "resolved_on_time": self.resolved_on_time,
            "resolution_rate": self.resolution_rate,
            "on_time_resolution_rate": self.on_time_resolution_rate,
            "rated": self.rated,
            "satisfied": self.satisfied,
            "satisfaction_rate": self.satisfaction_rate,
            "overdue": self.overdue,
            "overdue_open": self.overdue_open,
        }


_COUNTS: Final = (
    "received",
    "signed_for",
    "signed_for_on_time",
    "resolved",
    "resolved_on_time",
    "rated",
    "satisfied",
    "overdue",
    "overdue_open",
)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _aware(at: datetime) -> datetime:
    """fastavro gives UTC-aware datetimes; a naive one is taken as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _at(record: Mapping[str, Any]) -> datetime | None:
    at = record.get("at")
    return _aware(at) if isinstance(at, datetime) else None


def _unique(records: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    """Each ``eventId`` once (the first seen): a redelivery repeats the id."""
    seen: set[str] = set()
    for r in records:
        event_id = r.get("eventId")
        if event_id:  # an empty id identifies nothing
            if event_id in seen:
                continue
            seen.add(event_id)
        yield r


def compute(
    lifecycle_records: Iterable[Mapping[str, Any]],
    sla_records: Iterable[Mapping[str, Any]],
    period: Period,
) -> list[UnitRow]:
    """Each unit's row for ``period``, from decoded ``LifecycleEvent.v1`` and ``SlaEvent.v1``
    records (the whole topics, any order), sorted by received (descending), then unit key.

    Only units with something to count appear. See the module docstring for the definitions.
    """
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_COUNTS, 0))

    for r in _unique(lifecycle_records):
        at = _at(r)
        if r.get("kind") != "state_changed" or at is None or at not in period:
            continue
        unit = r.get("leadUnit") or r.get("unit")
        if not unit:
            continue
        to_state = r.get("toState")
        if to_state == "routed":
            counts[unit]["received"] += 1
        satisfaction = r.get("satisfaction")
        if satisfaction and to_state in RATED_STATES:
            counts[unit]["rated"] += 1
            if satisfaction in SATISFIED:
                counts[unit]["satisfied"] += 1

    # resolve clocks (petition, round) -> (first overdue time, its unit), and when they ended
    overdue_since: dict[tuple[str, int], tuple[datetime, str]] = {}
    ended: dict[tuple[str, int], datetime] = {}
    for r in _unique(sla_records):
        at = _at(r)
        unit = r.get("unit")
        if at is None:
            continue
        clock, signal = r.get("clock"), r.get("signal")
        if clock == "resolve":
            key = (str(r.get("petitionId")), int(r.get("round") or 0))
            if signal == "overdue" and unit:
                first = overdue_since.get(key)
                if first is None or at < first[0]:
                    overdue_since[key] = (at, unit)
            elif signal in RESOLVE_ENDED:
                ended[key] = min(at, ended.get(key, at))
        if not unit or at not in period:
            continue
        row = counts[unit]
        if signal == "overdue":
            row["overdue"] += 1
        elif signal in STOPPED and clock == "sign_for":
            row["signed_for"] += 1
            row["signed_for_on_time"] += int(signal == "met")
        elif signal in STOPPED and clock == "resolve":
            row["resolved"] += 1
            row["resolved_on_time"] += int(signal == "met")

    for key, (since, unit) in overdue_since.items():
        stop = ended.get(key)
        if since < period.end and (stop is None or stop >= period.end):
            counts[unit]["overdue_open"] += 1

    rows = [UnitRow(unit, **c) for unit, c in counts.items() if any(c.values())]
    return sorted(rows, key=lambda row: (-row.received, row.unit))


def total(rows: Sequence[UnitRow]) -> UnitRow:
    """The city-wide row: every count summed, rates made of the sums."""
    return UnitRow("total", **{c: sum(getattr(r, c) for r in rows) for c in _COUNTS})


# --- names --------------------------------------------------------------------------------------


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


# --- formatting ---------------------------------------------------------------------------------

#: (header, English key, kind) of every column of the text table and the CSV.
_COLUMNS: Final = (
    ("受理", "received", "count"),
    ("签收", "signed_for", "count"),
    ("按时签收", "signed_for_on_time", "count"),
    ("响应率", "response_rate", "rate"),
    ("办结", "resolved", "count"),
    ("按时办结", "resolved_on_time", "count"),
    ("办结率", "resolution_rate", "rate"),
    ("限时办结率", "on_time_resolution_rate", "rate"),
    ("评价", "rated", "count"),
    ("满意", "satisfied", "count"),
    ("满意率", "satisfaction_rate", "rate"),
    ("逾期", "overdue", "count"),
    ("逾期未办结", "overdue_open", "count"),
)


def _percent(rate: float | None) -> str:
    return DASH if rate is None else f"{rate * 100:.1f}%"


def _title(period: Period) -> str:
    return (
        f"{period.year}年{period.month}月 ({period}, Asia/Shanghai "
        f"{period.start:%Y-%m-%d %H:%M} – {period.end:%Y-%m-%d %H:%M})"
    )


def format_text(rows: Sequence[UnitRow], period: Period, name: Callable[[str], str]) -> str:
    """The table an operator reads: one line per unit, then the city-wide total."""
    head = _title(period)
    if not rows:
        return f"{head}\nno events in this period"
    body = []
    for row in [*rows, total(rows)]:
        values = row.as_dict()
        body.append(
            [
                name(row.unit),
                "" if row.unit == "total" else row.unit,
                *(
                    _percent(values[key]) if kind == "rate" else str(values[key])
                    for _, key, kind in _COLUMNS
                ),
            ]
        )
    lines = table(["单位", "代码", *(h for h, _, _ in _COLUMNS)], body, right_from=2).splitlines()
    notes = (
        "响应率 = 按时签收/签收  办结率 = 办结/受理  限时办结率 = 按时办结/办结  "
        "满意率 = (满意+基本满意)/评价  逾期未办结: 期末仍逾期未办结  —: 分母为0"
    )
    return "\n".join([head, *lines, notes])


def csv_rows(rows: Sequence[UnitRow], name: Callable[[str], str]) -> list[list[str]]:
    """The CSV's rows, header first: rates in percent with one decimal, empty when undefined;
    the last row is the city-wide total (unit code empty)."""
    out = [["单位", "单位代码", *(h + ("(%)" if k == "rate" else "") for h, _, k in _COLUMNS)]]
    for row in [*rows, total(rows)] if rows else []:
        values = row.as_dict()
        out.append(
            [
                name(row.unit),
                "" if row.unit == "total" else row.unit,
                *(
                    ("" if values[key] is None else f"{values[key] * 100:.1f}")
                    if kind == "rate"
                    else str(values[key])
                    for _, key, kind in _COLUMNS
                ),
            ]
        )
    return out


def write_csv(path: Path, rows: Sequence[UnitRow], name: Callable[[str], str]) -> None:
    """The table as CSV, UTF-8 with a byte-order mark (so Excel reads the Chinese right)."""
    buf = io.StringIO()
    csv.writer(buf).writerows(csv_rows(rows, name))
    path.write_text(buf.getvalue(), encoding="utf-8-sig", newline="")


def format_json(rows: Sequence[UnitRow], period: Period, name: Callable[[str], str]) -> str:
    """The figures for machines: counts, rates as fractions (``null`` when undefined)."""
    return json.dumps(
        {
            "period": str(period),
            "timezone": "Asia/Shanghai",
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "units": [{**r.as_dict(), "name": name(r.unit)} for r in rows],
            "total": total(rows).as_dict(),
        },
        ensure_ascii=False,
        indent=2,
    )


# --- reading (the one impure part) ---------------------------------------------------------------


@dataclass
class Events:
    """The decoded records of both topics, and how many could not be used."""

    lifecycle: list[wire.LifecycleEvent] = field(default_factory=list)
    sla: list[wire.SlaEvent] = field(default_factory=list)
    skipped: int = 0
    """Records with no value, not wire-format Avro, or of another schema."""


def read_events(bootstrap: str, options: Mapping[str, Any] | None = None) -> Events:
    """``hub.lifecycle`` and ``hub.sla`` whole, to their high watermarks, decoded. ``options``:
    the client's SASL and TLS settings
    (:func:`petition_hub.service.security.confluent_config`)."""
    from petition_hub import schemas
    from petition_hub.broker.reading import read_all
    from petition_hub.runtime.cloudevents import event_id_of
    from petition_hub.schemas import codec

    events = Events()

    def decoded(topic: str, name: str) -> Iterator[dict[str, Any]]:
        wanted = schemas.record_ids(name)  # any version: each reads the ones before
        for record in read_all(bootstrap, topic, options=options):
            try:
                sid, value = schemas.decode(record.value) if record.value else (None, None)
            except schemas.WireFormatError:
                sid, value = None, None
            if sid not in wanted or value is None:
                events.skipped += 1
                continue
            # the hub writes the stable id in the record's CloudEvents header (``ce_id``); the
            # body's ``eventId`` is the writer's own (empty in the hub's records)
            yield {**value, "eventId": event_id_of(record.headers) or value.get("eventId")}

    events.lifecycle = [
        codec.read_lifecycle_event(v) for v in decoded(LIFECYCLE_TOPIC, codec.LIFECYCLE_RECORD)
    ]
    events.sla = [codec.read_sla_event(v) for v in decoded(SLA_TOPIC, codec.SLA_RECORD)]
    return events
