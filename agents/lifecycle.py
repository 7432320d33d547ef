"""The petition lifecycle: SLA clocks, units' status events, ratings, from routing to closure.

Two kinds of batch stage: ``evaluations-<channel>``, the petitioners' ratings re-keyed by hub
petition id into ``<app>-evaluations-repartition`` (:class:`.rekeyers.EvaluationRekeyer`), and
``lifecycle``, over four co-partitioned topics keyed by petition id:

- Consumes: ``<app>-routed`` (routing decisions, Avro ``Routed`` v3, v2 or v1: the one source of who
  handles the petition, routing being the owner of its assignment; a local petition handed to the
  province ends here, closed as transferred), the units' status events
  re-keyed by ``unit-status`` (``UnitStatus`` v4 to v1, stamped with the unit and where the unit
  wrote it), ``office.decisions``
  (extension approvals and refusals, the office's decision on a lead unit's dispute of a 不满意:
  :mod:`.lifecycle_disputes`; triage routes are routing's and come back as ``Routed``) and
  the re-keyed ratings (``Evaluation`` v2 or v1); read as domain events by
  :mod:`.lifecycle_records`.
- Applies each to the petition's state with the pure state machine
  (:func:`petition_hub.domain.lifecycle.apply`); an event that does not fit goes to
  ``hub.rejects`` with the reason and changes nothing; a unit's refused event also comes back to
  the unit as an ``event_refused`` notice naming its own ``.status`` record
  (:mod:`.unit_refusals`); a co-handler's opinion goes to the lead as a notice. A status or
  rating for a petition this stage has not seen routed yet waits
  (``HUB_LIFECYCLE_PARK_SECONDS``) for the routing record, which may be behind on another topic,
  before it is rejected as unknown.
- Emits (:class:`.lifecycle_records.LifecycleRecords`): every state change (and extension
  requests and answers, urging, back-to-routing, disputes of a rating) on ``hub.lifecycle``
  (``LifecycleEvent.v4``);
  every clock event on ``hub.sla`` (``SlaEvent.v2``); notices to the lead unit on its own
  ``.petitions`` topic (``UnitNotice.v3``: ladder steps, extension answers, reopening, moved
  deadlines, refused events, co-handlers' opinions, dispute outcomes); evaluation requests on
  ``miniprogram.evaluation-requests`` /
  ``hotline12345.callback-requests`` (JSON, in the channels' own terms); the petitioners'
  progress on ``miniprogram.progress`` / ``hotline12345.progress`` (JSON,
  :mod:`.lifecycle_progress`); supervision on ``office.supervision`` /
  ``leadinggroup.supervision`` (``Supervision.v1``, :mod:`.lifecycle_supervision`); for a
  provincial dispatch every state change on ``province.feedback`` (``Feedback.v1``); and what
  routing must
  act on, as commands on ``hub.reroute`` (``RouteCommand.v1``, :mod:`.route_commands`: a unit's
  return accepted, route again without it; the petition closed).
- Keeps, per partition (:mod:`.lifecycle_state`): petition id -> the lifecycle state (clocks,
  fired ladder steps, rating; of the assignment only what checks an event: the lead and
  co-handlers as routing last decided, to check a status's sender, and the units whose return
  it accepted, to refuse a decision naming one), the channel's reference, the last offset
  applied per source topic (a replay applies nothing twice), and the petition's history for the
  web endpoint (:mod:`.views`; written once per batch, when the stage flushes); parked events.
  Derived, not stored: an index of the next due time per petition (rebuilt on restore), so a
  tick looks only at what is due.

Timers fire once: the stage is exactly-once for its outputs (:mod:`petition_hub.runtime`): every
output has a stable event id (ladder steps: petition, clock, clock start and step; events: the
source record), so a crash or rebalance neither repeats nor loses a step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

import faust
import structlog

from petition_hub import schemas
from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar, default_calendar
from petition_hub.domain.lifecycle import (
    Accepted,
    Effect,
    Event,
    LifecycleState,
    PetitionState,
    Rejection,
    RejectReason,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
    Tick,
    apply,
)
from petition_hub.domain.repeats import DEFAULT_WINDOW
from petition_hub.domain.rules import RuleSet
from petition_hub.domain.sla import ClockKind
from petition_hub.domain.validation import TimeOutOfRange, check_times
from petition_hub.runtime.processor import Processor
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec
from petition_hub.service import metrics
from petition_hub.service.app import stage_options
from petition_hub.service.clock import Clock, clock_from
from petition_hub.service.crypto import cipher_for
from petition_hub.service.live import live_calendar
from petition_hub.service.settings import Settings
from petition_hub.topics.names import (
    DECISIONS,
    LIFECYCLE,
    REROUTE,
    changelog_topic,
    evaluations_repartition,
    repeat_asks_topic,
    repeat_links_topic,
    routed_topic,
    stage_group,
    status_repartition,
)
from petition_hub.topics.spec import declared, stage_specs, unit_petition_topics

from . import lifecycle_metrics, route_commands, views
from .lifecycle_events import TIME_FIELD, input_event, routed_events
from .lifecycle_progress import ProgressRecords, sensitive_theme
from .lifecycle_records import LifecycleRecords, lifecycle_outputs, units_of
from .lifecycle_repeats import Repeats, linked_channels, rekey_stage
from .lifecycle_state import (
    CALENDAR_RETRY,
    CLOSED_RETENTION,
    Entry,
    PartitionView,
    calendar_missing,
)
from .rekeyers import UNIT_HEADER, evaluation_stages
from .routing import load_rules_at
from .routing_records import rejection, undecodable_reason
from .unit_refusals import refusal_notice, unit_of, unit_source

log = structlog.get_logger(__name__)

#: The longest one tick of one partition computes (seconds); the stage calls again at once.
TICK_BUDGET: Final = 0.02
#: How often the open / overdue gauges are recomputed (seconds).
GAUGES_EVERY: Final = 5.0


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
        unseal: Callable[[bytes], bytes] | None = None,
        links: tuple[str, str] | None = None,
        repeat_window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        self.records = LifecycleRecords(rules, city, unit_topics, unseal)
        self.progress = ProgressRecords(self.records.unit_name)
        #: the repeat links (topics read, written; None: each repeat is a case of its own)
        self.repeats = (
            None if links is None else Repeats(*links, self.records, self.progress, repeat_window)
        )
        self.rules = rules
        self.routed = routed
        self.statuses = statuses
        self.evaluations = evaluations
        self.clock = clock
        self.park_seconds = park_seconds
        self.calendar = calendar
        self.cal = calendar()
        """The calendar of the batch in hand (one per batch or tick: a reload mid-batch waits)."""
        self.parts: dict[int, PartitionView] = {}
        self._gauges_at = 0.0

    # --- stage hooks -----------------------------------------------------------------------------

    def restored(self, partition: int, state: PartitionState) -> None:
        """Rebuild the partition's entries and due-time index from its restored state."""
        part = PartitionView.restore(state)
        self.parts[partition] = part
        self.cal = self.calendar()
        for pid, entry in part.entries.items():
            part.schedule(pid, entry.state, self.cal, self.clock)

    def flushing(self, partition: int, state: PartitionState) -> None:
        """Before the stage writes the partition's state: each changed petition's entry, once
        per batch however many events changed it."""
        part = self.parts.get(partition)
        if part is not None:
            part.flush(state)

    def revoked(self, partition: int) -> None:
        """The partition went to another worker: forget its view."""
        self.parts.pop(partition, None)

    def outputs_found(self, partition: int, event_ids: frozenset[str]) -> None:
        """The answers to repeats' questions already on the broker (see Repeats.answered)."""
        part = self.parts.get(partition)
        if part is not None and self.repeats is not None:
            part.answered = self.repeats.answered(event_ids)

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        part = self.parts.setdefault(src.partition, PartitionView())
        self._calendar_now()
        try:
            return self._dispatch(src, state, part)
        except Exception as exc:  # a bug must not skip the event: keep it, with why
            log.exception("lifecycle raised", source=src.ref)
            return self._reject(src, None, "internal", f"lifecycle raised {type(exc).__name__}")

    def tick(self, partition: int, state: PartitionState) -> Sequence[Output]:
        """Fire what is due: ladder steps, ends of evaluation windows, parked events' expiry."""
        part = self.parts.setdefault(partition, PartitionView())
        self._calendar_now()
        now = self.clock()
        outputs: list[Output] = []
        limit = now.timestamp()
        budget = time.perf_counter() + TICK_BUDGET  # the rest is the next tick's, at once
        while time.perf_counter() < budget and (pid := part.pop_due(limit)) is not None:
            entry = part.entries.get(pid)
            if entry is None:
                continue
            if entry.state.state is LifecycleState.CLOSED and now >= (
                entry.state.updated_at + CLOSED_RETENTION
            ):
                part.forget(state, pid)
                continue
            try:
                result = apply(entry.state, Tick(petition_id=pid, at=now), cal=self.cal)
            except CalendarUnavailable as exc:
                calendar_missing(exc)
                part.schedule_at(pid, now + CALENDAR_RETRY)
                continue
            assert isinstance(result, Accepted)  # a tick is never rejected
            outputs += self._accepted(pid, entry, result, None, f"{pid}@tick", part)
            metrics.LIFECYCLE_EVENTS.labels("timer", "accepted").inc()
        outputs += self._expire_parked(state, part)
        if time.monotonic() - self._gauges_at > GAUGES_EVERY:
            self._gauges_at = time.monotonic()
            lifecycle_metrics.update_gauges(self.parts)
        return outputs

    # --- inputs ----------------------------------------------------------------------------------

    def _dispatch(
        self, src: SourceRecord, state: PartitionState, part: PartitionView
    ) -> list[Output]:
        if src.topic == self.routed:
            return self._on_routed(src, state, part)
        if src.topic == DECISIONS:
            return self._on_input(src, state, part, "office")
        if src.topic == self.statuses:
            return self._on_input(src, state, part, "unit")
        if src.topic == self.evaluations:
            return self._on_input(src, state, part, "evaluation")
        if self.repeats is not None and src.topic == self.repeats.topic:
            repeat, outputs = self.repeats.on_link(src, state, part, self.cal)
            return outputs + ([] if repeat is None else self._drain_parked(repeat, state, part))
        raise ValueError(f"{src.topic} is not a source of the lifecycle stage")

    def _on_routed(
        self, src: SourceRecord, state: PartitionState, part: PartitionView
    ) -> list[Output]:
        rec = codec.read_routed(schemas.decode(src.value or b"")[1])
        pid = str(rec["petitionId"])
        entry = part.entries.get(pid)
        if entry is not None and entry.seen.get(src.topic, -1) >= src.offset:
            return []  # a replay
        if entry is None and rec["kind"] == "PROVINCE_RETURN":
            return []  # a dispatch that is not this city's: no lifecycle here
        if entry is None and self.repeats is not None:
            held = self.repeats.hold(src, rec, state, part)  # a repeat asks its earlier case
            if held is not None:
                return held
        events = routed_events(rec, entry.state.state if entry else None)
        if not events:
            # a later revision re-routed while a unit handles it: the handling stays (the unit
            # sees the edit on its topic); recorded in the history only
            if entry is not None:
                entry.seen[src.topic] = src.offset
                entry.history.append(views.routing_history(rec, applied=False))
                part.dirty.add(pid)
            metrics.LIFECYCLE_EVENTS.labels("routing", "ignored").inc()
            return []
        outputs: list[Output] = []
        sensitive = sensitive_theme(self.rules, rec.get("theme"))
        for i, event in enumerate(events):
            try:
                if entry is not None:
                    outputs += self._catch_up(pid, entry, min(event.at, self.clock()), part)
                result = apply(
                    entry.state if entry else None, event, cal=self.cal, now=self.clock()
                )
            except CalendarUnavailable as exc:
                calendar_missing(exc)
                return self._park(src, state, part, pid, "calendar")
            if isinstance(result, Rejection):
                log.warning("routing record not applied", petition_id=pid, reason=result.reason)
                metrics.LIFECYCLE_EVENTS.labels("routing", "rejected").inc()
                break
            if entry is None:
                entry = Entry(state=result.state, channel_ref=rec["channelRef"])
                if self.repeats is not None:
                    self.repeats.opened(state, pid, entry)
                part.entries[pid] = entry
            entry.sensitive = sensitive
            outputs += self._accepted(pid, entry, result, event, f"{src.ref}#{i}:", part)
            metrics.LIFECYCLE_EVENTS.labels("routing", "accepted").inc()
        if entry is not None:
            if rec.get("callbackContact") and entry.state.state is not LifecycleState.CLOSED:
                entry.contact = rec.get("callbackContact")  # sealed; the latest revision's
            entry.seen[src.topic] = src.offset
            entry.history.append(views.routing_history(rec, applied=True))
            part.dirty.add(pid)
            outputs += self._drain_parked(pid, state, part)
        return outputs

    def _on_input(
        self, src: SourceRecord, state: PartitionState, part: PartitionView, source: str
    ) -> list[Output]:
        try:
            pid, event = input_event(src, source)
        except Exception as exc:  # not a record we can read: keep it, with why
            return self._reject(src, None, f"undecodable_{source}", undecodable_reason(exc))
        if event is None:
            return []
        try:  # a time no clock could have read (a year 9999, a 1970) is refused, not applied
            check_times(self.clock(), received={TIME_FIELD[source]: event.at})
        except TimeOutOfRange as exc:
            return self._reject(src, pid, "bad_value", exc.message)
        entry = part.entries.get(pid)
        if entry is None:
            return self._park(src, state, part, pid, "unknown")
        if entry.seen.get(src.topic, -1) >= src.offset:
            return []  # a replay of what the state already holds
        # the re-keyer is at least once: after a crash between its writes and its commit it
        # relays a unit's record again, at a new offset; where the unit wrote each applied status
        # is kept per petition (its records are in one partition of the unit's topic: keyed by
        # the petition, or refused). None: not a unit's, or relayed by an older re-keyer.
        origin = unit_source(src) if src.topic == self.statuses else None
        if origin is not None and origin[0] == src.topic:
            origin = None
        if origin is not None and entry.seen.get(origin[0], -1) >= origin[2]:
            entry.seen[src.topic] = src.offset
            part.dirty.add(pid)
            return []
        try:
            # caught up to the event's time, but never past now: a unit's clock running ahead
            # must not fire steps early (the event itself is applied at its own time)
            outputs = self._catch_up(pid, entry, min(event.at, self.clock()), part)
            result = apply(entry.state, event, cal=self.cal, now=self.clock())
        except CalendarUnavailable as exc:
            calendar_missing(exc)
            return self._park(src, state, part, pid, "calendar")
        entry.seen[src.topic] = src.offset
        if origin is not None:
            entry.seen[origin[0]] = origin[2]
        if isinstance(result, Rejection):
            metrics.LIFECYCLE_EVENTS.labels(source, "rejected").inc()
            part.dirty.add(pid)
            return outputs + self._reject(src, pid, result.reason.value, result.detail)
        metrics.LIFECYCLE_EVENTS.labels(source, "accepted").inc()
        return outputs + self._accepted(pid, entry, result, event, f"{src.ref}#", part)

    def _catch_up(self, pid: str, entry: Entry, at: datetime, part: PartitionView) -> list[Output]:
        """Fire what fell due before an event, as the timer would have (same event ids), so the
        event's own outputs carry ids of the event alone."""
        result = apply(entry.state, Tick(petition_id=pid, at=at), cal=self.cal)
        if not isinstance(result, Accepted) or result.state is entry.state:
            return []
        return self._accepted(pid, entry, result, None, f"{pid}@tick", part)

    # --- parking: events that arrive before their petition's routing -----------------------------

    def _park(
        self, src: SourceRecord, state: PartitionState, part: PartitionView, pid: str, why: str
    ) -> list[Output]:
        if part.park(state, src, pid, why):
            metrics.LIFECYCLE_EVENTS.labels("parked", why).inc()
        return []

    def _drain_parked(self, pid: str, state: PartitionState, part: PartitionView) -> list[Output]:
        outputs: list[Output] = []
        for src in part.unpark(state, pid, first=self.routed):
            outputs += self._dispatch(src, state, part)
        return outputs

    def _expire_parked(self, state: PartitionState, part: PartitionView) -> list[Output]:
        outputs: list[Output] = []
        retry = CALENDAR_RETRY.total_seconds()
        for pid, given_up in part.expired(state, time.monotonic(), self.park_seconds, retry):
            if given_up is None:
                outputs += self._drain_parked(pid, state, part)
                continue
            for src in given_up:
                message = f"no routed petition {pid} (waited)"
                outputs += self._reject(src, pid, "unknown_petition", message)
        return outputs

    # --- outputs ---------------------------------------------------------------------------------

    def _reject(
        self, src: SourceRecord, pid: str | None, reason: str, message: str
    ) -> list[Output]:
        """The rejection of ``src``; for a unit's status event, naming where the unit wrote it,
        and the unit's ``event_refused`` notice (its event ids: the source's, stable)."""
        at = self.clock()
        if src.topic != self.statuses:
            return [rejection(src, pid, reason, message, at, event_id=f"{src.ref}#r")]
        out = [
            rejection(
                src, pid, reason, message, at, event_id=f"{src.ref}#r", source=unit_source(src)
            )
        ]
        unit = unit_of(src, UNIT_HEADER)
        if unit is not None:
            notice = refusal_notice(src, pid, reason, message, at)
            # keyed as the re-keyed event: the partition exactly once writes is the one the
            # hub's rule chooses for it
            told = self.records.notice(unit, notice, key=src.key)
            out += [replace(o, event_id=f"{src.ref}#n") for o in told]
        return out

    def _accepted(
        self,
        pid: str,
        entry: Entry,
        result: Accepted,
        event: Event | None,
        origin: str,
        part: PartitionView,
    ) -> list[Output]:
        before = entry.state
        entry.state = result.state
        outputs: list[Output] = []
        for effect in result.effects:
            rendered = self.records.render(
                effect,
                before,
                entry.state,
                entry.channel_ref,
                event,
                self.cal,
                entry.contact,
                entry.repeat_of,
            )
            # routing owns who handles the petition: a return or a closure is its to act on
            rendered += route_commands.commands_of(effect)
            # the petitioner hears through the channel it came from
            rendered += self.progress.render(
                effect, entry.state, entry.channel_ref, event, sensitive=entry.sensitive
            )
            for channel, ref in linked_channels(entry):  # and the repeats linked to it
                rendered += self.progress.render(
                    effect, entry.state, ref, event, sensitive=entry.sensitive, channel=channel
                )
            lifecycle_metrics.count(effect, before, entry.state)
            if event is None:  # the timer: ids from what fired, not from when
                ident = f"{origin}:{_timer_identity(effect, entry.state)}"
            else:
                ident = f"{origin}{len(outputs)}"
            for n, out in enumerate(rendered):
                outputs.append(replace(out, event_id=f"{ident}/{n}"))
            entry.history.append(views.effect_history(effect))
        if entry.state.state is LifecycleState.CLOSED:
            entry.contact = None  # no call-back after the end: the personal data goes
        if self.repeats is not None:
            outputs += self.repeats.ended(pid, entry)  # leaves its matter's index
        part.dirty.add(pid)
        part.schedule(pid, entry.state, self.cal, self.clock)
        return outputs

    def _calendar_now(self) -> None:
        """Take the calendar in force; when it changed, every open petition counted on another
        one is due now: the timer recomputes its clocks and announces what moved."""
        cal = self.calendar()
        if cal is self.cal:
            return
        self.cal = cal
        now = self.clock()
        for part in self.parts.values():
            part.recalendar(cal, now)

    # --- queries (the web endpoint; the read model is agents.views) -----------------------------

    def petition(self, pid: str) -> dict[str, Any] | None:
        """A petition's state and full history, if this worker holds it."""
        return views.petition(self.parts, pid)

    def unit_lists(self, unit: str) -> dict[str, Any]:
        """The unit's 在办 (open), 逾期 (overdue) and 已办 (done) lists, over held partitions."""
        return views.unit_lists(self.parts, unit, self.cal)


