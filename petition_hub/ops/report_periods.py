"""The report's periods: a calendar month, quarter or year in Asia/Shanghai (the joint-meeting
office's calendar), ``[start, end)``.

``--period 2026-12`` (a month), ``2026-Q4`` (a quarter), ``2026`` (a year). Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

__all__ = ["TIMEZONE", "Period", "aware"]

#: The joint-meeting office's calendar: periods begin at midnight Beijing time.
TIMEZONE: Final = ZoneInfo("Asia/Shanghai")

_MONTH: Final = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER: Final = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR: Final = re.compile(r"^(\d{4})$")
_QUARTER_NAMES: Final = ("一", "二", "三", "四")

PeriodKind = Literal["month", "quarter", "year"]


def aware(at: datetime) -> datetime:
    """fastavro gives UTC-aware datetimes; a naive one is taken as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    """A calendar month (``month`` 1-12), quarter (``quarter`` 1-4) or year (neither) in
    Asia/Shanghai: ``start`` inclusive, ``end`` exclusive."""

    year: int
    month: int | None = None
    quarter: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.year <= 9998:
            raise ValueError(f"not a year: {self.year:04d}")
        if self.month is not None and not 1 <= self.month <= 12:
            raise ValueError(f"not a month: {self.year:04d}-{self.month:02d}")
        if self.quarter is not None and not 1 <= self.quarter <= 4:
            raise ValueError(f"not a quarter: {self.year:04d}-Q{self.quarter}")
        if self.month is not None and self.quarter is not None:
            raise ValueError("a period is a month, a quarter or a year, not both")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``YYYY-MM``, ``YYYY-Qn`` or ``YYYY``; ``ValueError`` for anything else."""
        s = text.strip()
        if m := _MONTH.match(s):
            return cls(int(m.group(1)), month=int(m.group(2)))
        if m := _QUARTER.match(s):
            return cls(int(m.group(1)), quarter=int(m.group(2)))
        if m := _YEAR.match(s):
            return cls(int(m.group(1)))
        raise ValueError(f"period must be YYYY-MM, YYYY-Qn or YYYY, not {text!r}")

    @property
    def kind(self) -> PeriodKind:
        """``month``, ``quarter`` or ``year``."""
        if self.month is not None:
            return "month"
        return "quarter" if self.quarter is not None else "year"

    def _first_month(self) -> int:
        if self.month is not None:
            return self.month
        return 3 * (self.quarter - 1) + 1 if self.quarter is not None else 1

    def _months(self) -> int:
        return {"month": 1, "quarter": 3, "year": 12}[self.kind]

    @property
    def start(self) -> datetime:
        """The first instant of the period, Beijing time."""
        return datetime(self.year, self._first_month(), 1, tzinfo=TIMEZONE)

    @property
    def end(self) -> datetime:
        """The first instant after the period, Beijing time."""
        index = self._first_month() - 1 + self._months()  # months since January of ``year``
        return datetime(self.year + index // 12, index % 12 + 1, 1, tzinfo=TIMEZONE)

    def __contains__(self, at: object) -> bool:
        return isinstance(at, datetime) and self.start <= aware(at) < self.end

    def __str__(self) -> str:
        if self.month is not None:
            return f"{self.year:04d}-{self.month:02d}"
        if self.quarter is not None:
            return f"{self.year:04d}-Q{self.quarter}"
        return f"{self.year:04d}"

    def title(self) -> str:
        """In Chinese, as a 通报 names it: 2026年12月, 2026年第四季度, 2026年度."""
        if self.month is not None:
            return f"{self.year}年{self.month}月"
        if self.quarter is not None:
            return f"{self.year}年第{_QUARTER_NAMES[self.quarter - 1]}季度"
        return f"{self.year}年度"
