"""A unit's dispute of a rating (对评价结果有异议) in the state machine: only the lead, only a
不满意, once, within 5 working days of the rating on the hub's calendar; the office voids or
upholds it; the petition's state (the reopening) goes on either way."""

from __future__ import annotations

from typing import Any

from petition_hub.domain.lifecycle import (
    Closure,
    DisputeAnswered,
    DisputeDecided,
    DisputeForwarded,
    DisputeStatus,
    PetitionState,
    RatingDisputed,
    RejectReason,
    Replied,
    dispute_window_end,
)
from petition_hub.domain.lifecycle import (
    Rated as RatedEvent,
)
from petition_hub.domain.petition import Satisfaction
from petition_hub.domain.sla import default_policy
from tests.test_lifecycle import (
    CAL,
    CO,
    LEAD,
    OTHER,
    RECEIVED,
    ROUTED,
    SIGNED,
    WORKING,
    L,
    S,
    ev,
    local,
    ok,
    rejected,
    walk,
)

REASON = "已按政策答复，企业诉求超出法定范围"


def _rated(satisfaction: Satisfaction, at: str = "2026-04-01 10:00") -> PetitionState:
    """Replied on Tuesday 31 March 2026, rated on ``at`` (Wednesday 1 April: the Qingming
    holiday, 4 to 6 April, lies in the window)."""
    replied = walk(RECEIVED, ROUTED, SIGNED, WORKING, ev(Replied, "2026-03-31 10:00"))
    return walk(ev(RatedEvent, at, satisfaction=satisfaction), state=replied)


def _dispute(at: str, unit: str = LEAD, reason: str = REASON) -> Any:
    return ev(RatingDisputed, at, unit=unit, reason=reason)


def test_window_counts_working_days_across_the_weekend_and_holiday() -> None:
    # 1 April not counted; 2, 3 (Thu, Fri), then Sat 4 to Mon 6 are the Qingming holiday: 7, 8, 9
    end = dispute_window_end(L("2026-04-01 10:00"), default_policy(), CAL)
    assert local(end) == "2026-04-09 18:00", f"expected the 5th working day 18:00, got {end}"
    s = _rated(Satisfaction.DISSATISFIED)
    assert s.state is S.REOPENED and local(s.dissatisfied_at) == "2026-04-01 10:00"
    # on the last day, before 18:00 (a calendar-day count would have ended on 6 April)
    late_but_in = ok(s, _dispute("2026-04-09 17:59"))
    assert late_but_in.state.dispute is DisputeStatus.PENDING
    forwarded = [e for e in late_but_in.effects if isinstance(e, DisputeForwarded)]
    assert [(f.unit, f.reason, local(f.rated_at), f.rated_round) for f in forwarded] == [
        (LEAD, REASON, "2026-04-01 10:00", 0)
    ]
    assert late_but_in.state.state is S.REOPENED, "a dispute does not change the state"
    refused = rejected(s, _dispute("2026-04-09 18:01"))
    assert refused.reason is RejectReason.DISPUTE_WINDOW_PASSED, refused
    assert "2026-04-09T18:00" in refused.detail


def test_only_once_per_petition() -> None:
    s = walk(_dispute("2026-04-02 09:00"), state=_rated(Satisfaction.DISSATISFIED))
    decided = walk(ev(DisputeDecided, "2026-04-02 15:00", voided=False), state=s)
    again = rejected(decided, _dispute("2026-04-03 09:00"))
    assert again.reason is RejectReason.DISPUTE_ALREADY_MADE, again
    assert rejected(s, _dispute("2026-04-03 09:00")).reason is RejectReason.DISPUTE_ALREADY_MADE


def test_only_a_dissatisfied_rating() -> None:
    for satisfaction in (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED):
        r = rejected(_rated(satisfaction), _dispute("2026-04-02 09:00"))
        assert r.reason is RejectReason.NOTHING_TO_DISPUTE, (satisfaction, r)
    unrated = walk(RECEIVED, ROUTED, SIGNED, WORKING, ev(Replied, "2026-03-31 10:00"))
    assert rejected(unrated, _dispute("2026-04-01 09:00")).reason is RejectReason.NOTHING_TO_DISPUTE


def test_only_the_lead() -> None:
    s = _rated(Satisfaction.DISSATISFIED)
    assert rejected(s, _dispute("2026-04-02 09:00", unit=CO)).reason is RejectReason.NOT_THE_LEAD
    assert rejected(s, _dispute("2026-04-02 09:00", unit=OTHER)).reason is (
        RejectReason.NOT_A_HANDLER
    )


def test_a_dispute_needs_a_reason() -> None:
    r = rejected(_rated(Satisfaction.DISSATISFIED), _dispute("2026-04-02 09:00", reason="  "))
    assert r.reason is RejectReason.EMPTY_DISPUTE


def test_voided_and_upheld_leave_the_reopening_going() -> None:
    s = walk(_dispute("2026-04-02 09:00"), state=_rated(Satisfaction.DISSATISFIED))
    for voided, status in ((True, DisputeStatus.VOIDED), (False, DisputeStatus.UPHELD)):
        r = ok(s, ev(DisputeDecided, "2026-04-03 10:00", voided=voided, note="经核实"))
        assert r.state.dispute is status and r.state.state is S.REOPENED
        answers = [e for e in r.effects if isinstance(e, DisputeAnswered)]
        assert [(a.unit, a.voided, a.note, local(a.rated_at)) for a in answers] == [
            (LEAD, voided, "经核实", "2026-04-01 10:00")
        ]


def test_a_decision_without_a_pending_dispute_is_refused() -> None:
    s = _rated(Satisfaction.DISSATISFIED)
    r = rejected(s, ev(DisputeDecided, "2026-04-02 10:00", voided=True))
    assert r.reason is RejectReason.NO_DISPUTE_PENDING
    decided = walk(
        _dispute("2026-04-02 09:00"), ev(DisputeDecided, "2026-04-02 10:00", voided=True), state=s
    )
    again = rejected(decided, ev(DisputeDecided, "2026-04-02 11:00", voided=False))
    assert again.reason is RejectReason.NO_DISPUTE_PENDING


def test_a_closed_petition_still_takes_its_dispute_and_the_decision() -> None:
    # the second 不满意 closes (the reopen is used up): its dispute still comes
    s = walk(
        ev(Replied, "2026-04-07 10:00"),
        ev(RatedEvent, "2026-04-08 10:00", satisfaction=Satisfaction.DISSATISFIED),
        state=_rated(Satisfaction.DISSATISFIED),
    )
    assert s.state is S.CLOSED and s.closure is Closure.DISSATISFIED
    assert s.dissatisfied_round == 1 and local(s.dissatisfied_at) == "2026-04-08 10:00"
    disputed = ok(s, _dispute("2026-04-09 10:00"))
    assert [e.rated_round for e in disputed.effects if isinstance(e, DisputeForwarded)] == [1]
    decided = ok(disputed.state, ev(DisputeDecided, "2026-04-10 10:00", voided=True))
    assert decided.state.dispute is DisputeStatus.VOIDED and decided.state.state is S.CLOSED
    other = rejected(decided.state, ev(Replied, "2026-04-10 11:00"))
    assert other.reason is RejectReason.PETITION_CLOSED
