"""The hub's wire records, typed: one ``TypedDict`` per Avro record the hub writes or reads.

Each type is the latest version of its schema (``schemas/<name>.avsc``); its keys are the
schema's field names, which ``tests/test_codec.py`` checks, so a type cannot drift from its
``.avsc``. How Avro maps to Python here (fastavro's own mapping, both ways):

- ``timestamp-millis``: :class:`datetime.datetime` (read back aware, in UTC);
- ``["null", T]``: ``T | None``; ``array``: ``list``; ``int`` and ``long``: ``int``;
- an enum: its symbol, a ``str`` (the schema checks the symbol when the record is encoded);
- a field a later version added (with a default) is ``NotRequired``: a reader of the latest
  type reads every version (a record of an earlier version lacks it), and a builder may leave it
  to its default.

No logic here: the builders and readers are :mod:`petition_hub.schemas.codec`'s.
"""

# No ``from __future__ import annotations``: the annotations are evaluated when a class is made,
# so that ``NotRequired`` counts (``__optional_keys__``) for the test against the .avsc files.
from datetime import datetime
from typing import NotRequired, TypedDict

__all__ = [
    "Attachment",
    "DeadLetter",
    "DeadLetterRedrive",
    "Dispatch",
    "DispatchAttachment",
    "DispatchPetitioner",
    "Enterprise",
    "Evaluation",
    "Feedback",
    "GeoPoint",
    "LifecycleEvent",
    "OfficeDecision",
    "Original",
    "OriginalHeader",
    "Petition",
    "Petitioner",
    "PrivacyEvent",
    "Rejection",
    "RouteCommand",
    "Routed",
    "SlaEvent",
    "Supervision",
    "Transfer",
    "UnitAttachment",
    "UnitNotice",
    "UnitPetition",
    "UnitStatus",
]


# --- cn.gov.pds.hub.Petition.v1 (hub.petitions): snake_case, the model's own names -------------


class GeoPoint(TypedDict):
    lat: float
    lng: float


class Attachment(TypedDict):
    name: str | None
    url: str
    sha256: str | None


class Enterprise(TypedDict):
    name: str | None
    uscc: str | None


class Petitioner(TypedDict):
    kind: str
    name: str | None
    phone: str | None
    id_number: str | None
    openid: str | None
    contact_name: str | None


class Petition(TypedDict):
    """``cn.gov.pds.hub.Petition.v1``: the canonical petition."""

    petition_id: str
    channel: str
    channel_ref: str
    revision: int
    repeat_of_ref: str | None
    repeat_of: str | None
    received_at: datetime
    petition_type: str | None
    channel_category: str | None
    urgency: str
    title: str | None
    content: str
    region_code: str | None
    region_name: str | None
    target_city: str | None
    origin_channel: str | None
    location: GeoPoint | None
    attachments: list[Attachment]
    operator_note: str | None
    provincial_deadline: datetime | None
    enterprise: Enterprise | None
    petitioner: Petitioner
    confidential: bool
    disclosure_authorized: bool
    flags: list[str]


class Evaluation(TypedDict):
    """``cn.gov.pds.hub.Evaluation.v1``: a petitioner's rating, normalised."""

    channel: str
    ref: str
    petition_id: str
    petition_ref: str | None
    satisfaction: str
    comment: str | None
    evaluated_at: datetime
    revision: int


# --- routing's records -------------------------------------------------------------------------


class UnitAttachment(TypedDict):
    name: str | None
    url: str


class UnitPetition(TypedDict):
    """``cn.gov.pds.hub.UnitPetition.v2``: a petition as a unit (or triage) receives it."""

    petitionId: str
    revision: int
    channel: str
    channelRef: str
    role: str
    leadUnit: str | None
    coUnits: list[str]
    receivedAt: datetime
    routedAt: datetime
    petitionType: str | None
    urgency: str
    title: str | None
    content: str
    locationKind: str
    locationCode: str | None
    locationName: str | None
    enterpriseName: str | None
    enterpriseUscc: str | None
    contactName: str | None
    contactPhone: str | None
    identityWithheld: bool
    sensitive: bool
    attachments: list[UnitAttachment]
    signForDeadline: datetime | None
    resolveDeadline: datetime | None
    provincialDeadline: datetime | None
    deadlineNote: str | None
    signForDeadlineProvisional: NotRequired[bool]  # v2
    resolveDeadlineProvisional: NotRequired[bool]  # v2
    repeatOf: str | None
    rulesVersion: str
    theme: str | None
    themeName: str | None
    keywords: list[str]
    routingRule: str
    locationSource: str | None
    excludedUnits: list[str]
    reason: str | None
    explanation: str


