"""China's working days: the calendar every SLA clock counts in, and how sure it is of each day.

Three sources, in order; every answer can say which one gave it (:meth:`WorkingCalendar.source`):

1. **official** (:attr:`YearStatus.OFFICIAL`, :attr:`YearStatus.NOTICE`): ``chinesecalendar``
   (the State Council's notices: holidays and 调休, the make-up working weekends) plus the
   operator's override file (``HUB_CALENDAR_FILE``, default the packaged
   ``calendar_overrides.yaml``): per-date corrections for any year, and for a year
   ``chinesecalendar`` does not know yet, the year's notice transcribed (``petition-hub calendar
   import NOTICE.txt --write``);
2. **provisional** (:attr:`YearStatus.PROVISIONAL`), for a year with no official data: the law as
   it stands, 《全国年节及纪念日放假办法》 (as amended by State Council Order No. 795, in force from
   2025): 元旦 1 Jan, 春节 除夕 to 初三, 清明 (the solar term's day), 劳动节 1-2 May, 端午, 中秋,
   国庆 1-3 Oct, and a statutory day on a Saturday or Sunday made up (补假) on the following
   working day(s). The lunar dates and the solar term come from the ``holidays`` library, which
   implements exactly this law (and its earlier versions for earlier years). Make-up working
   weekends (调休) only ever come from a notice, so a provisional year has none;
3. nothing else (:attr:`YearStatus.UNAVAILABLE`): asking about such a year raises
   :class:`CalendarUnavailable`. No year is ever counted as plain weekends.

A deadline computed on a provisional year is provisional:
:meth:`WorkingCalendar.provisional_between` tells whether a span of dates touches one. When the
official arrangement arrives (the override file changes, or a newer ``chinesecalendar`` is
installed), the calendar's :attr:`~WorkingCalendar.digest` changes and the lifecycle recomputes
the clocks that moved.

:class:`WorkingCalendar` is immutable in what it answers. It precomputes, for every official year,
a flag per day, a prefix count and the sorted ordinals of its working days (provisional years on
first use, deterministically), so :meth:`~WorkingCalendar.is_working_day` is an index, and
:meth:`~WorkingCalendar.add_working_days` and :meth:`~WorkingCalendar.working_days_between` are a
few index operations per calendar year spanned.
"""

from __future__ import annotations

import hashlib
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
from holidays.countries.china import China as _HolidaysChina
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from petition_hub.data import data_path
from petition_hub.domain.yamlpos import line_of, locate

__all__ = [
    "OFFICIAL_YEARS",
    "PROVISIONAL_YEARS",
    "CalendarConfigError",
    "CalendarOverrides",
    "CalendarUnavailable",
    "WorkingCalendar",
    "YearOverride",
    "YearStatus",
    "chinesecalendar_version",
    "default_calendar",
    "load_overrides",
    "statutory_days",
]


def _official_years() -> range:
    """The years the installed ``chinesecalendar`` has official data for (it raises
    ``NotImplementedError`` outside them)."""
    known = chinese_calendar.holidays.keys()
    return range(min(known).year, max(known).year + 1)


#: Years with official data in the installed ``chinesecalendar`` (1.11.0: 2004-2026).
OFFICIAL_YEARS: Final[range] = _official_years()

#: Years a provisional calendar can be made for: the ``holidays`` library's lunar tables and the
#: law's history cover them (outside, a year is unavailable).
PROVISIONAL_YEARS: Final[range] = range(2000, 2100)


