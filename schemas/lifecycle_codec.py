"""The lifecycle's records: the builders of what the lifecycle stage writes (``hub.lifecycle``,
``hub.sla``, the units' notices, the supervisors' ``Supervision``), from the domain's state and
signals. The edge between the lifecycle's domain and the wire, as :mod:`.codec` is for the rest
(its readers read these records too); nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from . import records as wire

if TYPE_CHECKING:  # annotations only: the schemas stay light to import
    from petition_hub.domain.lifecycle import (
        Closure,
        LifecycleState,
        PetitionState,
        ReplyKind,
        SlaSignal,
    )
    from petition_hub.domain.petition import Satisfaction


def lifecycle_event_record(
    s: PetitionState,
    kind: str,
    at: datetime,
    *,
    deadline: datetime | None,
    deadline_provisional: bool,
    from_state: LifecycleState | None = None,
    to_state: LifecycleState | None = None,
    cause: str | None = None,
    unit: str | None = None,
    closure: Closure | None = None,
    satisfaction: Satisfaction | None = None,
    extension_days: int | None = None,
    approved: bool | None = None,
    note: str | None = None,
    reply_kind: ReplyKind | None = None,
    dispute_outcome: str | None = None,
    rated_at: datetime | None = None,
    repeat_of: str | None = None,
    repeat: RepeatRef | None = None,
) -> wire.LifecycleEvent:
    """``LifecycleEvent.v5`` of the petition ``s`` (after the effect); the event id is the
    stage's to set (empty here: the stage writes it into the body and the ``ce_id`` header alike,
    :func:`petition_hub.runtime.cloudevents.frame_output`). ``reply_kind``: the reply of the
    round, on the changes it makes and settles (written as its value: ``resolved`` /
    ``explained``); ``dispute_outcome`` (``upheld`` / ``voided``) and ``rated_at``: a
    dispute's; ``repeat_of``: the earlier case of a case a repeat opened; ``repeat``: a
    ``repeat_linked`` event's repeat."""
    return {
        "eventId": "",
        "petitionId": s.petition_id,
        "kind": kind,
        "at": at,
        "fromState": from_state.value if from_state else None,
        "toState": to_state.value if to_state else None,
        "cause": cause,
        "unit": unit,
        "leadUnit": s.lead_unit,
        "closure": closure.value if closure else None,
        "satisfaction": satisfaction.name if satisfaction else None,
        "round": s.round,
        "channel": s.channel.name,
        "petitionType": s.petition_type.value if s.petition_type else None,
        "deadline": deadline,
        "deadlineProvisional": deadline_provisional,
        "extensionDays": extension_days,
        "approved": approved,
        "note": note,
        "replyKind": reply_kind.value if reply_kind else None,
        "disputeOutcome": dispute_outcome,
        "ratedAt": rated_at,
        "repeatOf": repeat_of,
        "repeatId": repeat.petition_id if repeat else None,
        "repeatChannel": repeat.channel if repeat else None,
        "repeatRef": repeat.channel_ref if repeat else None,
    }


def sla_event_record(s: PetitionState, signal: SlaSignal, unit: str | None) -> wire.SlaEvent:
    """``SlaEvent.v2`` of a clock event of the petition ``s``, against ``unit``."""
    return {
        "eventId": "",
        "petitionId": s.petition_id,
        "clock": signal.clock.value,
        "signal": signal.signal.value,
        "at": signal.at,
        "deadline": signal.deadline,
        "round": signal.round,
        "unit": unit,
        "channel": s.channel.name,
        "petitionType": s.petition_type.value if s.petition_type else None,
        "urgency": s.urgency.name,
        "deadlineProvisional": signal.provisional,
        "previousDeadline": signal.previous_deadline,
    }


@dataclass(frozen=True, slots=True)
class RepeatRef:
    """A repeat linked to an earlier open case: its petition id, channel (the ``Channel``
    member's name) and reference in that channel (a work order number: not personal data)."""

    petition_id: str
    channel: str
    channel_ref: str


@dataclass(frozen=True, slots=True)
class RefusedEvent:
    """A unit's status event the hub did not apply, as its ``event_refused`` notice names it:
    where the unit wrote it (its own ``.status`` topic, partition, offset), its kind and the
    unit's own id of it (as the unit wrote them; None when it did not decode), the reason code."""

    topic: str
    partition: int
    offset: int
    kind: str | None
    ref: str | None
    reason: str


def unit_notice_record(
    petition_id: str,
    kind: str,
    at: datetime,
    message: str,
    clock: str | None,
    due: datetime | None,
    *,
    provisional: bool = False,
    previous: datetime | None = None,
    refused: RefusedEvent | None = None,
    from_unit: str | None = None,
) -> wire.UnitNotice:
    """``UnitNotice.v3``: what the hub tells a unit of ``petition_id`` (``refused``: an
    ``event_refused`` notice's event; ``from_unit``: a ``co_handler_opinion``'s co-handler)."""
    return {
        "eventId": "",
        "petitionId": petition_id,
        "kind": kind,
        "clock": clock,
        "deadline": due,
        "at": at,
        "message": message,
        "deadlineProvisional": provisional,
        "previousDeadline": previous,
        "sourceTopic": refused.topic if refused else None,
        "sourcePartition": refused.partition if refused else None,
        "sourceOffset": refused.offset if refused else None,
        "eventKind": refused.kind if refused else None,
        "eventRef": refused.ref if refused else None,
        "reason": refused.reason if refused else None,
        "fromUnit": from_unit,
    }


def supervision_record(
    s: PetitionState,
    signal: SlaSignal,
    unit: str,
    unit_name: str,
    *,
    working_days_late: int,
    reported_to: Sequence[str],
    message: str,
) -> wire.Supervision:
    """``Supervision.v1``: a ladder step of the petition ``s`` for its supervisors (the office,
    the leading group), against ``unit`` (the lead, or the office when nobody holds it)."""
    return {
        "eventId": "",
        "petitionId": s.petition_id,
        "step": signal.signal.value,
        "clock": signal.clock.value,
        "at": signal.at,
        "deadline": signal.deadline,
        "workingDaysLate": working_days_late,
        "unit": unit,
        "unitName": unit_name,
        "state": s.state.value,
        "round": signal.round,
        "channel": s.channel.name,
        "petitionType": s.petition_type.value if s.petition_type else None,
        "urgency": s.urgency.name,
        "reportedTo": list(reported_to),
        "message": message,
    }
