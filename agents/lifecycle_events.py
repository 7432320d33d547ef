"""The lifecycle's inputs, read as the domain events they mean.

- ``Routed`` (``<app>-routed``, routing's decisions; v3, and v2 and v1 still read): the events of a
  decision for the petition's state (:func:`routed_events`): received, routed, sent to triage,
  routed by the office out of triage, handed to the province (a local petition: transferred).
- ``UnitStatus`` (v4, and v3 to v1 still read; v4's ``author`` is the history's, not the
  lifecycle's; re-keyed by ``unit-status``, header ``hub-unit``: the unit; a reply's
  ``replyKind``, none in v1: resolved; ``OPINION``: a co-handler's opinion;
  ``RATING_DISPUTED``: the lead's dispute of a 不满意), ``OfficeDecision`` (v2, and v1 still read;
  ``office.decisions``: extension answers, decisions on disputes) and ``Evaluation`` (re-keyed
  ratings; v2, and v1 still read): one event each (:func:`input_event`).

What does not decode raises; the stage rejects it, with why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, cast

from petition_hub import schemas
from petition_hub.domain.lifecycle import (
    DisputeDecided,
    Event,
    ExtensionDecided,
    ExtensionRequested,
    InProgress,
    LifecycleState,
    MaterialReceived,
    MaterialRequested,
    OpinionGiven,
    Rated,
    RatingDisputed,
    Received,
    Replied,
    ReplyKind,
    Returned,
    Routed,
    SignedFor,
    TransferredToProvince,
    TriageRequested,
    TriageRouted,
)
from petition_hub.domain.petition import Channel, PetitionType, Satisfaction, Urgency
from petition_hub.runtime.records import SourceRecord
from petition_hub.schemas import codec
from petition_hub.schemas import records as wire

from .rekeyers import UNIT_HEADER

#: The time field of each input, as its schema names it (for a refusal's reason).
TIME_FIELD: Final = {"unit": "at", "office": "decidedAt", "evaluation": "evaluatedAt"}


def routed_events(rec: wire.Routed, current: LifecycleState | None) -> list[Event]:
    """The events a ``Routed`` decision of this city means for a petition in ``current``
    (None: not known here yet); none when it changes nothing (a later revision re-routed while a
    unit handles it)."""
    pid = str(rec["petitionId"])
    kind = rec["kind"]
    at: datetime = rec["routedAt"]
    events: list[Event] = []
    if current is None:
        events.append(
            Received(
                petition_id=pid,
                at=rec["receivedAt"],
                channel=Channel[rec["channel"]],
                petition_type=PetitionType(rec["petitionType"]) if rec["petitionType"] else None,
                urgency=Urgency[rec["urgency"]],
                provincial_deadline=rec["provincialDeadline"],
            )
        )
    unrouted = (None, LifecycleState.RECEIVED, LifecycleState.RETURNED)
    if kind == "UNITS":
        # a UNITS decision names its lead (the events' models refuse None, as they always did)
        lead, co = cast(str, rec["lead"]), tuple(rec["co"])
        if current is LifecycleState.TRIAGE:
            events.append(TriageRouted(petition_id=pid, at=at, lead_unit=lead, co_units=co))
        elif current in unrouted:
            events.append(Routed(petition_id=pid, at=at, lead_unit=lead, co_units=co))
    elif kind == "TRIAGE" and current in unrouted:
        events.append(TriageRequested(petition_id=pid, at=at, reason=rec.get("reason") or ""))
    elif kind == "PROVINCE_TRANSFER" and current in (*unrouted, LifecycleState.TRIAGE):
        # a local petition that is another city's or province's matter: its end here
        reason = rec.get("reason") or ""
        events.append(TransferredToProvince(petition_id=pid, at=at, reason=reason))
    return events


def input_event(src: SourceRecord, source: str) -> tuple[str, Event | None]:
    """(petition id, the domain event) of a status (``source`` ``unit``), office decision
    (``office``) or rating (``evaluation``) record; event None for records that are not the
    lifecycle's (triage routes)."""
    _, record = schemas.decode(src.value or b"")
    if source == "evaluation":  # the record, not the model: its id may be petitionRef's
        rating = codec.read_evaluation(record)
        pid = str(rating["petition_id"])
        return pid, Rated(
            petition_id=pid,
            at=rating["evaluated_at"],
            satisfaction=Satisfaction[rating["satisfaction"]],
            revision=rating["revision"],
        )
    if source == "office":
        decision = codec.read_office_decision(record)
        pid = str(decision["petitionId"])
        if decision["kind"] == "TRIAGE_ROUTE":
            return pid, None
        if decision["kind"] in ("RATING_UPHELD", "RATING_VOIDED"):
            voided = decision["kind"] == "RATING_VOIDED"
            note = decision.get("note") or ""
            return pid, DisputeDecided(
                petition_id=pid, at=decision["decidedAt"], voided=voided, note=note
            )
        return pid, ExtensionDecided(
            petition_id=pid,
            at=decision["decidedAt"],
            approved=decision["kind"] == "EXTENSION_APPROVED",
            days=decision.get("extensionDays"),
            note=decision.get("note") or "",
        )
    rec = codec.read_unit_status(record)
    pid = str(rec["petitionId"])
    unit = (dict(src.headers).get(UNIT_HEADER) or b"").decode()
    at, kind, note = rec["at"], rec["kind"], rec.get("note") or ""
    common: dict[str, Any] = {"petition_id": pid, "at": at, "unit": unit}
    if kind == "SIGNED_FOR":
        return pid, SignedFor(**common)
    if kind == "IN_PROGRESS":
        return pid, InProgress(**common)
    if kind == "MATERIAL_REQUESTED":
        return pid, MaterialRequested(**common, reason=note)
    if kind == "MATERIAL_RECEIVED":
        return pid, MaterialReceived(**common)
    if kind == "EXTENSION_REQUESTED":
        return pid, ExtensionRequested(**common, days=rec.get("extensionDays") or 0, reason=note)
    if kind == "REPLIED":
        result = ReplyKind[rec.get("replyKind") or "RESOLVED"]
        return pid, Replied(**common, text=rec.get("replyText") or "", result=result)
    if kind == "OPINION":
        return pid, OpinionGiven(**common, text=note)
    if kind == "RATING_DISPUTED":
        return pid, RatingDisputed(**common, reason=note)
    return pid, Returned(**common, reason=note)
