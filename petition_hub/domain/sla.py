"""SLA policy and clock arithmetic: deadlines, pauses, extensions and the warning ladder.

Everything here is pure: no clock is read (times are passed in), no I/O but loading the policy
file. The policy (``petition_hub/data/sla_policy.yaml``, :class:`SlaPolicy`) holds every number of
domain.md "SLA clocks" as a default; :class:`ClockState` is one running clock (sign for, or
resolve) and the functions :func:`start_clock`, :func:`pause`, :func:`resume`, :func:`extend`,
:func:`stop`, :func:`deadline`, :func:`ladder` and :func:`next_due` are all the workers need.
:func:`explain` is what ``petition-hub sla explain`` prints.

How time is counted
-------------------
*Working-day clocks* (N working days). The day of receipt is not counted, whatever the hour: a
clock started on local date R (Asia/Shanghai) ends at the deadline time (18:00) of the N-th working
day after R. A petition received at 23:00, or on a Saturday or a holiday, is treated the same way:
day 1 is the first working day after the receipt date (so a Saturday receipt with a 1-day limit is
due Monday 18:00, and a 23:00 Monday receipt is due Tuesday 18:00).

For fractions (the 50 % and 80 % ladder steps, and pauses that do not last whole days) a working
day is its *working window* ``[day_start, deadline)`` local time (08:30-18:00 by default;
``working_time`` in the policy). Working time is the time spent inside working windows: evenings,
nights, weekends and holidays count nothing. A clock counts from the end of its receipt day's
window (18:00 on R), so N working days of budget end exactly at 18:00 on the N-th working day.
Consequences:

* pausing for exactly k working days of working time (e.g. Monday 10:00 to Wednesday 10:00, or
  Friday 10:00 to Monday 10:00 over a weekend) moves the deadline by exactly k working days;
* a partial-day pause moves the deadline by the working time it took, in working time: a pause
  from 10:00 to 15:00 turns an 18:00 deadline into 13:30 (08:30 + 5 h) on the next working day. A
  deadline therefore always lies inside a working day's window, never on a non-working day and
  never in the night;
* a pause in the evening or over a holiday costs nothing and moves nothing.

*Hour clocks* (urgent sign-for: 4 h, 1 h) run on the wall clock from the instant they start, day and
night, holidays included; pauses on them count wall time.

Deadlines and the ladder
------------------------
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
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from petition_hub.data import data_path
from petition_hub.domain.calendar import (
    CalendarUnavailable,
    WorkingCalendar,
    YearStatus,
    default_calendar,
)
from petition_hub.domain.petition import PetitionType, Urgency

__all__ = [
    "SHANGHAI",
    "ClockError",
    "ClockKind",
    "ClockRules",
    "ClockState",
    "EvaluationPolicy",
    "ExplainedClock",
    "ExplainedPause",
    "ExplainedStep",
    "ExplainedTime",
    "ExtensionPolicy",
    "LadderPolicy",
    "LadderStep",
    "Limit",
    "Pause",
    "PolicyError",
    "ReopenPolicy",
    "ResolveRule",
    "SlaExplanation",
    "SlaPolicy",
    "WorkingTime",
    "add_working_time",
    "deadline",
    "default_policy",
    "explain",
    "extend",
    "is_overdue",
    "known_deadline",
    "ladder",
    "load_policy",
    "met",
    "next_due",
    "own_deadline",
    "pause",
    "provisional",
    "reopen_clock",
    "resolve_clock",
    "resume",
    "sign_for_clock",
    "start_clock",
    "stop",
    "year_start",
]

#: Asia/Shanghai. China has kept UTC+8 without daylight saving time since 1991, so a fixed offset
#: is exact for every date the hub handles (and cheaper than a zoneinfo lookup).
SHANGHAI: Final = timezone(timedelta(hours=8), "Asia/Shanghai")

_US_PER_HOUR: Final = 3_600_000_000
_US_PER_DAY: Final = 24 * _US_PER_HOUR


# --- policy -------------------------------------------------------------------------------------


class PolicyError(ValueError):
    """The SLA policy file is invalid; the message names the file and the entry."""


_FROZEN = ConfigDict(frozen=True, extra="forbid")


def _parse_time(value: Any) -> Any:
    """``"18:00"`` → ``time(18, 0)``. YAML 1.1 reads an unquoted ``18:00`` as the sexagesimal
    integer 1080, which is refused with a hint instead of being misread."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"quote the time (YAML reads an unquoted 18:00 as {value}): '18:00'")
    return value


