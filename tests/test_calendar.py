"""The working-day calendar: official dates (chinesecalendar), overrides, the provisional calendar
from the law for unpublished years, and years with no data at all."""

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
    PROVISIONAL_YEARS,
    CalendarConfigError,
    CalendarOverrides,
    CalendarUnavailable,
    WorkingCalendar,
    YearStatus,
    default_calendar,
    load_overrides,
    statutory_days,
)

CAL = default_calendar()
BARE = WorkingCalendar(CalendarOverrides())
"""No overrides at all: exactly what chinesecalendar publishes."""

FIRST_MISSING = OFFICIAL_YEARS.stop
"""The first year the installed chinesecalendar has no data for (2027 with 1.11.0)."""
BEYOND = PROVISIONAL_YEARS.stop
"""The first year with no data at all: neither official nor provisional."""


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- what the installed chinesecalendar covers --------------------------------------------------


def test_official_years_cover_2025_and_2026() -> None:
    assert 2025 in OFFICIAL_YEARS
    assert 2026 in OFFICIAL_YEARS, "chinesecalendar lacks 2026: the tables below need overrides"
    assert BARE.year_status(2026) is YearStatus.OFFICIAL


def test_first_missing_year_is_provisional_not_weekends() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(FIRST_MISSING, 6, 1))
    assert BARE.year_status(FIRST_MISSING) is YearStatus.PROVISIONAL
    assert BARE.year_status(FIRST_MISSING).source == "provisional"
    assert "全国年节及纪念日放假办法" in BARE.year_origin(FIRST_MISSING)
    assert BARE.missing_years(2026, FIRST_MISSING) == (FIRST_MISSING,)
    assert BARE.missing_years(2025) == ()
    assert BARE.year_status(BEYOND) is YearStatus.UNAVAILABLE
    assert BARE.year_status(BEYOND).source == "none"


# The law's 2027 (Order No. 795): 元旦 Fri 1 Jan; 春节 除夕 Fri 5 Feb to 初三 Mon 8 Feb, Saturday
# and Sunday made up on Tue 9 and Wed 10; 清明 Mon 5 Apr; 劳动节 Sat 1 and Sun 2 May, made up on
# Mon 3 and Tue 4; 端午 Wed 9 Jun; 中秋 Wed 15 Sep; 国庆 Fri 1 to Sun 3 Oct, made up on Mon 4 and
# Tue 5. No 调休: every Saturday and Sunday rests.
PROVISIONAL_2027 = {
    "2027-01-01": False,
    "2027-01-04": True,
    "2027-02-04": True,
    "2027-02-05": False,
    "2027-02-08": False,
    "2027-02-09": False,
    "2027-02-10": False,
    "2027-02-11": True,
    "2027-04-05": False,
    "2027-05-03": False,
    "2027-05-04": False,
    "2027-05-05": True,
    "2027-06-09": False,
    "2027-09-15": False,
    "2027-10-04": False,
    "2027-10-05": False,
    "2027-10-06": True,
    "2027-10-09": False,  # a Saturday: no 调休 in a provisional year
}


@pytest.mark.parametrize(("day", "working"), sorted(PROVISIONAL_2027.items()))
def test_provisional_2027_is_the_law(day: str, working: bool) -> None:
    assert BARE.is_working_day(d(day)) is working
    assert BARE.source(d(day)) is YearStatus.PROVISIONAL


def test_provisional_year_has_no_make_up_weekends() -> None:
    for year in range(FIRST_MISSING, FIRST_MISSING + 5):
        days = [date(year, 1, 1) + timedelta(days=i) for i in range(365)]
        assert not any(BARE.is_working_day(x) for x in days if x.weekday() >= 5)
        off = statutory_days(year)
        assert off is not None
        # 13 statutory days (Order No. 795; 中秋 may share a date with 国庆), and a make-up day
        # off (补假) on a working day for each statutory day on a Saturday or Sunday
        statutory = [
            (x, n) for x, names in off.items() for n in names.split("; ") if "补假" not in n
        ]
        made_up = [x for x, names in off.items() if "补假" in names]
        assert len(statutory) == 13, (year, sorted(off.items()))
        assert len(made_up) == sum(x.weekday() >= 5 for x, _ in statutory), (year, off)
        assert all(x.weekday() < 5 for x in made_up)


def test_qingming_is_the_solar_term_of_chinesecalendar() -> None:
    # the two maintained libraries agree on 清明 (the solar term) for the years ahead
    for year in range(FIRST_MISSING, FIRST_MISSING + 20):
        off = statutory_days(year)
        assert off is not None
        qingming = [
            x for x, name in off.items() if name.startswith("清明节") and "补假" not in name
        ]
        terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10))
        assert qingming == [x for x, name in terms if name == "清明"], year


