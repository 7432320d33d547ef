"""The petition lifecycle: SLA clocks, units' status events, ratings, from routing to closure.

Two batch stages:

``evaluations``: the petitioners' ratings from ``miniprogram.evaluations`` (key ``appealId``) and
``hotline12345.callbacks`` (key ``GDBH``), decoded by the channel connectors and re-keyed by hub
petition id into ``<app>-evaluations-repartition`` (Avro ``Evaluation.v1``). What does not decode
goes to ``hub.deadletter`` with the reason, like intake's dead letters.

``lifecycle``, over four co-partitioned topics keyed by petition id:

- Consumes: ``<app>-routed`` (routing decisions, Avro ``Routed.v1``), the units' status events
  re-keyed by ``unit-status`` (``UnitStatus.v1``, stamped with the unit), ``office.decisions``
  (extension approvals and refusals; triage routes are routing's and come back as ``Routed``) and
  the re-keyed ratings.
- Applies each to the petition's state with the pure state machine
  (:func:`petition_hub.domain.lifecycle.apply`); an event that does not fit goes to
  ``hub.rejects`` with the reason and changes nothing. A status or rating for a petition this
  stage has not seen routed yet waits (``HUB_LIFECYCLE_PARK_SECONDS``) for the routing record,
  which may be behind on another topic, before it is rejected as unknown.
- Emits: every state change (and extension requests and answers, urging, back-to-routing) on
  ``hub.lifecycle`` (``LifecycleEvent.v1``; routing reads the back-to-routing requests from
  there); every clock event on ``hub.sla`` (``SlaEvent.v1``); notices to the lead unit on its own
  ``.petitions`` topic (``UnitNotice.v1``: ladder steps, extension answers, reopening); evaluation
  requests on ``miniprogram.evaluation-requests`` / ``hotline12345.callback-requests`` (JSON, in
  the channels' own terms); and for a provincial dispatch every state change on
  ``province.feedback`` (``Feedback.v1``).
- Keeps, per partition: petition id -> the lifecycle state (clocks, fired ladder steps, rating),
  the channel's reference, the last offset applied per source topic (a replay applies nothing
  twice), and the petition's history for the web endpoint (written once per batch, when the
  stage flushes); parked events. Derived, not stored:
  an index of the next due time per petition (a heap per partition, rebuilt on restore), so a
  tick looks only at what is due.

Timers fire once: the stage is exactly-once for its outputs (:mod:`petition_hub.runtime`): every
output has a stable event id (ladder steps: petition, clock, clock start and step; events: the
source record), so a crash or rebalance neither repeats nor loses a step.
"""

from __future__ import annotations

import base64
import heapq
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import faust
import structlog

from petition_hub import metrics, schemas
from petition_hub.app import stage_options
from petition_hub.clock import Clock, clock_from, system_clock
from petition_hub.connectors import DecodeError, hotline, miniprogram
from petition_hub.crypto import PiiCipher, cipher_for
from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar, default_calendar
from petition_hub.domain.lifecycle import (
    Accepted,
    Closure,
    EvaluationInvited,
    Event,
    ExtensionAnswered,
    ExtensionDecided,
    ExtensionForwarded,
    ExtensionRequested,
    InProgress,
    LifecycleState,
    MaterialReceived,
    MaterialRequested,
    PetitionState,
    Rated,
    Received,
    Rejection,
    Replied,
    Returned,
    Routed,
    RoutingRequested,
    SignedFor,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
    Tick,
    TriageRequested,
    TriageRouted,
    UnitUrged,
    apply,
    next_wakeup,
)
from petition_hub.domain.petition import (
    Channel,
    Evaluation,
    PetitionType,
    Satisfaction,
    Urgency,
    evaluation_to_avro,
)
from petition_hub.domain.rules import RuleSet
from petition_hub.domain.sla import SHANGHAI, ClockKind, deadline, provisional
from petition_hub.domain.validation import TimeOutOfRange, check_times
from petition_hub.live import live_calendar
from petition_hub.runtime.processor import Processor
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState
from petition_hub.settings import Settings
from petition_hub.topics import TopicSpec, load_topics

from .intake import dead_letter
from .routing import (
    DECISIONS,
    FEEDBACK,
    FEEDBACK_V1,
    LIFECYCLE,
    LIFECYCLE_KIND_HEADER,
    REJECTS,
    UNIT_HEADER,
    load_rules_at,
    rejection,
    routed_topic,
    status_repartition,
    undecodable_reason,
)

log = structlog.get_logger(__name__)

SLA: Final = "hub.sla"
#: Where a replied petition's evaluation is asked for, and the field naming the channel's
#: reference. The provincial contract has no rating channel: the city's 12345 calls the
#: petitioner back (GDBH = the dispatch id; the result comes back with petitionRef = hub id).
EVALUATION_REQUESTS: Final = {
    Channel.MINIPROGRAM: ("miniprogram.evaluation-requests", "appealId"),
    Channel.HOTLINE: ("hotline12345.callback-requests", "GDBH"),
    Channel.PROVINCE: ("hotline12345.callback-requests", "GDBH"),
}
_HUB_ID: Final = re.compile(r"PH-[A-Z2-7]{20}")
LIFECYCLE_V2: Final = "cn.gov.pds.hub.LifecycleEvent.v2"
SLA_V2: Final = "cn.gov.pds.hub.SlaEvent.v2"
NOTICE_V2: Final = "cn.gov.pds.hub.UnitNotice.v2"
#: Header of ``hub.lifecycle`` records saying what they are without decoding them (routing
#: reads only ``routing_requested`` and ``closed``).
KIND_HEADER: Final = LIFECYCLE_KIND_HEADER
#: How long a closed petition stays in the state (for the 已办 list and its history).
CLOSED_RETENTION: Final = timedelta(days=400)
#: How long an event waits when a year's calendar is missing, before it is tried again.
CALENDAR_RETRY: Final = timedelta(minutes=10)
#: Entries kept in a petition's history (the topics keep everything).
HISTORY_LIMIT: Final = 300
#: The longest one tick of one partition computes (seconds); the stage calls again at once.
TICK_BUDGET: Final = 0.02
#: How often the open / overdue gauges are recomputed (seconds).
GAUGES_EVERY: Final = 5.0

