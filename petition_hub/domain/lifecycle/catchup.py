"""Catching the clocks up to an event's time: what a calendar change moved is announced again,
then the ladder steps and the end of the evaluation window that fell due are applied, in time
order, each exactly once; :func:`next_wakeup` is when the next one is due."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar, default_calendar
from petition_hub.domain.lifecycle.clockplans import plans
from petition_hub.domain.lifecycle.context import _Ctx
from petition_hub.domain.lifecycle.effects import SlaSignal, SlaSignalKind
from petition_hub.domain.lifecycle.states import (
    OFFICE_UNIT,
    Closure,
    LifecycleState,
    PetitionState,
)
from petition_hub.domain.sla import ClockKind, LadderStep, next_due, year_start

__all__ = ["next_wakeup"]

_STEP_SIGNAL: Final = {
    LadderStep.WARNING: SlaSignalKind.WARNING,
    LadderStep.URGING: SlaSignalKind.URGING,
    LadderStep.OVERDUE: SlaSignalKind.OVERDUE,
    LadderStep.LISTED_SUPERVISION: SlaSignalKind.LISTED_SUPERVISION,
}


def _recalendar(ctx: _Ctx) -> None:
    """The calendar changed since the plans were counted: every running clock whose deadline or
    pending ladder time moved is announced again (``deadline_changed``); steps that fired stay
    fired. A clock announced before plans were kept is adopted silently."""
    s = ctx.s
    before = {p.clock: p for p in s.plans}
    now = plans(s, cal=ctx.cal)
    for plan in now:
        old = before.get(plan.clock)
        if old is None or (old.deadline, old.steps) == (plan.deadline, plan.steps):
            continue
        ctx.effects.append(
            SlaSignal(
                petition_id=s.petition_id,
                at=ctx.at,
                clock=plan.clock,
                signal=SlaSignalKind.DEADLINE_CHANGED,
                round=s.round,
                deadline=plan.deadline,
                unit=s.lead_unit,
                provisional=plan.provisional,
                previous_deadline=old.deadline,
                calendar=ctx.cal.digest,
            )
        )
    ctx.update(plans=now, calendar=ctx.cal.digest)


def _catch_up(ctx: _Ctx) -> None:
    """Announce what a calendar change moved, then fire every ladder step due by ``ctx.at`` and
    close an elapsed evaluation window, in time order."""
    s = ctx.s
    if s.state is LifecycleState.CLOSED:
        return
    if s.calendar != ctx.cal.digest:
        _recalendar(ctx)
        s = ctx.s
    due: list[tuple[datetime, int, ClockKind, LadderStep]] = []
    for order, (kind, clock, fired) in enumerate(
        (
            (ClockKind.SIGN_FOR, s.sign_for, s.sign_for_fired),
            (ClockKind.RESOLVE, s.resolve, s.resolve_fired),
        )
    ):
        if clock is None or clock.stopped_at is not None:
            continue
        done = set(fired)
        try:
            while (nd := next_due(clock, done, cal=ctx.cal)) is not None and nd[1] <= ctx.at:
                done.add(nd[0])
                due.append((nd[1], order, kind, nd[0]))
        except CalendarUnavailable as exc:
            # the next step lies in a year without calendar data: it is held (flagged by the
            # caller through next_wakeup), unless that year had begun, which must not pass quietly
            if ctx.at >= year_start(exc.year):
                raise
    window = s.evaluation_due
    closes = (
        window is not None
        and window <= ctx.at
        and s.state in (LifecycleState.REPLIED, LifecycleState.EVALUATED)
    )
    if closes:
        assert window is not None
        due = [d for d in due if d[0] <= window]
    # a step due while nobody holds the petition (triage, a return) is the office's to answer for
    holder = ctx.s.lead_unit or OFFICE_UNIT
    for at, _, kind, step in sorted(due, key=lambda d: (d[0], d[1])):
        if kind is ClockKind.SIGN_FOR:
            assert ctx.s.sign_for is not None
            ctx.update(sign_for_fired=(*ctx.s.sign_for_fired, step))
            ctx.sla(ctx.s.sign_for, _STEP_SIGNAL[step], at=at, unit=holder)
        else:
            ctx.update(resolve_fired=(*ctx.s.resolve_fired, step))
            ctx.sla(ctx.s.resolve, _STEP_SIGNAL[step], at=at, unit=holder)
    if closes:
        assert window is not None
        closure = Closure.UNRATED if s.state is LifecycleState.REPLIED else Closure.RATED
        ctx.move(LifecycleState.CLOSED, "evaluation_window_elapsed", closure=closure, at=window)


def next_wakeup(state: PetitionState, *, cal: WorkingCalendar | None = None) -> datetime | None:
    """When :func:`apply` with a :class:`Tick` will next have something to do (the next ladder
    step of a running clock, or the end of the evaluation window); None when nothing is pending
    (closed, or paused with nothing scheduled)."""
    if state.state is LifecycleState.CLOSED:
        return None
    c = cal or default_calendar()
    times: list[datetime] = []
    missing: CalendarUnavailable | None = None
    clocks = [(state.resolve, state.resolve_fired)]
    if state.sign_for is not None:
        clocks.append((state.sign_for, state.sign_for_fired))
    for clock, fired in clocks:
        try:
            nd = next_due(clock, fired, cal=c)
        except CalendarUnavailable as exc:
            missing = exc
            continue
        if nd is not None:
            times.append(nd[1])
    if state.evaluation_due is not None and state.state in (
        LifecycleState.REPLIED,
        LifecycleState.EVALUATED,
    ):
        times.append(state.evaluation_due)
    if missing is not None and (not times or min(times) >= year_start(missing.year)):
        raise missing  # the next wake-up cannot be known: the caller flags it and retries
    return min(times) if times else None
