"""The read model's basic lists, as the worker's own lists define them (``agents/views.py``):

- 在办 (open): a unit leads it and handles it (routed, signed for, in progress, waiting for
  material, extended, reopened);
- 逾期 (overdue): open, and the current round's resolve clock fired ``overdue``;
- 已办 (done): the unit led it and is done (replied, evaluated, closed);
- the triage queue: petitions in ``triage``, waiting for the office.

Unlike a worker's, these answer for every petition whatever the number of workers: the console
reads every partition.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .models import Petition
from .projection import DONE, HANDLING

#: The three lists of a unit.
LISTS: Final = ("open", "overdue", "done")


def unit_list(unit: str, which: str) -> Select[Petition]:
    """The query of ``unit``'s list ``which`` (one of :data:`LISTS`), by resolve deadline."""
    query = select(Petition).where(Petition.lead_unit == unit)
    if which == "open":
        query = query.where(Petition.state.in_(HANDLING))
    elif which == "overdue":
        query = query.where(Petition.state.in_(HANDLING), Petition.overdue.is_(True))
    elif which == "done":
        query = query.where(Petition.state.in_(DONE))
    else:
        raise ValueError(f"no list {which!r}: one of {LISTS}")
    return query.order_by(Petition.resolve_deadline, Petition.petition_id)


def list_counts(session: Session) -> dict[str, Counter[str]]:
    """Per lead unit, how many petitions each list holds (units with none are left out)."""
    found: dict[str, Counter[str]] = {}
    rows = session.execute(
        select(Petition.lead_unit, Petition.state, Petition.overdue, func.count())
        .where(Petition.lead_unit.is_not(None))
        .group_by(Petition.lead_unit, Petition.state, Petition.overdue)
    )
    for unit, state, overdue, n in rows:
        counts = found.setdefault(str(unit), Counter())
        if state in HANDLING:
            counts["open"] += n
            if overdue:
                counts["overdue"] += n
        elif state in DONE:
            counts["done"] += n
    return {u: c for u, c in found.items() if +c}


def triage_queue() -> Select[Petition]:
    """The office's triage queue, oldest first."""
    return (
        select(Petition)
        .where(Petition.state == "triage")
        .order_by(Petition.received_at, Petition.petition_id)
    )
