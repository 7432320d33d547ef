"""The SLA policy: every number of domain.md "SLA clocks", loaded from a file.

The policy (``petition_hub/data/sla_policy.yaml``, :class:`SlaPolicy`) holds every number of
domain.md "SLA clocks" as a default: the working window, the sign-for and resolve limits per
urgency (and type), the ladder's percentages, extensions, the evaluation window and reopening. A
running clock copies the numbers it needs (:class:`ClockRules`) when it starts. Loading the file
is the only I/O of the SLA package.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from petition_hub.data import data_path
from petition_hub.domain.petition import PetitionType, Urgency

__all__ = [
    "ClockRules",
    "DisputePolicy",
    "EvaluationPolicy",
    "ExtensionPolicy",
    "LadderPolicy",
    "Limit",
    "PolicyError",
    "ReopenPolicy",
    "ResolveRule",
    "SlaPolicy",
    "WorkingTime",
    "default_policy",
    "load_policy",
]


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


class DisputePolicy(BaseModel):
    """对评价结果有异议: the lead unit's dispute of a 不满意 rating, for the office to decide."""

    model_config = _FROZEN

    window_working_days: int = Field(default=5, ge=1, le=60)
    """Working days (the hub's calendar) after the day of the rating; the window ends at the
    working-day deadline time (18:00) of the last one."""
    max_disputes: int = Field(default=1, ge=0, le=10)
    """Per petition."""


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
    dispute: DisputePolicy = DisputePolicy()

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
