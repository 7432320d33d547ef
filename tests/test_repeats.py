"""The repeat rule (:mod:`petition_hub.domain.repeats`): a repeat joins its earlier case while
that case is open and within the window from its receipt; otherwise it opens a case of its own."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from petition_hub.domain.calendar import default_calendar
from petition_hub.domain.lifecycle import Accepted, LifecycleState, PetitionState, Received, apply
from petition_hub.domain.petition import Channel, PetitionType, petition_id_for
from petition_hub.domain.repeats import DEFAULT_WINDOW, RepeatOutcome, repeat_outcome
from petition_hub.domain.sla import SHANGHAI

S = LifecycleState
RECEIVED_AT = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)  # a Monday


def _first(state: LifecycleState = S.ROUTED) -> PetitionState:
    """The earlier case, received at :data:`RECEIVED_AT`, now in ``state``."""
    received = Received(
        petition_id=petition_id_for(Channel.HOTLINE, "12345-410400-20260601-000101"),
        at=RECEIVED_AT,
        channel=Channel.HOTLINE,
        petition_type=PetitionType.DIFFICULTY_ASSISTANCE,
    )
    result = apply(None, received, cal=default_calendar())
    assert isinstance(result, Accepted), result
    return result.state.model_copy(update={"state": state})


OPEN = [s for s in S if s not in (S.CLOSED, S.TRANSFERRED)]


@pytest.mark.parametrize("state", OPEN, ids=str)
def test_a_repeat_within_the_window_joins_an_open_case(state: LifecycleState) -> None:
    got = repeat_outcome(_first(state), RECEIVED_AT + timedelta(days=1))
    assert got is RepeatOutcome.LINKED, f"{state}: expected linked, got {got}"


@pytest.mark.parametrize("state", [S.CLOSED, S.TRANSFERRED], ids=str)
def test_a_repeat_of_a_closed_or_transferred_case_opens_its_own(state: LifecycleState) -> None:
    # the earlier case's handling here is over, even an hour after its receipt
    got = repeat_outcome(_first(state), RECEIVED_AT + timedelta(hours=1))
    assert got is RepeatOutcome.NEW_CASE, f"{state}: expected a new case, got {got}"


def test_the_window_counts_from_the_first_receipt_and_includes_its_end() -> None:
    first = _first(S.IN_PROGRESS)
    assert timedelta(days=30) == DEFAULT_WINDOW
    at_end = RECEIVED_AT + DEFAULT_WINDOW
    assert repeat_outcome(first, at_end) is RepeatOutcome.LINKED
    after = at_end + timedelta(seconds=1)
    assert repeat_outcome(first, after) is RepeatOutcome.NEW_CASE
    # a shorter configured window (HUB_REPEAT_WINDOW_DAYS)
    week = timedelta(days=7)
    assert repeat_outcome(first, RECEIVED_AT + timedelta(days=7), week) is RepeatOutcome.LINKED
    assert repeat_outcome(first, RECEIVED_AT + timedelta(days=8), week) is RepeatOutcome.NEW_CASE


def test_a_repeat_of_a_case_not_known_here_opens_its_own() -> None:
    # before the hub, or forgotten after its retention
    assert repeat_outcome(None, RECEIVED_AT) is RepeatOutcome.NEW_CASE
