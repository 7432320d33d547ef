"""The working-day calendar: official dates (chinesecalendar), overrides, unpublished years."""

from __future__ import annotations

import pickle
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petition_hub.domain.calendar import (
    OFFICIAL_YEARS,
    CalendarConfigError,
    CalendarOverrides,
    CalendarUnavailable,
    WorkingCalendar,
    YearStatus,
    default_calendar,
    load_overrides,
)

CAL = default_calendar()
BARE = WorkingCalendar(CalendarOverrides())
"""No overrides at all: exactly what chinesecalendar publishes."""

FIRST_MISSING = OFFICIAL_YEARS.stop
"""The first year the installed chinesecalendar has no data for (2027 with 1.11.0)."""


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- what the installed chinesecalendar covers --------------------------------------------------


def test_official_years_cover_2025_and_2026() -> None:
    assert 2025 in OFFICIAL_YEARS
    assert 2026 in OFFICIAL_YEARS, "chinesecalendar lacks 2026: the tables below need overrides"
    assert BARE.year_status(2026) is YearStatus.OFFICIAL


def test_first_missing_year_is_unavailable_not_weekends() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(FIRST_MISSING, 6, 1))
    assert BARE.year_status(FIRST_MISSING) is YearStatus.UNAVAILABLE
    assert BARE.missing_years(2026, FIRST_MISSING) == (FIRST_MISSING,)
    assert BARE.missing_years(2025) == ()


# --- real published dates (table tests) ---------------------------------------------------------

WORKING = [
    # National Day 2025: 1-8 October off; Sunday 28 September and Saturday 11 October worked (调休)
    ("2025-09-26", True),  # Friday
    ("2025-09-27", False),  # Saturday
    ("2025-09-28", True),  # Sunday, 调休
    ("2025-09-30", True),
    *((f"2025-10-0{i}", False) for i in range(1, 9)),
    ("2025-10-09", True),
    ("2025-10-10", True),
    ("2025-10-11", True),  # Saturday, 调休
    ("2025-10-12", False),
    # Spring Festival 2026: 15-23 February off; Saturdays 14 and 28 February worked
    ("2026-02-13", True),
    ("2026-02-14", True),  # Saturday, 调休
    *((f"2026-02-{i}", False) for i in range(15, 24)),
    ("2026-02-24", True),
    ("2026-02-28", True),  # Saturday, 调休
    ("2026-03-01", False),
    # Mid-Autumn 2026 (25-27 September) and National Day 2026 (1-7 October off; Sunday 20
    # September and Saturday 10 October worked)
    ("2026-09-19", False),
    ("2026-09-20", True),  # Sunday, 调休
    ("2026-09-24", True),
    ("2026-09-25", False),
    ("2026-09-26", False),
    ("2026-09-27", False),
    ("2026-09-28", True),
    ("2026-09-30", True),
    *((f"2026-10-0{i}", False) for i in range(1, 8)),
    ("2026-10-08", True),
    ("2026-10-09", True),
    ("2026-10-10", True),  # Saturday, 调休
    ("2026-10-11", False),
    # New Year 2026: 1-3 January off, Sunday 4 January worked
    ("2026-01-01", False),
    ("2026-01-02", False),
    ("2026-01-03", False),
    ("2026-01-04", True),
]


@pytest.mark.parametrize(("day", "working"), WORKING)
def test_published_dates(day: str, working: bool) -> None:
    assert CAL.is_working_day(d(day)) is working
    assert BARE.is_working_day(d(day)) is working


ADD = [
    ("2025-09-30", 1, "2025-10-09"),  # over National Day 2025
    ("2025-09-26", 1, "2025-09-28"),  # a 调休 Sunday counts
    ("2025-10-10", 1, "2025-10-11"),  # a 调休 Saturday counts
    ("2025-09-30", 3, "2025-10-11"),
    ("2025-10-01", 1, "2025-10-09"),  # from inside the holiday
    ("2025-10-09", -1, "2025-09-30"),
    ("2025-10-13", -2, "2025-10-10"),
    ("2026-02-13", 1, "2026-02-14"),  # Spring Festival 2026
    ("2026-02-14", 1, "2026-02-24"),
    ("2026-02-13", 10, "2026-03-05"),  # 14, 24-28 (28 a 调休 Saturday), 2-5 March
    ("2026-09-24", 1, "2026-09-28"),  # Mid-Autumn 2026
    ("2026-09-30", 1, "2026-10-08"),  # National Day 2026
    ("2026-09-18", 15, "2026-10-15"),
    ("2026-10-09", 1, "2026-10-10"),
    ("2025-12-31", 1, "2026-01-04"),  # across the year; Sunday 4 January 2026 is 调休
    ("2026-01-04", -1, "2025-12-31"),
    ("2025-12-31", 2, "2026-01-05"),
    ("2026-03-04", 0, "2026-03-04"),
]


