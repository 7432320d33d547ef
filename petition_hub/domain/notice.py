"""Parser of the State Council's annual holiday notice (国务院办公厅关于YYYY年部分节假日安排的通知).

Every November the General Office of the State Council publishes the next year's arrangement of
the statutory holidays. Its text has this form (2026's, abridged)::

    国务院办公厅关于2026年部分节假日安排的通知

    各省、自治区、直辖市人民政府，国务院各部委、各直属机构：

    经国务院批准，现将2026年元旦、春节、清明节、劳动节、端午节、中秋节和国庆节放假调休日期……

    一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。
    二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。……
    ……
    七、国庆节：10月1日（周四）至7日（周三）放假调休，共7天。9月20日（周日）、10月10日（周六）上班。

    节假日期间，各地区、各部门要妥善安排好值班和安全、保卫等工作，……

    国务院办公厅
    2025年11月4日

:func:`parse_notice` reads it into a :class:`ParsedNotice`:

* the **title** is the first non-empty line; the notice's **year** is the one ``YYYY年`` in it;
* the **numbered lines** 一、二、三… each read, in full::

      <festival>：<range>放假[调休]，共N天。[<date>、<date>…上班。]
      <festival>：<range>放假N天，不调休。

  where ``<festival>`` is one statutory festival or several joined by 、 (2025's "国庆节、中秋节");
  ``<range>`` is ``<date>`` or ``<date>至<date>``; a ``<date>`` is ``M月D日`` (in the notice's
  year) or ``YYYY年M月D日`` (explicit year: a make-up Saturday of the previous December, as older
  notices had), optionally followed by a parenthesis with its weekday (``周X`` or ``星期X``, X in
  一二三四五六日天) and possibly a lunar note (``（农历除夕、周二）``). The end of a range may omit
  the year and month (``1月1日（周四）至3日（周六）``: same month and year as the start) or only
  the year (``5月31日（周六）至6月2日（周一）``: the notice's year). Full-width and ASCII
  parentheses, colons and commas are accepted alike; whitespace inside a line is ignored;
* the lines before the numbered list (addressees, preamble) and after it (closing paragraph,
  signature, date) are ignored, as are blank lines.

The parser never guesses. It raises :class:`NoticeError`, naming the line (1-based number and
text) and the reason, whenever

* the title has no year (or more than one);
* a numbered line cannot be read in full: a date, a range, a phrase, an annotation it does not
  know, a date that does not exist, a range that ends before it starts, a date outside the
  notice's year (December of the previous year is allowed), a festival that is not one of the
  seven statutory ones, or a festival named twice;
* a weekday annotation does not match its date (how a mistyped date is caught). A lunar note is
  checked where the legal Spring Festival determines it (农历除夕, 农历正月初一…初十); other lunar
  notes (e.g. 农历腊月二十八) are only read, not checked;
* ``共N天`` (or ``放假N天``) differs from the number of days in the range;
* the numbering is not 一、二、三… in order (the line after a gap is named, with the missing
  number), or an unnumbered line interrupts the list, or a festival line has lost its number;
* one of the statutory festivals 元旦, 春节, 清明节, 劳动节, 端午节, 中秋节, 国庆节 is missing
  (the line that follows its place is named, or the last numbered line, or line 1 if none);
* none of a festival's legal days lies inside its line's days off. The legal days come from the
  ``holidays`` library, ``holidays.China(years=year, observed=False, language="zh_CN")``, by
  Chinese name (春节 also matches 农历除夕). This catches a mistyped date whose weekday happens
  to match. (The module asks ``holidays.country_holidays("CN", …)``, the registry's typed way
  to build the same ``holidays.China``.)
* a make-up working day (上班) is not a Saturday or a Sunday, is listed twice, or is also a day
  off; a day off is listed on two lines; a line says 不调休 and still lists make-up days.

The module is pure: it does no I/O of its own (the ``holidays`` library computes the legal days;
they are cached per year, read-only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import holidays

__all__ = [
    "STATUTORY_FESTIVALS",
    "NoticeError",
    "NoticeHoliday",
    "ParsedNotice",
    "parse_notice",
]

STATUTORY_FESTIVALS: Final[tuple[str, ...]] = (
    "元旦",
    "春节",
    "清明节",
    "劳动节",
    "端午节",
    "中秋节",
    "国庆节",
)
"""The festivals every notice must cover, in the order the notices list them."""

_LEGAL_NAMES: Final[Mapping[str, frozenset[str]]] = {
    festival: frozenset({festival, "农历除夕"} if festival == "春节" else {festival})
    for festival in STATUTORY_FESTIVALS
}
"""Names of ``holidays.China`` (zh_CN) legal days that count for each festival."""

_CN_DIGITS: Final = "一二三四五六七八九"
_WEEKDAYS: Final[Mapping[str, int]] = {
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
}
_WEEKDAY_NAMES: Final = "一二三四五六日"

_NUMBER = re.compile(r"[一二三四五六七八九十]+")
_ANY_FESTIVAL: Final = "|".join(STATUTORY_FESTIVALS)
_FESTIVAL_HEAD = re.compile(f"(?:{_ANY_FESTIVAL})(?:、(?:{_ANY_FESTIVAL}))*[：:]")
_DIGITS_RUN = re.compile(r"\d+")
_FESTIVAL_TEXT = re.compile(r"[^：:]*")
_DATE = re.compile(r"(?:(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月)?(?P<d>\d{1,2})日")
_ANNOTATION = re.compile(r"[（(](?P<body>[^（）()]*)[）)]")
_WEEKDAY_NOTE = re.compile(r"(?:周|星期)(?P<x>[一二三四五六日天])")
_LUNAR_DAY = (
    r"初[一二三四五六七八九十]|十[一二三四五六七八九]|二十[一二三四五六七八九]?"
    r"|廿[一二三四五六七八九]|三十"
)
_LUNAR_NOTE = re.compile(
    rf"农历(?:除夕|闰?(?P<month>正|十一|十二|冬|腊|[二三四五六七八九十])月(?P<day>{_LUNAR_DAY}))"
)
_NOTE_SEPARATORS = re.compile(r"[、，,]")


# --- the result -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeHoliday:
    """One numbered line of the notice."""

    line: int
    """1-based number of the line in the text."""
    festival: str
    """As written, e.g. ``"春节"`` or ``"国庆节、中秋节"``."""
    days_off: tuple[date, ...]
    """Every day of the 放假 range, ascending."""
    working_days: tuple[date, ...]
    """The make-up working days (上班) named on the line, in the order written."""


@dataclass(frozen=True, slots=True)
class ParsedNotice:
    """A notice read in full and checked."""

    year: int
    title: str
    """The notice's first non-empty line."""
    holidays: tuple[NoticeHoliday, ...]

    def days_off(self) -> tuple[date, ...]:
        """All days off of all lines, sorted, unique."""
        return tuple(sorted({d for h in self.holidays for d in h.days_off}))

    def working_days(self) -> tuple[date, ...]:
        """All make-up working days of all lines, sorted, unique."""
        return tuple(sorted({d for h in self.holidays for d in h.working_days}))


