"""Repeats become one case (重复诉求): whether a repeat joins its earlier case or opens its own.

A repeat names an earlier case (a 12345 ``YGDBH`` call: the earlier work order). While that case
is open and the repeat came within the window (``HUB_REPEAT_WINDOW_DAYS``, default 30 days, from
the earlier case's receipt), the repeat is linked to it: one case, one clock, counted once; its
lead unit is told and the repeat's channel hears the case's progress. Otherwise (the earlier case
closed, transferred, unknown here, or the window over) the repeat opens a case of its own that
names the earlier one, and counts as a repeat (重复诉求率).

The same holds for an enterprise's matter on any channel (the mini-program after a 12345 call):
a petition of the same enterprise (credit code) on the same theme within the window is linked to
the matter's open case, or, when that case ended, opens a case naming it (a repeat); the matter
is named by :func:`matter_key` (hashed: no credit code in a key).

Pure: no I/O; the lifecycle stage asks it with the earlier case's state.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from .lifecycle import LifecycleState, PetitionState
from .petition import Channel, Petition

__all__ = ["DEFAULT_WINDOW", "RepeatOutcome", "matter_key", "petition_matter", "repeat_outcome"]

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


def matter_key(uscc: str | None, theme: str | None) -> str | None:
    """The key of an enterprise's matter: ``M-`` and the first 20 hex digits of the SHA-256 of
    ``<credit code>|<theme>`` (the credit code upper-cased, blanks gone), so the key, a header-free
    Kafka key, names the matter without the credit code. None without a credit code or a theme
    (no matter to join: each such petition is a case of its own)."""
    code = "".join((uscc or "").split()).upper()
    if not code or not theme:
        return None
    digest = hashlib.sha256(f"{code}|{theme}".encode()).hexdigest()
    return f"M-{digest[:20]}"


def petition_matter(petition: Petition, theme: str | None) -> str | None:
    """The matter of ``petition`` routed on ``theme`` (:func:`matter_key`), or None: not an
    enterprise's, or a provincial dispatch (the province awaits an answer to each dispatch of its
    own: it is never folded into a city case)."""
    if petition.channel is Channel.PROVINCE or petition.enterprise is None:
        return None
    return matter_key(petition.enterprise.uscc, theme)
