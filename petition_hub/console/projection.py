"""What one record of the hub's topics tells the console: pure functions, no Kafka, no database.

:func:`project` turns a record (topic, partition, offset, key, value, headers) into a
:class:`Projection`: the history entry it makes (:class:`EventRow`, whose id makes the projection
idempotent: an event already in ``events`` changes nothing) and the facts it adds to the
petition's row, its units, extension requests and refusals. :mod:`.apply` merges them into the
database; the merge rules (a later routing wins, the lifecycle's state wins over routing's guess,
...) are there.

What each topic is read for (the records as the stages write them: ``schemas/*.avsc``,
``agents/routing_records.py``, ``agents/lifecycle_records.py``):

- ``<unit>.petitions`` ``UnitPetition`` (LEAD, CO_HANDLER) and ``hub.triage`` (TRIAGE): the
  petition as routing sent it (:class:`Routing`); a unit's copy also says who may see it.
- ``<unit>.petitions`` ``UnitNotice``: a history entry; ``event_refused`` also a refusal.
- ``hub.lifecycle`` ``LifecycleEvent``: state, lead, round, resolve deadline, rating
  (:class:`Lifecycle`); ``extension_requested`` / ``extension_answered`` the requests.
- ``hub.sla`` ``SlaEvent``: the ladder (overdue, listed supervision) and moved deadlines
  (:class:`Clock`).
- ``<unit>.status`` ``UnitStatus``, ``office.decisions`` ``OfficeDecision``: what a unit or the
  office asked for, with its author (history); ``hub.rejects`` ``Rejection``: a refusal;
  ``office.supervision`` / ``leadinggroup.supervision`` ``Supervision``: history.

Personal data: the petitioner's contact (``contactName``, ``contactPhone``, present only where
the petitioner consented) and the texts as the unit received them are sealed with the PII key
(:mod:`.sealing`, ``petitions.contact_sealed``); the plain ``title`` and ``content`` have
the contact's name and phone and every phone- or ID-shaped number masked, as are the units'
free texts (replies, notes) in the history.

Erasure: when the hub erases a petition's personal data (:mod:`petition_hub.service.erasure`),
the console drops its own copy: the sealed contact and texts, the masked texts (they may still
quote the petitioner by a name the masker did not know) and the free texts of its history. It
acts on the routing stage's order (``erasure_due``: the hub's decision, taken by the owner of the
petition; the eraser may find nothing left to redact on ``hub.petitions`` and then writes no
``erased``, while the console's copy came from the unit topics) and on the eraser's ``erased``
(the same erasure, later on the same partition: applying it again changes nothing). An
``erasure_requested`` is history only: the hub may refuse it (an unknown petition).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from petition_hub import schemas
from petition_hub.domain.privacy import Personal, mask_text, text_masker
from petition_hub.service.crypto import PiiCipher
from petition_hub.topics import names

from .sealing import seal_personal

__all__ = [
    "Clock",
    "Erasure",
    "EventRow",
    "Extension",
    "Lifecycle",
    "Projection",
    "Record",
    "RefusalRow",
    "Routing",
    "project",
]

#: The CloudEvents id header (the hub's stable event id).
ID_HEADER: Final = "ce_id"

#: The lifecycle states in which a unit handles the petition (在办), as the worker's lists.
HANDLING: Final = frozenset(
    {"routed", "signed_for", "in_progress", "waiting_material", "extended", "reopened"}
)
#: The states in which the unit is done with it (已办).
DONE: Final = frozenset({"replied", "evaluated", "closed"})


@dataclass(frozen=True)
class Record:
    """One record as read from a topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = ()

    @property
    def ref(self) -> str:
        """``topic:partition:offset``."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    def event_id(self) -> str:
        """The record's CloudEvents id, or its place when it has none (a unit's own record)."""
        for name, value in self.headers:
            if name == ID_HEADER and value:
                return value.decode(errors="replace")
        return self.ref


@dataclass(frozen=True)
class EventRow:
    """A history entry (``events``)."""

    event_id: str
    petition_id: str | None
    source: str
    at: datetime | None
    kind: str
    unit: str | None = None
    author: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    text: str | None = None
    reason: str | None = None
    round: int | None = None


@dataclass(frozen=True)
class Routing:
    """A petition as routing sent it (one ``UnitPetition``): newer (revision, routedAt) wins."""

    revision: int
    routed_at: datetime
    role: Literal["LEAD", "CO_HANDLER", "TRIAGE"]
    unit: str | None
    """The recipient (the topic's unit); None for triage."""
    lead: str | None
    co: tuple[str, ...]
    columns: Mapping[str, Any]
    """``petitions`` columns this copy sets (the routing's, the texts masked, contact sealed)."""


@dataclass(frozen=True)
class Lifecycle:
    """What a ``hub.lifecycle`` event says of the petition after it."""

    kind: str
    at: datetime
    to_state: str | None
    lead_unit: str | None
    round: int
    deadline: datetime | None
    deadline_provisional: bool
    closure: str | None
    satisfaction: str | None
    reply_kind: str | None
    repeat_of: str | None
    repeat_id: str | None
    """repeat_linked: the repeat joined to this case (it gets no lifecycle of its own)."""


@dataclass(frozen=True)
class Clock:
    """A ``hub.sla`` event."""

    clock: str
    signal: str
    at: datetime
    round: int
    deadline: datetime | None
    deadline_provisional: bool


@dataclass(frozen=True)
class Extension:
    """An extension request (``requested``), its answer (``answered``), or the office's decision
    that made it (``decided``: who decided, with the office's note)."""

    what: Literal["requested", "answered", "decided"]
    at: datetime
    unit: str | None = None
    days: int | None = None
    reason: str | None = None
    approved: bool | None = None
    author: str | None = None


@dataclass(frozen=True)
class RefusalRow:
    """An event the hub did not apply (``refusals``), from either record that reports it."""

    source_topic: str
    source_partition: int
    source_offset: int
    petition_id: str | None
    unit: str | None
    event_kind: str | None
    event_ref: str | None
    reason: str
    message: str | None
    at: datetime | None
    told: bool = False
    """From the unit's ``event_refused`` notice (its words are what the unit was told: they win
    over the ``hub.rejects`` record's short message, whichever is projected first)."""


@dataclass(frozen=True)
class Erasure:
    """The hub erased (or ordered the erasure of) a petition's personal data: the console keeps
    none of it from now on, whatever of the petition it projects later (:mod:`.apply`)."""

    at: datetime
    reason: str
    """``RETENTION`` (after closure) or ``REQUEST`` (the petitioner's)."""


@dataclass(frozen=True)
class Projection:
    """Everything one record adds to the console."""

    event: EventRow
    routing: Routing | None = None
    lifecycle: Lifecycle | None = None
    clock: Clock | None = None
    extension: Extension | None = None
    refusal: RefusalRow | None = None
    erasure: Erasure | None = None
    touches: tuple[str, ...] = field(default=())
    """Petition ids whose rows this record may change (besides the event's)."""


# --- helpers -------------------------------------------------------------------------------------


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _masked(text: str | None) -> str | None:
    return None if text is None else mask_text(text)


def _channel(value: Any) -> str | None:
    # UnitPetition.v3's channel is a string; v1/v2's an enum (fastavro gives its symbol, a str)
    return None if value is None else str(value)


# --- per record type -----------------------------------------------------------------------------


def _texts(
    v: Mapping[str, Any], cipher: PiiCipher
) -> tuple[Callable[[str], str], str | None, str, bytes | None]:
    """A unit copy's personal data: its masker (the contact's name and phone, every phone- or
    ID-shaped number; never the enterprise's name or credit code), the masked title and content,
    and what is sealed (the contact, and the texts where masking changed them)."""
    contact_name, contact_phone = v.get("contactName"), v.get("contactPhone")
    keep = tuple(x for x in (v.get("enterpriseName"), v.get("enterpriseUscc")) if x)
    mask = (
        text_masker(
            Personal(
                names=tuple(x for x in (contact_name,) if x),
                phones=tuple(x for x in (contact_phone,) if x),
                keep=keep,
            )
        )
        if contact_name or contact_phone or keep
        else mask_text  # no pattern of its own to compile: the shapes' only
    )
    title, content = v.get("title"), str(v.get("content") or "")
    masked_title = None if title is None else mask(title)
    masked_content = mask(content)
    sealed = seal_personal(
        cipher,
        {
            "contactName": contact_name,
            "contactPhone": contact_phone,
            "title": title if title != masked_title else None,
            "content": content if content != masked_content else None,
        },
    )
    return mask, masked_title, masked_content, sealed


def _unit_petition(rec: Record, v: Mapping[str, Any], cipher: PiiCipher) -> Projection:
    pid = str(v["petitionId"])
    role = str(v["role"])
    unit = None if role == "TRIAGE" else names.unit_of_topic(rec.topic)
    mask, masked_title, masked_content, sealed = _texts(v, cipher)
    lead = v.get("leadUnit")
    co = tuple(str(u) for u in v.get("coUnits") or ())
    location_kind = v.get("locationKind")
    routed_at = _utc(v["routedAt"])
    assert routed_at is not None
    explanation = v.get("explanation")
    columns: dict[str, Any] = {
        "channel": _channel(v.get("channel")),
        "channel_ref": v.get("channelRef"),
        "petition_type": v.get("petitionType"),
        "urgency": None if v.get("urgency") is None else str(v["urgency"]),
        "theme": v.get("theme"),
        "theme_name": v.get("themeName"),
        "county": v.get("locationCode") if location_kind == "county" else None,
        "location_kind": location_kind,
        "location_code": v.get("locationCode"),
        "location_name": v.get("locationName"),
        "title": masked_title,
        "content": masked_content,
        "enterprise_name": v.get("enterpriseName"),
        "enterprise_uscc": v.get("enterpriseUscc"),
        "contact_sealed": sealed,
        "identity_withheld": bool(v.get("identityWithheld")),
        "sensitive": bool(v.get("sensitive")),
        "received_at": _utc(v.get("receivedAt")),
        "routed_at": routed_at,
        "provincial_deadline": _utc(v.get("provincialDeadline")),
        "repeat_of": v.get("repeatOf"),
        "rules_version": v.get("rulesVersion"),
        "routing_rule": v.get("routingRule"),
        "routing_explanation": None if explanation is None else mask(explanation),
        "routing_reason": v.get("reason"),
        "excluded_units": [str(u) for u in v.get("excludedUnits") or ()],
        "co_units": list(co),
        "suggested_units": [u for u in (lead, *co) if u] if role == "TRIAGE" else [],
    }
    if role != "TRIAGE":
        columns["sign_for_deadline"] = _utc(v.get("signForDeadline"))
        columns["sign_for_deadline_provisional"] = bool(v.get("signForDeadlineProvisional"))
    columns["resolve_deadline"] = _utc(v.get("resolveDeadline"))
    columns["deadline_provisional"] = bool(v.get("resolveDeadlineProvisional"))
    routing = Routing(
        revision=int(v.get("revision") or 0),
        routed_at=routed_at,
        role=role,  # type: ignore[arg-type]  # the schema's enum: one of the three
        unit=unit,
        lead=lead,
        co=co,
        columns=columns,
    )
    event = EventRow(
        event_id=rec.event_id(),
        petition_id=pid,
        source=rec.topic,
        at=routed_at,
        kind="triage" if role == "TRIAGE" else "routed_to_unit",
        unit=unit,
        text=routing.columns["routing_explanation"],
        reason=v.get("reason") if role == "TRIAGE" else role,
    )
    return Projection(event=event, routing=routing)


def _unit_notice(rec: Record, v: Mapping[str, Any]) -> Projection:
    pid = str(v["petitionId"])
    unit = names.unit_of_topic(rec.topic)
    kind = str(v["kind"])
    at = _utc(v.get("at"))
    event = EventRow(
        event_id=rec.event_id(),
        petition_id=pid,
        source=rec.topic,
        at=at,
        kind=f"notice.{kind}",
        unit=unit,
        text=_masked(v.get("message")),
        reason=v.get("reason"),
    )
    refusal = None
    if kind == "event_refused" and v.get("sourceTopic") is not None:
        refusal = RefusalRow(
            source_topic=str(v["sourceTopic"]),
            source_partition=int(v.get("sourcePartition") or 0),
            source_offset=int(v.get("sourceOffset") or 0),
            petition_id=pid,
            unit=names.unit_of_topic(str(v["sourceTopic"])) or unit,
            event_kind=v.get("eventKind"),
            event_ref=v.get("eventRef"),
            reason=str(v.get("reason") or "refused"),
            message=_masked(v.get("message")),
            at=at,
            told=True,
        )
    return Projection(event=event, refusal=refusal)


def _lifecycle(rec: Record, v: Mapping[str, Any]) -> Projection:
    pid = str(v["petitionId"])
    kind = str(v["kind"])
    at = _utc(v["at"])
    assert at is not None
    life = Lifecycle(
        kind=kind,
        at=at,
        to_state=v.get("toState") if kind == "state_changed" else None,
        lead_unit=v.get("leadUnit"),
        round=int(v.get("round") or 0),
        deadline=_utc(v.get("deadline")),
        deadline_provisional=bool(v.get("deadlineProvisional")),
        closure=v.get("closure"),
        satisfaction=v.get("satisfaction"),
        reply_kind=v.get("replyKind"),
        repeat_of=v.get("repeatOf"),
        repeat_id=v.get("repeatId") if kind == "repeat_linked" else None,
    )
    extension = None
    if kind == "extension_requested":
        extension = Extension(
            "requested",
            at,
            unit=v.get("unit"),
            days=v.get("extensionDays"),
            reason=_masked(v.get("note")),
        )
    elif kind == "extension_answered":
        extension = Extension(
            "answered", at, unit=v.get("unit"), days=v.get("extensionDays"), approved=v["approved"]
        )
    text = _masked(v.get("note"))
    if kind == "repeat_linked":
        text = f"{v.get('repeatChannel')} {v.get('repeatRef')} → {v.get('repeatId')}"
    elif kind == "dispute_decided":
        text = v.get("disputeOutcome")
    event = EventRow(
        event_id=rec.event_id(),
        petition_id=pid,
        source=rec.topic,
        at=at,
        kind=kind,
        unit=v.get("unit"),
        from_state=v.get("fromState"),
        to_state=v.get("toState"),
        text=text,
        reason=v.get("cause"),
        round=life.round,
    )
    touches = (life.repeat_id,) if life.repeat_id else ()
    return Projection(event=event, lifecycle=life, extension=extension, touches=touches)


def _sla(rec: Record, v: Mapping[str, Any]) -> Projection:
    pid = str(v["petitionId"])
    at = _utc(v["at"])
    assert at is not None
    clock = Clock(
        clock=str(v["clock"]),
        signal=str(v["signal"]),
        at=at,
        round=int(v.get("round") or 0),
        deadline=_utc(v.get("deadline")),
        deadline_provisional=bool(v.get("deadlineProvisional")),
    )
    event = EventRow(
        event_id=rec.event_id(),
        petition_id=pid,
        source=rec.topic,
        at=at,
        kind=f"sla.{clock.clock}.{clock.signal}",
        unit=v.get("unit"),
        round=clock.round,
    )
    return Projection(event=event, clock=clock)


def _unit_status(rec: Record, v: Mapping[str, Any]) -> Projection:
    kind = str(v["kind"])
    text = v.get("replyText") if kind == "REPLIED" else v.get("note")
    if kind == "EXTENSION_REQUESTED" and v.get("extensionDays") is not None:
        text = f"{v['extensionDays']}: {text or ''}".rstrip(": ")
    event = EventRow(
        event_id=rec.event_id(),
        petition_id=str(v["petitionId"]),
        source=rec.topic,
        at=_utc(v.get("at")),
        kind=f"status.{kind}",
        unit=names.unit_of_topic(rec.topic),
        author=v.get("author"),  # UnitStatus.v4 and later
        text=_masked(text),
        reason=None if v.get("replyKind") is None else str(v["replyKind"]),
    )
    return Projection(event=event)


def _office_decision(rec: Record, v: Mapping[str, Any]) -> Projection:
    kind = str(v["kind"])
    at = _utc(v.get("decidedAt"))
    author = v.get("decidedBy")
    co = ", ".join(v.get("coUnits") or ())
    text = f"{v.get('leadUnit')}; {co}" if kind == "TRIAGE_ROUTE" else _masked(v.get("note"))
    event = EventRow(
        event_id=rec.event_id(),
        petition_id=str(v["petitionId"]),
        source=rec.topic,
        at=at,
        kind=f"office.{kind}",
        unit=v.get("leadUnit"),
        author=author,
        text=text,
    )
    extension = None
    if kind in ("EXTENSION_APPROVED", "EXTENSION_REFUSED") and at is not None:
        extension = Extension(
            "decided",
            at,
            days=v.get("extensionDays"),
            reason=_masked(v.get("note")),
            approved=kind == "EXTENSION_APPROVED",
            author=author,
        )
    return Projection(event=event, extension=extension)


def _rejection(rec: Record, v: Mapping[str, Any]) -> Projection:
    pid = v.get("petitionId")
    at = _utc(v.get("rejectedAt"))
    source = str(v["sourceTopic"])
    message = _masked(v.get("message"))
    event = EventRow(
        event_id=rec.event_id(),
        petition_id=pid,
        source=rec.topic,
        at=at,
        kind="rejected",
        unit=names.unit_of_topic(source),
        text=message,
        reason=str(v["reason"]),
    )
    refusal = RefusalRow(
        source_topic=source,
        source_partition=int(v["sourcePartition"]),
        source_offset=int(v["sourceOffset"]),
        petition_id=pid,
        unit=names.unit_of_topic(source),
        event_kind=None,
        event_ref=None,
        reason=str(v["reason"]),
        message=message,
        at=at,
    )
    return Projection(event=event, refusal=refusal)


def _supervision(rec: Record, v: Mapping[str, Any]) -> Projection:
    event = EventRow(
        event_id=rec.event_id(),
        petition_id=str(v["petitionId"]),
        source=rec.topic,
        at=_utc(v.get("at")),
        kind=f"supervision.{v['step']}",
        unit=v.get("unit"),
        text=_masked(v.get("message")),
        reason=str(v.get("clock")),
        round=int(v.get("round") or 0),
    )
    return Projection(event=event)


#: The hub.privacy kinds on which the console erases its copy (see the module's docstring).
ERASING: Final = frozenset({"ERASURE_DUE", "ERASED"})


def _privacy(rec: Record, v: Mapping[str, Any]) -> Projection:
    kind = str(v["kind"])
    at = _utc(v["at"])
    assert at is not None
    reason = str(v["reason"])
    # field names (ERASED) and the request's reference (a ticket number): never a value
    text = ", ".join(v.get("fields") or ()) if kind == "ERASED" else v.get("reference")
    event = EventRow(
        event_id=rec.event_id(),
        petition_id=str(v["petitionId"]),
        source=rec.topic,
        at=at,
        kind=f"privacy.{kind.lower()}",
        author=v.get("requestedBy"),
        text=text or None,
        reason=reason,
    )
    erasure = Erasure(at, reason) if kind in ERASING else None
    return Projection(event=event, erasure=erasure)


_BY_RECORD: Final = {
    "cn.gov.pds.hub.LifecycleEvent": _lifecycle,
    "cn.gov.pds.hub.SlaEvent": _sla,
    "cn.gov.pds.hub.UnitNotice": _unit_notice,
    "cn.gov.pds.hub.UnitStatus": _unit_status,
    "cn.gov.pds.hub.OfficeDecision": _office_decision,
    "cn.gov.pds.hub.Rejection": _rejection,
    "cn.gov.pds.hub.Supervision": _supervision,
    "cn.gov.pds.hub.PrivacyEvent": _privacy,
}


def project(rec: Record, cipher: PiiCipher) -> Projection | None:
    """What ``rec`` adds to the console; None for a record it does not read (a tombstone, a
    record of another type). Raises :class:`petition_hub.schemas.WireFormatError` for a value
    that does not decode (the caller skips it: a record the console cannot read must not stop
    it)."""
    if not rec.value:
        return None
    sid, value = schemas.decode(rec.value)
    name = schemas.record_name(sid)
    if name == "cn.gov.pds.hub.UnitPetition":
        return _unit_petition(rec, value, cipher)
    handler = _BY_RECORD.get(name)
    return None if handler is None else handler(rec, value)
