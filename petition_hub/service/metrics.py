"""The hub's Prometheus metrics, in one registry, served at ``/metrics`` by the worker.

Names follow Prometheus conventions (``petition_hub_`` prefix, ``_total`` counters, base units);
labels are bounded (channel, reason, unit, type): never a petition id or anything personal.
Counters are per process and restart at zero, which ``rate()``/``increase()`` handle.

Beside the hub's own families the registry carries the client library's standard collectors
(``process_*``: memory, CPU, open files, start time; ``python_info``; ``python_gc_*``) and
``petition_hub_build_info``. Every ``_info`` metric is constant at 1 (a new value replaces the
old series). Every known label value (channels, dead-letter reasons, routing kinds, units, ...)
exists at 0 from the start (:func:`create_known_series`, :func:`create_unit_series`): a series
born at 1 hides its first event from ``increase()``.
"""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import get_args

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from petition_hub.connectors.base import Reason
from petition_hub.domain.intake import Admission
from petition_hub.domain.lifecycle.states import Closure
from petition_hub.domain.petition import Channel
from petition_hub.domain.routing.model import DecisionKind
from petition_hub.domain.sla.state import ClockKind, LadderStep

disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double the exposition and no rule uses them

REGISTRY = CollectorRegistry(auto_describe=True)

#: The client library's standard collectors (the default registry's), on the hub's registry too:
#: ``process_*`` (Linux /proc: resident and virtual memory, CPU seconds, open and max file
#: descriptors, start time), ``python_info`` and ``python_gc_*``, under their usual names so the
#: usual dashboards and alerts find them.
STANDARD_COLLECTORS: tuple[Collector, ...] = (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR)
for _collector in STANDARD_COLLECTORS:
    REGISTRY.register(_collector)