def _version_of(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover - installed as a dependency
        return "unknown"


def chinesecalendar_version() -> str:
    """The installed ``chinesecalendar`` version (for messages and the health page)."""
    return _version_of("chinesecalendar")


class YearStatus(StrEnum):
    """Where the working days of a year come from."""

    OFFICIAL = "official"
    """``chinesecalendar`` (the State Council's notice), possibly with per-date corrections."""
    NOTICE = "notice"
    """Not in ``chinesecalendar``: the official notice transcribed in the override file."""
    PROVISIONAL = "provisional"
    """No official data: the statutory holidays of the law with 补假, no 调休. Every deadline
    counted on it is marked provisional and recomputed when the official year arrives."""
    UNAVAILABLE = "unavailable"
    """No data at all: every question about the year raises :class:`CalendarUnavailable`."""

    @property
    def is_official(self) -> bool:
        """From a State Council notice (``chinesecalendar`` or transcribed)."""
        return self in (YearStatus.OFFICIAL, YearStatus.NOTICE)

    @property
    def source(self) -> str:
        """``official``, ``provisional`` or ``none``: what a person is told."""
        if self.is_official:
            return "official"
        return "provisional" if self is YearStatus.PROVISIONAL else "none"


class CalendarUnavailable(LookupError):
    """A date in a year with neither official data nor a provisional calendar was asked about."""

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
            f"{chinesecalendar_version()} covers {OFFICIAL_YEARS.start}-{OFFICIAL_YEARS.stop - 1}, "
            f"{where} has no notice for {year}, and the law's provisional calendar covers "
            f"{PROVISIONAL_YEARS.start}-{PROVISIONAL_YEARS.stop - 1}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.year, self.day, self.source, self.context))


class CalendarConfigError(ValueError):
    """The override file is invalid; the message names the file and the line."""


_FROZEN = ConfigDict(frozen=True, extra="forbid")

_NO_ASSUMED_WEEKENDS: Final = (
    "assume_weekends is not accepted: a year without official data is counted on the law's "
    "provisional calendar (statutory holidays and 补假) and every deadline in it is marked "
    "provisional; import the year's notice with `petition-hub calendar import NOTICE.txt --write`"
)


class YearOverride(BaseModel):
    """One year's entry of the override file."""

    model_config = _FROZEN

    notice: str | None = None
    """The official notice these dates were transcribed from (its title). For a year
    ``chinesecalendar`` lacks, this says that ``holidays``/``working_days`` are complete."""
    holidays: tuple[date, ...] = ()
    """Dates that are not working days (official holidays, or corrections)."""
    working_days: tuple[date, ...] = ()
    """Dates that are working days (调休 make-up weekends, or corrections)."""
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_assumed_weekends(cls, data: Any) -> Any:
        if isinstance(data, dict) and "assume_weekends" in data:
            raise ValueError(_NO_ASSUMED_WEEKENDS)
        return data


def _entry_errors(year: int, entry: YearOverride) -> list[tuple[tuple[str | int, ...], str]]:
    """What is wrong with one year's entry: (location under ``years``, message) pairs."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    if not PROVISIONAL_YEARS.start <= year < 2200:
        errors.append(((year,), f"{year} is not a plausible year"))
    if year not in OFFICIAL_YEARS and entry.notice is None:
        errors.append(
            (
                (year,),
                f"{year} is not in chinesecalendar {chinesecalendar_version()}: name the notice "
                f"the dates come from (notice: the complete official arrangement); without one "
                f"the year is counted provisionally from the law",
            )
        )
    for field, days in (("holidays", entry.holidays), ("working_days", entry.working_days)):
        for i, day in enumerate(days):
            if day.year != year:
                errors.append(((year, field, i), f"{day.isoformat()} is not in {year}"))
    for day in sorted(set(entry.holidays) & set(entry.working_days)):
        i = entry.working_days.index(day)
        errors.append(
            ((year, "working_days", i), f"{day.isoformat()} is both a holiday and a working day")
        )
    return errors


class CalendarOverrides(BaseModel):
    """The override file: ``years: {YEAR: YearOverride}``."""

    model_config = _FROZEN

    years: dict[int, YearOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> CalendarOverrides:
        if info.context and info.context.get("collect"):
            return self  # load_overrides reports every problem with its line
        for loc, message in self.problems():
            raise ValueError(f"years.{'.'.join(map(str, loc))}: {message}")
        return self

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every entry that cannot be used: (location under ``years``, message)."""
        return [p for year, e in sorted(self.years.items()) for p in _entry_errors(year, e)]


class _DatesAsText(yaml.SafeLoader):
    """PyYAML would build ``2027-13-01`` into a date and fail without saying where: dates stay
    text here and are parsed by the model, whose errors have a location (and so a line)."""


_DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_overrides(path: Path | str | None = None) -> CalendarOverrides:
    """Read and validate an override file (default: the packaged ``calendar_overrides.yaml``).
    Raises :class:`CalendarConfigError`, ``<file>:<line>: <what>`` for every problem found."""
    p = Path(path) if path is not None else data_path("calendar_overrides.yaml")
    try:
        text = p.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.load(text, Loader=_DatesAsText)  # a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise CalendarConfigError(f"{p}:{line}: YAML syntax: {exc.problem or exc}") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CalendarConfigError(f"{p}: {exc}") from exc
    if raw is None or root is None:
        return CalendarOverrides()
    if not isinstance(raw, dict):
        raise CalendarConfigError(f"{p}:{line_of(root)}: expected a mapping with 'years'")
    if raw.get("years") is None:
        raw = {**raw, "years": {}}
    problems: list[tuple[int, str]] = []
    try:
        overrides = CalendarOverrides.model_validate(raw, context={"collect": True})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = tuple(x for x in err["loc"] if isinstance(x, str | int))
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append((_line_at(root, loc), f"{'.'.join(map(str, loc))}: {message}"))
    else:
        for loc, message in overrides.problems():
            where = ("years", *loc)
            problems.append((_line_at(root, where), f"{'.'.join(map(str, where))}: {message}"))
    if problems:
        raise CalendarConfigError("; ".join(f"{p}:{line}: {what}" for line, what in problems))
    return overrides


def _line_at(root: yaml.Node, loc: tuple[str | int, ...]) -> int:
    """The line of ``years.<year>...``: the year is a mapping key, written as text."""
    return locate(root, tuple(str(x) if i == 1 else x for i, x in enumerate(loc)))


def _statutory_name(name: str) -> bool:
    base = name.split("（", 1)[0]
    return base in _STATUTORY and (base == name or name.endswith(("（补假）", "（补假，推定）")))


_STATUTORY: Final = frozenset(
    {"元旦", "农历除夕", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"}
)
_FESTIVALS: Final = frozenset(_STATUTORY - {"农历除夕"})


def statutory_days(year: int) -> dict[date, str] | None:
    """The law's days off in ``year``: the statutory holidays and their 补假 (make-up days off
    for those on a weekend), by name, from the ``holidays`` library; None when it cannot give a
    complete year (every statutory festival). The library's own transcriptions of notices (调休,
    extra days) are left out: only a notice may add those."""
    if year not in PROVISIONAL_YEARS:
        return None
    days = _HolidaysChina(years=year, language="zh_CN", observed=True)  # type: ignore[no-untyped-call]
    out: dict[date, str] = {}
    for day, names in days.items():
        kept = [n for n in str(names).split("; ") if _statutory_name(n)]
        if kept:
            out[day] = "; ".join(kept)
    found = {n.split("（", 1)[0] for names in out.values() for n in names.split("; ")}
    return out if found >= _FESTIVALS else None


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


def _provisional_year(year: int) -> _Year | None:
    off = statutory_days(year)
    if off is None:
        return None
    base = (d.weekday() < 5 and d not in off for d in _year_dates(year))
    return _build_year(year, YearStatus.PROVISIONAL, base, None)


_provisional_cache: dict[int, _Year | None] = {}


def _provisional(year: int) -> _Year | None:
    """The provisional year (the same for every calendar, so built once per process)."""
    if year not in _provisional_cache:
        _provisional_cache[year] = _provisional_year(year)
    return _provisional_cache[year]


class WorkingCalendar:
    """Working-day calendar (official, then provisional, then none), precomputed per year.

    ``add_working_days(d, n)`` is the n-th working day after ``d`` (``d`` itself not counted;
    ``n < 0`` counts backwards, ``n == 0`` is ``d``); ``working_days_between(a, b)`` counts the
    working days in ``(a, b]`` (negative when ``b < a``), so
    ``working_days_between(d, add_working_days(d, n)) == n``.
    """

    __slots__ = ("_digest", "_overrides", "_source", "_years")

    _years: Mapping[int, _Year]
    _source: str
    _digest: str
    _overrides: CalendarOverrides

    def __init__(self, overrides: CalendarOverrides | None = None, source: str = "") -> None:
        ov = overrides if overrides is not None else CalendarOverrides()
        years: dict[int, _Year] = {}
        for year in OFFICIAL_YEARS:
            base = (chinese_calendar.is_workday(d) for d in _year_dates(year))
            years[year] = _build_year(year, YearStatus.OFFICIAL, base, ov.years.get(year))
        for year, entry in ov.years.items():
            if year not in years:
                base = (d.weekday() < 5 for d in _year_dates(year))
                years[year] = _build_year(year, YearStatus.NOTICE, base, entry)
        digest = hashlib.sha256(
            "\n".join(
                (
                    f"chinesecalendar {chinesecalendar_version()}",
                    f"holidays {_version_of('holidays')}",
                    ov.model_dump_json(),
                )
            ).encode()
        ).hexdigest()[:16]
        object.__setattr__(self, "_years", MappingProxyType(years))
        object.__setattr__(self, "_source", source)
        object.__setattr__(self, "_digest", digest)
        object.__setattr__(self, "_overrides", ov)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("WorkingCalendar is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("WorkingCalendar is immutable")

    def __repr__(self) -> str:
        return f"WorkingCalendar(official={self.official_years()}, digest={self._digest})"

    @classmethod
    def load(cls, path: Path | str | None = None) -> WorkingCalendar:
        """The calendar with the override file at ``path`` (default: the packaged one)."""
        p = Path(path) if path is not None else data_path("calendar_overrides.yaml")
        return cls(load_overrides(p), source=str(p))

    # --- years --------------------------------------------------------------------------------

    @property
    def digest(self) -> str:
        """Identifies what this calendar answers (the packages' versions and the override
        file's content): a clock computed under another digest may have moved."""
        return self._digest

    @property
    def source_file(self) -> str:
        """The override file this calendar was loaded from ('' when built in code)."""
        return self._source

    @property
    def overrides(self) -> CalendarOverrides:
        return self._overrides

    def year_status(self, year: int) -> YearStatus:
        """Where ``year``'s working days come from."""
        y = self._get(year)
        return YearStatus.UNAVAILABLE if y is None else y.status

    def year_origin(self, year: int) -> str:
        """Where ``year``'s data came from, for a person: the package and version, the notice
        and the file, or the law."""
        status = self.year_status(year)
        entry = self._overrides.years.get(year)
        if status is YearStatus.OFFICIAL:
            fixes = (
                f", with corrections from {self._source or 'the override file'}" if entry else ""
            )
            return f"chinesecalendar {chinesecalendar_version()}{fixes}"
        if status is YearStatus.NOTICE:
            assert entry is not None
            return f"{entry.notice} ({self._source or 'the override file'})"
        if status is YearStatus.PROVISIONAL:
            return (
                "the law: 《全国年节及纪念日放假办法》 statutory holidays with 补假, no 调休 "
                f"(holidays {_version_of('holidays')})"
            )
        return "none"

    def source(self, day: date) -> YearStatus:
        """Which source answers about ``day``."""
        return self.year_status(day.year)

    def official_years(self) -> tuple[int, ...]:
        """Years with official data (``chinesecalendar`` or a transcribed notice), ascending."""
        return tuple(sorted(self._years))

    def missing_years(self, first: int, last: int | None = None) -> tuple[int, ...]:
        """Years in ``first..last`` (inclusive; default just ``first``) without official data in
        ``chinesecalendar``: provisional, unavailable, and those served by a notice in the
        override file. :meth:`year_status` says which kind each one is."""
        stop = first if last is None else last
        return tuple(
            y for y in range(first, stop + 1) if self.year_status(y) is not YearStatus.OFFICIAL
        )

    def provisional_between(self, a: date, b: date) -> bool:
        """Whether any year from ``a``'s to ``b``'s (inclusive) is counted provisionally: a count
        of working days over that span may change when the official year arrives."""
        lo, hi = (a.year, b.year) if a <= b else (b.year, a.year)
        return any(y not in self._years and _provisional(y) is not None for y in range(lo, hi + 1))

    def _get(self, year: int) -> _Year | None:
        y = self._years.get(year)
        return y if y is not None else _provisional(year)

    def _year(self, year: int, asked: date, context: str = "") -> _Year:
        y = self._get(year)
        if y is None:
            raise CalendarUnavailable(year, asked, self._source, context)
        return y

    # --- days ---------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day. Raises :class:`CalendarUnavailable`."""
        y = self._year(day.year, day)
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
