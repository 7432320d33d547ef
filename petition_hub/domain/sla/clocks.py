"""Opening and changing clocks: start (sign for, resolve, reopen), pause, resume, extend, stop.

Each function takes a :class:`~.state.ClockState` and returns a new one, or refuses with
:class:`~.state.ClockError` an operation that does not fit the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar, default_calendar
from petition_hub.domain.petition import PetitionType, Urgency
from petition_hub.domain.sla.deadlines import known_deadline, own_deadline, provisional
from petition_hub.domain.sla.policy import ClockRules, Limit, SlaPolicy, default_policy
from petition_hub.domain.sla.state import ClockError, ClockKind, ClockState, Pause, _utc
from petition_hub.domain.sla.worktime import SHANGHAI, _local_at

__all__ = [
    "extend",
    "pause",
    "reopen_clock",
    "resolve_clock",
    "resume",
    "sign_for_clock",
    "start_clock",
    "stop",
]


def _origin(
    at: datetime, limit: Limit, rules: ClockRules, cal: WorkingCalendar
) -> tuple[datetime, datetime | None]:
    """When a clock opened at ``at`` starts counting, and its deadline without pauses,
    extension or the province (None when that needs a year without calendar data)."""
    if limit.hours is not None:
        return at, at + timedelta(hours=limit.hours)
    local_date = at.astimezone(SHANGHAI).date()
    started = _local_at(local_date, rules.deadline_time)
    try:
        day = cal.add_working_days(local_date, limit.working_days or 0)
    except CalendarUnavailable:
        return started, None
    return started, _local_at(day, rules.deadline_time)


def start_clock(
    kind: ClockKind,
    at: datetime,
    limit: Limit,
    *,
    provincial_deadline: datetime | None = None,
    policy: SlaPolicy | None = None,
    cal: WorkingCalendar | None = None,
) -> ClockState:
    """A clock of ``limit`` opened at ``at``. A deadline in a year without any calendar data is
    not known (``base_deadline`` None; :func:`deadline` raises
    :class:`CalendarUnavailable`): the clock runs all the same."""
    pol = policy or default_policy()
    c = cal or default_calendar()
    rules = pol.rules
    at = _utc(at)
    started, base = _origin(at, limit, rules, c)
    return ClockState(
        kind=kind,
        limit=limit,
        opened_at=at,
        started_at=started,
        base_deadline=base,
        provincial_deadline=None if provincial_deadline is None else _utc(provincial_deadline),
        max_extension_days=pol.max_extension_days(limit),
        rules=rules,
    )


def sign_for_clock(
    at: datetime,
    urgency: Urgency,
    *,
    policy: SlaPolicy | None = None,
    cal: WorkingCalendar | None = None,
) -> ClockState:
    """The sign-for (签收) clock of a petition routed at ``at``."""
    pol = policy or default_policy()
    return start_clock(ClockKind.SIGN_FOR, at, pol.sign_for_limit(urgency), policy=pol, cal=cal)


def resolve_clock(
    received_at: datetime,
    petition_type: PetitionType | None,
    urgency: Urgency,
    provincial_deadline: datetime | None = None,
    *,
    policy: SlaPolicy | None = None,
    cal: WorkingCalendar | None = None,
) -> ClockState:
    """The resolve (办结) clock of a petition received at ``received_at``."""
    pol = policy or default_policy()
    return start_clock(
        ClockKind.RESOLVE,
        received_at,
        pol.resolve_limit(petition_type, urgency),
        provincial_deadline=provincial_deadline,
        policy=pol,
        cal=cal,
    )


def reopen_clock(
    state: ClockState, at: datetime, *, cal: WorkingCalendar | None = None
) -> ClockState:
    """A fresh resolve clock of the same length (the original limit, without the extension) opened
    at ``at``, for a petition reopened on a dissatisfied rating. The province's deadline, which
    was for the first handling, does not carry over."""
    at = _utc(at)
    c = cal or default_calendar()
    limit = state.limit
    started, base = _origin(at, limit, state.rules, c)
    return ClockState(
        kind=state.kind,
        limit=limit,
        opened_at=at,
        started_at=started,
        base_deadline=base,
        max_extension_days=state.max_extension_days,
        rules=state.rules,
    )


def pause(
    state: ClockState, at: datetime, reason: str, *, cal: WorkingCalendar | None = None
) -> ClockState:
    """Stop a resolve clock at ``at`` (waiting for material). Refused (:class:`ClockError`) for a
    sign-for clock, a stopped or paused clock, an instant before the clock was opened, and once the
    hub's deadline has passed (an overdue clock stays overdue)."""
    at = _utc(at)
    if state.kind is not ClockKind.RESOLVE:
        raise ClockError("only a resolve clock can be paused")
    if state.stopped_at is not None:
        raise ClockError("the clock is stopped")
    if state.paused_since is not None:
        raise ClockError(f"the clock is already paused since {state.paused_since.isoformat()}")
    if at < state.opened_at:
        raise ClockError("a pause cannot start before the clock was opened")
    end = own_deadline(state, cal=cal)
    if end is not None and at >= end:
        raise ClockError(
            f"the deadline {end.isoformat()} has passed: an overdue clock cannot pause"
        )
    return state.model_copy(update={"paused_since": at, "pause_reason": reason})


def resume(state: ClockState, at: datetime) -> ClockState:
    """Restart a paused clock at ``at`` (the material arrived)."""
    at = _utc(at)
    since = state.paused_since
    if since is None:
        raise ClockError("the clock is not paused")
    if at < since:
        raise ClockError("resume before the pause started")
    done = Pause.model_construct(start=since, end=at, reason=state.pause_reason or "")
    return state.model_copy(
        update={"pauses": (*state.pauses, done), "paused_since": None, "pause_reason": None}
    )


def extend(state: ClockState, days: int) -> ClockState:
    """Add ``days`` working days to a working-day resolve clock (an approved extension, 延期).
    Refused for a second extension, an hour clock, a stopped clock, and more days than the
    policy allows (by default the original number)."""
    if state.kind is not ClockKind.RESOLVE:
        raise ClockError("only a resolve clock can be extended")
    if state.limit.working_days is None:
        raise ClockError("an hour clock cannot be extended in working days")
    if state.stopped_at is not None:
        raise ClockError("the clock is stopped")
    if state.extension_days:
        raise ClockError(f"the clock was already extended by {state.extension_days} working days")
    if not 1 <= days <= state.max_extension_days:
        raise ClockError(f"an extension must be 1..{state.max_extension_days} working days")
    return state.model_copy(update={"extension_days": days})


def stop(state: ClockState, at: datetime, *, cal: WorkingCalendar | None = None) -> ClockState:
    """Stop the clock at ``at`` (signed for, replied); an open pause ends there. The deadline it
    is judged against is kept with it (unknown in a year without calendar data: then it is
    computed when asked)."""
    at = _utc(at)
    if state.stopped_at is not None:
        raise ClockError("the clock is already stopped")
    if state.paused_since is not None:
        state = resume(state, max(at, state.paused_since))
    c = cal or default_calendar()
    end = known_deadline(state, cal=c)
    return state.model_copy(
        update={
            "stopped_at": at,
            "stopped_deadline": end,
            "stopped_provisional": provisional(state, end, cal=c),
        }
    )
