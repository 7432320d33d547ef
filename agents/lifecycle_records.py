"""The lifecycle's records: each effect of the state machine written as the records it makes.

Per effect of :func:`petition_hub.domain.lifecycle.apply`, in order (:class:`LifecycleRecords`):

- a state change, an extension request or answer, urging, back-to-routing, a co-handler's
  opinion, a dispute of a rating and its decision (:mod:`.lifecycle_disputes`): ``hub.lifecycle``
  (``LifecycleEvent.v5``, header ``hub-kind``: what it is, so a reader
  picks kinds without decoding the rest; routing does not read it: its commands are
  :mod:`.route_commands`'; ``replyKind``: resolved or explained, on the change to replied and the
  later ones of its round);
- a clock event: ``hub.sla`` (``SlaEvent.v2``);
- a ladder step, an extension answer, a reopening, a moved deadline, a co-handler's opinion (to
  the lead, ``co_handler_opinion``): a notice to the unit on its own ``.petitions`` topic (not a
  step of a petition nobody holds: the office's; ``UnitNotice.v3``; the texts are
  :mod:`.lifecycle_texts`', the ladder's with the numbers of the SLA policy the clock runs by);
- overdue and listed supervision, and every step of a petition nobody holds: ``office.supervision``
  and, for listed supervision, ``leadinggroup.supervision`` (``Supervision.v1``,
  :mod:`.lifecycle_supervision`);
- an invitation to rate: ``miniprogram.evaluation-requests`` / ``hotline12345.callback-requests``
  (JSON, in the channel's own terms);
- for a provincial dispatch, every state change and every move of its resolve deadline:
  ``province.feedback`` (``Feedback.v1``, written by :func:`.routing_records.feedback`).

The records' shapes are the codec's (:mod:`petition_hub.schemas.codec`); this module decides which
records an effect makes and where they go. The event ids are not set here: the stage gives each
output its id (:mod:`.lifecycle`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import structlog

from petition_hub import schemas
from petition_hub.connectors import EVALUATION_REQUEST_TOPICS, EVALUATION_REQUESTS
from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar
from petition_hub.domain.lifecycle import (
    Closure,
    DisputeAnswered,
    DisputeForwarded,
    Effect,
    EvaluationInvited,
    Event,
    ExtensionAnswered,
    ExtensionForwarded,
    LifecycleState,
    OpinionRelayed,
    PetitionState,
    Replied,
    ReplyKind,
    RoutingRequested,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
    UnitUrged,
)
from petition_hub.domain.petition import Channel, Satisfaction
from petition_hub.domain.privacy import mask_text
from petition_hub.domain.rules import RuleSet
from petition_hub.domain.sla import ClockKind, deadline, provisional
from petition_hub.runtime.records import KIND_HEADER, Output
from petition_hub.schemas import codec, lifecycle_codec
from petition_hub.schemas import records as wire
from petition_hub.topics import TopicSpec
from petition_hub.topics.names import (
    LEADING_GROUP_SUPERVISION,
    LIFECYCLE,
    OFFICE_SUPERVISION,
    PROGRESS,
    REJECTS,
    SLA,
)

from .lifecycle_disputes import dispute_records
from .lifecycle_supervision import supervision
from .lifecycle_texts import (
    LADDER_SIGNALS,
    clock_rules,
    deadline_changed_text,
    feedback_message,
    step_notice,
)
from .routing_records import FEEDBACK, feedback

log = structlog.get_logger(__name__)

#: The CloudEvents type of a channel's request to rate a reply (JSON: its value names no schema).
EVALUATION_REQUEST_TYPE: Final = "cn.gov.pds.hub.EvaluationRequest"

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
    contact: bytes | None = None
    """A provincial dispatch's call-back contact, sealed (:attr:`Entry.contact`)."""
    repeat_of: str | None = None
    """A case a repeat opened: the earlier case it names (on each of its lifecycle records)."""

    @property
    def key(self) -> bytes:
        return self.s.petition_id.encode()

    def lifecycle(
        self,
        effect: Effect,
        kind: str,
        *,
        unit: str | None = None,
        note: str | None = None,
        from_state: LifecycleState | None = None,
        to_state: LifecycleState | None = None,
        cause: str | None = None,
        closure: Closure | None = None,
        satisfaction: Satisfaction | None = None,
        extension_days: int | None = None,
        approved: bool | None = None,
        deadline: tuple[datetime | None, bool] | None = None,
        reply_kind: ReplyKind | None = None,
        dispute_outcome: str | None = None,
        rated_at: datetime | None = None,
    ) -> wire.LifecycleEvent:
        """The ``LifecycleEvent.v4`` of ``effect``, with the petition's resolve deadline unless
        ``deadline`` (a deadline and whether it is provisional) is another."""
        due, due_provisional = deadline or (self.resolve_deadline, self.resolve_provisional)
        return lifecycle_codec.lifecycle_event_record(
            self.s,
            kind,
            effect.at,
            deadline=due,
            deadline_provisional=due_provisional,
            from_state=from_state,
            to_state=to_state,
            cause=cause,
            unit=unit,
            closure=closure,
            satisfaction=satisfaction,
            extension_days=extension_days,
            approved=approved,
            note=note,
            reply_kind=reply_kind,
            dispute_outcome=dispute_outcome,
            rated_at=rated_at,
            repeat_of=self.repeat_of,
        )


