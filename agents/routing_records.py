"""Routing's records: what a routing decision becomes on the wire, and the hub's rejections.

Pure encoding, no state: each builder takes the petition, the domain's decision and the times,
and returns the record (a dict for :func:`petition_hub.schemas.encode`) or the :class:`Output`.

- ``UnitPetition.v2`` (:func:`unit_record`): to a unit's ``.petitions`` topic or ``hub.triage``,
  with the deadlines the unit works to (:func:`deadlines`) and, when the petitioner's identity is
  withheld, the personal data masked.
- ``Transfer.v1`` (:func:`transfer_record`): to ``province.transfers``, another city's or
  province's matter.
- ``Feedback.v1`` (:func:`feedback`): to ``province.feedback``, about a provincial dispatch; the
  one builder of it, for routing (RETURNED: not this city's) and the lifecycle (every state change
  of a dispatch).
- ``Routed.v1`` (:func:`routed_record`): the hub-internal decision the lifecycle reads (no
  personal data).
- ``Rejection.v1`` (:func:`rejection`): to ``hub.rejects``, an event the hub does not apply, with
  why (routing, the lifecycle and the unit-status re-keyer all write it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, NamedTuple

import structlog

from petition_hub import schemas
from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar, default_calendar
from petition_hub.domain.petition import Petition, PetitionerKind, Satisfaction
from petition_hub.domain.privacy import Personal, text_masker
from petition_hub.domain.routing import RoutingDecision
from petition_hub.domain.sla import (
    ClockState,
    deadline,
    provisional,
    resolve_clock,
    sign_for_clock,
)
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.service import metrics
from petition_hub.topics import names
from petition_hub.topics.names import REJECTS, TRIAGE

log = structlog.get_logger(__name__)

TRANSFERS: Final = names.PROVINCE_TRANSFERS
FEEDBACK: Final = names.PROVINCE_FEEDBACK
UNIT_PETITION: Final = "cn.gov.pds.hub.UnitPetition.v2"
REJECTION_V1: Final = "cn.gov.pds.hub.Rejection.v1"
TRANSFER_V1: Final = "cn.gov.ha.petition.Transfer.v1"
FEEDBACK_V1: Final = "cn.gov.ha.petition.Feedback.v1"
ROUTED_V1: Final = "cn.gov.pds.hub.Routed.v1"

_PROVINCE_CATEGORY: Final = {
    "政策咨询": "POLICY_CONSULTATION",
    "意见建议": "SUGGESTION",
    "法律维权": "LEGAL_RIGHTS",
    "困难求助": "DIFFICULTY_ASSISTANCE",
    "举报投诉": "REPORT_COMPLAINT",
    "其他诉求": "OTHER",
}


class Deadlines(NamedTuple):
    """A unit record's deadlines, each with whether it was counted on a provisional year."""

    sign_for: datetime | None
    sign_for_provisional: bool
    resolve: datetime | None
    resolve_provisional: bool

    @property
    def note(self) -> str | None:
        """What a person needs to know about them (None when both are official)."""
        if self.resolve is None or self.sign_for is None:
            return "no working-day calendar for that year: the deadline is not known yet"
        if self.resolve_provisional or self.sign_for_provisional:
            return (
                "provisional: counted on the law's statutory holidays (补假 included); the "
                "State Council's arrangement (调休) for that year is not published yet, and the "
                "unit is told if the deadline moves when it is"
            )
        return None


def _deadline(
    make: Callable[[WorkingCalendar], ClockState], cal: WorkingCalendar
) -> tuple[datetime | None, bool]:
    """A clock's deadline and whether it is provisional; (None, False) when a year it needs has
    no calendar at all (flagged in a metric and logged once)."""
    try:
        clock = make(cal)
        due = deadline(clock, cal=cal)
    except CalendarUnavailable as exc:
        if metrics.flag_calendar_missing(exc.year):
            log.warning("no working-day calendar for a deadline", year=exc.year)
        return None, False
    return due, provisional(clock, due, cal=cal)


def deadlines(
    petition: Petition, routed_at: datetime, cal: WorkingCalendar | None = None
) -> Deadlines:
    """The sign-for deadline of a petition routed at ``routed_at`` and its resolve deadline, each
    computed on its own (one that cannot be known does not hide the other)."""
    c = cal or default_calendar()
    sign = _deadline(lambda c: sign_for_clock(routed_at, petition.urgency, cal=c), c)
    resolve = _deadline(
        lambda c: resolve_clock(
            petition.received_at,
            petition.petition_type,
            petition.urgency,
            petition.provincial_deadline,
            cal=c,
        ),
        c,
    )
    return Deadlines(*sign, *resolve)


