"""What the hub keeps per petition: :class:`PetitionState`, its lifecycle state, extension status
and closure, and :class:`ClockPlan`, what was announced of a running clock."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict

from petition_hub.domain.petition import Channel, PetitionType, Satisfaction, Urgency
from petition_hub.domain.sla import ClockKind, ClockState, LadderStep

__all__ = [
    "LEADING_GROUP_UNIT",
    "OFFICE_UNIT",
    "ClockPlan",
    "Closure",
    "DisputeStatus",
    "ExtensionStatus",
    "LifecycleState",
    "PetitionState",
    "ReplyKind",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")

#: The joint-meeting office (联席会议办公室), the first step of the reference data's escalation:
#: it supervises overdue petitions (督办) and answers for a petition nobody holds (in triage,
#: received, returned), so a ladder step of such a petition names it.
OFFICE_UNIT: Final = "dept.JOINT_OFFICE"
#: The leading group (领导小组), to which listed supervision (挂牌督办) is reported.
LEADING_GROUP_UNIT: Final = "dept.LEADING_GROUP"


class LifecycleState(StrEnum):
    RECEIVED = "received"
    TRIAGE = "triage"
    ROUTED = "routed"
    RETURNED = "returned"
    SIGNED_FOR = "signed_for"
    IN_PROGRESS = "in_progress"
    WAITING_MATERIAL = "waiting_material"
    EXTENDED = "extended"
    REPLIED = "replied"
    EVALUATED = "evaluated"
    REOPENED = "reopened"
    TRANSFERRED = "transferred"
    """Handed to the province (another city's or province's matter): closed locally at once."""
    CLOSED = "closed"


class ExtensionStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class DisputeStatus(StrEnum):
    """The lead unit's dispute of a 不满意 rating (对评价结果有异议) and the office's decision."""

    NONE = "none"
    PENDING = "pending"
    UPHELD = "upheld"
    """The office upheld the rating: it stands, nothing changes."""
    VOIDED = "voided"
    """The office voided the rating: it leaves 满意率 and the unit's dissatisfied count (the
    reopening it caused goes on: the petitioner's matter is handled again either way)."""


class ReplyKind(StrEnum):
    """What kind of result a unit's reply is; either closes the unit's work."""

    RESOLVED = "resolved"
    """问题解决: the matter is done."""
    EXPLAINED = "explained"
    """解释说明: the matter cannot be done; the reply explains why."""


class Closure(StrEnum):
    """How a closed petition ended."""

    RATED = "rated"
    """满意 or 基本满意 (``PetitionState.rating`` says which)."""
    DISSATISFIED = "dissatisfied"
    """不满意 after the reopen was used up."""
    UNRATED = "unrated"
    """No rating within the evaluation window (not counted as satisfied)."""
    TRANSFERRED = "transferred"
    """Handed to the province (``province.transfers``): counted apart, against no unit."""


class ClockPlan(BaseModel):
    """What was announced of a running clock: its deadline and the ladder steps still pending,
    with the calendar they were counted on. Compared with a recomputation when the calendar
    changes: a difference is a ``deadline_changed``."""

    model_config = _FROZEN

    clock: ClockKind
    deadline: AwareDatetime | None
    steps: tuple[tuple[LadderStep, AwareDatetime], ...] = ()
    """Pending (not fired) steps as far as the calendar reaches, in order."""
    provisional: bool = False
    """The deadline or a pending step was counted on a provisional year."""


class PetitionState(BaseModel):
    """What the hub keeps per petition (a table row keyed by petition id)."""

    model_config = _FROZEN

    petition_id: str
    channel: Channel
    petition_type: PetitionType | None = None
    urgency: Urgency = Urgency.NORMAL
    received_at: AwareDatetime
    provincial_deadline: AwareDatetime | None = None
    state: LifecycleState
    lead_unit: str | None = None
    """The lead unit (主办) as routing last decided (:class:`~.events.Routed`,
    :class:`~.events.TriageRouted`): routing owns the assignment; the lifecycle keeps it only to
    check each status's sender. None after a return, until routing decides again."""
    co_units: tuple[str, ...] = ()
    """The co-handlers (协办) as routing last decided, for the same check."""
    returned_by: tuple[str, ...] = ()
    """The units whose return was accepted, only to refuse a routing decision naming one
    (routing keeps its own list, and routes without them)."""
    sign_for: ClockState | None = None
    sign_for_fired: tuple[LadderStep, ...] = ()
    resolve: ClockState
    resolve_fired: tuple[LadderStep, ...] = ()
    resume_to: LifecycleState | None = None
    """While waiting for material: the state the material's arrival returns to."""
    extension: ExtensionStatus = ExtensionStatus.NONE
    extension_requests: int = 0
    extension_days_requested: int | None = None
    reopens: int = 0
    round: int = 0
    rating: Satisfaction | None = None
    reply_kind: ReplyKind | None = None
    """The kind of the round's reply (None before the first reply)."""
    rating_revision: int | None = None
    evaluation_due: AwareDatetime | None = None
    dissatisfied_at: AwareDatetime | None = None
    """When the last 不满意 rating was applied (the one a dispute names); None before one."""
    dissatisfied_round: int | None = None
    """The reply round that 不满意 rated."""
    disputes: int = 0
    """Disputes of a rating accepted so far (policy ``dispute.max_disputes`` per petition)."""
    dispute: DisputeStatus = DisputeStatus.NONE
    closure: Closure | None = None
    updated_at: AwareDatetime
    plans: tuple[ClockPlan, ...] = ()
    """The running clocks as last announced (sign for first)."""
    calendar: str = ""
    """Digest of the working-day calendar ``plans`` were counted on."""

    @property
    def provisional(self) -> bool:
        """A running clock's announced times were counted on a provisional year."""
        return any(p.provisional for p in self.plans)

    @property
    def handlers(self) -> tuple[str, ...]:
        return () if self.lead_unit is None else (self.lead_unit, *self.co_units)