def test_provisional_between_spans() -> None:
    assert not BARE.provisional_between(d("2026-11-02"), d("2026-12-31"))
    assert BARE.provisional_between(d("2026-12-20"), d("2027-01-11"))
    assert BARE.provisional_between(d("2027-01-11"), d("2026-12-20"))
    notice = CalendarOverrides.model_validate(
        {"years": {FIRST_MISSING: {"notice": "fictional", "holidays": [f"{FIRST_MISSING}-01-01"]}}}
    )
    assert not WorkingCalendar(notice).provisional_between(d("2026-12-20"), d("2027-01-11"))


def test_digest_follows_the_data() -> None:
    other = WorkingCalendar(
        CalendarOverrides.model_validate(
            {"years": {FIRST_MISSING: {"notice": "fictional", "holidays": []}}}
        )
    )
    assert BARE.digest == WorkingCalendar(CalendarOverrides()).digest
    assert other.digest != BARE.digest


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
    day = date(BEYOND, 3, 3)
    with pytest.raises(CalendarUnavailable) as info:
        BARE.is_working_day(day)
    err = info.value
    assert err.year == BEYOND
    assert err.day == day
    text = str(err)
    assert str(BEYOND) in text
    assert "provisional calendar covers" in text
    assert f"{OFFICIAL_YEARS.start}-{OFFICIAL_YEARS.stop - 1}" in text
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, CalendarUnavailable)
    assert str(again) == text


def test_counting_into_an_unavailable_year_raises() -> None:
    dec = date(BEYOND - 1, 12, 20)
    with pytest.raises(CalendarUnavailable) as info:
        BARE.add_working_days(dec, 15)
    assert info.value.year == BEYOND
    assert f"from {dec.isoformat()}" in str(info.value)
    with pytest.raises(CalendarUnavailable):
        BARE.working_days_between(dec, date(BEYOND + 1, 1, 5))
    with pytest.raises(CalendarUnavailable):
        BARE.add_working_days(date(PROVISIONAL_YEARS.start, 1, 5), -10)
    # counting from the last official year into the provisional one works
    last = date(OFFICIAL_YEARS.stop - 1, 12, 20)
    assert BARE.add_working_days(last, 15) > last
    assert BARE.add_working_days(dec, 1) > dec


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "calendar_overrides.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_override_assume_weekends_is_refused(tmp_path: Path) -> None:
    y = FIRST_MISSING
    path = _write(tmp_path, f"years:\n  {y}:\n    assume_weekends: true\n")
    with pytest.raises(CalendarConfigError) as info:
        load_overrides(path)
    assert f"{path}:2: years.{y}: " in str(info.value)
    assert "provisional" in str(info.value)


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
    assert cal.year_status(y).source == "official"
    assert "国务院办公厅通知（示例）" in cal.year_origin(y)
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
    ("years:\n  2025:\n    assume_weekends: true\n", 2, "years.2025: assume_weekends"),
    (f"years:\n  {FIRST_MISSING}:\n    holidays: [{FIRST_MISSING}-01-01]\n", 2, "notice"),
    ("years:\n  2025:\n    holidays:\n      - 2025-10-01\n      - 2024-10-01\n", 5, "holidays.1"),
    (
        "years:\n  2025:\n    holidays: [2025-10-09]\n    working_days: [2025-10-09]\n",
        4,
        "2025-10-09 is both a holiday and a working day",
    ),
    ("years:\n  2025:\n    note: x\n    holidays: [not-a-date]\n", 4, "years.2025.holidays.0"),
    ("years:\n  2025:\n    holdays: [2025-10-09]\n", 3, "holdays: unknown key"),
    ("years: [1, 2\n", 2, "YAML syntax"),
    ("- 1\n- 2\n", 1, "expected a mapping"),
]


@pytest.mark.parametrize(("text", "line", "expected"), BAD_OVERRIDES)
def test_bad_override_file_names_the_line(
    tmp_path: Path, text: str, line: int, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CalendarConfigError) as info:
        load_overrides(path)
    assert f"{path}:{line}: " in str(info.value)
    assert expected in str(info.value)


def test_every_problem_is_reported(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "years:\n  2025:\n    holidays: [2024-10-01]\n  2026:\n    working_days: [2027-01-01]\n",
    )
    with pytest.raises(CalendarConfigError) as info:
        load_overrides(path)
    assert f"{path}:3: years.2025.holidays.0" in str(info.value)
    assert f"{path}:5: years.2026.working_days.0" in str(info.value)


def test_packaged_override_file_is_valid() -> None:
    ov = load_overrides()
    for year, entry in ov.years.items():
        if year not in OFFICIAL_YEARS:
            assert entry.notice


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