_HANDLING: Final = frozenset(
    {
        LifecycleState.ROUTED,
        LifecycleState.SIGNED_FOR,
        LifecycleState.IN_PROGRESS,
        LifecycleState.WAITING_MATERIAL,
        LifecycleState.EXTENDED,
        LifecycleState.REOPENED,
    }
)
_DONE: Final = frozenset({LifecycleState.REPLIED, LifecycleState.EVALUATED, LifecycleState.CLOSED})
_SATISFIED: Final = frozenset({Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED})
_AVRO_SATISFACTION: Final = {s: s.name for s in Satisfaction}
_FEEDBACK_STATUS: Final = {
    LifecycleState.RECEIVED: "RECEIVED",
    LifecycleState.TRIAGE: "RECEIVED",
    LifecycleState.ROUTED: "RECEIVED",
    LifecycleState.RETURNED: "RECEIVED",
    LifecycleState.SIGNED_FOR: "ACCEPTED",
    LifecycleState.IN_PROGRESS: "IN_PROGRESS",
    LifecycleState.WAITING_MATERIAL: "IN_PROGRESS",
    LifecycleState.EXTENDED: "EXTENDED",
    LifecycleState.REPLIED: "RESOLVED",
    LifecycleState.EVALUATED: "EVALUATED",
    LifecycleState.REOPENED: "IN_PROGRESS",
    LifecycleState.CLOSED: "EVALUATED",
}
_STEP_NOTICE: Final = {
    SlaSignalKind.WARNING: "50% of the time to {clock} has passed (预警)",
    SlaSignalKind.URGING: "80% of the time to {clock} has passed: urging (催办)",
    SlaSignalKind.OVERDUE: "the {clock} deadline has passed: overdue, under supervision (逾期督办)",
    SlaSignalKind.LISTED_SUPERVISION: "5 working days past the {clock} deadline: listed "
    "supervision (挂牌督办), reported to the leading group",
}
_CLOCK_WORDS: Final = {ClockKind.SIGN_FOR: "sign for", ClockKind.RESOLVE: "resolve"}
_PROVISIONAL_NOTE: Final = (
    "deadline provisional: counted on the statutory holidays; the State Council's arrangement "
    "for that year is not published yet"
)


def _local(t: datetime | None) -> str:
    return "unknown" if t is None else t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _deadline_changed_text(effect: SlaSignal) -> str:
    """What the unit (and the province) reads when the calendar moved a deadline."""
    words = _CLOCK_WORDS[effect.clock]
    text = (
        f"the working-day calendar changed: the {words} deadline is now "
        f"{_local(effect.deadline)} (was {_local(effect.previous_deadline)}, Beijing time)"
    )
    if effect.deadline == effect.previous_deadline:
        text = f"the working-day calendar changed: a pending {words} reminder moved"
    return f"{text}; {_PROVISIONAL_NOTE}" if effect.provisional else f"{text} (official)"


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