@pytest.mark.parametrize(("start", "n", "expected"), ADD)
def test_add_working_days_published(start: str, n: int, expected: str) -> None:
    assert CAL.add_working_days(d(start), n) == d(expected)
    assert CAL.working_days_between(d(start), d(expected)) == n


def test_working_days_between() -> None:
    assert CAL.working_days_between(d("2025-09-30"), d("2025-10-08")) == 0
    assert CAL.working_days_between(d("2025-09-30"), d("2025-10-12")) == 3
    assert CAL.working_days_between(d("2025-10-12"), d("2025-09-30")) == -3
    assert CAL.working_days_between(d("2025-01-01"), d("2025-12-31")) == len(
        CAL.working_days_in(2025)
    )


def test_year_sizes_match_chinesecalendar() -> None:
    for year in (2024, 2025, 2026):
        first, last = date(year, 1, 1), date(year, 12, 31)
        expected = chinese_calendar.get_workdays(first, last, include_weekends=True)
        assert list(CAL.working_days_in(year)) == expected


# --- unpublished years --------------------------------------------------------------------------


def test_unavailable_year_raises_precisely() -> None:
    day = date(FIRST_MISSING, 3, 3)
    with pytest.raises(CalendarUnavailable) as info:
        BARE.is_working_day(day)
    err = info.value
    assert err.year == FIRST_MISSING
    assert err.day == day
    text = str(err)
    assert str(FIRST_MISSING) in text
    assert "assume_weekends" in text
    assert f"{OFFICIAL_YEARS.start}-{OFFICIAL_YEARS.stop - 1}" in text
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, CalendarUnavailable)
    assert str(again) == text


def test_counting_into_an_unavailable_year_raises() -> None:
    last = OFFICIAL_YEARS.stop - 1
    dec = date(last, 12, 20)
    with pytest.raises(CalendarUnavailable) as info:
        BARE.add_working_days(dec, 15)
    assert info.value.year == FIRST_MISSING
    assert f"from {dec.isoformat()}" in str(info.value)
    with pytest.raises(CalendarUnavailable):
        BARE.working_days_between(dec, date(FIRST_MISSING + 1, 1, 5))
    with pytest.raises(CalendarUnavailable):
        BARE.add_working_days(date(OFFICIAL_YEARS.start, 1, 5), -10)
    # up to the last working day of the last official year is fine
    assert BARE.add_working_days(dec, 1) > dec


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "calendar_overrides.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_override_assume_weekends(tmp_path: Path) -> None:
    y = FIRST_MISSING
    cal = WorkingCalendar.load(
        _write(
            tmp_path,
            f"years:\n  {y}:\n    assume_weekends: true\n    holidays: [{y}-01-01]\n"
            f"    note: operator accepted\n",
        )
    )
    assert cal.year_status(y) is YearStatus.ASSUMED_WEEKENDS
    assert cal.missing_years(y - 1, y) == (y,)  # still flagged
    assert not cal.is_working_day(date(y, 1, 1))
    first_monday = next(date(y, 1, i) for i in range(1, 8) if date(y, 1, i).weekday() == 0)
    assert cal.is_working_day(first_monday)
    assert not cal.is_working_day(first_monday + timedelta(days=5))  # Saturday
    # counting across the year boundary now works
    last = date(y - 1, 12, 31)
    assert cal.add_working_days(last, 1) >= date(y, 1, 2)
    assert cal.working_days_between(last, cal.add_working_days(last, 20)) == 20


def test_override_transcribed_notice(tmp_path: Path) -> None:
    y = FIRST_MISSING
    cal = WorkingCalendar.load(
        _write(
            tmp_path,
            f"years:\n  {y}:\n    notice: 国务院办公厅通知（示例）\n"
            f"    holidays: [{y}-01-01, {y}-10-01]\n    working_days: [{y}-01-02]\n",
        )
    )
    assert cal.year_status(y) is YearStatus.NOTICE
    assert cal.missing_years(y) == (y,)
    assert not cal.is_working_day(date(y, 10, 1))
    assert cal.is_working_day(date(y, 1, 2))