#: The states a reply's kind is written on (the reply's own change carries it from the effect).
_REPLY_SETTLED: Final = frozenset({LifecycleState.EVALUATED, LifecycleState.CLOSED})


class LifecycleRecords:
    """Writes the lifecycle's effects: :meth:`render` gives an effect's records, in order.

    ``unit_topics``: the units' ``.petitions`` topics (a notice to a unit without one is logged and
    dropped); ``rules``: the reference data naming the units, for the province."""

    def __init__(
        self,
        rules: RuleSet,
        city: str,
        unit_topics: frozenset[str],
        unseal: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.rules = rules
        self.city = city
        self.unit_topics = unit_topics
        #: the PII key's decryption, for a provincial dispatch's call-back contact (None: the
        #: call-back request goes without one)
        self.unseal = unseal

    def render(
        self,
        effect: Effect,
        before: PetitionState,
        s: PetitionState,
        channel_ref: str,
        event: Event | None,
        cal: WorkingCalendar,
        contact: bytes | None = None,
        repeat_of: str | None = None,
    ) -> list[Output]:
        """The records of ``effect``, which moved the petition from ``before`` to ``s``
        (``repeat_of``: the earlier case, for a case a repeat opened)."""
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
            contact=contact,
            repeat_of=repeat_of,
        )
        if isinstance(effect, SlaSignal):
            return self._sla(effect, r)
        if isinstance(effect, StateChanged):
            return self._state_changed(effect, r)
        if isinstance(effect, EvaluationInvited):
            return [self._evaluation_request(effect, r)]
        if isinstance(effect, ExtensionForwarded):
            record = r.lifecycle(
                effect,
                "extension_requested",
                unit=effect.unit,
                extension_days=effect.days,
                note=effect.reason or None,
            )
            return [_lifecycle(r.key, record, "extension_requested")]
        if isinstance(effect, ExtensionAnswered):
            return self._extension_answered(effect, r)
        if isinstance(effect, OpinionRelayed):
            return self._opinion(effect, r)
        if isinstance(effect, DisputeForwarded | DisputeAnswered):
            return dispute_records(effect, r, self, lifecycle_output)
        if isinstance(effect, RoutingRequested):
            unit = effect.exclude_units[-1] if effect.exclude_units else None
            record = r.lifecycle(effect, "routing_requested", unit=unit, note=effect.reason or None)
            return [_lifecycle(r.key, record, "routing_requested")]
        assert isinstance(effect, UnitUrged)
        return self._unit_urged(effect, r)

    def _sla(self, effect: SlaSignal, r: _Rendering) -> list[Output]:
        s = r.s
        unit = effect.unit or r.lead
        record = lifecycle_codec.sla_event_record(s, effect, unit)
        out = [Output(SLA, r.key, schemas.encode(codec.SLA_V2, record))]
        if effect.signal in LADDER_SIGNALS and unit:
            rules = clock_rules(s, effect.clock)
            message = step_notice(effect.signal, effect.clock, rules)
            out += supervision(s, effect, rules, message, self.unit_name)
            if s.lead_unit is None:
                return out  # nobody holds it: the office's record is the notice
        elif effect.signal is SlaSignalKind.DEADLINE_CHANGED and unit:
            message = deadline_changed_text(effect)
            if s.channel is Channel.PROVINCE and effect.clock is ClockKind.RESOLVE:
                # the contract has no kind for a moved deadline: the status stays the current
                # one, the message says what moved
                moved = codec.feedback_record(
                    r.channel_ref,
                    self.city,
                    _FEEDBACK_STATUS[s.state],
                    message,
                    effect.at,
                    handling_unit=self.unit_name(s.lead_unit) if s.lead_unit else None,
                    due=effect.deadline,
                )
                out.append(feedback(moved))
        else:
            return out
        notice = lifecycle_codec.unit_notice_record(
            s.petition_id,
            effect.signal.value,
            effect.at,
            message,
            effect.clock.value,
            effect.deadline,
            provisional=effect.provisional,
            previous=effect.previous_deadline,
        )
        return out + self.notice(unit, notice)

    def _state_changed(self, effect: StateChanged, r: _Rendering) -> list[Output]:
        satisfaction = _reported_rating(effect, r.s)
        reply_kind = effect.reply_kind
        if reply_kind is None and effect.to_state in _REPLY_SETTLED:
            reply_kind = r.s.reply_kind  # the reply this change settles
        record = r.lifecycle(
            effect,
            "state_changed",
            from_state=effect.from_state,
            to_state=effect.to_state,
            cause=effect.cause,
            unit=effect.unit,
            closure=effect.closure,
            satisfaction=satisfaction,
            reply_kind=reply_kind,
        )
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
        record = codec.feedback_record(
            r.channel_ref,
            self.city,
            _FEEDBACK_STATUS[effect.to_state],
            feedback_message(effect, r.event, provisional_deadline),
            effect.at,
            handling_unit=self.unit_name(unit) if unit else None,
            due=r.resolve_deadline,
            satisfaction=satisfaction,
        )
        return feedback(record)

    def _extension_answered(self, effect: ExtensionAnswered, r: _Rendering) -> list[Output]:
        record = r.lifecycle(
            effect,
            "extension_answered",
            unit=effect.unit,
            extension_days=effect.days,
            approved=effect.approved,
            deadline=(effect.deadline, effect.provisional),
        )
        out = [_lifecycle(r.key, record, "extension_answered")]
        if effect.unit:
            what = "approved" if effect.approved else "refused"
            notice = lifecycle_codec.unit_notice_record(
                r.s.petition_id,
                f"extension_{what}",
                effect.at,
                f"the extension request was {what}",
                ClockKind.RESOLVE.value,
                effect.deadline,
                provisional=effect.provisional,
            )
            out += self.notice(effect.unit, notice)
        return out

    def _unit_urged(self, effect: UnitUrged, r: _Rendering) -> list[Output]:
        record = r.lifecycle(effect, "unit_urged", unit=effect.unit, note=effect.reason)
        out = [_lifecycle(r.key, record, "unit_urged")]
        if effect.unit:
            notice = lifecycle_codec.unit_notice_record(
                r.s.petition_id,
                "reopened",
                effect.at,
                effect.reason,
                ClockKind.RESOLVE.value,
                r.resolve_deadline,
                provisional=r.resolve_provisional,
            )
            out += self.notice(effect.unit, notice)
        return out

    def _opinion(self, effect: OpinionRelayed, r: _Rendering) -> list[Output]:
        """A co-handler's opinion: on ``hub.lifecycle`` that it was given (no text: the record
        carries no free text), and its text to the lead (phone- and ID-shaped numbers masked,
        as the hub relays any free text to a unit that may not see the petitioner's identity)."""
        record = r.lifecycle(effect, "co_handler_opinion", unit=effect.unit)
        out = [_lifecycle(r.key, record, "co_handler_opinion")]
        notice = lifecycle_codec.unit_notice_record(
            r.s.petition_id,
            "co_handler_opinion",
            effect.at,
            f"opinion of co-handler {effect.unit} (协办意见): {mask_text(effect.text)}",
            None,
            r.resolve_deadline,
            provisional=r.resolve_provisional,
            from_unit=effect.unit,
        )
        return out + self.notice(effect.lead, notice)

    def notice(self, unit: str, record: wire.UnitNotice, key: bytes | None = None) -> list[Output]:
        """A ``UnitNotice.v3`` (:func:`petition_hub.schemas.lifecycle_codec.unit_notice_record`) to
        ``unit`` on its ``.petitions`` topic (none if it has none), keyed by its petition id
        unless ``key`` says otherwise."""
        topic = f"{unit}.petitions"
        if topic not in self.unit_topics:
            log.warning("no topic for a unit notice", unit=unit, kind=record["kind"])
            return []
        key = record["petitionId"].encode() if key is None else key
        return [Output(topic, key, schemas.encode(codec.NOTICE_V3, record))]

    def _evaluation_request(self, effect: EvaluationInvited, r: _Rendering) -> Output:
        """The request to rate; a provincial dispatch's (rated by a 12345 call-back) also
        carries its dispatch id, the petitioner's contact from the dispatch (unsealed here: the
        call centre must call) and the replying unit's name."""
        if effect.channel is not Channel.PROVINCE:
            return _evaluation_request(effect, r)
        name, phone = self._contact(r)
        provincial = {
            "dispatchId": r.channel_ref,
            "contactName": name,
            "contactPhone": phone,
            "repliedBy": self.unit_name(r.lead) if r.lead else None,
        }
        return _evaluation_request(effect, r, provincial)

    def _contact(self, r: _Rendering) -> tuple[str | None, str | None]:
        """The sealed call-back contact, opened: (name, phone); (None, None) without one or
        when the key no longer opens it (logged, without the petition's data)."""
        if r.contact is None or self.unseal is None:
            return None, None
        try:
            contact = json.loads(self.unseal(r.contact))
        except Exception as exc:  # a rotated-out key, a damaged token: no one to call
            log.warning(
                "call-back contact not opened",
                petition_id=r.s.petition_id,
                error=type(exc).__name__,
            )
            return None, None
        return contact.get("name"), contact.get("phone")

    def unit_name(self, unit: str) -> str:
        """The name of the unit ``unit`` (``dept.TAX``) in the reference data."""
        kind, _, code = unit.partition(".")
        try:
            return self.rules.unit_name(kind, code)
        except Exception:  # a unit the reference data no longer names: its key then
            return unit


