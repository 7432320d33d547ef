"""China's official working days: the calendar every SLA clock counts in.

Built on ``chinesecalendar`` (official holidays and 调休, the make-up working weekends) plus the
override file ``petition_hub/data/calendar_overrides.yaml``:

* per-date corrections (``holidays`` / ``working_days``) for any year;
* for a year ``chinesecalendar`` has no data for (a year whose State Council notice is not
  published yet, or was published after the installed version), an entry that either transcribes
  the official notice (``notice:`` plus its ``holidays`` and ``working_days``) or, only when an
  operator explicitly accepts the approximation, ``assume_weekends: true``.

A year that is neither covered by ``chinesecalendar`` nor by such an entry is *unavailable*: asking
about any of its dates raises :class:`CalendarUnavailable`, never a silent Monday-to-Friday guess.
:meth:`WorkingCalendar.missing_years` and :meth:`WorkingCalendar.year_status` let the caller
flag the years that are not official (a metric and a log line).

:class:`WorkingCalendar` is immutable. It precomputes, for every available year, a flag per day, a
prefix count and the sorted ordinals of its working days, so :meth:`~WorkingCalendar.is_working_day`
is an index, and :meth:`~WorkingCalendar.add_working_days` and
:meth:`~WorkingCalendar.working_days_between` are a few index operations per calendar year spanned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import chinese_calendar
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from petition_hub.data import data_path

__all__ = [
    "OFFICIAL_YEARS",
    "CalendarConfigError",
    "CalendarOverrides",
    "CalendarUnavailable",
    "WorkingCalendar",
    "YearOverride",
    "YearStatus",
    "chinesecalendar_version",
    "default_calendar",
    "load_overrides",
]


def _official_years() -> range:
    """The years the installed ``chinesecalendar`` has official data for (it raises
    ``NotImplementedError`` outside them)."""
    known = chinese_calendar.holidays.keys()
    return range(min(known).year, max(known).year + 1)


#: Years with official data in the installed ``chinesecalendar`` (1.11.0: 2004-2026).
OFFICIAL_YEARS: Final[range] = _official_years()


def chinesecalendar_version() -> str:
    """The installed ``chinesecalendar`` version (for messages and the health page)."""
    try:
        return version("chinesecalendar")
    except PackageNotFoundError:  # pragma: no cover - installed as a dependency
        return "unknown"


class YearStatus(StrEnum):
    """Where the working days of a year come from."""

    OFFICIAL = "official"
    """``chinesecalendar`` (the State Council's notice), possibly with per-date corrections."""
    NOTICE = "notice"
    """Not in ``chinesecalendar``: the official notice transcribed in the override file."""
    ASSUMED_WEEKENDS = "assumed_weekends"
    """Not in ``chinesecalendar``: Monday to Friday, as an operator allowed in the override file
    (plus its listed dates). An approximation: flag it."""
    UNAVAILABLE = "unavailable"
    """No data at all: every question about the year raises :class:`CalendarUnavailable`."""


class CalendarUnavailable(LookupError):
    """A date in a year with no official calendar and no override was asked about."""

    def __init__(
        self, year: int, day: date | None = None, source: str = "", context: str = ""
    ) -> None:
        self.year = year
        self.day = day
        self.source = source
        self.context = context
        asked = f" (asked about {day.isoformat()})" if day is not None else ""
        if context:
            asked = f" ({context})"
        where = source or "calendar_overrides.yaml"
        super().__init__(
            f"no working-day calendar for {year}{asked}: chinesecalendar "
            f"{chinesecalendar_version()} covers {OFFICIAL_YEARS.start}-{OFFICIAL_YEARS.stop - 1} "
            f"and {where} has no entry for {year}; transcribe the State Council's {year} holiday "
            f"notice there (years: {year}: notice, holidays, working_days), or set "
            f"assume_weekends: true for {year} if plain weekends are acceptable for now"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.year, self.day, self.source, self.context))


class CalendarConfigError(ValueError):
    """The override file is invalid; the message names the file and the entry."""


_FROZEN = ConfigDict(frozen=True, extra="forbid")


class YearOverride(BaseModel):
    """One year's entry of the override file."""

    model_config = _FROZEN

    notice: str | None = None
    """The official notice these dates were transcribed from (e.g. 国办发明电〔2026〕N号). For a
    year ``chinesecalendar`` lacks, this says that ``holidays``/``working_days`` are complete."""
    assume_weekends: bool = False
    """Only for a year ``chinesecalendar`` lacks: Monday to Friday are working days apart from the
    listed dates. An operator's explicit acceptance of an approximation."""
    holidays: tuple[date, ...] = ()
    """Dates that are not working days (official holidays, or corrections)."""
    working_days: tuple[date, ...] = ()
    """Dates that are working days (调休 make-up weekends, or corrections)."""
    note: str | None = None


