"""What a person does in the console, as the records the hub already reads.

- A unit's clerk: each action is the ``UnitStatus.v4`` record a unit system writes to its own
  ``<unit>.status`` topic (key: the petition id), with ``author`` the clerk's account and an
  ``eventId`` of its own (a refusal coming back names it).
- The joint-meeting office: ``OfficeDecision`` on ``office.decisions`` (``TRIAGE_ROUTE`` with
  lead and co-handlers, ``EXTENSION_APPROVED`` with days, ``EXTENSION_REFUSED`` with the reason),
  ``decidedBy`` the office account.

Before a record is sent, what the hub would refuse is refused here, with the hub's own reason
(:class:`Refused`): the petition as the read model holds it is turned into the lifecycle's
:class:`~petition_hub.domain.lifecycle.PetitionState` and the record into its domain event by the
lifecycle's own reader (``agents.lifecycle_events.input_event``), and the pure state machine
(``domain.lifecycle.apply``) decides. The read model may lag the hub by a moment, so the hub still
has the last word: a refusal it sends later (a ``UnitNotice`` ``event_refused``) is projected into
``refusals`` and shown on the petition's page.

Every record carries CloudEvents headers (source ``/petition-hub/console``) like the hub's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from petition_hub import schemas
from petition_hub.agents.lifecycle_events import input_event
from petition_hub.agents.rekeyers import UNIT_HEADER
from petition_hub.domain.calendar import CalendarUnavailable
from petition_hub.domain.lifecycle import (
    ExtensionDecided,
    ExtensionStatus,
    LifecycleState,
    PetitionState,
    Rejection,
    RejectReason,
    TriageRouted,
    apply,
)
from petition_hub.domain.petition import Channel, PetitionType, Urgency
from petition_hub.domain.routing.model import UnitRef
from petition_hub.domain.rules import RuleSet
from petition_hub.domain.sla import resolve_clock, sign_for_clock
from petition_hub.runtime.cloudevents import source_of, stamp
from petition_hub.runtime.records import SourceRecord
from petition_hub.schemas import codec
from petition_hub.schemas import records as wire
from petition_hub.topics.names import DECISIONS as OFFICE_DECISIONS

__all__ = [
    "OFFICE_KINDS",
    "UNIT_KINDS",
    "ActionError",
    "Outbound",
    "Refused",
    "Sender",
    "office_decision",
    "petition_state",
    "unit_status",
]

#: What a unit's clerk may do (UnitStatus kinds), with the form's fields.
UNIT_KINDS: Final = (
    "SIGNED_FOR",
    "IN_PROGRESS",
    "MATERIAL_REQUESTED",
    "MATERIAL_RECEIVED",
    "EXTENSION_REQUESTED",
    "REPLIED",
    "RETURNED",
    "OPINION",
)
#: What the office decides here.
OFFICE_KINDS: Final = ("TRIAGE_ROUTE", "EXTENSION_APPROVED", "EXTENSION_REFUSED")
#: The console as a CloudEvents source.
SOURCE: Final = source_of("console")
#: The longest free text a form takes (a reply, a reason): the hub's topics carry no essays.
MAX_TEXT: Final = 4000

#: The hub's reasons, as a clerk reads them (the code stays beside them: it is what the hub says).
REASON_TEXTS: Final[Mapping[str, str]] = {
    RejectReason.UNKNOWN_PETITION: "中枢不知道这件诉求",
    RejectReason.PETITION_CLOSED: "诉求已办结关闭",
    RejectReason.NOT_A_HANDLER: "本单位不是这件诉求的承办单位",
    RejectReason.NOT_THE_LEAD: "只有主办单位可以这样做；协办单位只能提出协办意见",
    RejectReason.OPINION_FROM_LEAD: "主办单位以答复作答；协办意见是协办单位的",
    RejectReason.EMPTY_OPINION: "协办意见不能为空",
    RejectReason.WRONG_STATE: "诉求当前的状态不允许这样做",
    RejectReason.NOT_SIGNED_FOR: "请先签收",
    RejectReason.REPLY_BEFORE_SIGN_FOR: "签收之前不能答复",
    RejectReason.EMPTY_REPLY: "答复内容不能为空",
    RejectReason.RETURN_WINDOW_PASSED: "签收时限已过，不能再退回",
    RejectReason.EXTENSION_ALREADY_REQUESTED: "已经申请过延期",
    RejectReason.EXTENSION_NOT_APPLICABLE: "按小时计的时限不能延期",
    RejectReason.EXTENSION_TOO_LONG: "申请的延期天数超过上限",
    RejectReason.NO_EXTENSION_PENDING: "没有待审批的延期申请",
    "not_in_triage": "诉求不在待分办（研判）队列中",
    "unknown_unit": "规则中没有这个单位",
    "invalid": "填写的内容不完整或不正确",
}


class ActionError(ValueError):
    """A form that cannot become a record (a field missing or out of range): ``reason``
    ``invalid`` with what is wrong."""

    reason = "invalid"


@dataclass(frozen=True)
class Refused(Exception):  # an answer (the hub's reason), not a failure of the console
    """The hub would refuse the action: its reason code and detail (as ``hub.rejects`` says)."""

    reason: str
    detail: str

    @property
    def text(self) -> str:
        """The reason as a clerk reads it."""
        return REASON_TEXTS.get(self.reason, self.reason)


@dataclass(frozen=True)
class Outbound:
    """One record to send: topic, key, Avro value, headers."""

    topic: str
    key: bytes
    value: bytes
    headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)
    event_id: str = ""


#: Sends records and returns once the broker acknowledged them (the console's producer).
Sender = Callable[[Sequence[Outbound]], Awaitable[None]]


def _text(value: str | None, what: str, required: bool = True) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise ActionError(f"{what} is required")
        return None
    if len(text) > MAX_TEXT:
        raise ActionError(f"{what}: at most {MAX_TEXT} characters")
    return text


def _days(value: int | None) -> int:
    if value is None or not 1 <= value <= 365:
        raise ActionError("days: a whole number of working days, 1 to 365")
    return value


def status_topic(unit: str) -> str:
    """The ``.status`` topic of a unit key (``dept.TAX`` → ``dept.TAX.status``)."""
    return f"{unit}.status"


def unit_status(
    petition_id: str,
    unit: str,
    kind: str,
    author: str,
    *,
    at: datetime,
    note: str | None = None,
    reply_text: str | None = None,
    reply_kind: str | None = None,
    days: int | None = None,
) -> Outbound:
    """The ``UnitStatus.v4`` record of a clerk's action; :class:`ActionError` when a field the
    kind needs is missing."""
    if kind not in UNIT_KINDS:
        raise ActionError(f"not an action: {kind}")
    record: wire.UnitStatus = {
        "petitionId": petition_id,
        "kind": kind,
        "at": at,
        "note": None,
        "replyText": None,
        "extensionDays": None,
        "replyKind": None,
        "eventId": f"console-{uuid.uuid4().hex}",
        "author": author,
    }
    if kind == "MATERIAL_REQUESTED":
        record["note"] = _text(note, "what material is needed")
    elif kind == "EXTENSION_REQUESTED":
        record["note"] = _text(note, "the reason")
        record["extensionDays"] = _days(days)
    elif kind == "REPLIED":
        if reply_kind not in ("RESOLVED", "EXPLAINED"):
            raise ActionError("the reply's kind: RESOLVED (问题解决) or EXPLAINED (解释说明)")
        record["replyKind"] = reply_kind
        record["replyText"] = _text(reply_text, "the reply")
    elif kind == "RETURNED":
        record["note"] = _text(note, "the reason")
    elif kind == "OPINION":
        record["note"] = _text(note, "the opinion")
    else:
        record["note"] = _text(note, "the note", required=False)
    value = schemas.encode(codec.UNIT_STATUS_V4, record)
    event_id = str(record["eventId"])
    headers = stamp([], value, event_id=event_id, source=SOURCE, time=at)
    return Outbound(status_topic(unit), petition_id.encode(), value, tuple(headers), event_id)


def office_decision(
    petition_id: str,
    kind: str,
    decided_by: str,
    *,
    at: datetime,
    lead: str | None = None,
    co: Sequence[str] = (),
    days: int | None = None,
    note: str | None = None,
) -> Outbound:
    """The ``OfficeDecision`` record of an office decision; :class:`ActionError` when a field the
    kind needs is missing."""
    if kind not in OFFICE_KINDS:
        raise ActionError(f"not a decision: {kind}")
    record: wire.OfficeDecision = {
        "petitionId": petition_id,
        "kind": kind,
        "leadUnit": None,
        "coUnits": [],
        "extensionDays": None,
        "note": None,
        "decidedBy": decided_by,
        "decidedAt": at,
    }
    if kind == "TRIAGE_ROUTE":
        record["leadUnit"] = _text(lead, "the lead unit")
        record["coUnits"] = [c.strip() for c in co if c.strip() and c.strip() != lead]
        record["note"] = _text(note, "the note", required=False)
    elif kind == "EXTENSION_APPROVED":
        record["extensionDays"] = _days(days)
        record["note"] = _text(note, "the note", required=False)
    else:
        record["note"] = _text(note, "the reason")
    value = schemas.encode(codec.OFFICE_DECISION_V2, record)
    event_id = f"console-{uuid.uuid4().hex}"
    headers = stamp([], value, event_id=event_id, source=SOURCE, time=at)
    return Outbound(OFFICE_DECISIONS, petition_id.encode(), value, tuple(headers), event_id)


@dataclass(frozen=True)
class ReadPetition:
    """What the read model knows of a petition that the state machine needs."""

    petition_id: str
    state: str | None
    channel: str | None
    petition_type: str | None
    urgency: str | None
    received_at: datetime | None
    routed_at: datetime | None
    provincial_deadline: datetime | None
    lead_unit: str | None
    co_units: Sequence[str]
    round: int
    extension_requests: int
    extension_pending: bool
    updated_at: datetime | None


def _enum(kind: Any, value: str | None, default: Any = None) -> Any:
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        try:
            return kind[value.upper()]
        except KeyError:
            return default


def petition_state(p: ReadPetition) -> PetitionState | None:
    """The lifecycle's state of a petition as far as the read model knows it (clocks
    recomputed from its times with the hub's policy and calendar); None when it cannot be
    rebuilt (the hub decides alone then)."""
    state = _enum(LifecycleState, p.state)
    channel = _enum(Channel, p.channel)
    if state is None or channel is None or p.received_at is None:
        return None
    urgency = _enum(Urgency, p.urgency, Urgency.NORMAL)
    ptype = _enum(PetitionType, p.petition_type)
    try:
        resolve = resolve_clock(p.received_at, ptype, urgency, p.provincial_deadline)
        sign_for = None if p.routed_at is None else sign_for_clock(p.routed_at, urgency)
    except CalendarUnavailable:
        return None
    extension = ExtensionStatus.PENDING if p.extension_pending else ExtensionStatus.NONE
    if state is LifecycleState.EXTENDED:
        extension = ExtensionStatus.APPROVED
    updated = max(t for t in (p.received_at, p.routed_at, p.updated_at) if t is not None)
    return PetitionState(
        petition_id=p.petition_id,
        channel=channel,
        petition_type=ptype,
        urgency=urgency,
        received_at=p.received_at,
        provincial_deadline=p.provincial_deadline,
        state=state,
        lead_unit=p.lead_unit,
        co_units=tuple(p.co_units),
        sign_for=sign_for,
        resolve=resolve,
        extension=extension,
        extension_requests=p.extension_requests,
        reopens=p.round,
        round=p.round,
        updated_at=updated,
    )


def _verdict(state: PetitionState | None, event: Any, now: datetime) -> None:
    if state is None:
        return
    try:
        result = apply(state, event, now=now)
    except CalendarUnavailable:
        return  # the hub flags it and waits for the calendar: not the clerk's to know
    if isinstance(result, Rejection):
        raise Refused(str(result.reason), result.detail)


def check_unit_action(p: ReadPetition | None, out: Outbound, unit: str, now: datetime) -> None:
    """Raise :class:`Refused` with the hub's reason when the lifecycle would refuse ``out`` (a
    UnitStatus of ``unit``) for ``p`` (None: the read model has not seen it)."""
    if p is None:
        raise Refused(str(RejectReason.UNKNOWN_PETITION), "the console does not know it yet")
    headers = ((UNIT_HEADER, unit.encode()),)  # what the re-keyer stamps: the topic's unit
    src = SourceRecord(status_topic(unit), 0, 0, out.key, out.value, headers)
    _, event = input_event(src, "unit")
    _verdict(petition_state(p), event, now)


def check_office_decision(
    p: ReadPetition | None, kind: str, rules: RuleSet, now: datetime, **fields: Any
) -> None:
    """Raise :class:`Refused` when routing or the lifecycle would refuse the office's decision."""
    if p is None:
        raise Refused(str(RejectReason.UNKNOWN_PETITION), "the console does not know it yet")
    state = petition_state(p)
    if kind == "TRIAGE_ROUTE":
        if p.state != "triage":  # routing's own refusal
            raise Refused("not_in_triage", f"{p.petition_id} is not waiting in triage")
        try:
            lead = UnitRef.parse(fields.get("lead") or "", rules).key
            co = tuple(UnitRef.parse(c, rules).key for c in fields.get("co") or ())
        except ValueError as exc:
            raise Refused("unknown_unit", str(exc)) from None
        routed = TriageRouted(petition_id=p.petition_id, at=now, lead_unit=lead, co_units=co)
        _verdict(state, routed, now)
        return
    approved = kind == "EXTENSION_APPROVED"
    event = ExtensionDecided(
        petition_id=p.petition_id,
        at=now,
        approved=approved,
        days=fields.get("days") if approved else None,
        note=fields.get("note") or "",
    )
    _verdict(state, event, now)


def now_utc() -> datetime:
    """The console's clock (UTC)."""
    return datetime.now(UTC)
