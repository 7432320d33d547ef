"""``petition-hub report``: the public 通报 for a month, quarter or year, per unit and broken down
by county, type, channel and theme, with the province's 办结率 target and the common problems.

The source of truth is the event log: ``hub.lifecycle`` (``LifecycleEvent``) and ``hub.sla``
(``SlaEvent``, any version), read whole. Delivery is at-least-once, so events are counted once per
event id: the record's CloudEvents ``ce_id`` header, which is what the stages write (their record
bodies leave ``eventId`` empty); the body's ``eventId`` only for a record without the header. The
definitions are those of the Prometheus recording rules (see :mod:`petition_hub.service.metrics`);
a period (:class:`~petition_hub.ops.report_periods.Period`) is a calendar month, quarter or year
in Asia/Shanghai, ``[start, end)``, and an event belongs to it by its ``at``:

- received (受理): ``state_changed`` to ``routed``, for ``leadUnit`` (else ``unit``);
- signed for: ``hub.sla`` clock ``sign_for``, signal ``met`` or ``missed``, for ``unit``; on time
  is ``met``. 响应率 = on time / signed for;
- resolved (办结): clock ``resolve``, ``met`` or ``missed``; on time is ``met``. 办结率 = resolved /
  received (it can exceed 100 %: a period resolves petitions received earlier); the province's
  target is :data:`RESOLUTION_TARGET` (95 %), and a unit below it is flagged. 限时办结率 =
  resolved on time / resolved;
- rated: ``state_changed`` to ``closed`` or ``reopened`` with ``satisfaction`` set (the final
  rating of a reply round), for ``leadUnit`` (else ``unit``); satisfied is ``SATISFIED`` or
  ``BASICALLY_SATISFIED``. 满意率 = satisfied / rated. A 不满意 the joint-meeting office voided on
  the unit's dispute (``dispute_decided`` with ``disputeOutcome`` ``voided``, whenever decided:
  its ``ratedAt`` is the rating's ``at``) is not rated: it counts as voided (作废), in the
  rating's period;
- replied: ``state_changed`` to ``replied``, for ``unit``, split by ``replyKind``: resolved
  (问题解决; also a record without it) or explained (解释说明);
- repeats (重复诉求): the received (``state_changed`` to ``routed``) whose record names an earlier,
  closed case (``repeatOf``: a repeat after the first case closed opens a case of its own), for
  the same unit. 重复诉求率 = repeats / received. A repeat linked to an open case (``repeat_linked``
  on that case) has no lifecycle record of its own: it is not received, rated or a repeat again
  (counted once); it counts as linked (并案), for the case's ``leadUnit``, in the period of its
  ``at``;
- overdue (逾期): ``hub.sla`` signal ``overdue`` in the period (either clock), for ``unit``;
- overdue open (逾期未办结, at the end of the period: "now" for the current one): resolve clocks
  (per petition and round) with an ``overdue`` signal before the end and no ``met``, ``missed``
  or ``cancelled`` before it, for the overdue signal's ``unit`` (the gauge
  ``petition_hub_overdue_petitions``).

Breakdowns: type (``petitionType``) and channel are on the events themselves; theme and county
(the 属地) are not, so they come from what routing sent the lead unit: the ``UnitPetition`` with
role ``LEAD`` on the units' ``.petitions`` topics (its latest revision), joined by petition id
(:class:`Facts`). A petition routing never sent to a lead counts as 未知 there. Every breakdown
counts the same events (those naming a unit), so each adds up to the city-wide total.

Common problems (共性问题研判): the themes with the most petitions received in the period, and the
themes with the lowest 满意率 (rated at least once in the period).

A rate whose denominator is zero is ``None``, shown as "—" (empty in CSV), never 0 % or 100 %.
Events that name no unit count nowhere. Everything here but :func:`read_events` is pure; the
formats are :mod:`petition_hub.ops.report_format`'s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from petition_hub.ops.report_periods import TIMEZONE, Period, aware
from petition_hub.topics import names

if TYPE_CHECKING:  # the wire format is imported when the topics are read (start-up time)
    from petition_hub.schemas import records as wire

__all__ = [
    "COUNTS",
    "DIMENSIONS",
    "LIFECYCLE_TOPIC",
    "RESOLUTION_TARGET",
    "SLA_TOPIC",
    "TIMEZONE",
    "UNKNOWN",
    "Events",
    "Facts",
    "Period",
    "Report",
    "Row",
    "compute",
    "facts_of",
    "read_events",
    "total",
]

LIFECYCLE_TOPIC: Final = names.LIFECYCLE
SLA_TOPIC: Final = names.SLA

#: The province's target for 办结率 (at least 95 %, domain.md "Metrics").
RESOLUTION_TARGET: Final = 0.95
#: The breakdowns, in the order the report shows them.
DIMENSIONS: Final = ("unit", "county", "type", "channel", "theme")
#: The key of a dimension a petition's records do not tell (shown as 未知).
UNKNOWN: Final = "unknown"
#: The key of the city as a whole as 属地 (a matter in no one county: 市本级).
CITY: Final = "city"
#: How many themes each list of the common problems names.
COMMON_PROBLEMS: Final = 5

SATISFIED: Final = frozenset({"SATISFIED", "BASICALLY_SATISFIED"})
RATED_STATES: Final = frozenset({"closed", "reopened"})
STOPPED: Final = frozenset({"met", "missed"})
RESOLVE_ENDED: Final = frozenset({"met", "missed", "cancelled"})

#: Every count of a row. Later parts of issue 14 add theirs here and a column in
#: report_format._COLUMNS: province transfers (counted apart, against no unit).
COUNTS: Final = (
    "received",
    "signed_for",
    "signed_for_on_time",
    "resolved",
    "resolved_on_time",
    "rated",
    "satisfied",
    "overdue",
    "overdue_open",
    "voided",
    "replied_resolved",
    "replied_explained",
    "repeats",
    "linked",
)


@dataclass(frozen=True)
class Row:
    """One unit's (or county's, type's, channel's, theme's) counts for a period, and the rates."""

    key: str
    """``dept.TAX``, ``county.410402``, a county code, ``政策咨询``, ``HOTLINE``, ``T07``;
    ``total`` for the city-wide row, :data:`UNKNOWN` when the records do not tell."""
    received: int = 0
    signed_for: int = 0
    signed_for_on_time: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    overdue: int = 0
    overdue_open: int = 0
    voided: int = 0
    """不满意 ratings the office voided on the unit's dispute: not in ``rated``."""
    replied_resolved: int = 0
    """Replies of kind resolved (问题解决)."""
    replied_explained: int = 0
    """Replies of kind explained (解释说明)."""
    repeats: int = 0
    """Cases received that name an earlier, closed case (重复诉求): in ``received`` too."""
    linked: int = 0
    """Repeats linked to an open case (并案): not in ``received``."""

    @property
    def response_rate(self) -> float | None:
        """响应率: signed for on time / signed for."""
        return _ratio(self.signed_for_on_time, self.signed_for)

    @property
    def resolution_rate(self) -> float | None:
        """办结率: resolved / received."""
        return _ratio(self.resolved, self.received)

    @property
    def below_target(self) -> bool:
        """办结率 below the province's 95 % (False when it is undefined)."""
        rate = self.resolution_rate
        return rate is not None and rate < RESOLUTION_TARGET

    @property
    def on_time_resolution_rate(self) -> float | None:
        """限时办结率: resolved on time / resolved."""
        return _ratio(self.resolved_on_time, self.resolved)

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率: (满意 + 基本满意) / rated."""
        return _ratio(self.satisfied, self.rated)

    @property
    def repeat_rate(self) -> float | None:
        """重复诉求率: repeats / received."""
        return _ratio(self.repeats, self.received)

    def as_dict(self, key_name: str = "unit") -> dict[str, Any]:
        """Counts and rates (fractions, ``None`` for a zero denominator), English keys; the row's
        key under ``key_name``."""
        return {
            key_name: self.key,
            **{c: getattr(self, c) for c in COUNTS[:3]},
            "response_rate": self.response_rate,
            **{c: getattr(self, c) for c in COUNTS[3:5]},
            "resolution_rate": self.resolution_rate,
            "below_target": self.below_target,
            "on_time_resolution_rate": self.on_time_resolution_rate,
            **{c: getattr(self, c) for c in COUNTS[5:7]},
            "satisfaction_rate": self.satisfaction_rate,
            **{c: getattr(self, c) for c in COUNTS[7:]},
            "repeat_rate": self.repeat_rate,
        }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def total(rows: Sequence[Row]) -> Row:
    """The city-wide row: every count summed, rates made of the sums."""
    return Row("total", **{c: sum(getattr(r, c) for r in rows) for c in COUNTS})


@dataclass(frozen=True)
class Facts:
    """What routing sent a petition's lead unit (its ``UnitPetition``, role ``LEAD``) that the
    events do not carry: the theme and the 属地."""

    theme: str | None = None
    theme_name: str | None = None
    county: str | None = None
    """The county-level unit's code (``410402``), :data:`CITY` for the city as a whole."""
    county_name: str | None = None
    revision: int = -1
    routed_at: datetime | None = None