class NoticeError(ValueError):
    """The notice cannot be read, or what it says does not hold together."""

    line: int
    text: str
    reason: str

    def __init__(self, line: int, text: str, reason: str) -> None:
        super().__init__(f"line {line}: {reason}: {text}")
        self.line = line
        self.text = text
        self.reason = reason

    def __reduce__(self) -> tuple[type[NoticeError], tuple[int, str, str]]:
        return (type(self), (self.line, self.text, self.reason))


# --- helpers ----------------------------------------------------------------------------------


def _cn_to_int(numeral: str) -> int | None:
    """一 → 1 … 九十九 → 99; None for anything else (一十, 二二, 十十…)."""
    if len(numeral) == 1 and numeral in _CN_DIGITS:
        return _CN_DIGITS.index(numeral) + 1
    m = re.fullmatch(r"([二三四五六七八九]?)十([一二三四五六七八九]?)", numeral)
    if m is None:
        return None
    tens = _CN_DIGITS.index(m[1]) + 1 if m[1] else 1
    units = _CN_DIGITS.index(m[2]) + 1 if m[2] else 0
    return tens * 10 + units


def _int_to_cn(n: int) -> str:
    """1 → 一 … 99 → 九十九 (the inverse of :func:`_cn_to_int`)."""
    tens, units = divmod(n, 10)
    if tens == 0:
        return _CN_DIGITS[units - 1]
    head = "" if tens == 1 else _CN_DIGITS[tens - 1]
    return head + "十" + (_CN_DIGITS[units - 1] if units else "")


def _lunar_day_number(day: str) -> int:
    """初一 → 1, 十五 → 15, 廿三/二十三 → 23, 三十 → 30."""
    if day.startswith("初"):
        return 10 if day[1] == "十" else _CN_DIGITS.index(day[1]) + 1
    number = _cn_to_int(day.replace("廿", "二十"))
    assert number is not None  # the regex admits only well-formed days
    return number


