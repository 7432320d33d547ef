"""A clock's state: :class:`ClockState` (sign for, or resolve), its kind, its ladder steps and its
finished pauses. Immutable; the functions of :mod:`.clocks` return new states."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from petition_hub.domain.sla.policy import ClockRules, Limit

__all__ = ["ClockError", "ClockKind", "ClockState", "LadderStep", "Pause"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


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
