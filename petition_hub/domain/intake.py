"""Intake decisions, pure: is a decoded petition new, an edit, a redelivery, or stale?

The hub id of a petition is a function of (channel, channel reference), so the same petition always
gets the same id; what changes between publications is the revision (12345 ``XGCS``). Given the
last revision the hub has emitted for that id, :func:`admit` says what to do with a new one.
"""

from __future__ import annotations

from enum import StrEnum


class Admission(StrEnum):
    """What intake does with a decoded petition."""

    NEW = "new"
    """First time the hub sees this petition: emit it."""
    EDIT = "edit"
    """A later revision of a known petition (an operator's edit): emit it; it supersedes."""
    DUPLICATE = "duplicate"
    """The revision the hub already emitted (redelivery, a re-sent message): emit nothing."""
    STALE = "stale"
    """An older revision than the one emitted (arrived late): emit nothing, the newer one stands."""


def admit(revision: int, last_emitted: int | None) -> Admission:
    """Decide on a petition of ``revision``, given the last revision emitted for its id."""
    if last_emitted is None:
        return Admission.NEW
    if revision > last_emitted:
        return Admission.EDIT
    if revision == last_emitted:
        return Admission.DUPLICATE
    return Admission.STALE