@lru_cache(maxsize=64)
def _legal_days(year: int) -> Mapping[str, frozenset[date]]:
    """The legal days of ``year`` per statutory festival name (holidays.China, zh_CN)."""
    found: dict[str, set[date]] = {}
    # holidays.China, through the registry function: typed, so mypy --strict can check the call
    calendar = holidays.country_holidays("CN", years=year, observed=False, language="zh_CN")
    for day, names in calendar.items():
        for name in names.split("; "):  # two holidays on one day are joined by "; "
            found.setdefault(name, set()).add(day)
    return MappingProxyType({name: frozenset(days) for name, days in found.items()})


def _lunar_new_year(year: int) -> date | None:
    """正月初一 of ``year``: the first legal day named 春节."""
    days = _legal_days(year).get("春节")
    return min(days) if days else None


def _iso_range(days: tuple[date, ...]) -> str:
    return days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]}"


# --- one numbered line ------------------------------------------------------------------------


class _LineReader:
    """Reads one numbered line (whitespace removed) from left to right; refuses at the first
    thing it cannot read."""

    def __init__(self, line_no: int, raw: str, year: int) -> None:
        self.line_no = line_no
        self.raw = raw
        self.text = "".join(raw.split())
        self.year = year
        self.pos = 0
        self.earliest = date(year - 1, 12, 1)
        self.latest = date(year, 12, 31)

    # low-level

    def fail(self, reason: str) -> NoticeError:
        return NoticeError(self.line_no, self.raw, reason)

    def at(self) -> str:
        rest = self.text[self.pos :]
        if not rest:
            return "at the end of the line"
        return f"at 「{rest[:16]}{'…' if len(rest) > 16 else ''}」"

    def take(self, *options: str) -> str | None:
        for option in options:
            if self.text.startswith(option, self.pos):
                self.pos += len(option)
                return option
        return None

    def expect(self, *options: str) -> str:
        found = self.take(*options)
        if found is None:
            raise self.fail(f"expected {' or '.join(options)} {self.at()}")
        return found

    def number(self, what: str) -> int:
        m = _DIGITS_RUN.match(self.text, self.pos)
        if m is None:
            raise self.fail(f"expected {what} {self.at()}")
        self.pos = m.end()
        return int(m[0])

    # grammar

    def numbering(self) -> int:
        m = _NUMBER.match(self.text, self.pos)
        value = None if m is None else _cn_to_int(m[0])
        if m is None or value is None or not self.text.startswith("、", m.end()):
            raise self.fail("cannot read the line's number (expected 一、 二、 三、 …)")
        self.pos = m.end() + 1
        return value

    def festivals(self) -> tuple[str, tuple[str, ...]]:
        m = _FESTIVAL_TEXT.match(self.text, self.pos)
        assert m is not None  # [^：:]* always matches
        if not self.text.startswith(("：", ":"), m.end()):
            raise self.fail("no colon after the festival's name")
        written = m[0]
        names = tuple(written.split("、"))
        for name in names:
            if name not in STATUTORY_FESTIVALS:
                raise self.fail(
                    f"unknown festival 「{name}」 (expected {'、'.join(STATUTORY_FESTIVALS)})"
                )
        if len(set(names)) != len(names):
            raise self.fail("a festival is named twice")
        self.pos = m.end() + 1
        return written, names

    def read_date(self, *, start: date | None = None) -> date:
        """A date with its optional annotation. With ``start`` (the end of a range) the year and
        month may be omitted."""
        m = _DATE.match(self.text, self.pos)
        if m is None:
            raise self.fail(f"cannot read a date {self.at()}")
        written = m[0]
        if m["m"] is None and start is None:
            raise self.fail(f"date without a month: 「{written}」")
        if m["y"] is not None:
            year = int(m["y"])
        elif m["m"] is None and start is not None:
            year = start.year
        else:
            year = self.year
        month = int(m["m"]) if m["m"] is not None else start.month if start is not None else 0
        try:
            value = date(year, month, int(m["d"]))
        except ValueError:
            raise self.fail(f"no such date: 「{written}」") from None
        self.pos = m.end()
        if not self.earliest <= value <= self.latest:
            raise self.fail(
                f"date {value} (「{written}」) is outside the notice's year {self.year}"
            )
        annotation = _ANNOTATION.match(self.text, self.pos)
        if annotation is None:
            if self.text.startswith(("（", "("), self.pos):
                raise self.fail(f"unclosed parenthesis after 「{written}」")
            return value
        self.pos = annotation.end()
        self.annotation(value, written, annotation["body"])
        return value

    def annotation(self, value: date, written: str, body: str) -> None:
        weekdays: list[int] = []
        lunar: list[re.Match[str]] = []
        for part in _NOTE_SEPARATORS.split(body):
            if (w := _WEEKDAY_NOTE.fullmatch(part)) is not None:
                weekdays.append(_WEEKDAYS[w["x"]])
            elif (n := _LUNAR_NOTE.fullmatch(part)) is not None:
                lunar.append(n)
            else:
                raise self.fail(f"cannot read 「{part}」 in the parenthesis after 「{written}」")
        if len(weekdays) != 1 or len(lunar) > 1:
            raise self.fail(
                f"the parenthesis after 「{written}」 must hold one weekday (周X) "
                "and at most one lunar note"
            )
        if weekdays[0] != value.weekday():
            raise self.fail(
                f"「{written}」 is {value} which is a 周{_WEEKDAY_NAMES[value.weekday()]}, "
                f"not a 周{_WEEKDAY_NAMES[weekdays[0]]}"
            )
        if lunar:
            self.check_lunar(value, written, lunar[0])

    def check_lunar(self, value: date, written: str, note: re.Match[str]) -> None:
        """Check 农历除夕 and 农历正月初一…初十 against the legal Spring Festival."""
        new_year = _lunar_new_year(value.year)
        if new_year is None:
            return
        if note["month"] is None:  # 除夕
            expected: date | None = new_year - timedelta(days=1)
        elif note["month"] == "正" and note["day"].startswith("初"):
            expected = new_year + timedelta(days=_lunar_day_number(note["day"]) - 1)
        else:
            expected = None  # 腊月 etc.: the length of the lunar month is not known here
        if expected is not None and expected != value:
            raise self.fail(f"「{written}」 is {value}, but {note[0]} of that year is {expected}")

    def days_off(self) -> tuple[date, ...]:
        first = self.read_date()
        if self.take("至") is None:
            return (first,)
        last = self.read_date(start=first)
        if last <= first:
            raise self.fail(f"the range {first}..{last} does not go forward")
        return tuple(first + timedelta(days=k) for k in range((last - first).days + 1))

    def read(self) -> tuple[NoticeHoliday, tuple[str, ...]]:
        """The rest of the line after its number: the holiday and the festivals it names."""
        written, names = self.festivals()
        days = self.days_off()
        self.expect("放假")
        if self.take("调休") is None and self.text[self.pos : self.pos + 1].isdigit():
            count = self.number("the number of days")
            self.expect("天")
            self.expect("，", ",")
            self.expect("不调休")
            self.expect("。")
            no_make_up = True
            stated = f"放假{count}天"
        else:
            self.expect("，", ",")
            self.expect("共")
            count = self.number("the number of days")
            self.expect("天")
            self.expect("。")
            no_make_up = False
            stated = f"共{count}天"
        working: list[date] = []
        if self.pos < len(self.text):
            working.append(self.read_date())
            while self.take("、", "，", ",") is not None:
                working.append(self.read_date())
            self.expect("上班")
            self.expect("。")
        if self.pos < len(self.text):
            raise self.fail(f"unexpected text {self.at()}")

        if count != len(days):
            raise self.fail(f"{stated}, but {_iso_range(days)} is {len(days)} days")
        legal = _legal_days(self.year)
        for name in names:
            days_of_name = sorted(d for n in _LEGAL_NAMES[name] for d in legal.get(n, ()))
            if not days_of_name:
                raise self.fail(f"holidays.China knows no legal day of {name} in {self.year}")
            if not set(days_of_name) & set(days):
                shown = ", ".join(d.isoformat() for d in days_of_name)
                raise self.fail(
                    f"no legal day of {name} ({shown}) is inside the days off {_iso_range(days)}"
                )
        if no_make_up and working:
            raise self.fail("the line says 不调休 but lists make-up working days")
        for day in working:
            if day.weekday() < 5:
                raise self.fail(
                    f"make-up working day {day} is a 周{_WEEKDAY_NAMES[day.weekday()]}, "
                    "not a Saturday or Sunday"
                )
            if day in days:
                raise self.fail(f"make-up working day {day} is also a day off")
        if len(set(working)) != len(working):
            raise self.fail("a make-up working day is listed twice")
        holiday = NoticeHoliday(self.line_no, written, days, tuple(working))
        return holiday, names