class CalendarOverrides(BaseModel):
    """The override file: ``years: {YEAR: YearOverride}``."""

    model_config = _FROZEN

    years: dict[int, YearOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> CalendarOverrides:
        for year, entry in sorted(self.years.items()):
            where = f"years.{year}"
            if not 1949 < year < 2200:
                raise ValueError(f"{where}: not a plausible year")
            official = year in OFFICIAL_YEARS
            if official and entry.assume_weekends:
                raise ValueError(
                    f"{where}: assume_weekends is for years chinesecalendar lacks; {year} is "
                    f"covered (list single dates under holidays/working_days to correct it)"
                )
            if not official:
                if entry.assume_weekends and entry.notice is not None:
                    raise ValueError(
                        f"{where}: give either notice (the official calendar, transcribed) or "
                        f"assume_weekends: true, not both"
                    )
                if not entry.assume_weekends and entry.notice is None:
                    raise ValueError(
                        f"{where}: {year} is not in chinesecalendar {chinesecalendar_version()}; "
                        f"say where the dates come from with notice: (the complete official "
                        f"calendar) or allow assume_weekends: true"
                    )
            for field, days in (("holidays", entry.holidays), ("working_days", entry.working_days)):
                for i, day in enumerate(days):
                    if day.year != year:
                        raise ValueError(f"{where}.{field}.{i}: {day.isoformat()} is not in {year}")
            both = sorted(set(entry.holidays) & set(entry.working_days))
            if both:
                raise ValueError(
                    f"{where}: {both[0].isoformat()} is listed both as a holiday and as a "
                    f"working day"
                )
        return self


def load_overrides(path: Path | str | None = None) -> CalendarOverrides:
    """Read and validate an override file (default: the packaged ``calendar_overrides.yaml``).
    Raises :class:`CalendarConfigError` naming the file and the entry."""
    p = Path(path) if path is not None else data_path("calendar_overrides.yaml")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CalendarConfigError(f"{p}: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CalendarConfigError(f"{p}: expected a mapping with 'years'")
    if raw.get("years") is None:
        raw = {**raw, "years": {}}
    try:
        return CalendarOverrides.model_validate(raw)
    except ValidationError as exc:
        raise CalendarConfigError(f"{p}: {_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class _Year:
    """Precomputed working days of one calendar year."""

    status: YearStatus
    start: int
    """Ordinal of 1 January."""
    flags: bytes
    """``flags[i]`` is 1 when day ``start + i`` is a working day."""
    before: tuple[int, ...]
    """``before[i]``: working days among the year's first ``i`` days (length days + 1)."""
    days: tuple[int, ...]
    """Ordinals of the year's working days, ascending."""


def _build_year(
    year: int, status: YearStatus, base: Iterable[bool], entry: YearOverride | None
) -> _Year:
    start = date(year, 1, 1).toordinal()
    flags = bytearray(1 if w else 0 for w in base)
    if entry is not None:
        for day in entry.holidays:
            flags[day.toordinal() - start] = 0
        for day in entry.working_days:
            flags[day.toordinal() - start] = 1
    before = [0]
    days: list[int] = []
    for i, flag in enumerate(flags):
        if flag:
            days.append(start + i)
        before.append(len(days))
    return _Year(status, start, bytes(flags), tuple(before), tuple(days))


def _year_dates(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


class WorkingCalendar:
    """Immutable working-day calendar (``chinesecalendar`` + overrides), precomputed per year.

    ``add_working_days(d, n)`` is the n-th working day after ``d`` (``d`` itself not counted;
    ``n < 0`` counts backwards, ``n == 0`` is ``d``); ``working_days_between(a, b)`` counts the
    working days in ``(a, b]`` (negative when ``b < a``), so
    ``working_days_between(d, add_working_days(d, n)) == n``.
    """

    __slots__ = ("_source", "_years")

    _years: Mapping[int, _Year]
    _source: str

    def __init__(self, overrides: CalendarOverrides | None = None, source: str = "") -> None:
        ov = overrides if overrides is not None else CalendarOverrides()
        years: dict[int, _Year] = {}
        for year in OFFICIAL_YEARS:
            base = (chinese_calendar.is_workday(d) for d in _year_dates(year))
            years[year] = _build_year(year, YearStatus.OFFICIAL, base, ov.years.get(year))
        for year, entry in ov.years.items():
            if year in years:
                continue
            status = YearStatus.ASSUMED_WEEKENDS if entry.assume_weekends else YearStatus.NOTICE
            base = (d.weekday() < 5 for d in _year_dates(year))
            years[year] = _build_year(year, status, base, entry)
        object.__setattr__(self, "_years", MappingProxyType(years))
        object.__setattr__(self, "_source", source)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("WorkingCalendar is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("WorkingCalendar is immutable")

    def __repr__(self) -> str:
        return f"WorkingCalendar(years={self.available_years()})"

    @classmethod
    def load(cls, path: Path | str | None = None) -> WorkingCalendar:
        """The calendar with the override file at ``path`` (default: the packaged one)."""
        p = Path(path) if path is not None else data_path("calendar_overrides.yaml")
        return cls(load_overrides(p), source=str(p))

    # --- years --------------------------------------------------------------------------------

    def year_status(self, year: int) -> YearStatus:
        """Where ``year``'s working days come from."""
        y = self._years.get(year)
        return YearStatus.UNAVAILABLE if y is None else y.status

    def available_years(self) -> tuple[int, ...]:
        """Years that can be asked about (official or overridden), ascending."""
        return tuple(sorted(self._years))

    def missing_years(self, first: int, last: int | None = None) -> tuple[int, ...]:
        """Years in ``first..last`` (inclusive; default just ``first``) with no official data in
        ``chinesecalendar``: unavailable ones, and those served by the override file (a
        transcribed notice or assumed weekends). The caller turns them into a metric and a log
        line, e.g. ``cal.missing_years(today.year, today.year + 1)``; :meth:`year_status` says
        which kind each one is."""
        stop = first if last is None else last
        return tuple(
            y for y in range(first, stop + 1) if self.year_status(y) is not YearStatus.OFFICIAL
        )

    def _year(self, year: int, asked: date, context: str = "") -> _Year:
        y = self._years.get(year)
        if y is None:
            raise CalendarUnavailable(year, asked, self._source, context)
        return y

    # --- days ---------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day. Raises :class:`CalendarUnavailable`."""
        y = self._years.get(day.year)
        if y is None:
            raise CalendarUnavailable(day.year, day, self._source)
        return y.flags[day.toordinal() - y.start] == 1

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (``day`` not counted; before it for ``n < 0``;
        ``day`` for 0). Raises :class:`CalendarUnavailable` when the count runs into a year
        without data."""
        if n == 0:
            return day
        year = day.year
        y = self._year(year, day)
        i = day.toordinal() - y.start
        why = f"counting {n} working days from {day.isoformat()}"
        if n > 0:
            idx = y.before[i + 1] + n - 1
            while idx >= len(y.days):
                idx -= len(y.days)
                year += 1
                y = self._year(year, date(year, 1, 1), why)
            return date.fromordinal(y.days[idx])
        idx = y.before[i] + n
        while idx < 0:
            year -= 1
            y = self._year(year, date(year, 12, 31), why)
            idx += len(y.days)
        return date.fromordinal(y.days[idx])

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in ``(a, b]``; ``-working_days_between(b, a)`` when ``b < a``.
        Raises :class:`CalendarUnavailable` for a year in between without data."""
        if b < a:
            return -self.working_days_between(b, a)
        ya = self._year(a.year, a)
        yb = self._year(b.year, b)
        upto_b = yb.before[b.toordinal() - yb.start + 1]
        upto_a = ya.before[a.toordinal() - ya.start + 1]
        if a.year == b.year:
            return upto_b - upto_a
        total = len(ya.days) - upto_a + upto_b
        why = f"counting working days from {a.isoformat()} to {b.isoformat()}"
        for year in range(a.year + 1, b.year):
            total += len(self._year(year, date(year, 1, 1), why).days)
        return total

    def next_working_day(self, day: date) -> date:
        """The first working day after ``day``."""
        return self.add_working_days(day, 1)

    def working_days_in(self, year: int) -> tuple[date, ...]:
        """All working days of ``year``, ascending."""
        return tuple(date.fromordinal(o) for o in self._year(year, date(year, 1, 1)).days)


@lru_cache(maxsize=1)
def default_calendar() -> WorkingCalendar:
    """The calendar with the packaged override file (built once per process)."""
    return WorkingCalendar.load()
