"""What is announced of the running clocks (:class:`~.states.ClockPlan`): their deadlines and
pending ladder times, on the calendar they were counted on."""

from __future__ import annotations

from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar, default_calendar
from petition_hub.domain.lifecycle.states import ClockPlan, LifecycleState, PetitionState
from petition_hub.domain.sla import (
    ClockState,
    LadderStep,
    known_deadline,
    ladder,
    next_due,
    provisional,
)

__all__ = ["plans"]


def _running(s: PetitionState) -> list[tuple[ClockState, tuple[LadderStep, ...]]]:
    """The running clocks with their fired steps, sign for first."""
    clocks = [(s.sign_for, s.sign_for_fired), (s.resolve, s.resolve_fired)]
    return [(c, f) for c, f in clocks if c is not None and c.stopped_at is None]


def _plan(clock: ClockState, fired: tuple[LadderStep, ...], cal: WorkingCalendar) -> ClockPlan:
    try:
        steps = ladder(clock, cal=cal)
    except CalendarUnavailable:  # as far as the calendar reaches: the rest is held
        steps = []
        done = set(fired)
        try:
            while (nd := next_due(clock, done, cal=cal)) is not None:
                steps.append(nd)
                done.add(nd[0])
        except CalendarUnavailable:
            pass
    pending = tuple((step, at) for step, at in steps if step not in fired)
    due = known_deadline(clock, cal=cal)
    prov = provisional(clock, due, cal=cal) or any(
        provisional(clock, at, cal=cal) for _, at in pending
    )
    return ClockPlan(clock=clock.kind, deadline=due, steps=pending, provisional=prov)


def plans(state: PetitionState, *, cal: WorkingCalendar | None = None) -> tuple[ClockPlan, ...]:
    """The running clocks' deadlines and pending ladder times on ``cal`` (what is announced)."""
    if state.state is LifecycleState.CLOSED:
        return ()
    c = cal or default_calendar()
    return tuple(_plan(clock, fired, c) for clock, fired in _running(state))