# --- the notice -------------------------------------------------------------------------------


def _title_year(line_no: int, title: str) -> int:
    years = {int(y) for y in re.findall(r"(?<!\d)(\d{4})年", title)}
    if len(years) != 1:
        reason = "no year in the title" if not years else "more than one year in the title"
        raise NoticeError(line_no, title, reason)
    return years.pop()


def parse_notice(text: str) -> ParsedNotice:
    """Read a holiday notice; raise :class:`NoticeError` naming the line if anything is off."""
    lines = text.splitlines()
    non_empty = [i for i, raw in enumerate(lines, 1) if raw.strip()]
    if not non_empty:
        raise NoticeError(1, "", "empty notice: no title line")
    title_no = non_empty[0]
    title = lines[title_no - 1].strip()
    year = _title_year(title_no, title)

    found: list[tuple[NoticeHoliday, tuple[str, ...]]] = []
    claims = _Claims()
    expected = 1
    interrupted: tuple[int, str] | None = None  # the first unnumbered line after the list began

    for line_no in range(title_no + 1, len(lines) + 1):
        raw = lines[line_no - 1].strip()
        compact = "".join(raw.split())
        if not compact:
            continue
        if compact[0] not in "一二三四五六七八九十":
            if _FESTIVAL_HEAD.match(compact):
                raise NoticeError(line_no, raw, "festival line without its number (一、 二、 …)")
            if found and interrupted is None:
                interrupted = (line_no, raw)
            continue
        if interrupted is not None:
            raise NoticeError(
                interrupted[0],
                interrupted[1],
                f"unnumbered line inside the numbered list (line {line_no} continues it)",
            )
        reader = _LineReader(line_no, raw, year)
        _check_number(line_no, raw, reader.numbering(), expected)
        expected += 1
        holiday, names = reader.read()
        claims.claim(line_no, raw, holiday, names)
        found.append((holiday, names))

    _check_every_festival(lines, found, claims.festival_on)
    return ParsedNotice(year=year, title=title, holidays=tuple(h for h, _ in found))