def unit_record(
    petition: Petition,
    decision: RoutingDecision,
    role: str,
    routed_at: datetime,
    cal: WorkingCalendar | None = None,
) -> dict[str, Any]:
    """The ``UnitPetition.v2`` record of ``decision`` (``role`` is set per recipient).

    When the petitioner's identity is withheld (``identityWithheld``), the contact fields are
    empty and every free text (title, content, attachment names, the explanation) has the
    petitioner's name, phone, ID number and openid masked, and any phone- or ID-shaped number
    (:mod:`petition_hub.domain.privacy`); the enterprise's name and credit code are not masked.
    """
    rec = decision.record
    loc = decision.location
    visible = decision.contact_visible
    who = petition.petitioner
    due = deadlines(petition, routed_at, cal)
    enterprise = petition.enterprise if not decision.identity_withheld else None
    mask = _unmasked if visible else text_masker(Personal.of(petition))
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
        "contactName": (who.contact_name or who.name) if visible else None,
        "contactPhone": who.phone if visible else None,
        "identityWithheld": not visible,
        "sensitive": decision.sensitive,
        "attachments": [
            {"name": None if a.name is None else mask(a.name), "url": a.url}
            for a in petition.attachments
        ],
        "signForDeadline": due.sign_for if role != "TRIAGE" else None,
        "resolveDeadline": due.resolve,
        "provincialDeadline": petition.provincial_deadline,
        "deadlineNote": due.note,
        "signForDeadlineProvisional": due.sign_for_provisional and role != "TRIAGE",
        "resolveDeadlineProvisional": due.resolve_provisional,
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


def _unmasked(text: str) -> str:
    return text


def transfer_record(petition: Petition, decision: RoutingDecision, city: str) -> dict[str, Any]:
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
            "phone": who.phone,
        },
    }


def feedback(
    dispatch_id: str,
    city: str,
    status: str,
    message: str | None,
    at: datetime,
    *,
    handling_unit: str | None = None,
    due: datetime | None = None,
    satisfaction: Satisfaction | None = None,
) -> Output:
    """``Feedback.v1`` about the provincial dispatch ``dispatch_id`` (its key on
    ``province.feedback``): ``status`` in the contract's terms, ``due`` the resolve deadline."""
    record = {
        "dispatchId": dispatch_id,
        "cityCode": city,
        "status": status,
        "handlingUnit": handling_unit,
        "message": message,
        "deadline": due,
        "satisfaction": satisfaction.name if satisfaction else None,
        "updatedAt": at,
    }
    return Output(FEEDBACK, dispatch_id.encode(), schemas.encode(FEEDBACK_V1, record))


def routed_record(petition: Petition, decision: RoutingDecision, at: datetime) -> dict[str, Any]:
    """``Routed.v1``: a decision as the lifecycle needs it."""
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
    }


def deliveries(
    petition: Petition,
    decision: RoutingDecision,
    now: datetime,
    city: str,
    calendar: Callable[[], WorkingCalendar],
) -> list[Output]:
    """The decision's records for its recipients: each unit (lead first, then co-handlers), or
    triage, or the province (a transfer, or a dispatch returned as not this city's)."""
    key = petition.petition_id.encode()
    metrics.ROUTED.labels(petition.channel.value, decision.kind).inc()
    log.debug("routed", petition_id=petition.petition_id, decision=decision.record.decision)
    if decision.kind == "units":
        record = unit_record(petition, decision, "LEAD", now, calendar())  # deadlines etc. once
        out = []
        for i, unit in enumerate(decision.units):
            role = "LEAD" if i == 0 else "CO_HANDLER"
            value = schemas.encode(UNIT_PETITION, {**record, "role": role})
            out.append(Output(unit.topic, key, value))
            metrics.UNIT_ROUTED.labels(unit.key, role.lower()).inc()
        return out
    if decision.kind == "triage":
        record = unit_record(petition, decision, "TRIAGE", now, calendar())
        return [Output(TRIAGE, key, schemas.encode(UNIT_PETITION, record))]
    if decision.kind == "province_transfer":
        record = transfer_record(petition, decision, city)
        return [
            Output(TRANSFERS, record["transferId"].encode(), schemas.encode(TRANSFER_V1, record))
        ]
    return [feedback(petition.channel_ref, city, "RETURNED", decision.reason, now)]


def undecodable_reason(exc: Exception) -> str:
    """What to say of a record that does not decode: the error's class and, for the wire format's
    own errors (which never quote a field's value), its reason; never the text of an arbitrary
    exception, which may quote personal data."""
    if isinstance(exc, schemas.WireFormatError):
        return f"{type(exc).__name__}: {exc.reason}"
    return f"{type(exc).__name__} (the record does not fit its schema)"


def rejection(
    src: SourceRecord,
    pid: str | None,
    reason: str,
    message: str,
    at: datetime,
    event_id: str | None = None,
) -> Output:
    """An event the hub does not apply, with why, for ``hub.rejects`` (``event_id``: for an
    exactly-once stage)."""
    metrics.REJECTS.labels(src.topic, reason).inc()
    log.warning("rejected", source=src.ref, reason=reason, error=message)
    record = {
        "sourceTopic": src.topic,
        "sourcePartition": src.partition,
        "sourceOffset": src.offset,
        "petitionId": pid,
        "reason": reason,
        "message": message,
        "rejectedAt": at,
        "original": src.value,
    }
    return Output(REJECTS, src.key, schemas.encode(REJECTION_V1, record), event_id=event_id)