def _git_commit() -> str:
    """The commit of the checkout the package runs from, or ``unknown`` (an installed wheel)."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=2,
            check=True,
        )
        top, commit = done.stdout.split()
    except (OSError, subprocess.SubprocessError, ValueError):
        return "unknown"
    # a wheel installed inside another repository's folder must not report that one's commit
    return commit if (Path(top) / "topics.yaml").is_file() else "unknown"


def _package_version() -> str:
    try:
        return version("petition-hub")
    except PackageNotFoundError:
        return "unknown"


BUILD_INFO = Gauge(
    "petition_hub_build_info",
    "The hub's build: package version, git commit (revision, unknown outside a checkout) and "
    "Python version; constant 1.",
    ["version", "revision", "python_version"],
    registry=REGISTRY,
)
BUILD_INFO.labels(_package_version(), _git_commit(), platform.python_version()).set(1)

RECEIVED = Counter(
    "petition_hub_intake_messages_total",
    "Messages read from a channel topic, by channel.",
    ["channel"],
    registry=REGISTRY,
)
ACCEPTED = Counter(
    "petition_hub_petitions_received_total",
    "Canonical petitions accepted at intake (new petitions and edits), by channel.",
    ["channel", "kind"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "petition_hub_dead_letters_total",
    "Messages that could not be taken in and went to hub.deadletter, by channel and reason.",
    ["channel", "reason"],
    registry=REGISTRY,
)
STAGE_RECORDS = Counter(
    "petition_hub_stage_records_total",
    "Records a batch stage processed and committed, by stage.",
    ["stage"],
    registry=REGISTRY,
)
STAGE_BATCH_SECONDS = Histogram(
    "petition_hub_stage_batch_seconds",
    "Time to process a batch and have every output acknowledged by the broker, by stage.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)


CONSUMER_LAG = Gauge(
    "petition_hub_consumer_lag_records",
    "Records not yet processed by a stage (fetch high watermark minus position), by stage and "
    "topic, summed over the partitions this worker holds.",
    ["stage", "topic"],
    registry=REGISTRY,
)
ERASURES = Counter(
    "petition_hub_erasures_total",
    "Erasures of a petition's personal data the eraser carried out (outcome erased) or found "
    "nothing to erase for (not_found), by reason (retention, request).",
    ["reason", "outcome"],
    registry=REGISTRY,
)
ROUTING_LATENCY = Histogram(
    "petition_hub_routing_latency_seconds",
    "Time from a petition's intake (its hub.petitions record) to its routing records being sent.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
ROUTED = Counter(
    "petition_hub_routing_decisions_total",
    "Routing decisions by channel and kind (units, triage, province_transfer, province_return).",
    ["channel", "kind"],
    registry=REGISTRY,
)
UNIT_ROUTED = Counter(
    "petition_hub_routed_total",
    "Petitions sent to a unit's topic, by unit and role (lead, co_handler).",
    ["unit", "role"],
    registry=REGISTRY,
)
RETURNED = Counter(
    "petition_hub_returned_total",
    "Petitions a unit returned as not its own (re-routed without it), by unit.",
    ["unit"],
    registry=REGISTRY,
)
REJECTS = Counter(
    "petition_hub_rejects_total",
    "Events not applied (hub.rejects), by source topic and reason.",
    ["topic", "reason"],
    registry=REGISTRY,
)
RULES_INFO = Gauge(
    "petition_hub_rules_info",
    "The routing rules version in force (constant 1; a new version replaces the series).",
    ["version"],
    registry=REGISTRY,
)
CALENDAR_MISSING = Gauge(
    "petition_hub_calendar_year_missing",
    "1 when a deadline needed a year whose official working-day calendar is not available.",
    ["year"],
    registry=REGISTRY,
)


# --- the lifecycle (issue 5): per unit, from which the joint-meeting office's rates are computed
# by recording rules (deploy/prometheus): 响应率 = signed_for_on_time / signed_for, 办结率 =
# resolved / routed (lead), 限时办结率 = resolved_on_time / resolved, 满意率 = satisfied / rated.
# ``unit`` is a unit key (dept.TAX, county.410402): bounded by the reference data.

SLA_STEPS = Counter(
    "petition_hub_sla_steps_total",
    "Warning-ladder steps fired (hub.sla), by unit, clock (sign_for, resolve) and step "
    "(warning, urging, overdue, listed_supervision).",
    ["unit", "clock", "step"],
    registry=REGISTRY,
)
SIGNED_FOR = Counter(
    "petition_hub_signed_for_total",
    "Petitions signed for (签收) by their lead unit.",
    ["unit"],
    registry=REGISTRY,
)
SIGNED_FOR_ON_TIME = Counter(
    "petition_hub_signed_for_on_time_total",
    "Petitions signed for by their lead unit within the sign-for deadline (响应率 numerator).",
    ["unit"],
    registry=REGISTRY,
)
RESOLVED = Counter(
    "petition_hub_resolved_total",
    "Petitions replied to (办结) by their lead unit, per reply round.",
    ["unit"],
    registry=REGISTRY,
)
RESOLVED_ON_TIME = Counter(
    "petition_hub_resolved_on_time_total",
    "Replies within the resolve deadline (限时办结率 numerator).",
    ["unit"],
    registry=REGISTRY,
)
RATED = Counter(
    "petition_hub_rated_total",
    "Final ratings of a reply round by the petitioner (a change replaces the rating: counted "
    "when the round closes), by unit.",
    ["unit"],
    registry=REGISTRY,
)
SATISFIED = Counter(
    "petition_hub_satisfied_total",
    "Final ratings 满意 or 基本满意 (满意率 numerator), by unit.",
    ["unit"],
    registry=REGISTRY,
)
REOPENED = Counter(
    "petition_hub_reopened_total",
    "Petitions reopened after a 不满意 rating, by unit.",
    ["unit"],
    registry=REGISTRY,
)
CLOSED = Counter(
    "petition_hub_closed_total",
    "Petitions closed, by unit and how (rated, dissatisfied, unrated).",
    ["unit", "closure"],
    registry=REGISTRY,
)
OPEN = Gauge(
    "petition_hub_open_petitions",
    "Petitions being handled (routed, not yet replied or reopened) whose lifecycle this worker "
    "holds, by lead unit (sum over workers). Rebuilt from the state on every restart.",
    ["unit"],
    registry=REGISTRY,
)
OVERDUE = Gauge(
    "petition_hub_overdue_petitions",
    "Open petitions past their resolve deadline, by lead unit (逾期清单; sum over workers).",
    ["unit"],
    registry=REGISTRY,
)
TRIAGE_BACKLOG = Gauge(
    "petition_hub_triage_backlog",
    "Petitions waiting for the joint-meeting office's triage decision (sum over workers).",
    registry=REGISTRY,
)
TIMERS_PENDING = Gauge(
    "petition_hub_timers_pending",
    "Petitions with a clock step or an evaluation window still to come, held by this worker.",
    registry=REGISTRY,
)
LIFECYCLE_EVENTS = Counter(
    "petition_hub_lifecycle_events_total",
    "Events applied to petitions' lifecycles, by source (routing, unit, office, evaluation, "
    "timer) and result (accepted, rejected, parked).",
    ["source", "result"],
    registry=REGISTRY,
)


# --- deployment (issue 6): whether next year's working-day calendar is known, for the alert
# "next year's calendar missing by 1 December" (deploy/prometheus/rules/alerts.yml). Set at start
# and hourly by the worker (petition_hub.service.app), from petition_hub.domain.calendar.
CALENDAR_NEXT_YEAR = Gauge(
    "petition_hub_calendar_next_year_available",
    "1 when next year's official working-day calendar is known (chinesecalendar, or its notice "
    "transcribed in the override file); 0 when it is only provisional (the law's statutory "
    "holidays) or missing.",
    registry=REGISTRY,
)
STAGE_FENCED = Counter(
    "petition_hub_stage_fenced_total",
    "Times a stage stopped producing because it may have lost its partitions (no recent "
    "heartbeat, or a rebalance outlasting half its timeout); it restores them if they come back.",
    ["stage"],
    registry=REGISTRY,
)
CALENDAR_INFO = Gauge(
    "petition_hub_calendar_info",
    "The working-day calendar in force, by digest (constant 1; a new one replaces the series).",
    ["digest"],
    registry=REGISTRY,
)
CLOCKS_PROVISIONAL = Gauge(
    "petition_hub_clocks_provisional",
    "Open clocks whose deadline or pending ladder times were counted on a provisional year (no "
    "State Council notice yet): import the notice (petition-hub calendar import).",
    registry=REGISTRY,
)


#: The per-unit counters behind the four rates (the recording rules' inputs).
RATINGS_VOIDED = Counter(
    "petition_hub_ratings_voided_total",
    "Final ratings 不满意 the joint-meeting office voided on the unit's dispute (they leave "
    "满意率: its denominator is rated minus voided), by unit; counted when the office decides.",
    ["unit"],
    registry=REGISTRY,
)

_RATE_COUNTERS = (
    SIGNED_FOR,
    SIGNED_FOR_ON_TIME,
    RESOLVED,
    RESOLVED_ON_TIME,
    RATED,
    SATISFIED,
    RATINGS_VOIDED,
)


def create_unit_series(units: Iterable[str]) -> None:
    """Make every unit's per-unit counters exist at 0 (``units``: ``dept.TAX``, …).

    ``increase()`` cannot see a series' first increment: a series born at 1 would lose that event
    from the rates. Called once when the worker is wired. The ladder steps and closures also
    under ``none`` (a petition no unit leads yet).
    """
    units = list(units)
    for unit in (*units, "none"):
        for clock in ClockKind:
            for step in LadderStep:
                SLA_STEPS.labels(unit, clock.value, step.value)
        for closure in Closure:
            CLOSED.labels(unit, closure.value)
    for unit in units:
        for role in ("lead", "co_handler"):
            UNIT_ROUTED.labels(unit, role)
        for counter in (*_RATE_COUNTERS, REOPENED, RETURNED):
            counter.labels(unit)


def create_reject_series(reasons_by_topic: Mapping[str, Iterable[str]]) -> None:
    """Make ``petition_hub_rejects_total{topic, reason}`` exist at 0 for every reason a stage can
    give on each of its source topics (each stage passes its own, when it is wired)."""
    for topic, reasons in reasons_by_topic.items():
        for reason in reasons:
            REJECTS.labels(topic, reason)


def set_info(info: Gauge, *values: str) -> None:
    """Make ``values`` the one series of the ``_info`` gauge ``info``, at 1 (the convention: an
    info metric is constant 1; the value in force is its labels, an old one disappears)."""
    info.clear()
    info.labels(*values).set(1)


#: The lifecycle's event sources and results (``petition_hub_lifecycle_events_total``); parked
#: events are counted under source ``parked`` by why, which is open-ended, so not listed.
LIFECYCLE_SOURCES = ("routing", "unit", "office", "evaluation", "timer")
LIFECYCLE_RESULTS = ("accepted", "rejected", "ignored")
#: What dead-letters a record at a batch stage (``runtime/delivery.py``), channel ``stage``.
STAGE_DEAD_LETTER_REASONS = ("internal", "unwritable_output")


def create_known_series() -> None:
    """Make every series whose label values are known in advance exist at 0: by channel, dead-
    letter reason, admission, routing decision kind, erasure reason and outcome, lifecycle
    source and result. Done on import: every process that exports the registry has them."""
    for channel in Channel:
        RECEIVED.labels(channel.value)
        for admission in Admission:
            ACCEPTED.labels(channel.value, admission.value)
        for reason in Reason:
            DEAD_LETTERS.labels(channel.value, reason.value)
        for kind in get_args(DecisionKind):
            ROUTED.labels(channel.value, kind)
    for stage_reason in STAGE_DEAD_LETTER_REASONS:
        DEAD_LETTERS.labels("stage", stage_reason)
    for why in ("retention", "request"):
        for outcome in ("erased", "not_found"):
            ERASURES.labels(why, outcome)
    for source in LIFECYCLE_SOURCES:
        for result in LIFECYCLE_RESULTS:
            LIFECYCLE_EVENTS.labels(source, result)


create_known_series()


def flag_calendar_missing(year: int) -> bool:
    """Set ``petition_hub_calendar_year_missing{year}``; True the first time in this process
    (for the caller to log once, not once per petition)."""
    gauge = CALENDAR_MISSING.labels(str(year))
    first = not gauge._value.get()
    gauge.set(1)
    return first


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus text format, with its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