class Limit(BaseModel):
    """A time limit: exactly one of ``working_days`` or ``hours``."""

    model_config = _FROZEN

    working_days: int | None = Field(default=None, ge=1, le=366)
    hours: int | None = Field(default=None, ge=1, le=24 * 366)

    @model_validator(mode="after")
    def _one(self) -> Limit:
        if (self.working_days is None) == (self.hours is None):
            raise ValueError("give exactly one of working_days or hours")
        return self

    @property
    def amount(self) -> int:
        """The number of working days or hours."""
        return self.working_days if self.working_days is not None else (self.hours or 0)

    @property
    def is_hours(self) -> bool:
        return self.hours is not None

    def describe(self) -> str:
        """``"3 working days"``, ``"1 working day"``, ``"4 hours"``."""
        if self.working_days is not None:
            n = self.working_days
            return f"{n} working day{'s' if n != 1 else ''}"
        h = self.hours or 0
        return f"{h} hour{'s' if h != 1 else ''}"


class ResolveRule(BaseModel):
    """The resolve limit for one urgency: one limit for every type (``working_days``/``hours``),
    or ``by_type`` listing all six types."""

    model_config = _FROZEN

    working_days: int | None = Field(default=None, ge=1, le=366)
    hours: int | None = Field(default=None, ge=1, le=24 * 366)
    by_type: dict[PetitionType, Limit] | None = None

    @model_validator(mode="after")
    def _one(self) -> ResolveRule:
        forms = sum(x is not None for x in (self.working_days, self.hours, self.by_type))
        if forms != 1:
            raise ValueError("give exactly one of working_days, hours or by_type")
        if self.by_type is not None:
            missing = [t.value for t in PetitionType if t not in self.by_type]
            if missing:
                raise ValueError(f"by_type: no limit for {', '.join(missing)}")
        return self

    def limit_for(self, petition_type: PetitionType) -> Limit:
        if self.by_type is not None:
            return self.by_type[petition_type]
        return Limit(working_days=self.working_days, hours=self.hours)


class WorkingTime(BaseModel):
    """The working window of a working day, local time (Asia/Shanghai)."""

    model_config = _FROZEN

    day_start: time = time(8, 30)
    """Working time of a working day starts here (fractions only: ladder steps, partial pauses)."""
    deadline: time = time(18, 0)
    """A working-day deadline ends at this time of its last day (domain.md: 18:00)."""

    _times = field_validator("day_start", "deadline", mode="before")(_parse_time)

    @model_validator(mode="after")
    def _order(self) -> WorkingTime:
        if self.day_start >= self.deadline:
            raise ValueError("day_start must be before deadline")
        if self.day_start.tzinfo is not None or self.deadline.tzinfo is not None:
            raise ValueError("times are local (Asia/Shanghai): no offset")
        return self


class LadderPolicy(BaseModel):
    """The warning ladder of a resolve clock."""

    model_config = _FROZEN

    warning_percent: int = Field(default=50, ge=1, le=99)
    urging_percent: int = Field(default=80, ge=1, le=99)
    listed_supervision_after_working_days: int = Field(default=5, ge=1, le=366)

    @model_validator(mode="after")
    def _order(self) -> LadderPolicy:
        if self.warning_percent >= self.urging_percent:
            raise ValueError("warning_percent must be below urging_percent")
        return self


class ExtensionPolicy(BaseModel):
    """延期: how often a unit may ask, and how much the office may grant."""

    model_config = _FROZEN

    max_requests: int = Field(default=1, ge=0, le=10)
    """Per petition (a reopened petition does not get a new one)."""
    max_percent_of_original: int = Field(default=100, ge=1, le=1000)
    """An approval adds at most this share of the original number of working days."""


class EvaluationPolicy(BaseModel):
    """一事一评: the petitioner's rating."""

    model_config = _FROZEN

    window_days: int = Field(default=7, ge=1, le=366)
    """Calendar days (wall time) from the evaluation request; no rating by then → closed unrated."""
    max_changes: int = Field(default=1, ge=0, le=1)
    """Changes of the rating allowed after the first one (the channels send revision 0 and 1)."""


class ReopenPolicy(BaseModel):
    """Reopening on a dissatisfied rating (fresh resolve clock of the same length)."""

    model_config = _FROZEN

    max_reopens: int = Field(default=1, ge=0, le=10)