def test_override_corrects_an_official_year(tmp_path: Path) -> None:
    cal = WorkingCalendar.load(
        _write(
            tmp_path,
            "years:\n  2025:\n    holidays: [2025-10-09]\n    working_days: [2025-10-12]\n"
            "    note: a local correction (test)\n",
        )
    )
    assert cal.year_status(2025) is YearStatus.OFFICIAL
    assert not cal.is_working_day(d("2025-10-09"))
    assert cal.is_working_day(d("2025-10-12"))
    assert cal.add_working_days(d("2025-09-30"), 1) == d("2025-10-10")
    assert CAL.add_working_days(d("2025-09-30"), 1) == d("2025-10-09")  # others unchanged


BAD_OVERRIDES = [
    ("years:\n  2025:\n    assume_weekends: true\n", "years.2025: assume_weekends"),
    (f"years:\n  {FIRST_MISSING}:\n    holidays: [{FIRST_MISSING}-01-01]\n", "notice"),
    (
        f"years:\n  {FIRST_MISSING}:\n    notice: x\n    assume_weekends: true\n",
        "not both",
    ),
    ("years:\n  2025:\n    holidays: [2024-10-01]\n", "years.2025.holidays.0"),
    (
        "years:\n  2025:\n    holidays: [2025-10-09]\n    working_days: [2025-10-09]\n",
        "2025-10-09 is listed both",
    ),
    ("years:\n  2025:\n    holidays: [not-a-date]\n", "years.2025.holidays.0"),
    ("years:\n  2025:\n    holdays: [2025-10-09]\n", "holdays"),
    ("years: [1, 2\n", "calendar_overrides.yaml"),
    ("- 1\n- 2\n", "expected a mapping"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_OVERRIDES)
def test_bad_override_file_names_the_entry(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(CalendarConfigError) as info:
        load_overrides(_write(tmp_path, text))
    assert expected in str(info.value)
    assert "calendar_overrides.yaml" in str(info.value)


def test_packaged_override_file_is_valid() -> None:
    ov = load_overrides()
    for year, entry in ov.years.items():
        if year not in OFFICIAL_YEARS:
            assert entry.notice or entry.assume_weekends


def test_calendar_is_immutable() -> None:
    with pytest.raises(AttributeError):
        CAL._years = {}
    with pytest.raises(AttributeError):
        CAL.extra = 1


# --- properties ---------------------------------------------------------------------------------

official_days = st.dates(
    min_value=date(OFFICIAL_YEARS.start, 6, 1), max_value=date(OFFICIAL_YEARS.stop - 1, 8, 31)
)


def _naive_add(day: date, n: int) -> date:
    step = 1 if n > 0 else -1
    left = abs(n)
    while left:
        day += timedelta(days=step)
        if chinese_calendar.is_workday(day):
            left -= 1
    return day


@settings(max_examples=300, deadline=None)
@given(official_days, st.integers(min_value=-40, max_value=40))
def test_add_matches_a_naive_walk(day: date, n: int) -> None:
    assert CAL.add_working_days(day, n) == _naive_add(day, n)


@settings(max_examples=300, deadline=None)
@given(official_days, st.integers(min_value=1, max_value=60))
def test_add_lands_on_working_days_and_inverts(day: date, n: int) -> None:
    later = CAL.add_working_days(day, n)
    assert later > day
    assert CAL.is_working_day(later)
    assert CAL.working_days_between(day, later) == n
    assert CAL.working_days_between(later, day) == -n
    earlier = CAL.add_working_days(day, -n)
    assert earlier < day
    assert CAL.is_working_day(earlier)


@settings(max_examples=200, deadline=None)
@given(official_days, official_days)
def test_between_counts_working_days(a: date, b: date) -> None:
    lo, hi = min(a, b), max(a, b)
    if (hi - lo).days > 400:
        hi = lo + timedelta(days=400)
    expected = sum(
        chinese_calendar.is_workday(lo + timedelta(days=i)) for i in range(1, (hi - lo).days + 1)
    )
    assert CAL.working_days_between(lo, hi) == expected


@settings(max_examples=200, deadline=None)
@given(official_days)
def test_is_working_day_matches_chinesecalendar(day: date) -> None:
    assert CAL.is_working_day(day) is chinese_calendar.is_workday(day)
