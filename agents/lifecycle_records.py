"""The lifecycle's records: each effect of the state machine written as the records it makes.

Per effect of :func:`petition_hub.domain.lifecycle.apply`, in order (:class:`LifecycleRecords`):

- a state change, an extension request or answer, urging, back-to-routing: ``hub.lifecycle``
  (``LifecycleEvent.v2``, header ``hub-kind``: what it is, so a reader picks kinds without
  decoding the rest; routing does not read it: its commands are :mod:`.route_commands`');
- a clock event: ``hub.sla`` (``SlaEvent.v2``);
- a ladder step, an extension answer, a reopening, a moved deadline: a notice to the unit on its
  own ``.petitions`` topic (``UnitNotice.v2``; the texts are :mod:`.lifecycle_texts`', the
  ladder's with the numbers of the SLA policy the clock runs by);
- an invitation to rate: ``miniprogram.evaluation-requests`` / ``hotline12345.callback-requests``
  (JSON, in the channel's own terms);
- for a provincial dispatch, every state change and every move of its resolve deadline:
  ``province.feedback`` (``Feedback.v1``, built by :func:`.routing_records.feedback`).

The event ids are not set here: the stage gives each output its id (:mod:`.lifecycle`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import structlog

from petition_hub import schemas
from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar
from petition_hub.domain.lifecycle import (
    Closure,
    Effect,
    EvaluationInvited,
    Event,
    ExtensionAnswered,
    ExtensionForwarded,
    LifecycleState,
    PetitionState,
    Replied,
    RoutingRequested,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
    UnitUrged,
)
from petition_hub.domain.petition import Channel, Satisfaction
from petition_hub.domain.rules import RuleSet
from petition_hub.domain.sla import ClockKind, deadline, provisional
from petition_hub.runtime.records import KIND_HEADER, Output
from petition_hub.topics import TopicSpec, names
from petition_hub.topics.names import LIFECYCLE, REJECTS, SLA

from .lifecycle_texts import (
    LADDER_SIGNALS,
    clock_rules,
    deadline_changed_text,
    feedback_message,
    step_notice,
)
from .routing_records import FEEDBACK, feedback

log = structlog.get_logger(__name__)

LIFECYCLE_V2: Final = "cn.gov.pds.hub.LifecycleEvent.v2"
SLA_V2: Final = "cn.gov.pds.hub.SlaEvent.v2"
NOTICE_V2: Final = "cn.gov.pds.hub.UnitNotice.v2"
#: Where a replied petition's evaluation is asked for, and the field naming the channel's
#: reference. The provincial contract has no rating channel: the city's 12345 calls the
#: petitioner back (GDBH = the dispatch id; the result comes back with petitionRef = hub id).
EVALUATION_REQUESTS: Final = {
    Channel.MINIPROGRAM: (names.MINIPROGRAM_EVALUATION_REQUESTS, "appealId"),
    Channel.HOTLINE: (names.HOTLINE_CALLBACK_REQUESTS, "GDBH"),
    Channel.PROVINCE: (names.HOTLINE_CALLBACK_REQUESTS, "GDBH"),
}
_FEEDBACK_STATUS: Final = {
    LifecycleState.RECEIVED: "RECEIVED",
    LifecycleState.TRIAGE: "RECEIVED",
    LifecycleState.ROUTED: "RECEIVED",
    LifecycleState.RETURNED: "RECEIVED",
    LifecycleState.SIGNED_FOR: "ACCEPTED",
    LifecycleState.IN_PROGRESS: "IN_PROGRESS",
    LifecycleState.WAITING_MATERIAL: "IN_PROGRESS",
    LifecycleState.EXTENDED: "EXTENDED",
    LifecycleState.REPLIED: "RESOLVED",
    LifecycleState.EVALUATED: "EVALUATED",
    LifecycleState.REOPENED: "IN_PROGRESS",
    LifecycleState.CLOSED: "EVALUATED",
}


def final_rating(effect: StateChanged, s: PetitionState) -> Satisfaction | None:
    """The final rating of a reply round, on the change that settles it: 不满意 reopening it, or
    the round closing rated (on the one change, or at the end of the window after 满意 /
    基本满意); None on any other change."""
    rated = s.rating is not None and (
        effect.to_state is LifecycleState.REOPENED
        or effect.closure in (Closure.RATED, Closure.DISSATISFIED)
    )
    return s.rating if rated else None


def _reported_rating(effect: StateChanged, s: PetitionState) -> Satisfaction | None:
    """The rating a state change carries: the one just given, or the round's final one."""
    if effect.to_state is LifecycleState.EVALUATED:
        return s.rating
    return final_rating(effect, s)


