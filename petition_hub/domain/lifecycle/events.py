"""The inputs of :func:`~.machine.apply`: the hub's own decisions, the handling unit's status
events, the joint-meeting office's decisions, the petitioner's ratings and the timer. Times are
kept in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from petition_hub.domain.lifecycle.states import ReplyKind
from petition_hub.domain.petition import Channel, Petition, PetitionType, Satisfaction, Urgency

__all__ = [
    "DisputeDecided",
    "Event",
    "ExtensionDecided",
    "ExtensionRequested",
    "Handled",
    "InProgress",
    "MaterialReceived",
    "MaterialRequested",
    "OpinionGiven",
    "Rated",
    "RatingDisputed",
    "Received",
    "Replied",
    "Returned",
    "Routed",
    "SignedFor",
    "Tick",
    "TransferredToProvince",
    "TriageRequested",
    "TriageRouted",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _utc_opt(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


class _Event(BaseModel):
    model_config = _FROZEN

    petition_id: str = Field(min_length=1)
    at: AwareDatetime

    _at_utc = field_validator("at")(_utc)


class Received(_Event):
    """The hub accepted the petition (``hub.petitions``): the resolve clock starts."""

    kind: Literal["received"] = "received"
    channel: Channel
    petition_type: PetitionType | None = None
    urgency: Urgency = Urgency.NORMAL
    provincial_deadline: AwareDatetime | None = None

    _prov_utc = field_validator("provincial_deadline")(_utc_opt)

    @classmethod
    def from_petition(cls, p: Petition) -> Received:
        return cls(
            petition_id=p.petition_id,
            at=p.received_at,
            channel=p.channel,
            petition_type=p.petition_type,
            urgency=p.urgency,
            provincial_deadline=p.provincial_deadline,
        )


class Routed(_Event):
    """The router's decision: lead unit and co-handlers. Starts a sign-for clock."""

    kind: Literal["routed"] = "routed"
    lead_unit: str = Field(min_length=1)
    co_units: tuple[str, ...] = ()


class TriageRequested(_Event):
    """The router could not decide: to the office's triage."""

    kind: Literal["triage_requested"] = "triage_requested"
    reason: str = ""


class TriageRouted(_Event):
    """The office's triage decision (``office.decisions``)."""

    kind: Literal["triage_routed"] = "triage_routed"
    lead_unit: str = Field(min_length=1)
    co_units: tuple[str, ...] = ()


class TransferredToProvince(_Event):
    """Routing handed a local petition to the province (``province.transfers``: another Henan
    city's or another province's matter): transferred, then closed locally as transferred."""

    kind: Literal["transferred_to_province"] = "transferred_to_province"
    reason: str = ""


class _UnitEvent(_Event):
    unit: str = Field(min_length=1)
    """The unit whose status topic the event came from (``dept.<CODE>`` / ``county.<DIV>``)."""


class SignedFor(_UnitEvent):
    kind: Literal["signed_for"] = "signed_for"


class InProgress(_UnitEvent):
    kind: Literal["in_progress"] = "in_progress"


class MaterialRequested(_UnitEvent):
    """The unit asked the petitioner for material: the resolve clock pauses."""

    kind: Literal["material_requested"] = "material_requested"
    reason: str = ""


class MaterialReceived(_UnitEvent):
    kind: Literal["material_received"] = "material_received"


class ExtensionRequested(_UnitEvent):
    kind: Literal["extension_requested"] = "extension_requested"
    days: int = Field(ge=1)
    reason: str = ""


class Replied(_UnitEvent):
    kind: Literal["replied"] = "replied"
    text: str
    result: ReplyKind = ReplyKind.RESOLVED
    """Resolved (问题解决) or explained (解释说明): either closes the unit's work."""


class OpinionGiven(_UnitEvent):
    """A co-handler's opinion (协办意见) for the lead unit: the one event a co-handler may send;
    it changes no state, it goes into the history and to the lead."""

    kind: Literal["opinion"] = "opinion"
    text: str


class Returned(_UnitEvent):
    """Not the unit's matter (only within its sign-for window): back to routing."""

    kind: Literal["returned"] = "returned"
    reason: str = ""


class ExtensionDecided(_Event):
    """The office approved (``days``; default: as requested) or refused an extension."""

    kind: Literal["extension_decided"] = "extension_decided"
    approved: bool
    days: int | None = Field(default=None, ge=1)
    note: str = ""


class Rated(_Event):
    """The petitioner's rating (mini-program evaluation or 12345 call-back)."""

    kind: Literal["rated"] = "rated"
    satisfaction: Satisfaction
    revision: int = Field(default=0, ge=0, le=1)


class RatingDisputed(_UnitEvent):
    """The lead unit disputes the petitioner's 不满意 (对评价结果有异议), with its reason: once
    per petition, within the policy's working days of the rating; the office decides."""

    kind: Literal["rating_disputed"] = "rating_disputed"
    reason: str


class DisputeDecided(_Event):
    """The office's decision on a pending dispute (``office.decisions``): the rating voided
    (it leaves 满意率) or upheld (it stands)."""

    kind: Literal["dispute_decided"] = "dispute_decided"
    voided: bool
    note: str = ""


class Tick(_Event):
    """The timer: catch the clocks up to ``at``."""

    kind: Literal["tick"] = "tick"


Handled = (
    Routed
    | TriageRequested
    | TriageRouted
    | TransferredToProvince
    | SignedFor
    | InProgress
    | MaterialRequested
    | MaterialReceived
    | ExtensionRequested
    | Replied
    | OpinionGiven
    | Returned
    | ExtensionDecided
    | Rated
    | RatingDisputed
    | DisputeDecided
)
"""The events that have a handler: all but :class:`Received` (which opens a petition)
and :class:`Tick` (which only catches up)."""


Event = Annotated[Received | Handled | Tick, Field(discriminator="kind")]
"""Any input of :func:`apply` (a discriminated union on ``kind``, for decoding)."""
