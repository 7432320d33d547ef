"""Repeats become one case (重复诉求): whether a repeat joins its earlier case or opens its own.

A repeat names an earlier case (a 12345 ``YGDBH`` call: the earlier work order). While that case
is open and the repeat came within the window (``HUB_REPEAT_WINDOW_DAYS``, default 30 days, from
the earlier case's receipt), the repeat is linked to it: one case, one clock, counted once; its
lead unit is told and the repeat's channel hears the case's progress. Otherwise (the earlier case
closed, transferred, unknown here, or the window over) the repeat opens a case of its own that
names the earlier one, and counts as a repeat (重复诉求率).

Pure: no I/O; the lifecycle stage asks it with the earlier case's state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from .lifecycle import LifecycleState, PetitionState

__all__ = ["DEFAULT_WINDOW", "RepeatOutcome", "repeat_outcome"]

#: The default window within which a repeat joins the earlier open case.
DEFAULT_WINDOW: Final = timedelta(days=30)

#: States in which a case takes no repeat any more: its handling here is over.
_ENDED: Final = frozenset({LifecycleState.CLOSED, LifecycleState.TRANSFERRED})


class RepeatOutcome(StrEnum):
    """What becomes of a repeat."""

    LINKED = "linked"
    """Joined to the earlier, open case: no case, clock or count of its own."""
    NEW_CASE = "new_case"
    """A case of its own, naming the earlier one (a repeat in the rates)."""


def repeat_outcome(
    first: PetitionState | None, repeat_at: datetime, window: timedelta = DEFAULT_WINDOW
) -> RepeatOutcome:
    """What becomes of a repeat received at ``repeat_at`` whose earlier case is ``first`` (None:
    not known here, e.g. before the hub or forgotten after its retention)."""
    if first is None or first.state in _ENDED:
        return RepeatOutcome.NEW_CASE
    if repeat_at - first.received_at > window:
        return RepeatOutcome.NEW_CASE
    return RepeatOutcome.LINKED