class Routed(TypedDict):
    """``cn.gov.pds.hub.Routed`` (v4; v3, v2 and v1 read): a routing decision as the lifecycle
    needs it."""

    petitionId: str
    revision: int
    kind: str
    lead: str | None
    co: list[str]
    excluded: list[str]
    routedAt: datetime
    receivedAt: datetime
    petitionType: str | None
    urgency: str
    provincialDeadline: datetime | None
    channel: str
    channelRef: str
    rulesVersion: str
    theme: str | None
    rule: str | None
    reason: str | None
    callbackContact: NotRequired[bytes | None]
    """v3: a provincial dispatch's call-back contact, sealed (absent in v1 and v2 records)."""
    repeatOf: NotRequired[str | None]
    """v4: the earlier case a 12345 repeat names (absent before v4)."""
    matterKey: NotRequired[str | None]
    """v5: the enterprise matter (credit code and theme, hashed; absent before v5)."""


class RepeatLink(TypedDict):
    """``cn.gov.pds.hub.RepeatLink.v1`` (``<app>-repeat-links``): the lifecycle's question to an
    earlier case (``REQUEST``) and its answer to the repeat (``LINKED``, ``NEW_CASE``); v2: the
    enterprise matter index (``CLAIM``, ``REGISTER``, ``UNREGISTER``)."""

    kind: str
    firstId: str
    repeatId: str
    repeatChannel: str
    repeatRef: str
    at: datetime
    matterKey: NotRequired[str | None]
    """v2: the enterprise matter (``CLAIM``, ``REGISTER``, ``UNREGISTER``; absent in v1)."""


class Rejection(TypedDict):
    """``cn.gov.pds.hub.Rejection.v1`` (``hub.rejects``): an event the hub does not apply."""

    sourceTopic: str
    sourcePartition: int
    sourceOffset: int
    petitionId: str | None
    reason: str
    message: str
    rejectedAt: datetime
    original: bytes | None


# --- the lifecycle's records -------------------------------------------------------------------


class LifecycleEvent(TypedDict):
    """``cn.gov.pds.hub.LifecycleEvent.v5`` (``hub.lifecycle``; v4, v3, v2, v1 read)."""

    eventId: str
    petitionId: str
    kind: str
    at: datetime
    fromState: str | None
    toState: str | None
    cause: str | None
    unit: str | None
    leadUnit: str | None
    closure: str | None
    satisfaction: str | None
    round: int
    channel: str
    petitionType: str | None
    deadline: datetime | None
    deadlineProvisional: NotRequired[bool]  # v2
    extensionDays: int | None
    approved: bool | None
    note: str | None
    replyKind: NotRequired[str | None]  # v3: resolved, explained
    disputeOutcome: NotRequired[str | None]  # v4: dispute_decided: upheld, voided
    ratedAt: NotRequired[datetime | None]  # v4: the disputed 不满意's time
    repeatOf: NotRequired[str | None]  # v5: a repeat's case, the earlier case
    repeatId: NotRequired[str | None]  # v5, repeat_linked: the linked repeat
    repeatChannel: NotRequired[str | None]  # v5, repeat_linked
    repeatRef: NotRequired[str | None]  # v5, repeat_linked


class SlaEvent(TypedDict):
    """``cn.gov.pds.hub.SlaEvent.v2`` (``hub.sla``)."""

    eventId: str
    petitionId: str
    clock: str
    signal: str
    at: datetime
    deadline: datetime | None
    round: int
    unit: str | None
    channel: str
    petitionType: str | None
    urgency: str
    deadlineProvisional: NotRequired[bool]  # v2
    previousDeadline: NotRequired[datetime | None]  # v2


class Supervision(TypedDict):
    """``cn.gov.pds.hub.Supervision.v1`` (``office.supervision``, ``leadinggroup.supervision``):
    a ladder step for the supervisors."""

    eventId: str
    petitionId: str
    step: str
    clock: str
    at: datetime
    deadline: datetime | None
    workingDaysLate: int
    unit: str
    unitName: str
    state: str
    round: int
    channel: str
    petitionType: str | None
    urgency: str
    reportedTo: list[str]
    message: str


class UnitNotice(TypedDict):
    """``cn.gov.pds.hub.UnitNotice.v3``: what the hub tells a unit (on its ``.petitions``)."""

    eventId: str
    petitionId: str
    kind: str
    clock: str | None
    deadline: datetime | None
    at: datetime
    message: str
    deadlineProvisional: NotRequired[bool]  # v2
    previousDeadline: NotRequired[datetime | None]  # v2
    sourceTopic: NotRequired[str | None]  # v3: event_refused
    sourcePartition: NotRequired[int | None]  # v3
    sourceOffset: NotRequired[int | None]  # v3
    eventKind: NotRequired[str | None]  # v3
    eventRef: NotRequired[str | None]  # v3
    reason: NotRequired[str | None]  # v3
    fromUnit: NotRequired[str | None]  # v3: co_handler_opinion