def _check_number(line_no: int, raw: str, number: int, expected: int) -> None:
    """The numbered lines go 一、 二、 三、 … without a gap."""
    if number != expected:
        if number > expected:
            missing = "、".join(_int_to_cn(k) for k in range(expected, number))
            reason = (
                f"number {missing} missing: expected {_int_to_cn(expected)}、"
                f" but found {_int_to_cn(number)}、"
            )
        else:
            reason = (
                f"number {_int_to_cn(number)}、 out of order: expected {_int_to_cn(expected)}、"
            )
        raise NoticeError(line_no, raw, reason)


@dataclass
class _Claims:
    """Which line has which festival, day off and make-up working day: each has one line."""

    off_on: dict[date, int] = field(default_factory=dict)
    work_on: dict[date, int] = field(default_factory=dict)
    festival_on: dict[str, int] = field(default_factory=dict)

    def claim(self, line_no: int, raw: str, holiday: NoticeHoliday, names: tuple[str, ...]) -> None:
        """Record the line's festivals and days; :class:`NoticeError` when another line has one."""
        off_on, work_on, festival_on = self.off_on, self.work_on, self.festival_on
        for name in names:
            if name in festival_on:
                raise NoticeError(line_no, raw, f"{name} already has line {festival_on[name]}")
            festival_on[name] = line_no
        for day in holiday.days_off:
            if day in off_on:
                raise NoticeError(line_no, raw, f"day off {day} is already on line {off_on[day]}")
            if day in work_on:
                raise NoticeError(
                    line_no, raw, f"day off {day} is a make-up working day on line {work_on[day]}"
                )
            off_on[day] = line_no
        for day in holiday.working_days:
            if day in work_on:
                raise NoticeError(
                    line_no, raw, f"make-up working day {day} is already on line {work_on[day]}"
                )
            if day in off_on:
                raise NoticeError(
                    line_no, raw, f"make-up working day {day} is a day off on line {off_on[day]}"
                )
            work_on[day] = line_no


def _check_every_festival(
    lines: list[str],
    found: list[tuple[NoticeHoliday, tuple[str, ...]]],
    festival_on: Mapping[str, int],
) -> None:
    """:class:`NoticeError` for the first statutory festival that no line names."""
    for index, festival in enumerate(STATUTORY_FESTIVALS):
        if festival in festival_on:
            continue
        # name the first line that lists a later festival (the missing one belonged before it),
        # else the last numbered line, else line 1
        after = [
            h for h, names in found if min(STATUTORY_FESTIVALS.index(n) for n in names) > index
        ]
        if after:
            at = after[0]
            where = "before this line"
        elif found:
            at = found[-1][0]
            where = "after the last numbered line"
        else:
            raise NoticeError(1, lines[0].strip(), f"no numbered lines: {festival} is missing")
        raise NoticeError(
            at.line,
            lines[at.line - 1].strip(),
            f"statutory festival {festival} is missing ({where})",
        )
