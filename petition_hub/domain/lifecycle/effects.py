"""The effects :func:`~.machine.apply` asks to publish: state changes (``hub.lifecycle``), clock
events (``hub.sla``), evaluation invitations, extension requests and answers, routing requests
and urgings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from petition_hub.domain.lifecycle.states import Closure, LifecycleState, ReplyKind
from petition_hub.domain.petition import Channel
from petition_hub.domain.sla import ClockKind

__all__ = [
    "DisputeAnswered",
    "DisputeForwarded",
    "Effect",
    "EvaluationInvited",
    "ExtensionAnswered",
    "ExtensionForwarded",
    "OpinionRelayed",
    "RoutingRequested",
    "SlaSignal",
    "SlaSignalKind",
    "StateChanged",
    "UnitUrged",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class SlaSignalKind(StrEnum):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    EXTENDED = "extended"
    WARNING = "warning"
    URGING = "urging"
    OVERDUE = "overdue"
    LISTED_SUPERVISION = "listed_supervision"
    MET = "met"
    """Stopped in time (signed for / replied by the deadline)."""
    MISSED = "missed"
    """Stopped after the deadline."""
    CANCELLED = "cancelled"
    """A clock ended without a verdict: a sign-for clock by a return, the resolve clock by a
    transfer to the province."""
    DEADLINE_CHANGED = "deadline_changed"
    """The calendar changed under a running clock (the official year replaced the provisional
    one): its deadline or a pending ladder time moved."""


class _Effect(BaseModel):
    model_config = _FROZEN

    petition_id: str
    at: datetime


class StateChanged(_Effect):
    """``hub.lifecycle``: a state change, in order per petition."""

    kind: Literal["state_changed"] = "state_changed"
    from_state: LifecycleState | None
    to_state: LifecycleState
    cause: str
    """The event kind that caused it (``evaluation_window_elapsed`` for the timer)."""
    unit: str | None = None
    closure: Closure | None = None
    reply_kind: ReplyKind | None = None
    """To ``replied``: what kind of result the reply is."""


class SlaSignal(_Effect):
    """``hub.sla``: a clock event. ``at`` is when it happened on the clock (a ladder step's
    scheduled time), ``round`` 0 for the first handling and 1.. after reopening."""

    kind: Literal["sla"] = "sla"
    clock: ClockKind
    signal: SlaSignalKind
    round: int = 0
    deadline: datetime | None = None
    unit: str | None = None
    provisional: bool = False
    """``deadline`` was counted on a provisional year."""
    previous_deadline: datetime | None = None
    """For ``deadline_changed``: the deadline announced before."""
    calendar: str = ""
    """For ``deadline_changed``: the digest of the calendar the new times come from."""


class EvaluationInvited(_Effect):
    """To ``miniprogram.evaluation-requests`` / ``hotline12345.callback-requests``."""

    kind: Literal["evaluation_invited"] = "evaluation_invited"
    channel: Channel
    due: datetime
    round: int = 0


class ExtensionForwarded(_Effect):
    """An extension request for the office to decide."""

    kind: Literal["extension_forwarded"] = "extension_forwarded"
    unit: str
    days: int
    reason: str


class ExtensionAnswered(_Effect):
    """The office's decision, for the unit."""

    kind: Literal["extension_answered"] = "extension_answered"
    unit: str | None
    approved: bool
    days: int | None
    deadline: datetime | None
    provisional: bool = False


class RoutingRequested(_Effect):
    """A returned petition goes back to routing, without the units that returned it."""

    kind: Literal["routing_requested"] = "routing_requested"
    exclude_units: tuple[str, ...]
    reason: str


class UnitUrged(_Effect):
    """The unit is urged (催办) on a reopen."""

    kind: Literal["unit_urged"] = "unit_urged"
    unit: str | None
    reason: str


class OpinionRelayed(_Effect):
    """A co-handler's opinion (协办意见), for the history and the lead unit."""

    kind: Literal["co_handler_opinion"] = "co_handler_opinion"
    unit: str
    """The co-handler that sent it."""
    lead: str
    """The lead unit it goes to."""
    text: str


class DisputeForwarded(_Effect):
    """The lead unit's dispute of a 不满意 rating, for the office to decide."""

    kind: Literal["rating_disputed"] = "rating_disputed"
    unit: str
    reason: str
    rated_at: datetime
    """When the disputed rating was applied (names it: ``hub.lifecycle``'s rating record)."""
    rated_round: int
    """The reply round the rating rated."""


class DisputeAnswered(_Effect):
    """The office's decision on the dispute, for the history, the report and the lead unit."""

    kind: Literal["dispute_decided"] = "dispute_decided"
    unit: str | None
    """The lead unit that disputed."""
    voided: bool
    note: str
    rated_at: datetime
    rated_round: int


Effect = Annotated[
    StateChanged
    | SlaSignal
    | EvaluationInvited
    | ExtensionForwarded
    | ExtensionAnswered
    | RoutingRequested
    | UnitUrged
    | OpinionRelayed
    | DisputeForwarded
    | DisputeAnswered,
    Field(discriminator="kind"),
]