# --- what the units and the joint-meeting office write -----------------------------------------


class UnitStatus(TypedDict):
    """``cn.gov.pds.hub.UnitStatus.v4``: what a unit did with a petition (v3: RATING_DISPUTED;
    v4: ``author``)."""

    petitionId: str
    kind: str
    at: datetime
    note: str | None
    replyText: str | None
    extensionDays: int | None
    replyKind: NotRequired[str | None]  # v2: RESOLVED, EXPLAINED (None, or a v1 reply: RESOLVED)
    eventId: NotRequired[str | None]  # v2: the unit's own id of the event
    author: NotRequired[str | None]  # v4: who in the unit did it (a staff account name)


class OfficeDecision(TypedDict):
    """``cn.gov.pds.hub.OfficeDecision.v2``: a triage route, an extension answer or (v2) the
    decision on a unit's dispute of a rating (RATING_UPHELD, RATING_VOIDED)."""

    petitionId: str
    kind: str
    leadUnit: str | None
    coUnits: list[str]
    extensionDays: int | None
    note: str | None
    decidedBy: str
    decidedAt: datetime


# --- personal data's end, dead letters ---------------------------------------------------------


class RouteCommand(TypedDict):
    """``cn.gov.pds.hub.RouteCommand.v1`` (``hub.reroute``): the lifecycle's command to routing."""

    petitionId: str
    kind: str
    unit: str | None
    at: datetime


class PrivacyEvent(TypedDict):
    """``cn.gov.pds.hub.PrivacyEvent.v1`` (``hub.privacy``)."""

    petitionId: str
    kind: str
    reason: str
    at: datetime
    reference: str | None
    requestedBy: str | None
    closedAt: datetime | None
    petitionPartition: int | None
    petitionOffset: int | None
    revision: int | None
    fields: list[str]


class DeadLetter(TypedDict):
    """``cn.gov.pds.hub.DeadLetter.v2`` (``hub.deadletter``): a refused record, sealed."""

    id: str
    sourceTopic: str
    sourcePartition: int
    sourceOffset: int
    sourceTimestamp: datetime | None
    connector: str
    reason: str
    errorClass: str
    message: str
    deadLetteredAt: datetime
    valueSize: int
    sealed: bytes
    redriveOf: str | None
    truncated: NotRequired[bool]  # v2
    originalSha256: NotRequired[str | None]  # v2


class OriginalHeader(TypedDict):
    key: str
    value: bytes | None


class Original(TypedDict):
    """``cn.gov.pds.hub.Original.v1``: the refused record inside a dead letter's seal."""

    value: bytes | None
    headers: list[OriginalHeader]


class DeadLetterRedrive(TypedDict):
    """``cn.gov.pds.hub.DeadLetterRedrive.v1``: the marker of a dead letter sent again."""

    deadLetterId: str
    redrivenAt: datetime
    via: str
    target: str
    outcome: str


# --- the provincial platform's records (its contract's names) ----------------------------------


class DispatchAttachment(TypedDict):
    name: str
    url: str
    sha256: str | None


class DispatchPetitioner(TypedDict):
    kind: str
    name: str
    uscc: str | None
    idNumber: str | None
    contactName: str | None
    phone: str


class Dispatch(TypedDict):
    """``cn.gov.ha.petition.Dispatch.v2``: a petition the province dispatches (read by the
    province connector)."""

    dispatchId: str
    originChannel: str
    receivedAt: datetime
    petitioner: DispatchPetitioner
    category: str
    subject: str
    content: str
    regionCode: str
    targetCity: str
    confidential: bool
    provincialDeadline: NotRequired[datetime | None]  # v2
    attachments: NotRequired[list[DispatchAttachment]]  # v2


class Transfer(TypedDict):
    """``cn.gov.ha.petition.Transfer.v1`` (``province.transfers``): another city's matter."""

    transferId: str
    fromCity: str
    regionCode: str | None
    reason: str
    receivedAt: datetime
    category: str
    subject: str
    content: str
    petitioner: DispatchPetitioner


class Feedback(TypedDict):
    """``cn.gov.ha.petition.Feedback.v1`` (``province.feedback``): a dispatch's progress."""

    dispatchId: str
    cityCode: str
    status: str
    handlingUnit: str | None
    message: str | None
    deadline: datetime | None
    satisfaction: str | None
    updatedAt: datetime
