"""The lifecycle state machine: every allowed transition, every rejection reason, the full story."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import TypeAdapter

from petition_hub.domain.calendar import CalendarUnavailable, default_calendar
from petition_hub.domain.lifecycle import (
    Accepted,
    Closure,
    DisputeDecided,
    EvaluationInvited,
    Event,
    ExtensionAnswered,
    ExtensionDecided,
    ExtensionForwarded,
    ExtensionRequested,
    ExtensionStatus,
    InProgress,
    LifecycleState,
    MaterialReceived,
    MaterialRequested,
    OpinionGiven,
    OpinionRelayed,
    PetitionState,
    Rated,
    RatingDisputed,
    Received,
    Rejection,
    RejectReason,
    Replied,
    ReplyKind,
    Returned,
    Routed,
    RoutingRequested,
    SignedFor,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
    Tick,
    TriageRequested,
    TriageRouted,
    UnitUrged,
    apply,
    next_wakeup,
)
from petition_hub.domain.petition import (
    Channel,
    Petition,
    Petitioner,
    PetitionerKind,
    PetitionType,
    Satisfaction,
    Urgency,
    petition_id_for,
)
from petition_hub.domain.sla import SHANGHAI, ClockKind, LadderStep, SlaPolicy, default_policy

CAL = default_calendar()
PID = petition_id_for(Channel.MINIPROGRAM, "MP2026030200001")
LEAD, CO, OTHER = "dept.FGW", "dept.SWJ", "county.410402"
S = LifecycleState
OK_TEXT = "已协调银行续贷。"


def L(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def local(t: datetime | None) -> str:
    assert t is not None
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def ok(state: PetitionState | None, event: Any, policy: SlaPolicy | None = None) -> Accepted:
    result = apply(state, event, policy=policy, cal=CAL)
    assert isinstance(result, Accepted), result
    return result


def rejected(state: PetitionState | None, event: Any) -> Rejection:
    result = apply(state, event, cal=CAL)
    assert isinstance(result, Rejection), result
    return result


def walk(*events: Any, state: PetitionState | None = None) -> PetitionState:
    for ev in events:
        state = ok(state, ev).state
    assert state is not None
    return state


def changes(result: Accepted) -> list[tuple[str | None, str, str]]:
    return [
        (e.from_state, e.to_state, e.cause) for e in result.effects if isinstance(e, StateChanged)
    ]


def signals(result: Accepted) -> list[tuple[str, str]]:
    return [(e.clock, e.signal) for e in result.effects if isinstance(e, SlaSignal)]


# the standard petition: mini-program, 意见建议, normal; received Monday 2 March 2026 10:00
RECEIVED = Received(
    petition_id=PID,
    at=L("2026-03-02 10:00"),
    channel=Channel.MINIPROGRAM,
    petition_type=PetitionType.SUGGESTION,
)
ROUTED = Routed(petition_id=PID, at=L("2026-03-02 10:05"), lead_unit=LEAD, co_units=(CO,))
SIGNED = SignedFor(petition_id=PID, at=L("2026-03-03 09:00"), unit=LEAD)
WORKING = InProgress(petition_id=PID, at=L("2026-03-03 10:00"), unit=LEAD)


UNIT_EVENTS = (
    SignedFor,
    InProgress,
    MaterialRequested,
    MaterialReceived,
    ExtensionRequested,
    Replied,
    Returned,
    OpinionGiven,
    RatingDisputed,
)


def ev(cls: Any, at: str, **kw: Any) -> Any:
    """An event of ``cls`` for the standard petition at local time ``at`` (unit: the lead)."""
    if cls in UNIT_EVENTS:
        kw.setdefault("unit", LEAD)
    if cls is Replied:
        kw.setdefault("text", OK_TEXT)
    return cls(petition_id=PID, at=L(at), **kw)


def received() -> PetitionState:
    return walk(RECEIVED)


def routed() -> PetitionState:
    return walk(RECEIVED, ROUTED)


def signed() -> PetitionState:
    return walk(RECEIVED, ROUTED, SIGNED)


def in_progress() -> PetitionState:
    return walk(RECEIVED, ROUTED, SIGNED, WORKING)


def waiting() -> PetitionState:
    return walk(ev(MaterialRequested, "2026-03-04 10:00", reason="营业执照"), state=in_progress())


def pending_extension() -> PetitionState:
    return walk(ev(ExtensionRequested, "2026-03-04 10:00", days=5), state=in_progress())


def extended() -> PetitionState:
    return walk(ev(ExtensionDecided, "2026-03-05 10:00", approved=True), state=pending_extension())


def replied() -> PetitionState:
    return walk(ev(Replied, "2026-03-06 10:00"), state=in_progress())


def evaluated() -> PetitionState:
    return walk(ev(Rated, "2026-03-07 10:00", satisfaction=Satisfaction.SATISFIED), state=replied())


def reopened() -> PetitionState:
    return walk(
        ev(Rated, "2026-03-07 10:00", satisfaction=Satisfaction.DISSATISFIED), state=replied()
    )


def triage() -> PetitionState:
    return walk(ev(TriageRequested, "2026-03-02 10:05", reason="no rule matched"), state=received())


def returned() -> PetitionState:
    return walk(ev(Returned, "2026-03-03 10:00", reason="not ours"), state=routed())


def closed() -> PetitionState:
    return walk(ev(Tick, "2026-03-13 10:00"), state=replied())


# --- allowed transitions ------------------------------------------------------------------------

TRANSITIONS: list[tuple[str, Any, Any, LifecycleState]] = [
    ("receive", lambda: None, RECEIVED, S.RECEIVED),
    ("route", received, ROUTED, S.ROUTED),
    ("to triage", received, ev(TriageRequested, "2026-03-02 10:05"), S.TRIAGE),
    (
        "triage routes",
        triage,
        ev(TriageRouted, "2026-03-02 15:00", lead_unit=LEAD),
        S.ROUTED,
    ),
    ("sign for", routed, SIGNED, S.SIGNED_FOR),
    ("return unsigned", routed, ev(Returned, "2026-03-03 10:00"), S.RETURNED),
    ("return signed", signed, ev(Returned, "2026-03-03 17:00"), S.RETURNED),
    ("route again", returned, ev(Routed, "2026-03-03 11:00", lead_unit=OTHER), S.ROUTED),
    ("returned to triage", returned, ev(TriageRequested, "2026-03-03 11:00"), S.TRIAGE),
    ("start work", signed, WORKING, S.IN_PROGRESS),
    ("material when signed", signed, ev(MaterialRequested, "2026-03-03 11:00"), S.WAITING_MATERIAL),
    ("material", in_progress, ev(MaterialRequested, "2026-03-04 10:00"), S.WAITING_MATERIAL),
    ("material back", waiting, ev(MaterialReceived, "2026-03-05 10:00"), S.IN_PROGRESS),
    (
        "ask extension",
        in_progress,
        ev(ExtensionRequested, "2026-03-04 10:00", days=3),
        S.IN_PROGRESS,
    ),
    (
        "ask extension waiting",
        waiting,
        ev(ExtensionRequested, "2026-03-04 11:00", days=3),
        S.WAITING_MATERIAL,
    ),
    (
        "extension approved",
        pending_extension,
        ev(ExtensionDecided, "2026-03-05 10:00", approved=True),
        S.EXTENDED,
    ),
    (
        "extension refused",
        pending_extension,
        ev(ExtensionDecided, "2026-03-05 10:00", approved=False),
        S.IN_PROGRESS,
    ),
    (
        "material when extended",
        extended,
        ev(MaterialRequested, "2026-03-06 10:00"),
        S.WAITING_MATERIAL,
    ),
    ("reply signed", signed, ev(Replied, "2026-03-03 12:00"), S.REPLIED),
    ("reply", in_progress, ev(Replied, "2026-03-06 10:00"), S.REPLIED),
    ("reply waiting", waiting, ev(Replied, "2026-03-05 10:00"), S.REPLIED),
    ("reply extended", extended, ev(Replied, "2026-03-06 10:00"), S.REPLIED),
    (
        "rate satisfied",
        replied,
        ev(Rated, "2026-03-07 10:00", satisfaction=Satisfaction.SATISFIED),
        S.EVALUATED,
    ),
    (
        "rate basically",
        replied,
        ev(Rated, "2026-03-07 10:00", satisfaction=Satisfaction.BASICALLY_SATISFIED),
        S.EVALUATED,
    ),
    (
        "rate dissatisfied",
        replied,
        ev(Rated, "2026-03-07 10:00", satisfaction=Satisfaction.DISSATISFIED),
        S.REOPENED,
    ),
    (
        "change to satisfied",
        evaluated,
        ev(Rated, "2026-03-08 10:00", satisfaction=Satisfaction.BASICALLY_SATISFIED, revision=1),
        S.CLOSED,
    ),
    (
        "change to dissatisfied",
        evaluated,
        ev(Rated, "2026-03-08 10:00", satisfaction=Satisfaction.DISSATISFIED, revision=1),
        S.REOPENED,
    ),
    ("work again", reopened, ev(InProgress, "2026-03-09 10:00"), S.IN_PROGRESS),
    ("reply again", reopened, ev(Replied, "2026-03-09 10:00"), S.REPLIED),
    ("material reopened", reopened, ev(MaterialRequested, "2026-03-09 10:00"), S.WAITING_MATERIAL),
    ("unrated", replied, ev(Tick, "2026-03-13 10:00"), S.CLOSED),
    ("rated, window over", evaluated, ev(Tick, "2026-03-13 10:00"), S.CLOSED),
    ("tick, nothing due", in_progress, ev(Tick, "2026-03-04 10:00"), S.IN_PROGRESS),
]


@pytest.mark.parametrize(
    ("name", "setup", "event", "expected"), TRANSITIONS, ids=[t[0] for t in TRANSITIONS]
)
def test_allowed_transition(name: str, setup: Any, event: Any, expected: LifecycleState) -> None:
    before = setup()
    result = ok(before, event)
    assert result.state.state is expected
    moved = changes(result)
    if before is None or before.state is not expected:
        assert moved[-1][1] == expected
        assert moved[-1][0] == (None if before is None else before.state)
    else:
        assert moved == []


def test_material_round_trip_returns_to_extended() -> None:
    s = walk(
        ev(MaterialRequested, "2026-03-06 10:00"),
        ev(MaterialReceived, "2026-03-09 10:00"),
        state=extended(),
    )
    assert s.state is S.EXTENDED


def test_extension_approved_while_waiting_resumes_to_extended() -> None:
    s = walk(
        ev(ExtensionRequested, "2026-03-04 11:00", days=2),
        ev(ExtensionDecided, "2026-03-04 15:00", approved=True),
        state=waiting(),
    )
    assert s.state is S.WAITING_MATERIAL and s.resume_to is S.EXTENDED
    assert s.resolve.extension_days == 2
    assert walk(ev(MaterialReceived, "2026-03-05 10:00"), state=s).state is S.EXTENDED


def test_returned_goes_back_to_routing_without_the_unit() -> None:
    result = ok(routed(), ev(Returned, "2026-03-03 10:00", reason="属于税务"))
    s = result.state
    assert s.lead_unit is None and s.returned_by == (LEAD,) and s.sign_for is None
    routing = [e for e in result.effects if isinstance(e, RoutingRequested)]
    assert routing[0].exclude_units == (LEAD,)
    assert signals(result) == [("sign_for", "cancelled")]
    # the office may still route it there
    back = walk(
        ev(TriageRequested, "2026-03-03 11:00"),
        ev(TriageRouted, "2026-03-03 15:00", lead_unit=LEAD),
        state=s,
    )
    assert back.lead_unit == LEAD


def test_rerouting_gives_a_fresh_sign_for_window() -> None:
    s = walk(ev(Routed, "2026-03-03 11:00", lead_unit=OTHER), state=returned())
    assert s.sign_for is not None
    assert local(s.sign_for.base_deadline) == "2026-03-04 18:00"
    assert local(s.resolve.base_deadline) == "2026-03-16 18:00"  # the resolve clock runs on


# --- rejections ---------------------------------------------------------------------------------

REJECTIONS: list[tuple[str, Any, Any, RejectReason]] = [
    ("unknown petition", lambda: None, SIGNED, RejectReason.UNKNOWN_PETITION),
    ("unknown tick", lambda: None, ev(Tick, "2026-03-02 10:00"), RejectReason.UNKNOWN_PETITION),
    ("received twice", received, RECEIVED, RejectReason.ALREADY_RECEIVED),
    (
        "other petition",
        routed,
        SignedFor(petition_id=petition_id_for("hotline", "x"), at=L("2026-03-03 09:00"), unit=LEAD),
        RejectReason.PETITION_MISMATCH,
    ),
    (
        "after close",
        closed,
        ev(Rated, "2026-03-14 10:00", satisfaction=Satisfaction.SATISFIED, revision=1),
        RejectReason.PETITION_CLOSED,
    ),
    ("unit after close", closed, ev(InProgress, "2026-03-14 10:00"), RejectReason.PETITION_CLOSED),
    (
        "other unit after close",  # learns nothing of the petition
        closed,
        ev(InProgress, "2026-03-14 10:00", unit=OTHER),
        RejectReason.NOT_A_HANDLER,
    ),
    (
        "wrong unit",
        routed,
        ev(SignedFor, "2026-03-03 09:00", unit=OTHER),
        RejectReason.NOT_A_HANDLER,
    ),
    (
        "unit before routing",
        received,
        ev(SignedFor, "2026-03-03 09:00"),
        RejectReason.NOT_A_HANDLER,
    ),
    ("returning unit", returned, ev(Replied, "2026-03-03 12:00"), RejectReason.NOT_A_HANDLER),
    ("co-handler", routed, ev(SignedFor, "2026-03-03 09:00", unit=CO), RejectReason.NOT_THE_LEAD),
    (
        "co-handler replies",
        in_progress,
        ev(Replied, "2026-03-04 09:00", unit=CO),
        RejectReason.NOT_THE_LEAD,
    ),
    (
        "lead's opinion",
        signed,
        ev(OpinionGiven, "2026-03-03 11:00", text="意见"),
        RejectReason.OPINION_FROM_LEAD,
    ),
    (
        "empty opinion",
        signed,
        ev(OpinionGiven, "2026-03-03 11:00", unit=CO, text="  "),
        RejectReason.EMPTY_OPINION,
    ),
    (
        "opinion of another unit",
        signed,
        ev(OpinionGiven, "2026-03-03 11:00", unit=OTHER, text="意见"),
        RejectReason.NOT_A_HANDLER,
    ),
    ("signed twice", signed, ev(SignedFor, "2026-03-03 10:00"), RejectReason.WRONG_STATE),
    (
        "material back, none asked",
        in_progress,
        ev(MaterialReceived, "2026-03-04 10:00"),
        RejectReason.WRONG_STATE,
    ),
    (
        "routed twice",
        routed,
        ev(Routed, "2026-03-02 11:00", lead_unit=OTHER),
        RejectReason.WRONG_STATE,
    ),
    (
        "triage decision, no triage",
        routed,
        ev(TriageRouted, "2026-03-02 11:00", lead_unit=OTHER),
        RejectReason.WRONG_STATE,
    ),
    ("return in progress", in_progress, ev(Returned, "2026-03-03 11:00"), RejectReason.WRONG_STATE),
    (
        "in progress twice",
        in_progress,
        ev(InProgress, "2026-03-04 10:00"),
        RejectReason.WRONG_STATE,
    ),
    (
        "work before sign-for",
        routed,
        ev(InProgress, "2026-03-03 09:00"),
        RejectReason.NOT_SIGNED_FOR,
    ),
    (
        "material before sign-for",
        routed,
        ev(MaterialRequested, "2026-03-03 09:00"),
        RejectReason.NOT_SIGNED_FOR,
    ),
    (
        "extension before sign-for",
        routed,
        ev(ExtensionRequested, "2026-03-03 09:00", days=2),
        RejectReason.NOT_SIGNED_FOR,
    ),
    (
        "reply before sign-for",
        routed,
        ev(Replied, "2026-03-03 09:00"),
        RejectReason.REPLY_BEFORE_SIGN_FOR,
    ),
    (
        "empty reply",
        in_progress,
        ev(Replied, "2026-03-04 09:00", text="  \n"),
        RejectReason.EMPTY_REPLY,
    ),
    ("late return", routed, ev(Returned, "2026-03-03 18:01"), RejectReason.RETURN_WINDOW_PASSED),
    (
        "route to returning unit",
        returned,
        ev(Routed, "2026-03-03 11:00", lead_unit=LEAD),
        RejectReason.ROUTED_TO_RETURNING_UNIT,
    ),
    (
        "second extension (pending)",
        pending_extension,
        ev(ExtensionRequested, "2026-03-04 11:00", days=1),
        RejectReason.EXTENSION_ALREADY_REQUESTED,
    ),
    (
        "second extension (granted)",
        extended,
        ev(ExtensionRequested, "2026-03-06 11:00", days=1),
        RejectReason.EXTENSION_ALREADY_REQUESTED,
    ),
    (
        "second extension (refused)",
        lambda: walk(
            ev(ExtensionDecided, "2026-03-05 10:00", approved=False), state=pending_extension()
        ),
        ev(ExtensionRequested, "2026-03-06 11:00", days=1),
        RejectReason.EXTENSION_ALREADY_REQUESTED,
    ),
    (
        "extension too long",
        in_progress,
        ev(ExtensionRequested, "2026-03-04 10:00", days=11),
        RejectReason.EXTENSION_TOO_LONG,
    ),
    (
        "office grants too much",
        pending_extension,
        ev(ExtensionDecided, "2026-03-05 10:00", approved=True, days=11),
        RejectReason.EXTENSION_TOO_LONG,
    ),
    (
        "decision without request",
        in_progress,
        ev(ExtensionDecided, "2026-03-05 10:00", approved=True),
        RejectReason.NO_EXTENSION_PENDING,
    ),
    (
        "extension after reply",
        replied,
        ev(ExtensionRequested, "2026-03-06 11:00", days=1),
        RejectReason.WRONG_STATE,
    ),
    (
        "rating in progress",
        in_progress,
        ev(Rated, "2026-03-05 10:00", satisfaction=Satisfaction.SATISFIED),
        RejectReason.EVALUATION_NOT_EXPECTED,
    ),
    (
        "rating reopened",
        reopened,
        ev(Rated, "2026-03-08 10:00", satisfaction=Satisfaction.SATISFIED, revision=1),
        RejectReason.EVALUATION_NOT_EXPECTED,
    ),
    (
        "change first",
        replied,
        ev(Rated, "2026-03-07 10:00", satisfaction=Satisfaction.SATISFIED, revision=1),
        RejectReason.EVALUATION_OUT_OF_ORDER,
    ),
    (
        "rating twice",
        evaluated,
        ev(Rated, "2026-03-08 10:00", satisfaction=Satisfaction.SATISFIED),
        RejectReason.DUPLICATE_EVALUATION,
    ),
    (
        "rating after window",
        replied,
        ev(Rated, "2026-03-13 10:01", satisfaction=Satisfaction.SATISFIED),
        RejectReason.PETITION_CLOSED,
    ),
    # disputes of a rating (more in test_lifecycle_disputes.py)
    (
        "dispute of a satisfied rating",
        evaluated,
        ev(RatingDisputed, "2026-03-09 10:00", reason="理由"),
        RejectReason.NOTHING_TO_DISPUTE,
    ),
    (
        "dispute after 5 working days",
        reopened,  # rated Saturday 7 March: the window ends Friday 13 March 18:00
        ev(RatingDisputed, "2026-03-13 18:01", reason="理由"),
        RejectReason.DISPUTE_WINDOW_PASSED,
    ),
    (
        "dispute without a reason",
        reopened,
        ev(RatingDisputed, "2026-03-13 17:59", reason=" "),
        RejectReason.EMPTY_DISPUTE,
    ),
    (
        "second dispute",
        lambda: walk(ev(RatingDisputed, "2026-03-09 10:00", reason="理由"), state=reopened()),
        ev(RatingDisputed, "2026-03-10 10:00", reason="理由"),
        RejectReason.DISPUTE_ALREADY_MADE,
    ),
    (
        "decision without a dispute",
        reopened,
        ev(DisputeDecided, "2026-03-09 10:00", voided=True),
        RejectReason.NO_DISPUTE_PENDING,
    ),
]


@pytest.mark.parametrize(
    ("name", "setup", "event", "reason"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_rejection(name: str, setup: Any, event: Any, reason: RejectReason) -> None:
    before = setup()
    snapshot = None if before is None else before.model_dump()
    result = rejected(before, event)
    assert result.reason is reason
    assert result.detail
    if before is not None:
        assert before.model_dump() == snapshot


def test_extension_not_applicable_on_hour_clocks() -> None:
    raw = default_policy().model_dump()
    raw["resolve"][Urgency.URGENT] = {"hours": 24}
    pol = SlaPolicy.model_validate(raw)
    start = Received(
        petition_id=PID, at=L("2026-03-02 10:00"), channel=Channel.HOTLINE, urgency=Urgency.URGENT
    )
    s: PetitionState | None = None
    for e in (start, ROUTED, SIGNED):
        s = ok(s, e, policy=pol).state
    result = apply(s, ev(ExtensionRequested, "2026-03-03 10:00", days=1), policy=pol, cal=CAL)
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.EXTENSION_NOT_APPLICABLE


def test_a_co_handler_is_told_what_it_may_send() -> None:
    result = rejected(routed(), ev(SignedFor, "2026-03-03 09:00", unit=CO))
    assert f"only the lead unit ({LEAD})" in result.detail, result.detail
    assert "a co-handler may send an opinion" in result.detail, result.detail


def test_a_co_handlers_opinion_goes_to_the_lead_and_changes_nothing() -> None:
    before = signed()
    result = ok(before, ev(OpinionGiven, "2026-03-03 11:00", unit=CO, text="建议联合核查"))
    assert result.state.state is before.state, "an opinion changes no state"
    relayed = [e for e in result.effects if isinstance(e, OpinionRelayed)]
    assert [(e.unit, e.lead, e.text) for e in relayed] == [(CO, LEAD, "建议联合核查")]
    # before sign-for too: the co-handler may speak as soon as it is routed
    early = ok(routed(), ev(OpinionGiven, "2026-03-02 11:00", unit=CO, text="意见"))
    assert [type(e) for e in early.effects] == [OpinionRelayed]


@pytest.mark.parametrize("kind", list(ReplyKind))
def test_a_reply_says_its_kind_and_either_closes_the_units_work(kind: ReplyKind) -> None:
    result = ok(in_progress(), ev(Replied, "2026-03-04 09:00", result=kind))
    assert result.state.state is LifecycleState.REPLIED
    assert result.state.reply_kind is kind
    (change,) = [e for e in result.effects if isinstance(e, StateChanged)]
    assert (change.to_state, change.reply_kind) == (LifecycleState.REPLIED, kind)
    assert any(isinstance(e, EvaluationInvited) for e in result.effects)


def test_a_reply_without_a_kind_is_resolved() -> None:
    assert ok(in_progress(), ev(Replied, "2026-03-04 09:00")).state.reply_kind is (
        ReplyKind.RESOLVED
    )


def test_every_reject_reason_is_tested() -> None:
    tested = {r[3] for r in REJECTIONS} | {RejectReason.EXTENSION_NOT_APPLICABLE}
    assert tested == set(RejectReason)


# --- clocks inside the lifecycle ----------------------------------------------------------------


def test_sign_for_overdue_then_late_signing() -> None:
    s = routed()
    assert next_wakeup(s, cal=CAL) == L("2026-03-03 18:00")
    tick = ok(s, ev(Tick, "2026-03-03 18:00"))
    assert signals(tick) == [("sign_for", "overdue")]
    assert ok(tick.state, ev(Tick, "2026-03-03 18:30")).effects == ()  # once
    late = ok(tick.state, ev(SignedFor, "2026-03-04 09:00"))
    assert signals(late) == [("sign_for", "missed")]
    on_time = ok(routed(), SIGNED)
    assert signals(on_time) == [("sign_for", "met")]


def test_events_catch_the_clocks_up_first() -> None:
    # no tick ran; a reply after the deadline first fires every step that fell due, in order
    result = ok(in_progress(), ev(Replied, "2026-03-24 10:00"))
    sig = [(e.clock, e.signal, local(e.at)) for e in result.effects if isinstance(e, SlaSignal)]
    assert sig == [
        ("resolve", "warning", "2026-03-09 18:00"),
        ("resolve", "urging", "2026-03-12 18:00"),
        ("resolve", "overdue", "2026-03-16 18:00"),
        ("resolve", "listed_supervision", "2026-03-23 18:00"),
        ("resolve", "missed", "2026-03-24 10:00"),
    ]
    assert set(result.state.resolve_fired) == set(LadderStep)


def test_ticks_fire_each_step_once() -> None:
    s = in_progress()
    fired: list[str] = []
    t = L("2026-03-03 12:00")
    while t < L("2026-03-26 00:00"):
        r = ok(s, Tick(petition_id=PID, at=t))
        fired += [e.signal for e in r.effects if isinstance(e, SlaSignal)]
        s = r.state
        t += timedelta(hours=5)
    assert fired == ["warning", "urging", "overdue", "listed_supervision"]
    assert next_wakeup(s, cal=CAL) is None


def test_material_requested_when_overdue_does_not_pause() -> None:
    s = walk(ev(Tick, "2026-03-17 09:00"), state=in_progress())
    result = ok(s, ev(MaterialRequested, "2026-03-17 10:00"))
    assert result.state.state is S.WAITING_MATERIAL
    assert signals(result) == []
    assert result.state.resolve.paused_since is None
    back = ok(result.state, ev(MaterialReceived, "2026-03-18 10:00"))
    assert signals(back) == []


def test_provincial_deadline_reaches_the_clock() -> None:
    p = Petition(
        channel=Channel.PROVINCE,
        channel_ref="HA-2026-0001",
        received_at=L("2026-03-02 10:00"),
        petition_type=PetitionType.LEGAL_RIGHTS,
        content="……",
        petitioner=Petitioner(kind=PetitionerKind.ENTERPRISE),
        provincial_deadline=L("2026-03-10 18:00"),
    )
    result = ok(None, Received.from_petition(p))
    started = next(e for e in result.effects if isinstance(e, SlaSignal))
    assert started.deadline == L("2026-03-10 18:00")
    assert result.state.provincial_deadline == L("2026-03-10 18:00")


def test_event_times_never_go_backwards() -> None:
    s = in_progress()
    r = ok(s, ev(MaterialRequested, "2026-03-01 10:00"))  # stamped before the last event
    assert r.state.resolve.paused_since == s.updated_at
    assert r.state.updated_at == s.updated_at


def test_state_and_events_round_trip_as_json() -> None:
    s = waiting()
    assert PetitionState.model_validate_json(s.model_dump_json()) == s
    adapter: TypeAdapter[Any] = TypeAdapter(Event)
    e = ev(ExtensionRequested, "2026-03-04 11:00", days=2)
    assert adapter.validate_json(e.model_dump_json()) == e
    t = adapter.validate_python(
        {"kind": "tick", "petition_id": PID, "at": "2026-03-04T11:00:00+08:00"}
    )
    assert isinstance(t, Tick)


# --- the full story -----------------------------------------------------------------------------


def test_full_story() -> None:
    """Sign-for, a material pause, an extension, a late reply, a dissatisfied rating, reopening,
    a reply in time, a satisfied rating, closure at the end of the evaluation window."""
    story: list[tuple[Any, list[tuple[str | None, str, str]], list[tuple[str, str]]]] = [
        (RECEIVED, [(None, "received", "received")], [("resolve", "started")]),
        (ROUTED, [("received", "routed", "routed")], [("sign_for", "started")]),
        (SIGNED, [("routed", "signed_for", "signed_for")], [("sign_for", "met")]),
        (WORKING, [("signed_for", "in_progress", "in_progress")], []),
        (
            ev(MaterialRequested, "2026-03-05 10:00", reason="近三年财务报表"),
            [("in_progress", "waiting_material", "material_requested")],
            [("resolve", "paused")],
        ),
        (ev(Tick, "2026-03-09 18:00"), [], []),  # the warning would be due now, but it is paused
        (
            ev(MaterialReceived, "2026-03-10 10:00"),
            [("waiting_material", "in_progress", "material_received")],
            [("resolve", "resumed")],
        ),
        (ev(ExtensionRequested, "2026-03-11 09:00", days=3, reason="需会商"), [], []),
        (
            ev(ExtensionDecided, "2026-03-12 10:00", approved=True),
            [("in_progress", "extended", "extension_decided")],
            [("resolve", "extended")],
        ),
        (
            ev(Tick, "2026-03-26 12:00"),
            [],
            [("resolve", "warning"), ("resolve", "urging"), ("resolve", "overdue")],
        ),
        (
            ev(Replied, "2026-03-26 15:00"),
            [("extended", "replied", "replied")],
            [("resolve", "missed")],
        ),
        (
            ev(Rated, "2026-03-27 10:00", satisfaction=Satisfaction.DISSATISFIED),
            [("replied", "reopened", "rated")],
            [("resolve", "started")],
        ),
        (ev(InProgress, "2026-03-30 09:00"), [("reopened", "in_progress", "in_progress")], []),
        (
            ev(Replied, "2026-04-03 10:00"),
            [("in_progress", "replied", "replied")],
            [("resolve", "met")],
        ),
        (
            ev(Rated, "2026-04-04 10:00", satisfaction=Satisfaction.SATISFIED),
            [("replied", "evaluated", "rated")],
            [],
        ),
        (ev(Tick, "2026-04-09 10:00"), [], []),
        (
            ev(Tick, "2026-04-10 10:00"),
            [("evaluated", "closed", "evaluation_window_elapsed")],
            [],
        ),
    ]
    state: PetitionState | None = None
    everything: list[Any] = []
    for event, expected_changes, expected_signals in story:
        result = ok(state, event)
        assert changes(result) == expected_changes, event
        assert signals(result) == expected_signals, event
        everything.extend(result.effects)
        state = result.state
    assert state is not None

    sla = [e for e in everything if isinstance(e, SlaSignal)]
    resumed = next(e for e in sla if e.signal is SlaSignalKind.RESUMED)
    assert local(resumed.deadline) == "2026-03-19 18:00"  # paused three working days
    ext = next(e for e in sla if e.signal is SlaSignalKind.EXTENDED)
    assert local(ext.deadline) == "2026-03-24 18:00"  # plus three
    steps = [(e.signal, local(e.at)) for e in sla if e.clock is ClockKind.RESOLVE and e.round == 0]
    assert (SlaSignalKind.WARNING, "2026-03-16 13:15") in steps
    assert (SlaSignalKind.URGING, "2026-03-20 12:18") in steps
    assert (SlaSignalKind.OVERDUE, "2026-03-24 18:00") in steps
    fresh = next(e for e in sla if e.round == 1 and e.signal is SlaSignalKind.STARTED)
    assert local(fresh.deadline) == "2026-04-13 18:00"  # 10 working days, Qingming 4-6 April
    assert [e.unit for e in everything if isinstance(e, UnitUrged)] == [LEAD]
    invites = [e for e in everything if isinstance(e, EvaluationInvited)]
    assert [(i.round, local(i.due)) for i in invites] == [
        (0, "2026-04-02 15:00"),
        (1, "2026-04-10 10:00"),
    ]
    assert [
        type(e) for e in everything if isinstance(e, ExtensionForwarded | ExtensionAnswered)
    ] == [
        ExtensionForwarded,
        ExtensionAnswered,
    ]
    assert state.state is S.CLOSED and state.closure is Closure.RATED
    assert state.rating is Satisfaction.SATISFIED
    assert state.extension is ExtensionStatus.APPROVED and state.reopens == 1
    # each state change exactly once, in order
    path = [e.to_state for e in everything if isinstance(e, StateChanged)]
    assert path == [
        "received", "routed", "signed_for", "in_progress", "waiting_material", "in_progress",
        "extended", "replied", "reopened", "in_progress", "replied", "evaluated", "closed",
    ]  # fmt: skip
    assert ok(state, ev(Tick, "2026-04-11 10:00")).effects == ()
    assert (
        rejected(state, ev(InProgress, "2026-04-11 10:00")).reason is RejectReason.PETITION_CLOSED
    )


def test_second_dissatisfaction_closes_dissatisfied() -> None:
    s = walk(
        ev(Replied, "2026-03-09 10:00"),
        ev(Rated, "2026-03-10 10:00", satisfaction=Satisfaction.DISSATISFIED),
        state=reopened(),
    )
    assert s.state is S.CLOSED and s.closure is Closure.DISSATISFIED
    assert s.reopens == 1


def test_change_after_reopen_round_starts_again_at_revision_zero() -> None:
    s = walk(ev(Replied, "2026-03-09 10:00"), state=reopened())
    r = ok(s, ev(Rated, "2026-03-10 10:00", satisfaction=Satisfaction.BASICALLY_SATISFIED))
    assert r.state.state is S.EVALUATED
    final = ok(
        r.state, ev(Rated, "2026-03-11 10:00", satisfaction=Satisfaction.SATISFIED, revision=1)
    )
    assert final.state.closure is Closure.RATED and final.state.rating is Satisfaction.SATISFIED


def test_unrated_is_not_satisfied() -> None:
    r = ok(replied(), ev(Tick, "2026-03-13 10:00"))
    assert r.state.closure is Closure.UNRATED and r.state.rating is None
    (change,) = [e for e in r.effects if isinstance(e, StateChanged)]
    assert change.closure is Closure.UNRATED
    assert change.at == L("2026-03-13 10:00")


def test_a_clock_stopped_before_a_year_without_calendar_met_its_deadline_there() -> None:
    from petition_hub.domain.sla import extend, met, resolve_clock, stop

    bj = timezone(timedelta(hours=8))
    # 3 working days from 27 December 2099: due 30 December; extended by 3 it runs into 2100,
    # a year with neither official data nor a provisional calendar
    clock = resolve_clock(
        datetime(2099, 12, 27, 9, tzinfo=bj), PetitionType.POLICY_CONSULTATION, Urgency.NORMAL
    )
    longer = extend(clock, 3)
    assert met(stop(longer, datetime(2099, 12, 31, 20, tzinfo=bj))) is True
    with pytest.raises(CalendarUnavailable):
        met(stop(longer, datetime(2100, 1, 4, 9, tzinfo=bj)))