class ClockRules(BaseModel):
    """The policy numbers a running clock needs, copied into it when it starts (a policy change
    does not move the deadlines of running clocks)."""

    model_config = _FROZEN

    day_start: time = time(8, 30)
    deadline_time: time = time(18, 0)
    warning_percent: int = 50
    urging_percent: int = 80
    listed_after_working_days: int = 5


class SlaPolicy(BaseModel):
    """The SLA policy file (``sla_policy.yaml``)."""

    model_config = _FROZEN

    version: Literal[1] = 1
    working_time: WorkingTime = WorkingTime()
    sign_for: dict[Urgency, Limit]
    resolve: dict[Urgency, ResolveRule]
    ladder: LadderPolicy = LadderPolicy()
    extension: ExtensionPolicy = ExtensionPolicy()
    evaluation: EvaluationPolicy = EvaluationPolicy()
    reopen: ReopenPolicy = ReopenPolicy()

    @model_validator(mode="after")
    def _complete(self) -> SlaPolicy:
        for name, table in (("sign_for", self.sign_for), ("resolve", self.resolve)):
            missing = [u.value for u in Urgency if u not in table]
            if missing:
                raise ValueError(f"{name}: no entry for urgency {', '.join(missing)}")
        return self

    def sign_for_limit(self, urgency: Urgency) -> Limit:
        return self.sign_for[urgency]

    def resolve_limit(self, petition_type: PetitionType | None, urgency: Urgency) -> Limit:
        """The resolve limit; a petition without a type yet counts as 其他诉求."""
        return self.resolve[urgency].limit_for(petition_type or PetitionType.OTHER)

    def max_extension_days(self, limit: Limit) -> int:
        """Most working days an approval may add to a clock of ``limit`` (0 for hour clocks)."""
        if limit.working_days is None:
            return 0
        return limit.working_days * self.extension.max_percent_of_original // 100

    @property
    def rules(self) -> ClockRules:
        return ClockRules(
            day_start=self.working_time.day_start,
            deadline_time=self.working_time.deadline,
            warning_percent=self.ladder.warning_percent,
            urging_percent=self.ladder.urging_percent,
            listed_after_working_days=self.ladder.listed_supervision_after_working_days,
        )


def load_policy(path: Path | str | None = None) -> SlaPolicy:
    """Read and validate a policy file (default: the packaged ``sla_policy.yaml``). Raises
    :class:`PolicyError` naming the file and each bad entry (``resolve.normal.by_type: …``)."""
    p = Path(path) if path is not None else data_path("sla_policy.yaml")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{p}: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{p}: expected a mapping")
    try:
        return SlaPolicy.model_validate(raw)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            parts.append(f"{loc}: {msg}" if loc else msg)
        raise PolicyError(f"{p}: " + "; ".join(parts)) from exc


@lru_cache(maxsize=1)
def default_policy() -> SlaPolicy:
    """The packaged policy (loaded once per process)."""
    return load_policy()


# --- clocks -------------------------------------------------------------------------------------


class ClockError(ValueError):
    """An operation that does not fit the clock (pause while paused, second extension, …)."""


class ClockKind(StrEnum):
    SIGN_FOR = "sign_for"
    RESOLVE = "resolve"


class LadderStep(StrEnum):
    """Steps of the warning ladder, in order."""

    WARNING = "warning"
    """50 % of the resolve time: a warning to the unit."""
    URGING = "urging"
    """80 %: urging (催办)."""
    OVERDUE = "overdue"
    """The deadline: overdue (逾期) and supervision (督办) by the joint-meeting office."""
    LISTED_SUPERVISION = "listed_supervision"
    """5 working days past the deadline: listed supervision (挂牌督办), reported to the leading
    group."""


_STEP_ORDER: Final = tuple(LadderStep)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a time zone")
    return value.astimezone(UTC)