def _timer_identity(effect: Effect, s: PetitionState) -> str:
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


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def reject_reasons(sources: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """What the lifecycle may answer on ``hub.rejects`` per source topic (``sources``: topic ->
    the source name of :data:`TIME_FIELD`): the rules' refusals and the stage's own."""
    rules = tuple(r.value for r in RejectReason)
    own = ("internal", "bad_value", "unknown_petition")
    return {topic: (*own, f"undecodable_{src}", *rules) for topic, src in sources.items()}


def register(app: faust.App, settings: Settings) -> list[Stage]:
    """The evaluations re-keying stages and the lifecycle stage."""
    spec = stage_specs(
        settings.topics_file, settings.app_id, settings.topics_replication_factor_cap
    )
    partitions = spec[LIFECYCLE].partitions
    group = stage_group(settings.app_id, "lifecycle")
    evaluations = evaluations_repartition(settings.app_id)
    routed = routed_topic(settings.app_id)
    statuses = status_repartition(settings.app_id)
    links = repeat_links_topic(settings.app_id)
    asks = repeat_asks_topic(settings.app_id)
    common = stage_options(app, settings)
    metrics.create_reject_series(
        reject_reasons({DECISIONS: "office", statuses: "unit", evaluations: "evaluation"})
    )
    cipher = cipher_for(settings)
    evaluation = evaluation_stages(settings, spec, common, cipher)
    processor = LifecycleProcessor(
        rules=load_rules_at(settings.rules),
        city=settings.city,
        routed=routed,
        statuses=statuses,
        evaluations=evaluations,
        unit_topics=units_of(spec),
        clock=clock_from(settings.clock_file),
        park_seconds=settings.lifecycle_park_seconds,
        calendar=live_calendar(settings.calendar_file).current,
        unseal=cipher.decrypt,
        links=(links, asks),
        repeat_window=timedelta(days=settings.repeat_window_days),
    )
    lifecycle = Stage(
        name="lifecycle",
        sources=(routed, statuses, DECISIONS, evaluations, links),
        partitions=partitions,
        processor=processor,
        group=group,
        topics=declared(
            spec,
            (routed, statuses, evaluations, links, asks, changelog_topic(group)),
            "the lifecycle stage",
        ),
        outputs={
            **lifecycle_outputs(spec),
            REROUTE: spec[REROUTE].partitions,
            asks: spec[asks].partitions,
        },
        petition_keyed=unit_petition_topics(spec),
        **common,
    )
    return [*evaluation, lifecycle, rekey_stage(settings, spec, common)]
