"""The hub's codec: every schema name, and one builder or reader per record the hub writes or reads.

The edge between the domain and the wire. The domain knows no wire field name; the agents call
the builders here with domain objects and typed values and get the typed record
(:mod:`petition_hub.schemas.records`) that :func:`petition_hub.schemas.encode` writes, and call
the readers on what :func:`petition_hub.schemas.decode` gives. How a domain value is spelled on
the wire (an enum's member NAME or its value, a datetime as timestamp-millis) is decided here.

- Builders (``*_record``): petition, evaluation, unit petition, routed, feedback, transfer,
  rejection, privacy event, route command (the lifecycle's own records:
  :mod:`.lifecycle_codec`).
- Readers: :func:`petition_of` and :func:`evaluation_of` (the domain objects), ``read_*`` (the
  typed record of a decoded one: routed, unit status, office decision, evaluation, lifecycle and
  SLA events, privacy event, rejection, dead letter, unit petition, dispatch). A reader trusts the
  topic: it is called on records of the topic that carries that schema (versions of one record
  are backward compatible, and a field added later is ``NotRequired`` in the type).

Nothing here does I/O or imports :mod:`petition_hub.schemas` (which imports the names from here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from pydantic import BaseModel

from petition_hub.domain.petition import (
    Channel,
    Evaluation,
    Petition,
    PetitionerKind,
    PetitionType,
    Satisfaction,
    Urgency,
)
from petition_hub.domain.repeats import petition_matter

from . import records as wire

if TYPE_CHECKING:  # annotations only: the schemas stay light to import
    from petition_hub.domain.routing import RoutingDecision

_Record = TypeVar("_Record")

# --- schema names ------------------------------------------------------------------------------

#: The provincial platform's (its contract's ids 101, 102, 201, 202).
DISPATCH_V1: Final = "cn.gov.ha.petition.Dispatch.v1"
DISPATCH_V2: Final = "cn.gov.ha.petition.Dispatch.v2"
FEEDBACK_V1: Final = "cn.gov.ha.petition.Feedback.v1"
TRANSFER_V1: Final = "cn.gov.ha.petition.Transfer.v1"
#: The hub's own (1001+); the latest version of each record is the one the hub writes.
#: ``Petition``: v1 carries the channel as an Avro enum (a new channel would be a new version);
#: v2 as a string (the ``Channel`` member's name). hub.petitions is compacted: v1 is still read.
PETITION_V1: Final = "cn.gov.pds.hub.Petition.v1"
PETITION_V2: Final = "cn.gov.pds.hub.Petition.v2"
#: The version of ``Petition`` the hub writes; readers take any version (the id says which).
PETITION: Final = PETITION_V2
#: ``Routed``, ``UnitPetition`` and ``Evaluation`` did the same: their v1 (``UnitPetition`` v1 and
#: v2) carry the channel as an Avro enum, their next version as a string; the hub writes the latter.
EVALUATION_V1: Final = "cn.gov.pds.hub.Evaluation.v1"
EVALUATION_V2: Final = "cn.gov.pds.hub.Evaluation.v2"
DEADLETTER_V1: Final = "cn.gov.pds.hub.DeadLetter.v1"
DEADLETTER_V2: Final = "cn.gov.pds.hub.DeadLetter.v2"
ORIGINAL_V1: Final = "cn.gov.pds.hub.Original.v1"
REDRIVE_V1: Final = "cn.gov.pds.hub.DeadLetterRedrive.v1"
UNIT_PETITION_V1: Final = "cn.gov.pds.hub.UnitPetition.v1"
UNIT_PETITION_V2: Final = "cn.gov.pds.hub.UnitPetition.v2"
UNIT_PETITION_V3: Final = "cn.gov.pds.hub.UnitPetition.v3"
OFFICE_DECISION_V1: Final = "cn.gov.pds.hub.OfficeDecision.v1"
#: v2 adds ``RATING_UPHELD`` / ``RATING_VOIDED`` (the office's decision on a unit's dispute).
OFFICE_DECISION_V2: Final = "cn.gov.pds.hub.OfficeDecision.v2"
REJECTION_V1: Final = "cn.gov.pds.hub.Rejection.v1"
UNIT_STATUS_V1: Final = "cn.gov.pds.hub.UnitStatus.v1"
#: v2 adds ``OPINION`` (a co-handler's 协办意见), ``replyKind`` and ``eventId``; the units write it
#: (the hub reads both: a v1 reply is a resolved one).
UNIT_STATUS_V2: Final = "cn.gov.pds.hub.UnitStatus.v2"
#: v3 adds ``RATING_DISPUTED`` (the lead unit disputes a 不满意, its reason in ``note``).
UNIT_STATUS_V3: Final = "cn.gov.pds.hub.UnitStatus.v3"
#: v4 adds ``author`` (who in the unit did it: a staff account name, e.g. the console's user).
UNIT_STATUS_V4: Final = "cn.gov.pds.hub.UnitStatus.v4"
ROUTED_V1: Final = "cn.gov.pds.hub.Routed.v1"
ROUTED_V2: Final = "cn.gov.pds.hub.Routed.v2"
ROUTED_V3: Final = "cn.gov.pds.hub.Routed.v3"
#: v4 adds ``repeatOf`` (a 12345 repeat's earlier case).
ROUTED_V4: Final = "cn.gov.pds.hub.Routed.v4"
#: v5 adds ``matterKey`` (the enterprise matter: credit code and theme, hashed).
ROUTED_V5: Final = "cn.gov.pds.hub.Routed.v5"
LIFECYCLE_V1: Final = "cn.gov.pds.hub.LifecycleEvent.v1"
LIFECYCLE_V2: Final = "cn.gov.pds.hub.LifecycleEvent.v2"
#: v3 adds ``replyKind`` (resolved / explained) and the ``co_handler_opinion`` kind.
LIFECYCLE_V3: Final = "cn.gov.pds.hub.LifecycleEvent.v3"
#: v4 adds ``disputeOutcome`` and ``ratedAt`` (the ``rating_disputed`` / ``dispute_decided``
#: kinds).
LIFECYCLE_V4: Final = "cn.gov.pds.hub.LifecycleEvent.v4"
#: v5 is v4 plus the repeats' fields (``repeatOf``; ``repeat_linked``: the repeat's id,
#: channel, ref); the hub writes it.
LIFECYCLE_V5: Final = "cn.gov.pds.hub.LifecycleEvent.v5"
SLA_V1: Final = "cn.gov.pds.hub.SlaEvent.v1"
SLA_V2: Final = "cn.gov.pds.hub.SlaEvent.v2"
NOTICE_V1: Final = "cn.gov.pds.hub.UnitNotice.v1"
NOTICE_V2: Final = "cn.gov.pds.hub.UnitNotice.v2"
#: v3 adds the ``event_refused`` notice's fields (the unit's own source, the event, the reason)
#: and ``fromUnit`` (a ``co_handler_opinion``'s co-handler).
NOTICE_V3: Final = "cn.gov.pds.hub.UnitNotice.v3"
PRIVACY_EVENT_V1: Final = "cn.gov.pds.hub.PrivacyEvent.v1"
ROUTE_COMMAND_V1: Final = "cn.gov.pds.hub.RouteCommand.v1"
SUPERVISION_V1: Final = "cn.gov.pds.hub.Supervision.v1"
#: The lifecycle's repeat links (``<app>-repeat-links``).
REPEAT_LINK_V1: Final = "cn.gov.pds.hub.RepeatLink.v1"
#: v2 adds the enterprise matter index (``CLAIM``, ``REGISTER``, ``UNREGISTER``; ``matterKey``).
REPEAT_LINK_V2: Final = "cn.gov.pds.hub.RepeatLink.v2"

#: Records (every version of one: :func:`petition_hub.schemas.record_ids`).
DEADLETTER_RECORD: Final = "cn.gov.pds.hub.DeadLetter"
UNIT_PETITION_RECORD: Final = "cn.gov.pds.hub.UnitPetition"
LIFECYCLE_RECORD: Final = "cn.gov.pds.hub.LifecycleEvent"
SLA_RECORD: Final = "cn.gov.pds.hub.SlaEvent"
UNIT_STATUS_RECORD: Final = "cn.gov.pds.hub.UnitStatus"

#: The provincial contract's category of a petition type (政策咨询 -> POLICY_CONSULTATION).
_PROVINCE_CATEGORY: Final = {
    "政策咨询": "POLICY_CONSULTATION",
    "意见建议": "SUGGESTION",
    "法律维权": "LEGAL_RIGHTS",
    "困难求助": "DIFFICULTY_ASSISTANCE",
    "举报投诉": "REPORT_COMPLAINT",
    "其他诉求": "OTHER",
}


# --- the petition and the evaluation (hub.petitions, the evaluations' repartition) -------------
# Field names are the model's; enums are written as their member NAMES (Avro symbols must be ASCII
# identifiers, and 政策咨询 is not one); timestamps are timestamp-millis, UTC.


def _dump(model: BaseModel | None) -> Any:
    return None if model is None else model.model_dump()


def petition_record(p: Petition) -> wire.Petition:
    """``Petition.v2`` of ``p`` (schema id 1024; v1, 1001, has the same fields)."""
    petitioner = p.petitioner
    return {
        "petition_id": p.petition_id,
        "channel": p.channel.name,
        "channel_ref": p.channel_ref,
        "revision": p.revision,
        "repeat_of_ref": p.repeat_of_ref,
        "repeat_of": p.repeat_of,
        "received_at": p.received_at,
        "petition_type": None if p.petition_type is None else p.petition_type.name,
        "channel_category": p.channel_category,
        "urgency": p.urgency.name,
        "title": p.title,
        "content": p.content,
        "region_code": p.region_code,
        "region_name": p.region_name,
        "target_city": p.target_city,
        "origin_channel": p.origin_channel,
        "location": _dump(p.location),
        "attachments": [cast(wire.Attachment, a.model_dump()) for a in p.attachments],
        "operator_note": p.operator_note,
        "provincial_deadline": p.provincial_deadline,
        "enterprise": _dump(p.enterprise),
        "petitioner": {
            "kind": petitioner.kind.name,
            "name": petitioner.name,
            "phone": petitioner.phone,
            "id_number": petitioner.id_number,
            "openid": petitioner.openid,
            "contact_name": petitioner.contact_name,
        },
        "confidential": p.confidential,
        "disclosure_authorized": p.disclosure_authorized,
        "flags": list(p.flags),
    }


def petition_of(record: Mapping[str, Any]) -> Petition:
    """The petition of a decoded ``Petition`` record (inverse of :func:`petition_record`).
    Raises ``pydantic.ValidationError`` on an inconsistent record."""
    data = dict(record)
    data["channel"] = Channel[data["channel"]]
    data["urgency"] = Urgency[data["urgency"]]
    if data.get("petition_type") is not None:
        data["petition_type"] = PetitionType[data["petition_type"]]
    petitioner = dict(data["petitioner"])
    petitioner["kind"] = PetitionerKind[petitioner["kind"]]
    data["petitioner"] = petitioner
    data["attachments"] = tuple(data.get("attachments") or ())
    data["flags"] = tuple(data.get("flags") or ())
    return Petition.model_validate(data)


def evaluation_record(e: Evaluation, *, petition_id: str | None = None) -> wire.Evaluation:
    """``Evaluation.v2`` of ``e`` (schema id 1028); ``petition_id``: the hub id it is for, when
    it is not the evaluation's own (a provincial dispatch's call-back names it by petitionRef)."""
    return {
        "channel": e.channel.name,
        "ref": e.ref,
        "petition_id": e.petition_id if petition_id is None else petition_id,
        "petition_ref": e.petition_ref,
        "satisfaction": e.satisfaction.name,
        "comment": e.comment,
        "evaluated_at": e.evaluated_at,
        "revision": e.revision,
    }


def evaluation_of(record: Mapping[str, Any]) -> Evaluation:
    """The evaluation of a decoded ``Evaluation`` record."""
    data = dict(record)
    data["channel"] = Channel[data["channel"]]
    data["satisfaction"] = Satisfaction[data["satisfaction"]]
    return Evaluation.model_validate(data)


# --- routing's records -------------------------------------------------------------------------


def unit_petition_record(
    petition: Petition,
    decision: RoutingDecision,
    *,
    role: str,
    routed_at: datetime,
    deadlines: tuple[datetime | None, bool, datetime | None, bool],
    deadline_note: str | None,
    mask: Callable[[str], str],
) -> wire.UnitPetition:
    """``UnitPetition.v3`` of ``decision`` for a recipient in ``role``. ``deadlines``: (sign-for,
    provisional, resolve, provisional); ``mask``: what every free text goes through (the
    petitioner's personal data masked, or unchanged); the contact fields only when the decision
    lets the units see them, the enterprise (no personal data) unless the theme is sensitive."""
    rec = decision.record
    loc = decision.location
    who = petition.petitioner
    contact_visible = decision.contact_visible
    sign_for, sign_for_provisional, resolve, resolve_provisional = deadlines
    enterprise = petition.enterprise if decision.enterprise_visible else None
    return {
        "petitionId": petition.petition_id,
        "revision": petition.revision,
        "channel": petition.channel.name,
        "channelRef": petition.channel_ref,
        "role": role,
        "leadUnit": decision.lead.key if decision.lead else None,
        "coUnits": [u.key for u in decision.co],
        "receivedAt": petition.received_at,
        "routedAt": routed_at,
        "petitionType": rec.petition_type,
        "urgency": petition.urgency.name,
        "title": None if petition.title is None else mask(petition.title),
        "content": mask(petition.content),
        "locationKind": loc.kind if loc else "unknown",
        "locationCode": loc.code if loc else None,
        "locationName": loc.name if loc else None,
        "enterpriseName": enterprise.name if enterprise else None,
        "enterpriseUscc": enterprise.uscc if enterprise else None,
        "contactName": (who.contact_name or who.name) if contact_visible else None,
        "contactPhone": who.phone if contact_visible else None,
        "identityWithheld": not contact_visible,
        "sensitive": decision.sensitive,
        "attachments": [
            {"name": None if a.name is None else mask(a.name), "url": a.url}
            for a in petition.attachments
        ],
        "signForDeadline": sign_for,
        "resolveDeadline": resolve,
        "provincialDeadline": petition.provincial_deadline,
        "deadlineNote": deadline_note,
        "signForDeadlineProvisional": sign_for_provisional,
        "resolveDeadlineProvisional": resolve_provisional,
        "repeatOf": petition.repeat_of,
        "rulesVersion": rec.rules_version,
        "theme": rec.theme,
        "themeName": rec.theme_name,
        "keywords": list(rec.keywords.get(rec.theme, ())) if rec.theme else [],
        "routingRule": rec.rule,
        "locationSource": loc.source if loc else None,
        "excludedUnits": list(rec.excluded),
        "reason": decision.reason,
        "explanation": mask(rec.explain()),
    }


def with_role(record: wire.UnitPetition, role: str) -> wire.UnitPetition:
    """``record`` for a recipient in another ``role`` (one record's deadlines serve them all)."""
    copy = record.copy()
    copy["role"] = role
    return copy


def transfer_record(petition: Petition, decision: RoutingDecision, city: str) -> wire.Transfer:
    """``Transfer.v1``: a local petition whose matter is another city's or province's."""
    who = petition.petitioner
    ent = petition.enterprise
    enterprise = who.kind is PetitionerKind.ENTERPRISE
    loc = decision.location
    return {
        "transferId": f"{city}-{petition.petition_id}",
        "fromCity": city,
        "regionCode": (loc.division or loc.code) if loc else petition.region_code,
        "reason": decision.reason or decision.record.rule,
        "receivedAt": petition.received_at,
        "category": _PROVINCE_CATEGORY.get(decision.record.petition_type or "", "OTHER"),
        "subject": petition.title or petition.content[:30],
        "content": petition.content,
        "petitioner": {
            "kind": "ENTERPRISE" if enterprise else "INDIVIDUAL",
            "name": (ent.name if enterprise and ent and ent.name else who.name) or "（未提供）",
            "uscc": ent.uscc if ent else None,
            "idNumber": who.id_number,
            "contactName": who.contact_name or (who.name if enterprise else None),
            # the contract requires a phone: a petition without one does not encode (EncodeError,
            # the routing stage rejects it with why), as before the codec; typed as it must be
            "phone": cast(str, who.phone),
        },
    }


def feedback_record(
    dispatch_id: str,
    city: str,
    status: str,
    message: str | None,
    at: datetime,
    *,
    handling_unit: str | None = None,
    due: datetime | None = None,
    satisfaction: Satisfaction | None = None,
) -> wire.Feedback:
    """``Feedback.v1`` about the provincial dispatch ``dispatch_id``: ``status`` in the
    contract's terms, ``due`` the resolve deadline."""
    return {
        "dispatchId": dispatch_id,
        "cityCode": city,
        "status": status,
        "handlingUnit": handling_unit,
        "message": message,
        "deadline": due,
        "satisfaction": satisfaction.name if satisfaction else None,
        "updatedAt": at,
    }


def routed_record(
    petition: Petition, decision: RoutingDecision, at: datetime, contact: bytes | None = None
) -> wire.Routed:
    """``Routed.v5``: a decision as the lifecycle needs it (no personal data in the clear;
    ``contact``: a provincial dispatch's call-back contact, already sealed; ``repeatOf``: the
    earlier case a 12345 repeat names; ``matterKey``: the enterprise matter, hashed)."""
    return {
        "petitionId": petition.petition_id,
        "revision": petition.revision,
        "kind": decision.kind.upper(),
        "lead": decision.lead.key if decision.lead else None,
        "co": [u.key for u in decision.co],
        "excluded": list(decision.record.excluded),
        "routedAt": at,
        "receivedAt": petition.received_at,
        "petitionType": decision.record.petition_type,
        "urgency": petition.urgency.name,
        "provincialDeadline": petition.provincial_deadline,
        "channel": petition.channel.name,
        "channelRef": petition.channel_ref,
        "rulesVersion": decision.record.rules_version,
        "theme": decision.record.theme,
        "rule": decision.record.rule,
        "reason": decision.reason,
        "callbackContact": contact,
        "repeatOf": petition.repeat_of,
        "matterKey": petition_matter(petition, decision.record.theme),
    }


def rejection_record(
    topic: str,
    partition: int,
    offset: int,
    petition_id: str | None,
    reason: str,
    message: str,
    at: datetime,
    original: bytes | None,
) -> wire.Rejection:
    """``Rejection.v1``: the record at ``topic``/``partition``/``offset`` (its value
    ``original``) is not applied, for ``reason``."""
    return {
        "sourceTopic": topic,
        "sourcePartition": partition,
        "sourceOffset": offset,
        "petitionId": petition_id,
        "reason": reason,
        "message": message,
        "rejectedAt": at,
        "original": original,
    }


# --- personal data's end -----------------------------------------------------------------------


def privacy_event_record(
    petition_id: str,
    kind: str,
    reason: str,
    at: datetime,
    *,
    reference: str | None = None,
    requested_by: str | None = None,
    closed_at: datetime | None = None,
    partition: int | None = None,
    offset: int | None = None,
    revision: int | None = None,
    fields: tuple[str, ...] = (),
) -> wire.PrivacyEvent:
    """``PrivacyEvent.v1`` (``kind``: ``erasure_requested``, ``erasure_due`` or ``erased``;
    ``reason``: ``RETENTION`` or ``REQUEST``)."""
    return {
        "petitionId": petition_id,
        "kind": kind.upper(),
        "reason": reason,
        "at": at,
        "reference": reference,
        "requestedBy": requested_by,
        "closedAt": closed_at,
        "petitionPartition": partition,
        "petitionOffset": offset,
        "revision": revision,
        "fields": list(fields),
    }


def route_command_record(
    petition_id: str, kind: str, at: datetime, unit: str | None = None
) -> wire.RouteCommand:
    """``RouteCommand.v1`` (``kind``: ``RETURNED``, with the unit that returned it, or
    ``CLOSED``)."""
    return {"petitionId": petition_id, "kind": kind, "unit": unit, "at": at}


# --- readers: the typed record of a decoded one (see the module's docstring) -------------------


def _reader(kind: Callable[..., _Record]) -> Callable[[Mapping[str, Any]], _Record]:
    """The reader of the records of type ``kind`` (what the stage trusts its topic to carry)."""

    def read(record: Mapping[str, Any]) -> _Record:
        return cast(_Record, record)

    read.__doc__ = f"A decoded record as a {kind.__name__} (any version of it)."
    return read


#: ``<app>-routed``.
read_routed = _reader(wire.Routed)
#: A unit's ``.status`` topic, re-keyed.
read_unit_status = _reader(wire.UnitStatus)
#: ``office.decisions``.
read_office_decision = _reader(wire.OfficeDecision)
#: The ratings' repartition, as written (its id may be another than the evaluation's own).
read_evaluation = _reader(wire.Evaluation)
#: ``hub.lifecycle`` (any version).
read_lifecycle_event = _reader(wire.LifecycleEvent)
#: ``hub.sla`` (any version).
read_sla_event = _reader(wire.SlaEvent)
#: ``office.supervision``, ``leadinggroup.supervision``.
read_supervision = _reader(wire.Supervision)
#: ``hub.privacy``.
read_privacy_event = _reader(wire.PrivacyEvent)
#: ``hub.reroute``.
read_route_command = _reader(wire.RouteCommand)
#: ``<app>-repeat-links``.
read_repeat_link = _reader(wire.RepeatLink)
#: ``hub.rejects``.
read_rejection = _reader(wire.Rejection)
#: ``hub.deadletter`` (any version).
read_dead_letter = _reader(wire.DeadLetter)
#: A unit's ``.petitions`` topic, ``hub.triage`` (any version).
read_unit_petition = _reader(wire.UnitPetition)
#: ``province.dispatch`` (any version).
read_dispatch = _reader(wire.Dispatch)