def facts_of(record: Mapping[str, Any]) -> Facts:
    """The :class:`Facts` of a decoded ``UnitPetition`` (any version)."""
    kind, code = record.get("locationKind"), record.get("locationCode")
    county = code if kind == "county" and code else CITY if kind == "city" else None
    routed_at = record.get("routedAt")
    return Facts(
        theme=record.get("theme") or None,
        theme_name=record.get("themeName") or None,
        county=county,
        county_name=record.get("locationName") if county == code else None,
        revision=int(record.get("revision") or 0),
        routed_at=aware(routed_at) if isinstance(routed_at, datetime) else None,
    )


def _later(a: Facts, b: Facts) -> bool:
    """Whether ``a`` is a later routing than ``b`` (revision, then time)."""
    far = datetime.min.replace(tzinfo=TIMEZONE)
    return (a.revision, a.routed_at or far) > (b.revision, b.routed_at or far)


@dataclass(frozen=True)
class Report:
    """A period's rows per dimension (:data:`DIMENSIONS`), and the names the records gave."""

    period: Period
    breakdowns: Mapping[str, list[Row]]
    """Dimension → rows, sorted by received (descending), then key."""
    labels: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(dimension, key) → the name the records gave it (themes, counties)."""

    @property
    def units(self) -> list[Row]:
        """The rows per unit."""
        return self.breakdowns["unit"]

    @property
    def total(self) -> Row:
        """The city-wide row."""
        return total(self.units)

    def most_petitions(self, n: int = COMMON_PROBLEMS) -> list[Row]:
        """The ``n`` themes with the most petitions received in the period (none received: not
        named)."""
        rows = [r for r in self.breakdowns["theme"] if r.received and r.key != UNKNOWN]
        return sorted(rows, key=lambda r: (-r.received, r.key))[:n]

    def lowest_satisfaction(self, n: int = COMMON_PROBLEMS) -> list[Row]:
        """The ``n`` themes with the lowest 满意率 among those rated in the period (ties: the
        more ratings first)."""
        rows = [r for r in self.breakdowns["theme"] if r.rated and r.key != UNKNOWN]
        return sorted(rows, key=lambda r: (r.satisfaction_rate or 0.0, -r.rated, r.key))[:n]


# --- counting -----------------------------------------------------------------------------------


def _at(record: Mapping[str, Any]) -> datetime | None:
    at = record.get("at")
    return aware(at) if isinstance(at, datetime) else None


def _unique(records: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Each ``eventId`` once (the first seen): a redelivery repeats the id. :func:`read_events`
    puts the record's ``ce_id`` there."""
    seen: set[str] = set()
    for r in records:
        event_id = r.get("eventId")
        if event_id:  # an empty id identifies nothing
            if event_id in seen:
                continue
            seen.add(event_id)
        yield r


