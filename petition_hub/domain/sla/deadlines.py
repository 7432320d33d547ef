"""Deadlines and the ladder: when a clock is due, when each step of its ladder falls, whether a
stopped clock met its deadline.

The ladder of a resolve clock: ``warning`` at 50 % and ``urging`` at 80 % of the resolve time
(working time for day clocks, wall time for hour clocks), ``overdue`` (and supervision, 督办) at
the deadline, ``listed_supervision`` (挂牌督办) 5 working days after the deadline. Pauses stop the
clock, so they push every step after them; an approved extension adds working days to the budget,
so the fractions are of the extended resolve time. A sign-for clock has one step, ``overdue``.

The province's deadline (``provincial_deadline``) is the province's clock: it never pauses and an
extension does not move it. It wins when it is earlier: the effective deadline is the earlier of the
two, and every ladder step is the earlier of the hub's step and the province's (50 %/80 % of the
working time from the start to the provincial deadline, the deadline itself, 5 working days after
it). While a clock is paused the hub's later steps are unknown until it resumes (omitted from the
ladder, ``None`` deadline); the province's steps still stand, since its clock does not pause.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar, default_calendar
from petition_hub.domain.sla.state import _STEP_ORDER, ClockKind, ClockState, LadderStep, _utc
from petition_hub.domain.sla.worktime import SHANGHAI, _Space, add_working_time, year_start

__all__ = [
    "deadline",
    "is_overdue",
    "known_deadline",
    "ladder",
    "met",
    "next_due",
    "own_deadline",
    "provisional",
]

_US_PER_HOUR: Final = 3_600_000_000


def _budget(state: ClockState, sp: _Space) -> int:
    if state.limit.hours is not None:
        return state.limit.hours * _US_PER_HOUR
    return ((state.limit.working_days or 0) + state.extension_days) * sp.unit


def _pause_spans(state: ClockState, sp: _Space) -> list[tuple[int, int | None]]:
    """Pauses as working-time coordinates (clipped at the start); the open one ends in None."""
    spans: list[tuple[int, int | None]] = [
        (max(sp.w(p.start), 0), max(sp.w(p.end), 0)) for p in state.pauses
    ]
    if state.paused_since is not None:
        spans.append((max(sp.w(state.paused_since), 0), None))
    return spans


def _w_at_consumed(spans: Sequence[tuple[int, int | None]], target: int) -> int | None:
    """The earliest coordinate at which ``target`` of counted time is used up, or None when an
    open pause comes first."""
    pos = used = 0
    for a, b in spans:
        if a - pos >= target - used:
            return pos + (target - used)
        used += max(a - pos, 0)
        if b is None:
            return None
        pos = max(pos, b)
    return pos + (target - used)


def _own_steps(state: ClockState, cal: WorkingCalendar, count: int) -> list[datetime | None]:
    """The hub's own first ``count`` steps (warning, urging, overdue, listed supervision); None =
    not known yet (after an open pause). Computed lazily: a step whose year has no calendar data
    raises only when it is asked for."""
    sp = _Space(state, cal)
    spans = _pause_spans(state, sp)
    budget = _budget(state, sp)
    steps: list[datetime | None] = []
    for pct in (state.rules.warning_percent, state.rules.urging_percent)[:count]:
        w = _w_at_consumed(spans, budget * pct // 100)
        steps.append(None if w is None else sp.t(w))
    if count > 2:
        w_end = _w_at_consumed(spans, budget)
        end = None if w_end is None else sp.t(w_end)
        steps.append(end)
        if count > 3:
            steps.append(
                None
                if end is None
                else add_working_time(
                    end, state.rules.listed_after_working_days, rules=state.rules, cal=cal
                )
            )
    return steps


def _provincial_steps(state: ClockState, cal: WorkingCalendar, count: int) -> list[datetime]:
    prov = state.provincial_deadline
    assert prov is not None
    sp = _Space(state, cal)
    total = max(sp.w(prov), 0)
    steps = [
        min(sp.t(total * pct // 100), prov)
        for pct in (state.rules.warning_percent, state.rules.urging_percent)[:count]
    ]
    if count > 2:
        steps.append(prov)
    if count > 3:
        days = state.rules.listed_after_working_days
        steps.append(add_working_time(prov, days, rules=state.rules, cal=cal))
    return steps


def _steps(state: ClockState, cal: WorkingCalendar, count: int) -> list[datetime | None]:
    """The first ``count`` effective steps of a resolve clock (the earlier of the hub's and the
    province's, step by step)."""
    own = _own_steps(state, cal, count)
    if state.provincial_deadline is None:
        return own
    prov = _provincial_steps(state, cal, count)
    return [p if o is None else min(o, p) for o, p in zip(own, prov, strict=True)]


def own_deadline(state: ClockState, *, cal: WorkingCalendar | None = None) -> datetime | None:
    """The hub's deadline (pauses and extension included, the province ignored); None while
    paused."""
    return _own_steps(state, cal or default_calendar(), 3)[2]


def deadline(state: ClockState, *, cal: WorkingCalendar | None = None) -> datetime | None:
    """The effective deadline: the hub's (pauses and extension included) or the province's when
    that is earlier. While the clock is paused the hub's is not known until it resumes: then this
    is the province's deadline (the latest the effective one can be), or None without one."""
    if state.stopped_deadline is not None:
        return state.stopped_deadline
    c = cal or default_calendar()
    if state.kind is ClockKind.SIGN_FOR:
        return _own_steps(state, c, 3)[2]
    return _steps(state, c, 3)[2]


def _kind_steps(state: ClockState) -> tuple[LadderStep, ...]:
    return (LadderStep.OVERDUE,) if state.kind is ClockKind.SIGN_FOR else _STEP_ORDER


def ladder(
    state: ClockState, *, cal: WorkingCalendar | None = None
) -> list[tuple[LadderStep, datetime]]:
    """The time of each ladder step, in order (``overdue`` only, for a sign-for clock). Steps not
    known yet (after an open pause) are left out. Raises
    :class:`CalendarUnavailable` when a step falls in a year without calendar data
    (:func:`next_due` asks only for the next step)."""
    c = cal or default_calendar()
    if state.kind is ClockKind.SIGN_FOR:
        end = _own_steps(state, c, 3)[2]
        return [] if end is None else [(LadderStep.OVERDUE, end)]
    out: list[tuple[LadderStep, datetime]] = []
    for step, at in zip(_STEP_ORDER, _steps(state, c, 4), strict=True):
        if at is None:
            break
        out.append((step, at))
    return out


def next_due(
    state: ClockState,
    fired_steps: Iterable[LadderStep] = (),
    *,
    cal: WorkingCalendar | None = None,
) -> tuple[LadderStep, datetime] | None:
    """The first step of the ladder not in ``fired_steps``, with its time; None when the clock is
    stopped, every step has fired, or the next one is not known yet (paused)."""
    if state.stopped_at is not None:
        return None
    fired = frozenset(fired_steps)
    for step in _kind_steps(state):
        if step in fired:
            continue
        c = cal or default_calendar()
        if state.kind is ClockKind.SIGN_FOR:
            at = _own_steps(state, c, 3)[2]
        else:
            i = _STEP_ORDER.index(step)
            at = _steps(state, c, i + 1)[i]
        return None if at is None else (step, at)
    return None


def is_overdue(state: ClockState, at: datetime, *, cal: WorkingCalendar | None = None) -> bool:
    """The effective deadline has passed at ``at`` (a stopped clock: it stopped after it)."""
    end = deadline(state, cal=cal)
    if end is None:
        return False
    if state.stopped_at is not None:
        return state.stopped_at > end
    return _utc(at) > end


def met(state: ClockState, *, cal: WorkingCalendar | None = None) -> bool | None:
    """For a stopped clock: stopped in time (at or before the effective deadline). None while
    running."""
    if state.stopped_at is None:
        return None
    try:
        end = deadline(state, cal=cal)
    except CalendarUnavailable as exc:
        # the deadline lies in (or beyond) a year without calendar data: it cannot be earlier
        # than that year's first day, so a clock stopped before then was stopped in time
        if state.stopped_at < year_start(exc.year):
            return True
        raise
    return end is not None and state.stopped_at <= end


def provisional(
    state: ClockState, at: datetime | None, *, cal: WorkingCalendar | None = None
) -> bool:
    """Whether ``at``, a deadline or ladder time of this clock, was counted on a provisional
    year (the law's statutory holidays, no 调休 yet): a working-day clock's times from its start
    to ``at``. Wall-clock hour clocks are never provisional."""
    if at is None or state.limit.is_hours:
        return False
    if state.stopped_deadline is not None and at == state.stopped_deadline:
        return state.stopped_provisional  # as it was when the clock stopped
    c = cal or default_calendar()
    return c.provisional_between(
        state.started_at.astimezone(SHANGHAI).date(), at.astimezone(SHANGHAI).date()
    )


def known_deadline(state: ClockState, *, cal: WorkingCalendar | None = None) -> datetime | None:
    """:func:`deadline`, or None when it lies in a year without calendar data."""
    try:
        return deadline(state, cal=cal)
    except CalendarUnavailable:
        return None