def _utc_opt(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


class Pause(BaseModel):
    """A finished pause of a resolve clock (waiting for material)."""

    model_config = _FROZEN

    start: AwareDatetime
    end: AwareDatetime
    reason: str = ""

    _utc_times = field_validator("start", "end")(_utc)


class ClockState(BaseModel):
    """One clock of one petition. Immutable; the functions of this module return new states.

    ``started_at`` is the instant the clock counts from: the instant it was opened for hour clocks,
    18:00 (the deadline time) of the opening date for working-day clocks (the day of receipt is
    not counted), which is earlier than ``opened_at`` for a receipt after 18:00.
    """

    model_config = _FROZEN

    kind: ClockKind
    limit: Limit
    opened_at: AwareDatetime
    """When the clock was started (receipt, routing, reopening), UTC."""
    started_at: AwareDatetime
    base_deadline: AwareDatetime | None
    """The limit from the start, without pauses, extension or the province (None: in a year
    without calendar data)."""
    provincial_deadline: AwareDatetime | None = None
    pauses: tuple[Pause, ...] = ()
    paused_since: AwareDatetime | None = None
    pause_reason: str | None = None
    extension_days: int = Field(default=0, ge=0)
    max_extension_days: int = Field(default=0, ge=0)
    stopped_at: AwareDatetime | None = None
    stopped_deadline: AwareDatetime | None = None
    """The effective deadline the clock was judged against when it stopped (met or missed): a
    later calendar change does not move it."""
    stopped_provisional: bool = False
    """``stopped_deadline`` was counted on a provisional year."""
    rules: ClockRules = ClockRules()

    _utc_times = field_validator(
        "opened_at",
        "started_at",
        "base_deadline",
        "provincial_deadline",
        "paused_since",
        "stopped_at",
        "stopped_deadline",
    )(_utc_opt)

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None


def _tod_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


class _Space:
    """Working-time coordinates of a clock: microseconds of counted time since its start.

    Day clocks: working time inside the working windows, anchored at the start date. Hour clocks:
    wall time since ``started_at``. ``w`` maps an instant to its coordinate (negative before the
    start), ``t`` maps a coordinate ≥ 0 back to the earliest instant that has it."""

    __slots__ = ("anchor", "cal", "day_start", "deadline", "hours", "origin", "unit")

    def __init__(self, state: ClockState, cal: WorkingCalendar) -> None:
        self.cal = cal
        self.hours = state.limit.is_hours
        self.origin = state.started_at
        self.day_start = state.rules.day_start
        self.deadline = state.rules.deadline_time
        self.unit = _tod_us(self.deadline) - _tod_us(self.day_start)
        self.anchor = state.started_at.astimezone(SHANGHAI).date()

    def w(self, t: datetime) -> int:
        if self.hours:
            delta = t - self.origin
            return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return _day_w(self.cal, self.anchor, t, self.day_start, self.unit)

    def t(self, w: int) -> datetime:
        if self.hours:
            return self.origin + timedelta(microseconds=w)
        return _day_t(self.cal, self.anchor, w, self.day_start, self.deadline, self.unit)


def _local_at(day: date, t: time) -> datetime:
    return datetime.combine(day, t, SHANGHAI).astimezone(UTC)


def _day_w(cal: WorkingCalendar, anchor: date, t: datetime, day_start: time, unit: int) -> int:
    local = t.astimezone(SHANGHAI)
    d = local.date()
    w = unit * cal.working_days_between(anchor, d - timedelta(days=1))
    if cal.is_working_day(d):
        into = _tod_us(local.time()) - _tod_us(day_start)
        w += min(max(into, 0), unit)
    return w


def _day_t(
    cal: WorkingCalendar, anchor: date, w: int, day_start: time, deadline: time, unit: int
) -> datetime:
    k, rem = divmod(w, unit)
    if rem == 0:
        return _local_at(cal.add_working_days(anchor, k), deadline)
    day = cal.add_working_days(anchor, k + 1)
    return _local_at(day, day_start) + timedelta(microseconds=rem)


def add_working_time(
    at: datetime,
    working_days: int,
    *,
    rules: ClockRules | None = None,
    cal: WorkingCalendar | None = None,
) -> datetime:
    """``at`` moved by ``working_days`` (≥ 0) of working time: the same point of the working window
    that many working days later (an instant outside the windows counts from the end of the last
    window before it, so ``Saturday 23:00 + 5`` is 18:00 on the 5th working day after Saturday)."""
    r = rules or ClockRules()
    c = cal or default_calendar()
    at = _utc(at)
    unit = _tod_us(r.deadline_time) - _tod_us(r.day_start)
    anchor = at.astimezone(SHANGHAI).date()
    w = _day_w(c, anchor, at, r.day_start, unit) + working_days * unit
    return _day_t(c, anchor, w, r.day_start, r.deadline_time, unit)


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
    :class:`~.calendar.CalendarUnavailable`): the clock runs all the same."""
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
    :class:`~.calendar.CalendarUnavailable` when a step falls in a year without calendar data
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


def year_start(year: int) -> datetime:
    """The first instant of ``year`` in Beijing time: no deadline in a year without calendar data
    can be earlier."""
    return datetime(year, 1, 1, tzinfo=SHANGHAI)


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


# --- explain ------------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ExplainedTime(_Out):
    utc: datetime
    local: datetime

    @classmethod
    def of(cls, t: datetime) -> ExplainedTime:
        return cls(utc=t.astimezone(UTC), local=t.astimezone(SHANGHAI))


class ExplainedStep(_Out):
    step: LadderStep
    at: ExplainedTime
    provisional: bool = False
    """Counted on a provisional year: it may move when the official calendar arrives."""


class ExplainedPause(_Out):
    start: ExplainedTime
    end: ExplainedTime
    working_time: str
    """The counted time the pause took, e.g. ``"1 working day 2:30:00"`` or ``"3:00:00"``."""


class ExplainedClock(_Out):
    kind: ClockKind
    limit: str
    started_at: ExplainedTime
    base_deadline: ExplainedTime | None
    deadline: ExplainedTime | None
    decided_by: Literal["policy", "province"] | None
    ladder: tuple[ExplainedStep, ...]
    deadline_provisional: bool = False
    """The deadline was counted on a provisional year (see ``notes``)."""


class SlaExplanation(_Out):
    """What ``petition-hub sla explain`` prints: both clocks, their deadlines and ladders."""

    received_at: ExplainedTime
    petition_type: PetitionType
    urgency: Urgency
    sign_for: ExplainedClock
    resolve: ExplainedClock
    provincial_deadline: ExplainedTime | None
    pauses: tuple[ExplainedPause, ...]
    max_extension_days: int
    calendar_years: dict[int, YearStatus]
    notes: tuple[str, ...]
    provisional: bool = False
    """Some deadline or ladder time was counted on a provisional year."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (ISO-8601 times)."""
        data: dict[str, Any] = self.model_dump(mode="json")
        return data

    def to_text(self) -> str:
        """A human-readable form (local times)."""

        def fmt(t: ExplainedTime | None, provisional: bool = False) -> str:
            if t is None:
                return "-"
            text = t.local.strftime("%Y-%m-%d %H:%M %a (+08:00)")
            return f"{text}  PROVISIONAL" if provisional else text

        lines = [
            f"received   {fmt(self.received_at)}",
            f"type       {self.petition_type.value}   urgency {self.urgency.value}",
        ]
        for clock in (self.sign_for, self.resolve):
            due = fmt(clock.deadline, clock.deadline_provisional)
            lines.append(f"{clock.kind.value:<10} {clock.limit}: due {due}")
            if clock.decided_by == "province":
                lines.append("           (the province's deadline is earlier and wins)")
            for s in clock.ladder:
                lines.append(f"  {s.step.value:<20} {fmt(s.at, s.provisional)}")
        for p in self.pauses:
            lines.append(f"pause      {fmt(p.start)} → {fmt(p.end)}  ({p.working_time})")
        lines.append(f"extension  at most {self.max_extension_days} working days, once")
        lines.extend(f"note       {n}" for n in self.notes)
        return "\n".join(lines)


