"""How time is counted: working days and working windows, in Beijing time (Asia/Shanghai).

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
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final

from petition_hub.domain.calendar import WorkingCalendar, default_calendar
from petition_hub.domain.sla.policy import ClockRules
from petition_hub.domain.sla.state import ClockState, _utc

__all__ = ["SHANGHAI", "add_working_time", "year_start"]

#: Asia/Shanghai. China has kept UTC+8 without daylight saving time since 1991, so a fixed offset
#: is exact for every date the hub handles (and cheaper than a zoneinfo lookup).
SHANGHAI: Final = timezone(timedelta(hours=8), "Asia/Shanghai")


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


def year_start(year: int) -> datetime:
    """The first instant of ``year`` in Beijing time: no deadline in a year without calendar data
    can be earlier."""
    return datetime(year, 1, 1, tzinfo=SHANGHAI)
