"""What ``petition-hub sla explain`` prints: :func:`explain` counts both clocks of a petition, their
deadlines and ladders, with the calendar years they touch and notes on what was assumed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from petition_hub.domain.calendar import (
    CalendarUnavailable,
    WorkingCalendar,
    YearStatus,
    default_calendar,
)
from petition_hub.domain.petition import PetitionType, Urgency
from petition_hub.domain.sla.clocks import pause, resolve_clock, resume, sign_for_clock
from petition_hub.domain.sla.deadlines import deadline, next_due, own_deadline, provisional
from petition_hub.domain.sla.policy import SlaPolicy, default_policy
from petition_hub.domain.sla.state import ClockError, ClockKind, ClockState, LadderStep, _utc
from petition_hub.domain.sla.worktime import SHANGHAI, _Space

__all__ = [
    "ExplainedClock",
    "ExplainedPause",
    "ExplainedStep",
    "ExplainedTime",
    "SlaExplanation",
    "explain",
]


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


def _explain_pauses(
    res: ClockState, pauses: Sequence[tuple[datetime, datetime]], cal: WorkingCalendar
) -> tuple[ClockState, list[ExplainedPause]]:
    """The resolve clock with the material pauses ``(start, end)`` applied, in time order, and
    what each took."""
    explained: list[ExplainedPause] = []
    sp = _Space(res, cal)
    unit = None if res.limit.is_hours else sp.unit
    for start, end in sorted(pauses, key=lambda p: p[0]):
        if _utc(end) < _utc(start):
            raise ClockError(f"pause ends before it starts: {start.isoformat()}")
        res = resume(pause(res, start, "material", cal=cal), end)
        span = max(sp.w(_utc(end)), 0) - max(sp.w(_utc(start)), 0)
        explained.append(
            ExplainedPause(
                start=ExplainedTime.of(start),
                end=ExplainedTime.of(end),
                working_time=_span_text(span, unit),
            )
        )
    return res, explained


def _receipt_notes(
    local: datetime, clocks: tuple[ClockState, ...], policy: SlaPolicy, cal: WorkingCalendar
) -> list[str]:
    """What a working-day clock makes of the receipt time (``local``, Beijing time)."""
    notes: list[str] = []
    if not all(clock.limit.is_hours for clock in clocks):
        if not cal.is_working_day(local.date()):
            notes.append("received on a non-working day: day 1 is the first working day after it")
        elif local.time() >= policy.working_time.deadline:
            notes.append(
                "received after the deadline hour: the receipt day is not counted in any case, "
                "so day 1 is the next working day"
            )
    return notes


def _calendar_years(
    touched: set[int], cal: WorkingCalendar, notes: list[str]
) -> dict[int, YearStatus]:
    """The status of every year from the first to the last one touched, with a note for each
    year that is not plain official data."""
    years: dict[int, YearStatus] = {}
    for y in range(min(touched), max(touched) + 1):
        years[y] = cal.year_status(y)
        if years[y] is YearStatus.PROVISIONAL:
            notes.append(
                f"{y}: no official calendar yet: PROVISIONAL, counted on the law's statutory "
                f"holidays with 补假 and no 调休; times marked PROVISIONAL may move when the "
                f"State Council's notice is imported (petition-hub calendar import)"
            )
        elif years[y] is YearStatus.NOTICE:
            notes.append(f"{y}: official calendar transcribed in the override file")
    return years


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
    pause that does not fit (overlapping, after the deadline) and :class:`CalendarUnavailable`
    when a deadline falls in a year without calendar data (a later step there only ends the
    ladder early, with a note)."""
    pol = policy or default_policy()
    c = cal or default_calendar()
    received_at = _utc(received_at)
    sign = sign_for_clock(received_at, urgency, policy=pol, cal=c)
    res = resolve_clock(received_at, petition_type, urgency, province_deadline, policy=pol, cal=c)
    res, explained_pauses = _explain_pauses(res, pauses, c)
    local = received_at.astimezone(SHANGHAI)
    notes = _receipt_notes(local, (res, sign), pol, c)
    touched = {local.year}
    sign_for = _explain_clock(sign, c, notes, touched)
    resolve = _explain_clock(res, c, notes, touched)
    years = _calendar_years(touched, c, notes)
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