def _span_text(us: int, unit: int | None) -> str:
    if unit is None:
        return str(timedelta(microseconds=us))
    days, rest = divmod(us, unit)
    parts = []
    if days:
        parts.append(f"{days} working day{'s' if days != 1 else ''}")
    if rest or not days:
        parts.append(str(timedelta(microseconds=rest)))
    return " ".join(parts)


def _known_ladder(
    state: ClockState, cal: WorkingCalendar
) -> tuple[list[tuple[LadderStep, datetime]], CalendarUnavailable | None]:
    """The ladder as far as the calendar reaches: a step after the deadline that falls in a year
    without data ends it (and is reported); the deadline itself must be computable."""
    steps: list[tuple[LadderStep, datetime]] = []
    fired: set[LadderStep] = set()
    while True:
        try:
            nd = next_due(state, fired, cal=cal)
        except CalendarUnavailable as exc:
            if LadderStep.OVERDUE not in fired:
                raise
            return steps, exc
        if nd is None:
            return steps, None
        steps.append(nd)
        fired.add(nd[0])


def _explain_clock(
    state: ClockState, cal: WorkingCalendar, notes: list[str], years: set[int]
) -> ExplainedClock:
    steps, missing = _known_ladder(state, cal)
    if missing is not None:
        notes.append(f"{state.kind.value}: ladder incomplete: {missing}")
        years.add(missing.year)
    years.update(t.astimezone(SHANGHAI).year for _, t in steps)
    end = deadline(state, cal=cal)
    own = own_deadline(state, cal=cal)
    decided: Literal["policy", "province"] | None = None
    if end is not None:
        decided = "province" if own is None or end < own else "policy"
    return ExplainedClock(
        kind=state.kind,
        limit=state.limit.describe(),
        started_at=ExplainedTime.of(state.started_at),
        base_deadline=None
        if state.base_deadline is None
        else ExplainedTime.of(state.base_deadline),
        deadline=None if end is None else ExplainedTime.of(end),
        decided_by=decided,
        ladder=tuple(
            ExplainedStep(
                step=s, at=ExplainedTime.of(t), provisional=provisional(state, t, cal=cal)
            )
            for s, t in steps
        ),
        deadline_provisional=provisional(state, end, cal=cal),
    )


