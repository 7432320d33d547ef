"""Routing's records: what a routing decision becomes on the wire, and the hub's rejections.

No state: each function takes the petition, the domain's decision and the times, decides what
goes where (recipients, roles, deadlines, masking) and returns the :class:`Output`; the records'
shapes are the codec's (:mod:`petition_hub.schemas.codec`).

- ``UnitPetition.v3`` (:func:`unit_record`): to a unit's ``.petitions`` topic or ``hub.triage``,
  with the deadlines the unit works to (:func:`deadlines`) and, when the petitioner's identity is
  withheld, the personal data masked.
- ``Transfer.v1``: to ``province.transfers``, another city's or province's matter.
- ``Feedback.v1`` (:func:`feedback`): to ``province.feedback``, about a provincial dispatch; the
  one writer of it (its one builder is the codec's), for routing (RETURNED: not this city's) and
  the lifecycle (every state change of a dispatch).
- ``Routed.v3`` (:func:`routed`): the hub-internal decision the lifecycle reads (no personal
  data in the clear: a provincial dispatch's call-back contact travels sealed).
- ``Rejection.v1`` (:func:`rejection`): to ``hub.rejects``, an event the hub does not apply, with
  why (routing, the lifecycle and the unit-status re-keyer all write it), naming where the event
  was first written (a unit's status event: the unit's own ``.status`` record, not its re-keyed
  copy).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Final, NamedTuple

import structlog

from petition_hub import schemas
from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar, default_calendar
from petition_hub.domain.petition import Channel, Petition
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
from petition_hub.schemas import codec
from petition_hub.schemas import records as wire
from petition_hub.service import metrics
from petition_hub.topics import names
from petition_hub.topics.names import REJECTS, TRIAGE

log = structlog.get_logger(__name__)

TRANSFERS: Final = names.PROVINCE_TRANSFERS
FEEDBACK: Final = names.PROVINCE_FEEDBACK


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
) -> wire.UnitPetition:
    """The ``UnitPetition.v3`` record of ``decision`` (``role`` is set per recipient).

    When the petitioner's identity is withheld (``identityWithheld``), the contact fields are
    empty and every free text (title, content, attachment names, the explanation) has the
    petitioner's name, phone, ID number and openid masked, and any phone- or ID-shaped number
    (:mod:`petition_hub.domain.privacy`); the enterprise's name and credit code are not masked.
    Triage has no sign-for deadline (no unit signs for it).
    """
    due = deadlines(petition, routed_at, cal)
    mask = _unmasked if decision.contact_visible else text_masker(Personal.of(petition))
    triage = role == "TRIAGE"
    return codec.unit_petition_record(
        petition,
        decision,
        role=role,
        routed_at=routed_at,
        deadlines=(
            None if triage else due.sign_for,
            due.sign_for_provisional and not triage,
            due.resolve,
            due.resolve_provisional,
        ),
        deadline_note=due.note,
        mask=mask,
    )


def _unmasked(text: str) -> str:
    return text


def feedback(record: wire.Feedback) -> Output:
    """A ``Feedback.v1`` (:func:`petition_hub.schemas.codec.feedback_record`) on
    ``province.feedback``, keyed by its dispatch's id."""
    key = record["dispatchId"].encode()
    return Output(FEEDBACK, key, schemas.encode(codec.FEEDBACK_V1, record))


def callback_contact(petition: Petition) -> bytes | None:
    """Who the 12345 call centre calls back to rate the reply to a provincial dispatch: its
    petitioner's contact (the contact person, else the petitioner's name; the phone), as JSON;
    None for the other channels (12345 knows its own callers, the mini-program rates in the app)
    and for a dispatch that names nobody to call."""
    who = petition.petitioner
    if petition.channel is not Channel.PROVINCE or not (who.phone or who.contact_name or who.name):
        return None
    contact = {"name": who.contact_name or who.name, "phone": who.phone}
    return json.dumps(contact, ensure_ascii=False).encode()


def routed(
    petition: Petition,
    decision: RoutingDecision,
    at: datetime,
    topic: str,
    seal: Callable[[bytes], bytes] | None = None,
) -> Output:
    """``Routed.v5`` on ``topic`` (``<app>-routed``): a decision as the lifecycle needs it; a
    provincial dispatch's call-back contact sealed with ``seal`` (the PII key's encryption: the
    topic and the lifecycle's state hold no personal data in the clear), left out without one."""
    contact = callback_contact(petition)
    sealed = seal(contact) if seal is not None and contact is not None else None
    record = codec.routed_record(petition, decision, at, sealed)
    return Output(topic, petition.petition_id.encode(), schemas.encode(codec.ROUTED_V5, record))


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
            value = schemas.encode(codec.UNIT_PETITION_V3, codec.with_role(record, role))
            out.append(Output(unit.topic, key, value))
            metrics.UNIT_ROUTED.labels(unit.key, role.lower()).inc()
        return out
    if decision.kind == "triage":
        record = unit_record(petition, decision, "TRIAGE", now, calendar())
        return [Output(TRIAGE, key, schemas.encode(codec.UNIT_PETITION_V3, record))]
    if decision.kind == "province_transfer":
        transfer = codec.transfer_record(petition, decision, city)
        value = schemas.encode(codec.TRANSFER_V1, transfer)
        return [Output(TRANSFERS, transfer["transferId"].encode(), value)]
    returned = codec.feedback_record(petition.channel_ref, city, "RETURNED", decision.reason, now)
    return [feedback(returned)]


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
    source: tuple[str, int, int] | None = None,
) -> Output:
    """An event the hub does not apply, with why, for ``hub.rejects`` (``event_id``: for an
    exactly-once stage; ``source``: where the event was first written, topic, partition and
    offset, when ``src`` is a hub-internal copy of it: a unit's status event, re-keyed)."""
    metrics.REJECTS.labels(src.topic, reason).inc()
    log.warning("rejected", source=src.ref, reason=reason, error=message)
    topic, partition, offset = source or (src.topic, src.partition, src.offset)
    record = codec.rejection_record(topic, partition, offset, pid, reason, message, at, src.value)
    return Output(REJECTS, src.key, schemas.encode(codec.REJECTION_V1, record), event_id=event_id)