def lifecycle_output(key: bytes, record: wire.LifecycleEvent, kind: str) -> Output:
    """A record on ``hub.lifecycle`` (``LifecycleEvent.v5``, header ``hub-kind``: ``kind``)."""
    return Output(
        LIFECYCLE, key, schemas.encode(codec.LIFECYCLE_V5, record), ((KIND_HEADER, kind.encode()),)
    )


_lifecycle = lifecycle_output


def _evaluation_request(
    effect: EvaluationInvited, r: _Rendering, provincial: Mapping[str, str | None] | None = None
) -> Output:
    """The channel's request to rate the reply (JSON, keyed by the channel's reference; where it
    goes is the channel's declaration, :data:`petition_hub.connectors.EVALUATION_REQUESTS`);
    ``provincial``: for a provincial dispatch, what the 12345 call centre needs besides (its id,
    who to call, who replied). The shape is documented in README.md ("Ratings")."""
    topic, ref_field = EVALUATION_REQUESTS[effect.channel]
    body: dict[str, object] = {
        ref_field: r.channel_ref,
        "petitionRef": r.s.petition_id,
        "channel": effect.channel.name,
        "repliedAt": effect.at.isoformat(),
        "evaluateBy": effect.due.isoformat(),
        "round": effect.round,
        "replyText": r.event.text if isinstance(r.event, Replied) else None,
        "choices": [choice.value for choice in Satisfaction],
        **(provincial or {}),
    }
    value = json.dumps(body, ensure_ascii=False).encode()
    return Output(topic, r.channel_ref.encode(), value, ce_type=EVALUATION_REQUEST_TYPE)


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
        *EVALUATION_REQUEST_TOPICS,
        *PROGRESS,
        OFFICE_SUPERVISION,
        LEADING_GROUP_SUPERVISION,
        *units_of(spec),
    )
    return {t: spec[t].partitions for t in topics}
