"""The lifecycle's Prometheus metrics: counters of what happened, gauges of what is.

- :func:`count`, per effect the stage applies: ladder steps per unit and clock, clocks met or
  missed (signed for, resolved, and on time), returns, reopenings, closures by kind, ratings and
  satisfied ratings (per lead unit).
- :func:`update_gauges`, now and then over the partitions a worker holds: open and overdue
  petitions per lead unit, the triage backlog, pending timers, clocks counted on a provisional
  year.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from petition_hub.domain.lifecycle import (
    DisputeAnswered,
    Effect,
    LifecycleState,
    PetitionState,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
)
from petition_hub.domain.petition import Satisfaction
from petition_hub.domain.sla import ClockKind
from petition_hub.service import metrics

from .lifecycle_records import final_rating
from .lifecycle_state import PartitionView
from .lifecycle_texts import LADDER_SIGNALS
from .views import HANDLING, overdue

_SATISFIED: Final = frozenset({Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED})


def count(effect: Effect, before: PetitionState, s: PetitionState) -> None:
    """The counters of an effect: clock events per unit, returns, reopenings, closures, ratings,
    ratings voided on a dispute."""
    lead = s.lead_unit or before.lead_unit
    if isinstance(effect, SlaSignal):
        _count_sla(effect, effect.unit or lead)
    elif isinstance(effect, StateChanged):
        _count_state(effect, lead, final_rating(effect, s))
    elif isinstance(effect, DisputeAnswered) and effect.voided:
        metrics.RATINGS_VOIDED.labels(effect.unit or lead or "none").inc()


def _count_sla(effect: SlaSignal, unit: str | None) -> None:
    label = unit or "none"
    if effect.signal in LADDER_SIGNALS:
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


def update_gauges(parts: Mapping[int, PartitionView]) -> None:
    """Set the lifecycle's gauges from ``parts`` (every partition this worker holds)."""
    open_: dict[str, int] = {}
    late: dict[str, int] = {}
    triage = 0
    timers = 0
    provisional_clocks = 0
    for part in parts.values():
        timers += len(part.scheduled)
        for entry in part.entries.values():
            s = entry.state
            if s.state is LifecycleState.TRIAGE:
                triage += 1
            provisional_clocks += sum(p.provisional for p in s.plans)
            if s.state in HANDLING and s.lead_unit:
                open_[s.lead_unit] = open_.get(s.lead_unit, 0) + 1
                if overdue(s):
                    late[s.lead_unit] = late.get(s.lead_unit, 0) + 1
    metrics.OPEN.clear()
    metrics.OVERDUE.clear()
    for unit, n in open_.items():
        metrics.OPEN.labels(unit).set(n)
        metrics.OVERDUE.labels(unit).set(late.get(unit, 0))
    metrics.TRIAGE_BACKLOG.set(triage)
    metrics.TIMERS_PENDING.set(timers)
    metrics.CLOCKS_PROVISIONAL.set(provisional_clocks)