@dataclass
class Entry:
    """What the stage keeps per petition (one changelog record, JSON)."""

    state: PetitionState
    channel_ref: str
    seen: dict[str, int] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def dump(self) -> bytes:
        return json.dumps(
            {
                "s": self.state.model_dump(mode="json"),
                "ref": self.channel_ref,
                "seen": self.seen,
                "h": self.history[-HISTORY_LIMIT:],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def load(cls, raw: bytes) -> Entry:
        data = json.loads(raw)
        return cls(
            state=PetitionState.model_validate(data["s"]),
            channel_ref=data["ref"],
            seen=data["seen"],
            history=data["h"],
        )


@dataclass
class _Partition:
    """The derived, in-memory view of one partition's state."""

    entries: dict[str, Entry] = field(default_factory=dict)
    due: list[tuple[float, str]] = field(default_factory=list)
    scheduled: dict[str, float] = field(default_factory=dict)
    parked: dict[str, float] = field(default_factory=dict)  # pid -> when first parked (monotonic)
    dirty: set[str] = field(default_factory=set)  # changed since the last state flush


#: The time field of each input, as its schema names it (for a refusal's reason).
_TIME_FIELD: Final = {"unit": "at", "office": "decidedAt", "evaluation": "evaluatedAt"}


class LifecycleProcessor(Processor):
    """Applies routing decisions, unit status events, office decisions, ratings and the timer to
    each petition's lifecycle; says what to emit."""

    def __init__(
        self,
        *,
        rules: RuleSet,
        city: str,
        routed: str,
        statuses: str,
        evaluations: str,
        unit_topics: frozenset[str],
        clock: Clock,
        park_seconds: float = 60.0,
        calendar: Callable[[], WorkingCalendar] = default_calendar,
    ) -> None:
        self.rules = rules
        self.city = city
        self.routed = routed
        self.statuses = statuses
        self.evaluations = evaluations
        self.unit_topics = unit_topics
        self.clock = clock
        self.park_seconds = park_seconds
        self.calendar = calendar
        self.cal = calendar()
        """The calendar of the batch in hand (one per batch or tick: a reload mid-batch waits)."""
        self.parts: dict[int, _Partition] = {}
        self._gauges_at = 0.0

    # --- stage hooks -----------------------------------------------------------------------------

    def restored(self, partition: int, state: PartitionState) -> None:
        """Rebuild the partition's entries and due-time index from its restored state."""
        part = _Partition()
        now = time.monotonic()
        for key, raw in state.items():
            if key.startswith(b"\x00"):
                continue
            if key.startswith(b"w:"):
                part.parked[key[2:].decode()] = now  # waits a full period again after a restart
                continue
            entry = Entry.load(raw)
            part.entries[entry.state.petition_id] = entry
        self.parts[partition] = part
        self.cal = self.calendar()
        for pid, entry in part.entries.items():
            self._schedule(part, pid, entry)

    def flushing(self, partition: int, state: PartitionState) -> None:
        """Before the stage writes the partition's state: each changed petition's entry, once
        per batch however many events changed it."""
        part = self.parts.get(partition)
        if part is None:
            return
        for pid in part.dirty:
            entry = part.entries.get(pid)
            if entry is not None:
                state[pid.encode()] = entry.dump()
        part.dirty.clear()

    def revoked(self, partition: int) -> None:
        """The partition went to another worker: forget its view."""
        self.parts.pop(partition, None)

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        part = self.parts.setdefault(src.partition, _Partition())
        self._calendar_now()
        try:
            return self._dispatch(src, state, part)
        except Exception as exc:  # a bug must not skip the event: keep it, with why
            log.exception("lifecycle raised", source=src.ref)
            return self._reject(src, None, "internal", f"lifecycle raised {type(exc).__name__}")

    def tick(self, partition: int, state: PartitionState) -> Sequence[Output]:
        """Fire what is due: ladder steps, ends of evaluation windows, parked events' expiry."""
        part = self.parts.setdefault(partition, _Partition())
        self._calendar_now()
        now = self.clock()
        outputs: list[Output] = []
        limit = now.timestamp()
        budget = time.perf_counter() + TICK_BUDGET  # the rest is the next tick's, at once
        while part.due and part.due[0][0] <= limit and time.perf_counter() < budget:
            at, pid = heapq.heappop(part.due)
            if part.scheduled.get(pid) != at:
                continue  # rescheduled since
            del part.scheduled[pid]
            entry = part.entries.get(pid)
            if entry is None:
                continue
            if entry.state.state is LifecycleState.CLOSED and now >= (
                entry.state.updated_at + CLOSED_RETENTION
            ):
                del part.entries[pid]
                part.dirty.discard(pid)
                state.pop(pid.encode(), None)
                continue
            try:
                result = apply(entry.state, Tick(petition_id=pid, at=now), cal=self.cal)
            except CalendarUnavailable as exc:
                self._calendar_missing(exc)
                self._schedule_at(part, pid, now + CALENDAR_RETRY)
                continue
            assert isinstance(result, Accepted)  # a tick is never rejected
            outputs += self._accepted(pid, entry, result, None, f"{pid}@tick", state, part)
            metrics.LIFECYCLE_EVENTS.labels("timer", "accepted").inc()
        outputs += self._expire_parked(partition, state, part)
        if time.monotonic() - self._gauges_at > GAUGES_EVERY:
            self._update_gauges()
        return outputs

    # --- inputs ----------------------------------------------------------------------------------

    def _dispatch(self, src: SourceRecord, state: PartitionState, part: _Partition) -> list[Output]:
        if src.topic == self.routed:
            return self._on_routed(src, state, part)
        if src.topic == DECISIONS:
            return self._on_input(src, state, part, "office")
        if src.topic == self.statuses:
            return self._on_input(src, state, part, "unit")
        if src.topic == self.evaluations:
            return self._on_input(src, state, part, "evaluation")
        raise ValueError(f"{src.topic} is not a source of the lifecycle stage")

    def _on_routed(
        self, src: SourceRecord, state: PartitionState, part: _Partition
    ) -> list[Output]:
        _, rec = schemas.decode(src.value or b"")
        pid = str(rec["petitionId"])
        entry = part.entries.get(pid)
        if entry is not None and entry.seen.get(src.topic, -1) >= src.offset:
            return []  # a replay
        kind = rec["kind"]
        at: datetime = rec["routedAt"]
        events: list[Event] = []
        if entry is None:
            if kind in ("PROVINCE_TRANSFER", "PROVINCE_RETURN"):
                return []  # not this city's to handle: no lifecycle here
            events.append(
                Received(
                    petition_id=pid,
                    at=rec["receivedAt"],
                    channel=Channel[rec["channel"]],
                    petition_type=PetitionType(rec["petitionType"])
                    if rec["petitionType"]
                    else None,
                    urgency=Urgency[rec["urgency"]],
                    provincial_deadline=rec["provincialDeadline"],
                )
            )
            current = None
        else:
            current = entry.state.state
        if kind == "UNITS":
            lead, co = rec["lead"], tuple(rec["co"])
            if current is LifecycleState.TRIAGE:
                events.append(TriageRouted(petition_id=pid, at=at, lead_unit=lead, co_units=co))
            elif current in (None, LifecycleState.RECEIVED, LifecycleState.RETURNED):
                events.append(Routed(petition_id=pid, at=at, lead_unit=lead, co_units=co))
        elif kind == "TRIAGE" and current in (
            None,
            LifecycleState.RECEIVED,
            LifecycleState.RETURNED,
        ):
            events.append(TriageRequested(petition_id=pid, at=at, reason=rec.get("reason") or ""))
        if not events:
            # a later revision re-routed while a unit handles it: the handling stays (the unit
            # sees the edit on its topic); recorded in the history only
            if entry is not None:
                entry.seen[src.topic] = src.offset
                entry.history.append(_routing_history(rec, applied=False))
                part.dirty.add(pid)
            metrics.LIFECYCLE_EVENTS.labels("routing", "ignored").inc()
            return []
        outputs: list[Output] = []
        base = src.ref
        for i, event in enumerate(events):
            try:
                if entry is not None:
                    outputs += self._catch_up(pid, entry, min(event.at, self.clock()), state, part)
                result = apply(
                    entry.state if entry else None, event, cal=self.cal, now=self.clock()
                )
            except CalendarUnavailable as exc:
                self._calendar_missing(exc)
                return self._park(src, state, part, pid, "calendar")
            if isinstance(result, Rejection):
                log.warning("routing record not applied", petition_id=pid, reason=result.reason)
                metrics.LIFECYCLE_EVENTS.labels("routing", "rejected").inc()
                break
            if entry is None:
                entry = Entry(state=result.state, channel_ref=rec["channelRef"])
                part.entries[pid] = entry
            outputs += self._accepted(pid, entry, result, event, f"{base}#{i}:", state, part)
            metrics.LIFECYCLE_EVENTS.labels("routing", "accepted").inc()
        if entry is not None:
            entry.seen[src.topic] = src.offset
            entry.history.append(_routing_history(rec, applied=True))
            part.dirty.add(pid)
            outputs += self._drain_parked(pid, state, part)
        return outputs

    def _event_of(self, src: SourceRecord, source: str) -> tuple[str, Event | None]:
        """(petition id, the domain event) of a status, decision or rating record; event None
        for records that are not the lifecycle's (triage routes)."""
        _, rec = schemas.decode(src.value or b"")
        if source == "evaluation":  # the record, not the model: its id may be petitionRef's
            pid = str(rec["petition_id"])
            return pid, Rated(
                petition_id=pid,
                at=rec["evaluated_at"],
                satisfaction=Satisfaction[rec["satisfaction"]],
                revision=rec["revision"],
            )
        pid = str(rec["petitionId"])
        if source == "office":
            if rec["kind"] == "TRIAGE_ROUTE":
                return pid, None
            return pid, ExtensionDecided(
                petition_id=pid,
                at=rec["decidedAt"],
                approved=rec["kind"] == "EXTENSION_APPROVED",
                days=rec.get("extensionDays"),
                note=rec.get("note") or "",
            )
        unit = (dict(src.headers).get(UNIT_HEADER) or b"").decode()
        at, kind, note = rec["at"], rec["kind"], rec.get("note") or ""
        common: dict[str, Any] = {"petition_id": pid, "at": at, "unit": unit}
        if kind == "SIGNED_FOR":
            return pid, SignedFor(**common)
        if kind == "IN_PROGRESS":
            return pid, InProgress(**common)
        if kind == "MATERIAL_REQUESTED":
            return pid, MaterialRequested(**common, reason=note)
        if kind == "MATERIAL_RECEIVED":
            return pid, MaterialReceived(**common)
        if kind == "EXTENSION_REQUESTED":
            return pid, ExtensionRequested(
                **common, days=rec.get("extensionDays") or 0, reason=note
            )
        if kind == "REPLIED":
            return pid, Replied(**common, text=rec.get("replyText") or "")
        return pid, Returned(**common, reason=note)

    def _on_input(
        self, src: SourceRecord, state: PartitionState, part: _Partition, source: str
    ) -> list[Output]:
        try:
            pid, event = self._event_of(src, source)
        except Exception as exc:  # not a record we can read: keep it, with why
            return self._reject(src, None, f"undecodable_{source}", undecodable_reason(exc))
        if event is None:
            return []
        try:  # a time no clock could have read (a year 9999, a 1970) is refused, not applied
            check_times(self.clock(), received={_TIME_FIELD[source]: event.at})
        except TimeOutOfRange as exc:
            return self._reject(src, pid, "bad_value", exc.message)
        entry = part.entries.get(pid)
        if entry is None:
            return self._park(src, state, part, pid, "unknown")
        if entry.seen.get(src.topic, -1) >= src.offset:
            return []  # a replay of what the state already holds
        try:
            # caught up to the event's time, but never past now: a unit's clock running ahead
            # must not fire steps early (the event itself is applied at its own time)
            outputs = self._catch_up(pid, entry, min(event.at, self.clock()), state, part)
            result = apply(entry.state, event, cal=self.cal, now=self.clock())
        except CalendarUnavailable as exc:
            self._calendar_missing(exc)
            return self._park(src, state, part, pid, "calendar")
        entry.seen[src.topic] = src.offset
        if isinstance(result, Rejection):
            metrics.LIFECYCLE_EVENTS.labels(source, "rejected").inc()
            part.dirty.add(pid)
            return outputs + self._reject(src, pid, result.reason.value, result.detail)
        metrics.LIFECYCLE_EVENTS.labels(source, "accepted").inc()
        return outputs + self._accepted(pid, entry, result, event, f"{src.ref}#", state, part)

    def _catch_up(
        self, pid: str, entry: Entry, at: datetime, state: PartitionState, part: _Partition
    ) -> list[Output]:
        """Fire what fell due before an event, as the timer would have (same event ids), so the
        event's own outputs carry ids of the event alone."""
        result = apply(entry.state, Tick(petition_id=pid, at=at), cal=self.cal)
        if not isinstance(result, Accepted) or result.state is entry.state:
            return []
        return self._accepted(pid, entry, result, None, f"{pid}@tick", state, part)

    # --- parking: events that arrive before their petition's routing -----------------------------

    def _park(
        self, src: SourceRecord, state: PartitionState, part: _Partition, pid: str, why: str
    ) -> list[Output]:
        key = b"w:" + pid.encode()
        waiting = json.loads(state[key]) if key in state else []
        if any(w["t"] == src.topic and w["o"] == src.offset for w in waiting):
            return []  # a replay of a parked event
        waiting.append(
            {
                "t": src.topic,
                "p": src.partition,
                "o": src.offset,
                "k": _b64(src.key),
                "v": _b64(src.value),
                "h": [[n, _b64(v)] for n, v in src.headers],
                "why": why,
            }
        )
        state[key] = json.dumps(waiting).encode()
        part.parked.setdefault(pid, time.monotonic())
        metrics.LIFECYCLE_EVENTS.labels("parked", why).inc()
        return []

    def _drain_parked(self, pid: str, state: PartitionState, part: _Partition) -> list[Output]:
        key = b"w:" + pid.encode()
        if key not in state:
            return []
        waiting = json.loads(state[key])
        del state[key]
        part.parked.pop(pid, None)
        outputs: list[Output] = []
        # the routing record first: the others need the petition it makes known
        for w in sorted(waiting, key=lambda w: (w["t"] != self.routed, w["t"], w["o"])):
            src = _unparked(w)
            outputs += self._dispatch(src, state, part)
        return outputs

    def _expire_parked(
        self, partition: int, state: PartitionState, part: _Partition
    ) -> list[Output]:
        now = time.monotonic()
        outputs: list[Output] = []
        for pid, since in list(part.parked.items()):
            key = b"w:" + pid.encode()
            if key not in state:
                part.parked.pop(pid, None)
                continue
            waiting = json.loads(state[key])
            if pid in part.entries:  # the petition is known now (its year's calendar came)
                outputs += self._drain_parked(pid, state, part)
                continue
            if any(w["why"] == "calendar" for w in waiting):
                # waiting for a year's calendar (the override file, read at start): tried again
                # now and then; what still lacks it parks again
                if now - since >= CALENDAR_RETRY.total_seconds():
                    outputs += self._drain_parked(pid, state, part)
                    if pid in part.parked:
                        part.parked[pid] = now
                continue
            if now - since < self.park_seconds:
                continue
            del state[key]
            part.parked.pop(pid, None)
            for w in waiting:
                src = _unparked(w)
                outputs += self._reject(
                    src, pid, "unknown_petition", f"no routed petition {pid} (waited)"
                )
        return outputs

    # --- outputs ---------------------------------------------------------------------------------

    def _reject(
        self, src: SourceRecord, pid: str | None, reason: str, message: str
    ) -> list[Output]:
        return [rejection(src, pid, reason, message, self.clock(), event_id=f"{src.ref}#r")]

    def _accepted(
        self,
        pid: str,
        entry: Entry,
        result: Accepted,
        event: Event | None,
        origin: str,
        state: PartitionState,
        part: _Partition,
    ) -> list[Output]:
        before = entry.state
        entry.state = result.state
        outputs: list[Output] = []
        for effect in result.effects:
            rendered = self._render(effect, before, entry, event)
            if event is None:  # the timer: ids from what fired, not from when
                ident = f"{origin}:{_timer_identity(effect, entry.state)}"
            else:
                ident = f"{origin}{len(outputs)}"
            for n, out in enumerate(rendered):
                outputs.append(replace(out, event_id=f"{ident}/{n}"))
            entry.history.append(effect.model_dump(mode="json", exclude={"petition_id"}))
        part.dirty.add(pid)
        self._schedule(part, pid, entry)
        return outputs

    def _render(
        self, effect: Any, before: PetitionState, entry: Entry, event: Event | None
    ) -> list[Output]:
        s = entry.state
        pid = s.petition_id
        key = pid.encode()
        lead = s.lead_unit or before.lead_unit
        try:
            resolve_deadline = deadline(s.resolve, cal=self.cal)
        except CalendarUnavailable:
            resolve_deadline = None
        resolve_provisional = provisional(s.resolve, resolve_deadline, cal=self.cal)
        base: dict[str, Any] = {
            "eventId": "",
            "petitionId": pid,
            "at": effect.at,
            "fromState": None,
            "toState": None,
            "cause": None,
            "unit": None,
            "leadUnit": s.lead_unit,
            "closure": None,
            "satisfaction": None,
            "round": s.round,
            "channel": s.channel.name,
            "petitionType": s.petition_type.value if s.petition_type else None,
            "deadline": resolve_deadline,
            "deadlineProvisional": resolve_provisional,
            "extensionDays": None,
            "approved": None,
            "note": None,
        }
        out: list[Output] = []
        if isinstance(effect, SlaSignal):
            unit = effect.unit or lead
            record = {
                "eventId": "",
                "petitionId": pid,
                "clock": effect.clock.value,
                "signal": effect.signal.value,
                "at": effect.at,
                "deadline": effect.deadline,
                "round": effect.round,
                "unit": unit,
                "channel": s.channel.name,
                "petitionType": s.petition_type.value if s.petition_type else None,
                "urgency": s.urgency.name,
                "deadlineProvisional": effect.provisional,
                "previousDeadline": effect.previous_deadline,
            }
            out.append(Output(SLA, key, schemas.encode(SLA_V2, record)))
            self._count_sla(effect, unit)
            if effect.signal in _STEP_NOTICE and unit:
                words = _CLOCK_WORDS[effect.clock]
                message = _STEP_NOTICE[effect.signal].format(clock=words)
            elif effect.signal is SlaSignalKind.DEADLINE_CHANGED and unit:
                message = _deadline_changed_text(effect)
                if s.channel is Channel.PROVINCE and effect.clock is ClockKind.RESOLVE:
                    out.append(self._feedback_deadline(effect, entry))
            else:
                return out
            out += self._notice(
                unit,
                pid,
                effect.signal.value,
                effect.at,
                message,
                effect.clock.value,
                effect.deadline,
                provisional=effect.provisional,
                previous=effect.previous_deadline,
            )
            return out
        if isinstance(effect, StateChanged):
            # the final rating of a reply round: 不满意 reopening it, or the round closing rated
            # (on the one change, or at the end of the window after 满意 / 基本满意)
            rated = s.rating is not None and (
                effect.to_state is LifecycleState.REOPENED
                or effect.closure in (Closure.RATED, Closure.DISSATISFIED)
            )
            satisfaction = (
                s.rating if effect.to_state is LifecycleState.EVALUATED or rated else None
            )
            record = {
                **base,
                "kind": "state_changed",
                "fromState": effect.from_state.value if effect.from_state else None,
                "toState": effect.to_state.value,
                "cause": effect.cause,
                "unit": effect.unit,
                "closure": effect.closure.value if effect.closure else None,
                "satisfaction": _AVRO_SATISFACTION[satisfaction] if satisfaction else None,
            }
            hkind = "closed" if effect.to_state is LifecycleState.CLOSED else "state_changed"
            out.append(self._lifecycle(key, record, hkind))
            self._count_state(effect, lead, satisfaction if rated else None)
            if s.channel is Channel.PROVINCE:
                out.append(
                    self._feedback(
                        effect, entry, event, satisfaction, resolve_deadline, resolve_provisional
                    )
                )
            return out
        if isinstance(effect, EvaluationInvited):
            topic, ref_field = EVALUATION_REQUESTS[effect.channel]
            body = {
                ref_field: entry.channel_ref,
                "petitionRef": pid,
                "repliedAt": effect.at.isoformat(),
                "evaluateBy": effect.due.isoformat(),
                "round": effect.round,
                "replyText": event.text if isinstance(event, Replied) else None,
                "choices": [s.value for s in Satisfaction],
            }
            value = json.dumps(body, ensure_ascii=False).encode()
            out.append(Output(topic, entry.channel_ref.encode(), value))
            return out
        if isinstance(effect, ExtensionForwarded):
            record = {
                **base,
                "kind": "extension_requested",
                "unit": effect.unit,
                "extensionDays": effect.days,
                "note": effect.reason or None,
            }
            out.append(self._lifecycle(key, record, "extension_requested"))
            return out
        if isinstance(effect, ExtensionAnswered):
            record = {
                **base,
                "kind": "extension_answered",
                "unit": effect.unit,
                "extensionDays": effect.days,
                "approved": effect.approved,
                "deadline": effect.deadline,
                "deadlineProvisional": effect.provisional,
            }
            out.append(self._lifecycle(key, record, "extension_answered"))
            if effect.unit:
                what = "approved" if effect.approved else "refused"
                out += self._notice(
                    effect.unit,
                    pid,
                    f"extension_{what}",
                    effect.at,
                    f"the extension request was {what}",
                    ClockKind.RESOLVE.value,
                    effect.deadline,
                    provisional=effect.provisional,
                )
            return out
        if isinstance(effect, RoutingRequested):
            unit = effect.exclude_units[-1] if effect.exclude_units else None
            record = {
                **base,
                "kind": "routing_requested",
                "unit": unit,
                "note": effect.reason or None,
            }
            out.append(self._lifecycle(key, record, "routing_requested"))
            return out
        assert isinstance(effect, UnitUrged)
        record = {**base, "kind": "unit_urged", "unit": effect.unit, "note": effect.reason}
        out.append(self._lifecycle(key, record, "unit_urged"))
        if effect.unit:
            out += self._notice(
                effect.unit,
                pid,
                "reopened",
                effect.at,
                effect.reason,
                ClockKind.RESOLVE.value,
                resolve_deadline,
                provisional=resolve_provisional,
            )
        return out

    def _lifecycle(self, key: bytes, record: dict[str, Any], kind: str) -> Output:
        return Output(
            LIFECYCLE, key, schemas.encode(LIFECYCLE_V2, record), ((KIND_HEADER, kind.encode()),)
        )

    def _notice(
        self,
        unit: str,
        pid: str,
        kind: str,
        at: datetime,
        message: str,
        clock: str | None,
        due: datetime | None,
        *,
        provisional: bool = False,
        previous: datetime | None = None,
    ) -> list[Output]:
        topic = f"{unit}.petitions"
        if topic not in self.unit_topics:
            log.warning("no topic for a unit notice", unit=unit, kind=kind)
            return []
        record = {
            "eventId": "",
            "petitionId": pid,
            "kind": kind,
            "clock": clock,
            "deadline": due,
            "at": at,
            "message": message,
            "deadlineProvisional": provisional,
            "previousDeadline": previous,
        }
        return [Output(topic, pid.encode(), schemas.encode(NOTICE_V2, record))]

    def _feedback(
        self,
        effect: StateChanged,
        entry: Entry,
        event: Event | None,
        satisfaction: Satisfaction | None,
        resolve_deadline: datetime | None,
        deadline_provisional: bool,
    ) -> Output:
        s = entry.state
        unit = s.lead_unit
        message: str | None = f"{effect.from_state or '-'} -> {effect.to_state}: {effect.cause}"
        if isinstance(event, Replied) and effect.to_state is LifecycleState.REPLIED:
            message = event.text
        elif effect.closure is not None:
            message = f"closed ({effect.closure.value})"
        if deadline_provisional and resolve_deadline is not None:
            message = f"{message} [{_PROVISIONAL_NOTE}]"
        record = {
            "dispatchId": entry.channel_ref,
            "cityCode": self.city,
            "status": _FEEDBACK_STATUS[effect.to_state],
            "handlingUnit": self._unit_name(unit) if unit else None,
            "message": message,
            "deadline": resolve_deadline,
            "satisfaction": _AVRO_SATISFACTION[satisfaction] if satisfaction else None,
            "updatedAt": effect.at,
        }
        return Output(FEEDBACK, entry.channel_ref.encode(), schemas.encode(FEEDBACK_V1, record))

    def _feedback_deadline(self, effect: SlaSignal, entry: Entry) -> Output:
        """``province.feedback`` for a dispatch whose resolve deadline moved (the contract has no
        kind for it: the status stays the current one, the message says what moved)."""
        s = entry.state
        record = {
            "dispatchId": entry.channel_ref,
            "cityCode": self.city,
            "status": _FEEDBACK_STATUS[s.state],
            "handlingUnit": self._unit_name(s.lead_unit) if s.lead_unit else None,
            "message": _deadline_changed_text(effect),
            "deadline": effect.deadline,
            "satisfaction": None,
            "updatedAt": effect.at,
        }
        return Output(FEEDBACK, entry.channel_ref.encode(), schemas.encode(FEEDBACK_V1, record))

    def _unit_name(self, unit: str) -> str:
        kind, _, code = unit.partition(".")
        try:
            return self.rules.unit_name(kind, code)
        except Exception:  # a unit the reference data no longer names: its key then
            return unit

    # --- metrics ---------------------------------------------------------------------------------

    @staticmethod
    def _count_sla(effect: SlaSignal, unit: str | None) -> None:
        label = unit or "none"
        if effect.signal in _STEP_NOTICE:
            metrics.SLA_STEPS.labels(label, effect.clock.value, effect.signal.value).inc()
        elif effect.signal in (SlaSignalKind.MET, SlaSignalKind.MISSED):
            on_time = effect.signal is SlaSignalKind.MET
            if effect.clock is ClockKind.SIGN_FOR:
                metrics.SIGNED_FOR.labels(label).inc()
                if on_time:
                    metrics.SIGNED_FOR_ON_TIME.labels(label).inc()
            else:
                metrics.RESOLVED.labels(label).inc()
                if on_time:
                    metrics.RESOLVED_ON_TIME.labels(label).inc()

    @staticmethod
    def _count_state(effect: StateChanged, lead: str | None, rating: Satisfaction | None) -> None:
        label = lead or "none"
        if effect.to_state is LifecycleState.RETURNED and effect.unit:
            metrics.RETURNED.labels(effect.unit).inc()
        if effect.to_state is LifecycleState.REOPENED:
            metrics.REOPENED.labels(label).inc()
        if effect.to_state is LifecycleState.CLOSED and effect.closure is not None:
            metrics.CLOSED.labels(label, effect.closure.value).inc()
        if rating is not None:
            metrics.RATED.labels(label).inc()
            if rating in _SATISFIED:
                metrics.SATISFIED.labels(label).inc()

    def _update_gauges(self) -> None:
        self._gauges_at = time.monotonic()
        open_: dict[str, int] = {}
        overdue: dict[str, int] = {}
        triage = 0
        timers = 0
        provisional_clocks = 0
        for part in self.parts.values():
            timers += len(part.scheduled)
            for entry in part.entries.values():
                s = entry.state
                if s.state is LifecycleState.TRIAGE:
                    triage += 1
                provisional_clocks += sum(p.provisional for p in s.plans)
                if s.state in _HANDLING and s.lead_unit:
                    open_[s.lead_unit] = open_.get(s.lead_unit, 0) + 1
                    if _overdue(s):
                        overdue[s.lead_unit] = overdue.get(s.lead_unit, 0) + 1
        metrics.OPEN.clear()
        metrics.OVERDUE.clear()
        for unit, n in open_.items():
            metrics.OPEN.labels(unit).set(n)
            metrics.OVERDUE.labels(unit).set(overdue.get(unit, 0))
        metrics.TRIAGE_BACKLOG.set(triage)
        metrics.TIMERS_PENDING.set(timers)
        metrics.CLOCKS_PROVISIONAL.set(provisional_clocks)

    def _calendar_now(self) -> None:
        """Take the calendar in force; when it changed, every open petition counted on another
        one is due now: the timer recomputes its clocks and announces what moved."""
        cal = self.calendar()
        if cal is self.cal:
            return
        self.cal = cal
        now = self.clock()
        for part in self.parts.values():
            for pid, entry in part.entries.items():
                s = entry.state
                if s.state is not LifecycleState.CLOSED and s.calendar != cal.digest:
                    self._schedule_at(part, pid, now)

    @staticmethod
    def _calendar_missing(exc: CalendarUnavailable) -> None:
        if metrics.flag_calendar_missing(exc.year):
            log.warning("no official working-day calendar; events wait for it", year=exc.year)

    # --- timers ----------------------------------------------------------------------------------

    def _schedule(self, part: _Partition, pid: str, entry: Entry) -> None:
        s = entry.state
        try:
            if s.state is LifecycleState.CLOSED:
                when: datetime | None = s.updated_at + CLOSED_RETENTION
            elif s.calendar != self.cal.digest:
                when = self.clock()  # counted on another calendar: recompute (and announce) now
            else:
                when = next_wakeup(s, cal=self.cal)
        except CalendarUnavailable as exc:
            self._calendar_missing(exc)
            when = self.clock() + CALENDAR_RETRY
        if when is None:
            part.scheduled.pop(pid, None)
            return
        self._schedule_at(part, pid, when)

    @staticmethod
    def _schedule_at(part: _Partition, pid: str, when: datetime) -> None:
        at = when.timestamp()
        if part.scheduled.get(pid) == at:
            return
        part.scheduled[pid] = at
        heapq.heappush(part.due, (at, pid))

    # --- queries (the web endpoint) -----------------------------------------------------------

    def petition(self, pid: str) -> dict[str, Any] | None:
        """A petition's state and full history, if this worker holds it."""
        for partition, part in self.parts.items():
            entry = part.entries.get(pid)
            if entry is not None:
                return {
                    "petition_id": pid,
                    "partition": partition,
                    "state": entry.state.model_dump(mode="json"),
                    "overdue": _overdue(entry.state),
                    "provisional": entry.state.provisional,
                    "calendar": {
                        str(p.clock): p.model_dump(mode="json") for p in entry.state.plans
                    },
                    "history": entry.history,
                }
        return None

    def unit_lists(self, unit: str) -> dict[str, Any]:
        """The unit's 在办 (open), 逾期 (overdue) and 已办 (done) lists, over held partitions."""
        lists: dict[str, list[dict[str, Any]]] = {"open": [], "overdue": [], "done": []}
        for part in self.parts.values():
            for pid, entry in part.entries.items():
                s = entry.state
                if s.lead_unit != unit:
                    continue
                row = _row(pid, s, self.cal)
                if s.state in _HANDLING:
                    lists["open"].append(row)
                    if _overdue(s):
                        lists["overdue"].append(row)
                elif s.state in _DONE:
                    lists["done"].append(row)
        for rows in lists.values():
            rows.sort(key=lambda r: (r["resolve_deadline"] or "", r["petition_id"]))
        return {"unit": unit, "partitions": sorted(self.parts), **lists}


def _overdue(s: PetitionState) -> bool:
    """Past the resolve deadline of the current round (its OVERDUE step has fired)."""
    return s.state in _HANDLING and any(step.value == "overdue" for step in s.resolve_fired)


def _row(pid: str, s: PetitionState, cal: WorkingCalendar) -> dict[str, Any]:
    try:
        due = deadline(s.resolve, cal=cal)
    except CalendarUnavailable:
        due = None
    return {
        "petition_id": pid,
        "state": s.state.value,
        "type": s.petition_type.value if s.petition_type else None,
        "urgency": s.urgency.value,
        "received_at": s.received_at.isoformat(),
        "resolve_deadline": due.isoformat() if due else None,
        "resolve_deadline_provisional": provisional(s.resolve, due, cal=cal),
        "round": s.round,
        "closure": s.closure.value if s.closure else None,
        "rating": s.rating.value if s.rating else None,
    }


def _timer_identity(effect: Any, s: PetitionState) -> str:
    """What a timer effect is, independent of when the timer ran."""
    if isinstance(effect, SlaSignal):
        clock = s.sign_for if effect.clock is ClockKind.SIGN_FOR else s.resolve
        opened = _ms(clock.opened_at) if clock is not None else 0
        ident = f"{effect.clock.value}:{opened}:{effect.round}:{effect.signal.value}"
        if effect.signal is SlaSignalKind.DEADLINE_CHANGED:  # once per calendar it moved on
            ident += f":{effect.calendar}"
        return ident
    if isinstance(effect, StateChanged):
        return f"{effect.to_state.value}:{s.round}:{effect.cause}"
    return f"{effect.kind}:{_ms(effect.at)}"


def _routing_history(rec: dict[str, Any], *, applied: bool) -> dict[str, Any]:
    return {
        "kind": "routing",
        "at": rec["routedAt"].astimezone(UTC).isoformat(),
        "decision": rec["kind"].lower(),
        "lead": rec["lead"],
        "co": rec["co"],
        "excluded": rec["excluded"],
        "revision": rec["revision"],
        "rules_version": rec["rulesVersion"],
        "theme": rec.get("theme"),
        "rule": rec.get("rule"),
        "reason": rec.get("reason"),
        "applied": applied,
    }


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


def _unb64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)


def _unparked(w: dict[str, Any]) -> SourceRecord:
    return SourceRecord(
        w["t"],
        w["p"],
        w["o"],
        _unb64(w["k"]),
        _unb64(w["v"]),
        tuple((n, _unb64(v)) for n, v in w["h"]),
    )


EvaluationDecoder = Callable[[bytes | None, bytes | None, tuple[Any, ...]], Evaluation]


class EvaluationRekeyer(Processor):
    """A channel's ratings, decoded by its connector and re-keyed by hub petition id; what does
    not decode is dead-lettered with the reason (kept whole, encrypted), as intake does."""

    def __init__(
        self,
        connector: str,
        decode: EvaluationDecoder,
        cipher: PiiCipher,
        target: str,
        clock: Clock = system_clock,
    ) -> None:
        self.connector = connector
        self.decode = decode
        self.cipher = cipher
        self.target = target
        self.clock = clock

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        try:
            evaluation = self.decode(src.key, src.value, src.headers)
        except DecodeError as exc:
            return [self._dead(src, exc.reason_code.value, type(exc).__name__, exc.message)]
        except Exception as exc:  # a connector bug: keep the message, say so
            log.exception("evaluation connector raised", source=src.ref)
            return [self._dead(src, "internal", type(exc).__name__, "the connector raised (a bug)")]
        record = evaluation_to_avro(evaluation)
        ref = evaluation.petition_ref
        if ref and _HUB_ID.fullmatch(ref):
            # the hub's own id, as it sent it in the request: how a provincial dispatch's 12345
            # call-back (GDBH = the dispatch id) finds its petition
            record["petition_id"] = ref
        value = schemas.encode(schemas.EVALUATION_V1, record)
        return [Output(self.target, str(record["petition_id"]).encode(), value)]

    def _dead(self, src: SourceRecord, reason: str, error: str, message: str) -> Output:
        return dead_letter(src, self.connector, self.cipher, self.clock(), reason, error, message)


def evaluations_repartition(app_id: str) -> str:
    """The hub-internal topic of ratings re-keyed by petition id."""
    return f"{app_id}-evaluations-repartition"


def units_of(spec: Mapping[str, TopicSpec]) -> frozenset[str]:
    """The units' ``.petitions`` topics of topics.yaml."""
    return frozenset(
        t for t in spec if t.endswith(".petitions") and t.startswith(("dept.", "county."))
    )


def lifecycle_outputs(spec: Mapping[str, TopicSpec]) -> dict[str, int]:
    """Every topic the lifecycle stage writes, with its partitions (its exactly-once outputs)."""
    topics = (
        LIFECYCLE,
        SLA,
        REJECTS,
        FEEDBACK,
        *(topic for topic, _ in EVALUATION_REQUESTS.values()),
        *units_of(spec),
    )
    return {t: spec[t].partitions for t in topics}


def register(app: faust.App, settings: Settings) -> list[Stage]:
    """The evaluations re-keying stage and the lifecycle stage."""
    spec = {t.name: t for t in load_topics(settings.topics_file).topics}
    partitions = spec[LIFECYCLE].partitions
    evaluations = evaluations_repartition(settings.app_id)
    routed = routed_topic(settings.app_id)
    statuses = status_repartition(settings.app_id)
    common = stage_options(app, settings)
    cipher = cipher_for(settings)
    channels = {
        "miniprogram.evaluations": miniprogram.decode_evaluation,
        "hotline12345.callbacks": hotline.decode_evaluation,
    }
    unit_topics = units_of(spec)
    outputs = lifecycle_outputs(spec)
    evaluation_stages = [
        Stage(
            name=f"evaluations-{topic.split('.')[0]}",
            sources=(topic,),
            partitions=spec[topic].partitions,
            processor=EvaluationRekeyer(
                f"{decode.__module__.rsplit('.', 1)[-1]}-evaluations", decode, cipher, evaluations
            ),
            group=f"{settings.app_id}-evaluations-{topic.split('.')[0]}",
            creates={evaluations: partitions},
            **common,
        )
        for topic, decode in channels.items()
    ]
    processor = LifecycleProcessor(
        rules=load_rules_at(settings.rules),
        city=settings.city,
        routed=routed,
        statuses=statuses,
        evaluations=evaluations,
        unit_topics=unit_topics,
        clock=clock_from(settings.clock_file),
        park_seconds=settings.lifecycle_park_seconds,
        calendar=live_calendar(settings.calendar_file).current,
    )
    lifecycle = Stage(
        name="lifecycle",
        sources=(routed, statuses, DECISIONS, evaluations),
        partitions=partitions,
        processor=processor,
        group=f"{settings.app_id}-lifecycle",
        creates={routed: partitions, statuses: partitions, evaluations: partitions},
        outputs=outputs,
        **common,
    )
    return [*evaluation_stages, lifecycle]