def explain(
    received_at: datetime,
    petition_type: PetitionType,
    urgency: Urgency,
    province_deadline: datetime | None = None,
    pauses: Sequence[tuple[datetime, datetime]] = (),
    *,
    policy: SlaPolicy | None = None,
    cal: WorkingCalendar | None = None,
) -> SlaExplanation:
    """Deadlines and ladder of a petition received at ``received_at`` (routed at once), with the
    given material pauses ``(start, end)`` of the resolve clock. Raises :class:`ClockError` for a
    pause that does not fit (overlapping, after the deadline) and
    :class:`~.calendar.CalendarUnavailable` when a deadline falls in a year without calendar
    data (a later step there only ends the ladder early, with a note)."""
    pol = policy or default_policy()
    c = cal or default_calendar()
    received_at = _utc(received_at)
    sign = sign_for_clock(received_at, urgency, policy=pol, cal=c)
    res = resolve_clock(received_at, petition_type, urgency, province_deadline, policy=pol, cal=c)
    explained_pauses: list[ExplainedPause] = []
    sp = _Space(res, c)
    unit = None if res.limit.is_hours else sp.unit
    for start, end in sorted(pauses, key=lambda p: p[0]):
        if _utc(end) < _utc(start):
            raise ClockError(f"pause ends before it starts: {start.isoformat()}")
        res = resume(pause(res, start, "material", cal=c), end)
        span = max(sp.w(_utc(end)), 0) - max(sp.w(_utc(start)), 0)
        explained_pauses.append(
            ExplainedPause(
                start=ExplainedTime.of(start),
                end=ExplainedTime.of(end),
                working_time=_span_text(span, unit),
            )
        )
    notes: list[str] = []
    local = received_at.astimezone(SHANGHAI)
    if not res.limit.is_hours or not sign.limit.is_hours:
        if not c.is_working_day(local.date()):
            notes.append("received on a non-working day: day 1 is the first working day after it")
        elif local.time() >= pol.working_time.deadline:
            notes.append(
                "received after the deadline hour: the receipt day is not counted in any case, "
                "so day 1 is the next working day"
            )
    touched = {local.year}
    sign_for = _explain_clock(sign, c, notes, touched)
    resolve = _explain_clock(res, c, notes, touched)
    years: dict[int, YearStatus] = {}
    for y in range(min(touched), max(touched) + 1):
        years[y] = c.year_status(y)
        if years[y] is YearStatus.PROVISIONAL:
            notes.append(
                f"{y}: no official calendar yet: PROVISIONAL, counted on the law's statutory "
                f"holidays with 补假 and no 调休; times marked PROVISIONAL may move when the "
                f"State Council's notice is imported (petition-hub calendar import)"
            )
        elif years[y] is YearStatus.NOTICE:
            notes.append(f"{y}: official calendar transcribed in the override file")
    return SlaExplanation(
        received_at=ExplainedTime.of(received_at),
        petition_type=petition_type,
        urgency=urgency,
        sign_for=sign_for,
        resolve=resolve,
        provincial_deadline=None
        if province_deadline is None
        else ExplainedTime.of(province_deadline),
        pauses=tuple(explained_pauses),
        max_extension_days=res.max_extension_days,
        calendar_years=years,
        notes=tuple(notes),
        provisional=any(
            c.deadline_provisional or any(s.provisional for s in c.ladder)
            for c in (sign_for, resolve)
        ),
    )
