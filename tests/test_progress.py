"""Issue 14 without a broker: a transfer's end in the state machine, who is told of each ladder
step, which effects a petitioner hears of, and the progress topics derived from the channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from petition_hub.agents.lifecycle_progress import progress_kind
from petition_hub.agents.lifecycle_supervision import supervisors
from petition_hub.connectors import CHANNELS, PROGRESS_TOPICS
from petition_hub.domain.lifecycle import (
    OFFICE_UNIT,
    Accepted,
    Closure,
    LifecycleState,
    Received,
    Rejection,
    RejectReason,
    Routed,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
    Tick,
    TransferredToProvince,
    TriageRequested,
    apply,
)
from petition_hub.domain.petition import Channel, PetitionType
from petition_hub.domain.rules import default_rules

AT = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # Monday 09:00 Beijing


def _received() -> Accepted:
    result = apply(
        None,
        Received(
            petition_id="PH-1",
            at=AT,
            channel=Channel.MINIPROGRAM,
            petition_type=PetitionType.POLICY_CONSULTATION,
        ),
    )
    assert isinstance(result, Accepted)
    return result


def test_a_transfer_closes_the_petition_as_transferred_against_no_unit() -> None:
    s = _received().state
    result = apply(s, TransferredToProvince(petition_id="PH-1", at=AT + timedelta(minutes=1)))
    assert isinstance(result, Accepted)
    changes = [e for e in result.effects if isinstance(e, StateChanged)]
    assert [(c.from_state, c.to_state, c.closure) for c in changes] == [
        (LifecycleState.RECEIVED, LifecycleState.TRANSFERRED, None),
        (LifecycleState.TRANSFERRED, LifecycleState.CLOSED, Closure.TRANSFERRED),
    ]
    signals = [e for e in result.effects if isinstance(e, SlaSignal)]
    assert [(g.signal, g.unit) for g in signals] == [(SlaSignalKind.CANCELLED, None)]
    assert result.state.state is LifecycleState.CLOSED
    assert result.state.closure is Closure.TRANSFERRED
    # closed: a month later nothing fires
    later = apply(result.state, Tick(petition_id="PH-1", at=AT + timedelta(days=30)))
    assert isinstance(later, Accepted) and later.effects == ()


def test_a_petition_a_unit_holds_is_not_transferred() -> None:
    s = _received().state
    routed = apply(s, Routed(petition_id="PH-1", at=AT, lead_unit="dept.TAX"))
    assert isinstance(routed, Accepted)
    result = apply(routed.state, TransferredToProvince(petition_id="PH-1", at=AT))
    assert isinstance(result, Rejection) and result.reason is RejectReason.WRONG_STATE


def test_a_step_due_in_triage_names_the_office() -> None:
    s = _received().state
    triage = apply(s, TriageRequested(petition_id="PH-1", at=AT))
    assert isinstance(triage, Accepted)
    later = apply(triage.state, Tick(petition_id="PH-1", at=AT + timedelta(days=30)))
    assert isinstance(later, Accepted)
    steps = [e for e in later.effects if isinstance(e, SlaSignal)]
    assert [g.signal for g in steps] == [
        SlaSignalKind.WARNING,
        SlaSignalKind.URGING,
        SlaSignalKind.OVERDUE,
        SlaSignalKind.LISTED_SUPERVISION,
    ]
    assert {g.unit for g in steps} == {OFFICE_UNIT}


def test_the_office_is_the_first_step_of_the_reference_escalation() -> None:
    first = default_rules().escalation[0]
    assert f"dept.{first.units[0]}" == OFFICE_UNIT


@pytest.mark.parametrize(
    ("signal", "held", "told"),
    [
        (SlaSignalKind.WARNING, True, ()),
        (SlaSignalKind.URGING, True, ()),
        (SlaSignalKind.OVERDUE, True, ("office",)),
        (SlaSignalKind.LISTED_SUPERVISION, True, ("office", "leading_group")),
        (SlaSignalKind.WARNING, False, ("office",)),
        (SlaSignalKind.OVERDUE, False, ("office",)),
        (SlaSignalKind.LISTED_SUPERVISION, False, ("office", "leading_group")),
    ],
)
def test_who_is_told_of_a_step(signal: SlaSignalKind, held: bool, told: tuple[str, ...]) -> None:
    assert supervisors(signal, held) == told


def test_which_changes_a_petitioner_hears_of() -> None:
    def change(frm: LifecycleState | None, to: LifecycleState, cause: str) -> StateChanged:
        return StateChanged(petition_id="PH-1", at=AT, from_state=frm, to_state=to, cause=cause)

    assert progress_kind(change(None, LifecycleState.RECEIVED, "received")) == "received"
    assert progress_kind(change(LifecycleState.SIGNED_FOR, LifecycleState.IN_PROGRESS, "x")) is None
    back = change(LifecycleState.WAITING_MATERIAL, LifecycleState.SIGNED_FOR, "material_received")
    assert progress_kind(back) == "material_received"
    assert progress_kind(change(LifecycleState.RECEIVED, LifecycleState.TRIAGE, "t")) is None


def test_the_progress_topics_come_from_the_channel_declarations() -> None:
    declared = {s.channel: s.progress for s in CHANNELS if s.progress is not None}
    assert declared == dict(PROGRESS_TOPICS)
    assert {c: p.topic for c, p in PROGRESS_TOPICS.items()} == {
        Channel.HOTLINE: "hotline12345.progress",
        Channel.MINIPROGRAM: "miniprogram.progress",
    }
    assert Channel.PROVINCE not in PROGRESS_TOPICS  # it hears through province.feedback