@dataclass(frozen=True)
class _Rendering:
    """What the records of one effect share: the petition after it, and its resolve deadline."""

    s: PetitionState
    lead: str | None
    """The lead unit, or the one before the effect (a return clears it)."""
    channel_ref: str
    event: Event | None
    """The event that caused the effect (None for the timer)."""
    resolve_deadline: datetime | None
    resolve_provisional: bool

    @property
    def key(self) -> bytes:
        return self.s.petition_id.encode()

    def base(self, effect: Effect) -> dict[str, Any]:
        """A ``LifecycleEvent.v2`` of the petition with no kind yet, every optional field null."""
        s = self.s
        return {
            "eventId": "",
            "petitionId": s.petition_id,
            "at": effect.at,
            "fromState": None,
            "toState": None,
            "cause": None,
            "unit": None,
            "leadUnit": s.lead_unit,
            "closure": None,
            "satisfaction": None,
            "round": s.round,
            "channel": s.channel.name,
            "petitionType": s.petition_type.value if s.petition_type else None,
            "deadline": self.resolve_deadline,
            "deadlineProvisional": self.resolve_provisional,
            "extensionDays": None,
            "approved": None,
            "note": None,
        }


class LifecycleRecords:
    """Writes the lifecycle's effects: :meth:`render` gives an effect's records, in order.

    ``unit_topics``: the units' ``.petitions`` topics (a notice to a unit without one is logged and
    dropped); ``rules``: the reference data naming the units, for the province."""

    def __init__(self, rules: RuleSet, city: str, unit_topics: frozenset[str]) -> None:
        self.rules = rules
        self.city = city
        self.unit_topics = unit_topics

    def render(
        self,
        effect: Effect,
        before: PetitionState,
        s: PetitionState,
        channel_ref: str,
        event: Event | None,
        cal: WorkingCalendar,
    ) -> list[Output]:
        """The records of ``effect``, which moved the petition from ``before`` to ``s``."""
        try:
            resolve_deadline = deadline(s.resolve, cal=cal)
        except CalendarUnavailable:
            resolve_deadline = None
        r = _Rendering(
            s=s,
            lead=s.lead_unit or before.lead_unit,
            channel_ref=channel_ref,
            event=event,
            resolve_deadline=resolve_deadline,
            resolve_provisional=provisional(s.resolve, resolve_deadline, cal=cal),
        )
        if isinstance(effect, SlaSignal):
            return self._sla(effect, r)
        if isinstance(effect, StateChanged):
            return self._state_changed(effect, r)
        if isinstance(effect, EvaluationInvited):
            return [_evaluation_request(effect, r)]
        if isinstance(effect, ExtensionForwarded):
            record = {
                **r.base(effect),
                "kind": "extension_requested",
                "unit": effect.unit,
                "extensionDays": effect.days,
                "note": effect.reason or None,
            }
            return [_lifecycle(r.key, record, "extension_requested")]
        if isinstance(effect, ExtensionAnswered):
            return self._extension_answered(effect, r)
        if isinstance(effect, RoutingRequested):
            unit = effect.exclude_units[-1] if effect.exclude_units else None
            record = {
                **r.base(effect),
                "kind": "routing_requested",
                "unit": unit,
                "note": effect.reason or None,
            }
            return [_lifecycle(r.key, record, "routing_requested")]
        assert isinstance(effect, UnitUrged)
        return self._unit_urged(effect, r)

    def _sla(self, effect: SlaSignal, r: _Rendering) -> list[Output]:
        s = r.s
        unit = effect.unit or r.lead
        record = {
            "eventId": "",
            "petitionId": s.petition_id,
            "clock": effect.clock.value,
            "signal": effect.signal.value,
            "at": effect.at,
            "deadline": effect.deadline,
            "round": effect.round,
            "unit": unit,
            "channel": s.channel.name,
            "petitionType": s.petition_type.value if s.petition_type else None,
            "urgency": s.urgency.name,
            "deadlineProvisional": effect.provisional,
            "previousDeadline": effect.previous_deadline,
        }
        out = [Output(SLA, r.key, schemas.encode(SLA_V2, record))]
        if effect.signal in LADDER_SIGNALS and unit:
            message = step_notice(effect.signal, effect.clock, clock_rules(s, effect.clock))
        elif effect.signal is SlaSignalKind.DEADLINE_CHANGED and unit:
            message = deadline_changed_text(effect)
            if s.channel is Channel.PROVINCE and effect.clock is ClockKind.RESOLVE:
                # the contract has no kind for a moved deadline: the status stays the current
                # one, the message says what moved
                out.append(
                    feedback(
                        r.channel_ref,
                        self.city,
                        _FEEDBACK_STATUS[s.state],
                        message,
                        effect.at,
                        handling_unit=self._unit_name(s.lead_unit) if s.lead_unit else None,
                        due=effect.deadline,
                    )
                )
        else:
            return out
        return out + self.notice(
            unit,
            s.petition_id,
            effect.signal.value,
            effect.at,
            message,
            effect.clock.value,
            effect.deadline,
            provisional=effect.provisional,
            previous=effect.previous_deadline,
        )

    def _state_changed(self, effect: StateChanged, r: _Rendering) -> list[Output]:
        satisfaction = _reported_rating(effect, r.s)
        record = {
            **r.base(effect),
            "kind": "state_changed",
            "fromState": effect.from_state.value if effect.from_state else None,
            "toState": effect.to_state.value,
            "cause": effect.cause,
            "unit": effect.unit,
            "closure": effect.closure.value if effect.closure else None,
            "satisfaction": satisfaction.name if satisfaction else None,
        }
        hkind = "closed" if effect.to_state is LifecycleState.CLOSED else "state_changed"
        out = [_lifecycle(r.key, record, hkind)]
        if r.s.channel is Channel.PROVINCE:
            out.append(self._feedback(effect, r, satisfaction))
        return out

    def _feedback(
        self, effect: StateChanged, r: _Rendering, satisfaction: Satisfaction | None
    ) -> Output:
        unit = r.s.lead_unit
        provisional_deadline = r.resolve_provisional and r.resolve_deadline is not None
        return feedback(
            r.channel_ref,
            self.city,
            _FEEDBACK_STATUS[effect.to_state],
            feedback_message(effect, r.event, provisional_deadline),
            effect.at,
            handling_unit=self._unit_name(unit) if unit else None,
            due=r.resolve_deadline,
            satisfaction=satisfaction,
        )

    def _extension_answered(self, effect: ExtensionAnswered, r: _Rendering) -> list[Output]:
        record = {
            **r.base(effect),
            "kind": "extension_answered",
            "unit": effect.unit,
            "extensionDays": effect.days,
            "approved": effect.approved,
            "deadline": effect.deadline,
            "deadlineProvisional": effect.provisional,
        }
        out = [_lifecycle(r.key, record, "extension_answered")]
        if effect.unit:
            what = "approved" if effect.approved else "refused"
            out += self.notice(
                effect.unit,
                r.s.petition_id,
                f"extension_{what}",
                effect.at,
                f"the extension request was {what}",
                ClockKind.RESOLVE.value,
                effect.deadline,
                provisional=effect.provisional,
            )
        return out

    def _unit_urged(self, effect: UnitUrged, r: _Rendering) -> list[Output]:
        record = {
            **r.base(effect),
            "kind": "unit_urged",
            "unit": effect.unit,
            "note": effect.reason,
        }
        out = [_lifecycle(r.key, record, "unit_urged")]
        if effect.unit:
            out += self.notice(
                effect.unit,
                r.s.petition_id,
                "reopened",
                effect.at,
                effect.reason,
                ClockKind.RESOLVE.value,
                r.resolve_deadline,
                provisional=r.resolve_provisional,
            )
        return out

    def notice(
        self,
        unit: str,
        pid: str,
        kind: str,
        at: datetime,
        message: str,
        clock: str | None,
        due: datetime | None,
        *,
        provisional: bool = False,
        previous: datetime | None = None,
    ) -> list[Output]:
        """A ``UnitNotice.v2`` to ``unit`` on its ``.petitions`` topic (none if it has none)."""
        topic = f"{unit}.petitions"
        if topic not in self.unit_topics:
            log.warning("no topic for a unit notice", unit=unit, kind=kind)
            return []
        record = {
            "eventId": "",
            "petitionId": pid,
            "kind": kind,
            "clock": clock,
            "deadline": due,
            "at": at,
            "message": message,
            "deadlineProvisional": provisional,
            "previousDeadline": previous,
        }
        return [Output(topic, pid.encode(), schemas.encode(NOTICE_V2, record))]

    def _unit_name(self, unit: str) -> str:
        kind, _, code = unit.partition(".")
        try:
            return self.rules.unit_name(kind, code)
        except Exception:  # a unit the reference data no longer names: its key then
            return unit