class _Tally:
    """Counts per (dimension, key): an event of a unit counts once in every dimension."""

    def __init__(self, facts: Mapping[str, Facts]) -> None:
        self.facts = facts
        self.counts: dict[tuple[str, str], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(COUNTS, 0)
        )

    def keys(self, unit: str, record: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        f = self.facts.get(str(record.get("petitionId")), Facts())
        yield "unit", unit
        yield "county", f.county or UNKNOWN
        yield "type", record.get("petitionType") or UNKNOWN
        yield "channel", record.get("channel") or UNKNOWN
        yield "theme", f.theme or UNKNOWN

    def add(self, count: str, unit: str, record: Mapping[str, Any], n: int = 1) -> None:
        for key in self.keys(unit, record):
            self.counts[key][count] += n

    def breakdowns(self) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {d: [] for d in DIMENSIONS}
        for (dimension, key), c in self.counts.items():
            if any(c.values()):
                out[dimension].append(Row(key, **c))
        for rows in out.values():
            rows.sort(key=lambda row: (-row.received, row.key))
        return out


def _voided(records: Iterable[Mapping[str, Any]]) -> set[tuple[str, datetime]]:
    """(petition id, the rating's time) of every rating the office voided on a dispute."""
    out: set[tuple[str, datetime]] = set()
    for r in records:
        rated_at = r.get("ratedAt")
        voided = r.get("kind") == "dispute_decided" and r.get("disputeOutcome") == "voided"
        if voided and isinstance(rated_at, datetime):
            out.add((str(r.get("petitionId")), aware(rated_at)))
    return out


def _count_lifecycle(tally: _Tally, records: Iterable[Mapping[str, Any]], period: Period) -> None:
    unique = list(_unique(records))
    voided = _voided(unique)
    for r in unique:
        at = _at(r)
        unit = r.get("leadUnit") or r.get("unit")
        if at is None or at not in period or not unit:
            continue
        if r.get("kind") == "repeat_linked":  # the repeat itself has no record: counted once
            tally.add("linked", unit, r)
        if r.get("kind") != "state_changed":
            continue
        to_state = r.get("toState")
        if to_state == "routed":
            tally.add("received", unit, r)
            tally.add("repeats", unit, r, int(bool(r.get("repeatOf"))))
        elif to_state == "replied":
            explained = r.get("replyKind") == "explained"
            tally.add("replied_explained" if explained else "replied_resolved", unit, r)
        satisfaction = r.get("satisfaction")
        if satisfaction and to_state in RATED_STATES:
            if satisfaction == "DISSATISFIED" and (str(r.get("petitionId")), at) in voided:
                tally.add("voided", unit, r)
                continue
            tally.add("rated", unit, r)
            tally.add("satisfied", unit, r, int(satisfaction in SATISFIED))


def _count_sla(tally: _Tally, records: Iterable[Mapping[str, Any]], period: Period) -> None:
    # resolve clocks (petition, round) -> the first overdue signal, and when they ended
    overdue_since: dict[tuple[str, int], Mapping[str, Any]] = {}
    ended: dict[tuple[str, int], datetime] = {}
    for r in _unique(records):
        at = _at(r)
        unit = r.get("unit")
        if at is None:
            continue
        clock, signal = r.get("clock"), r.get("signal")
        if clock == "resolve":
            key = (str(r.get("petitionId")), int(r.get("round") or 0))
            if signal == "overdue" and unit:
                first = overdue_since.get(key)
                if first is None or at < aware(first["at"]):
                    overdue_since[key] = r
            elif signal in RESOLVE_ENDED:
                ended[key] = min(at, ended.get(key, at))
        if not unit or at not in period:
            continue
        if signal == "overdue":
            tally.add("overdue", unit, r)
        elif signal in STOPPED and clock == "sign_for":
            tally.add("signed_for", unit, r)
            tally.add("signed_for_on_time", unit, r, int(signal == "met"))
        elif signal in STOPPED and clock == "resolve":
            tally.add("resolved", unit, r)
            tally.add("resolved_on_time", unit, r, int(signal == "met"))

    for key, first in overdue_since.items():
        stop = ended.get(key)
        if aware(first["at"]) < period.end and (stop is None or stop >= period.end):
            tally.add("overdue_open", str(first["unit"]), first)


def compute(
    lifecycle_records: Iterable[Mapping[str, Any]],
    sla_records: Iterable[Mapping[str, Any]],
    period: Period,
    facts: Mapping[str, Facts] | None = None,
) -> Report:
    """The report for ``period`` from decoded ``LifecycleEvent`` and ``SlaEvent`` records (the
    whole topics, any order, ``eventId`` the record's id) and what routing told the lead units
    (``facts``, petition id → :class:`Facts`). Only keys with something to count appear. See the
    module docstring for the definitions."""
    known = facts or {}
    tally = _Tally(known)
    _count_lifecycle(tally, lifecycle_records, period)
    _count_sla(tally, sla_records, period)
    labels: dict[tuple[str, str], str] = {}
    for f in known.values():
        if f.theme and f.theme_name:
            labels["theme", f.theme] = f.theme_name
        if f.county and f.county_name:
            labels["county", f.county] = f.county_name
    return Report(period, tally.breakdowns(), labels)


# --- reading (the one impure part) ---------------------------------------------------------------


@dataclass
class Events:
    """The decoded records of the topics, and how many could not be used."""

    lifecycle: list[wire.LifecycleEvent] = field(default_factory=list)
    sla: list[wire.SlaEvent] = field(default_factory=list)
    facts: dict[str, Facts] = field(default_factory=dict)
    """Petition id → what routing last sent its lead unit."""
    skipped: int = 0
    """Records with no value, not wire-format Avro, or of another schema (the units' notices on
    their ``.petitions`` topics are not counted here: they are expected there)."""


def unit_petition_topics(bootstrap: str, options: Mapping[str, Any] | None = None) -> list[str]:
    """Every unit's ``.petitions`` topic on the broker (``dept.*``, ``county.*``)."""
    from petition_hub.broker import tools

    client = tools.consumer(bootstrap, options)
    try:
        metadata = client.list_topics(timeout=15.0)
    finally:
        client.close()
    return sorted(t for t in metadata.topics if names.is_unit_topic(t) and t.endswith(".petitions"))


def read_events(bootstrap: str, options: Mapping[str, Any] | None = None) -> Events:
    """``hub.lifecycle``, ``hub.sla`` and the units' ``.petitions`` topics whole, to their high
    watermarks, decoded; each event's ``eventId`` is its record's ``ce_id``. ``options``: the
    client's SASL and TLS settings (:func:`petition_hub.service.security.confluent_config`).
    Of a unit's petitions only the theme and location are kept (:class:`Facts`), nothing
    personal."""
    from petition_hub import schemas
    from petition_hub.broker.reading import read_all_of
    from petition_hub.runtime.cloudevents import event_id_of
    from petition_hub.schemas import codec

    events = Events()
    lifecycle_ids = schemas.record_ids(codec.LIFECYCLE_RECORD)  # any version
    sla_ids = schemas.record_ids(codec.SLA_RECORD)
    unit_ids = schemas.record_ids(codec.UNIT_PETITION_RECORD)
    topics = [LIFECYCLE_TOPIC, SLA_TOPIC, *unit_petition_topics(bootstrap, options)]
    for record in read_all_of(bootstrap, topics, options=options):
        try:
            sid, value = schemas.decode(record.value) if record.value else (None, None)
        except schemas.WireFormatError:
            sid, value = None, None
        if value is None:
            events.skipped += 1
        elif record.topic == LIFECYCLE_TOPIC and sid in lifecycle_ids:
            event_id = event_id_of(record.headers) or value.get("eventId")
            events.lifecycle.append(codec.read_lifecycle_event({**value, "eventId": event_id}))
        elif record.topic == SLA_TOPIC and sid in sla_ids:
            event_id = event_id_of(record.headers) or value.get("eventId")
            events.sla.append(codec.read_sla_event({**value, "eventId": event_id}))
        elif sid in unit_ids:
            _keep_facts(events.facts, codec.read_unit_petition(value))
        elif record.topic in (LIFECYCLE_TOPIC, SLA_TOPIC):
            events.skipped += 1
    return events


def _keep_facts(facts: dict[str, Facts], record: wire.UnitPetition) -> None:
    """The lead's record of a petition, if it is the latest routing of it seen so far."""
    if record.get("role") != "LEAD":
        return
    new = facts_of(record)
    old = facts.get(record["petitionId"])
    if old is None or _later(new, old):
        facts[record["petitionId"]] = new