def _lifecycle(key: bytes, record: dict[str, Any], kind: str) -> Output:
    return Output(
        LIFECYCLE, key, schemas.encode(LIFECYCLE_V2, record), ((KIND_HEADER, kind.encode()),)
    )


def _evaluation_request(effect: EvaluationInvited, r: _Rendering) -> Output:
    """The channel's request to rate the reply (JSON, keyed by the channel's reference)."""
    topic, ref_field = EVALUATION_REQUESTS[effect.channel]
    body = {
        ref_field: r.channel_ref,
        "petitionRef": r.s.petition_id,
        "repliedAt": effect.at.isoformat(),
        "evaluateBy": effect.due.isoformat(),
        "round": effect.round,
        "replyText": r.event.text if isinstance(r.event, Replied) else None,
        "choices": [choice.value for choice in Satisfaction],
    }
    value = json.dumps(body, ensure_ascii=False).encode()
    return Output(topic, r.channel_ref.encode(), value)


def units_of(spec: Mapping[str, TopicSpec]) -> frozenset[str]:
    """The units' ``.petitions`` topics of topics.yaml."""
    return frozenset(
        t for t in spec if t.endswith(".petitions") and t.startswith(("dept.", "county."))
    )


def lifecycle_outputs(spec: Mapping[str, TopicSpec]) -> dict[str, int]:
    """Every topic the lifecycle stage writes, with its partitions (its exactly-once outputs)."""
    topics = (
        LIFECYCLE,
        SLA,
        REJECTS,
        FEEDBACK,
        *(topic for topic, _ in EVALUATION_REQUESTS.values()),
        *units_of(spec),
    )
    return {t: spec[t].partitions for t in topics}
