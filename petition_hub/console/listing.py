"""What the console's API reads from the read model (the projection's tables), per principal.

A unit's clerk sees only the petitions its unit was routed to (``petition_units``: as lead or
co-handler, now or before a re-routing); the office, the leading group and the operators see the
city's. Nothing here decrypts: the sealed contact is :mod:`.operations`' to open, audited.

The lists (:data:`VIEWS`):

- ``open`` 在办: in a unit's hands (routed, signed for, in progress, waiting for material,
  extended, reopened);
- ``overdue`` 逾期: past the current round's resolve deadline while a unit handles it;
- ``done`` 已办: replied, rated or closed;
- ``supervision`` 督办: the office supervises it (overdue, or listed);
- ``listed`` 挂牌督办: listed supervision (the leading group's board);
- ``triage`` 待分办: waiting for the office to decide its units;
- ``all``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from petition_hub.console.actions import ReadPetition
from petition_hub.console.auth import Principal
from petition_hub.console.models import Event, ExtensionRequest, Petition, PetitionUnit, Refusal

__all__ = [
    "SORTS",
    "VIEWS",
    "ListQuery",
    "can_see",
    "history",
    "list_petitions",
    "pending_extensions",
    "petition_row",
    "read_petition",
    "refusals",
    "triage_queue",
]

OPEN_STATES: Final = (
    "routed",
    "signed_for",
    "in_progress",
    "waiting_material",
    "extended",
    "reopened",
)
DONE_STATES: Final = ("replied", "evaluated", "closed")
VIEWS: Final = ("open", "overdue", "done", "supervision", "listed", "triage", "all")
SORTS: Final = ("deadline", "-deadline", "received", "-received")
#: The most rows one page of a list holds.
MAX_LIMIT: Final = 500

#: What a list row shows (no sealed contact, no content: the detail has those).
LIST_COLUMNS: Final = (
    "petition_id",
    "title",
    "channel",
    "petition_type",
    "urgency",
    "theme",
    "theme_name",
    "county",
    "location_name",
    "state",
    "lead_unit",
    "received_at",
    "routed_at",
    "sign_for_deadline",
    "sign_for_deadline_provisional",
    "resolve_deadline",
    "deadline_provisional",
    "overdue",
    "supervision",
    "closed_at",
    "closure",
    "satisfaction",
    "enterprise_name",
    "erased_at",
)


@dataclass(frozen=True)
class ListQuery:
    """A list's filters and order (each optional)."""

    view: str = "open"
    unit: str | None = None
    """The lead unit (office) or, for a clerk, which role: ``lead`` / ``co``."""
    role: str | None = None
    county: str | None = None
    petition_type: str | None = None
    channel: str | None = None
    theme: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    sort: str = "deadline"
    limit: int = 100
    offset: int = 0


def _visible_to(principal: Principal, role: str | None = None) -> Any:
    """The condition: a unit's clerk sees its unit's petitions (``role``: only as lead / co).
    An ``IN`` of the unit's rows (not a correlated ``EXISTS``): the database starts from the
    unit's index, a few rows of a hundred thousand."""
    rows = select(PetitionUnit.petition_id).where(PetitionUnit.unit == principal.unit)
    if role == "lead":
        rows = rows.where(PetitionUnit.role == "LEAD", PetitionUnit.current.is_(True))
    elif role == "co":
        rows = rows.where(PetitionUnit.role == "CO_HANDLER", PetitionUnit.current.is_(True))
    return Petition.petition_id.in_(rows)


def _view(stmt: Select[Any], view: str) -> Select[Any]:
    if view == "open":
        return stmt.where(Petition.state.in_(OPEN_STATES))
    if view == "overdue":
        return stmt.where(Petition.overdue.is_(True), Petition.state.in_(OPEN_STATES))
    if view == "done":
        return stmt.where(Petition.state.in_(DONE_STATES))
    if view == "supervision":
        return stmt.where(Petition.supervision.is_not(None))
    if view == "listed":
        return stmt.where(Petition.supervision == "listed_supervision")
    if view == "triage":
        return stmt.where(Petition.state == "triage")
    return stmt


def _order(stmt: Select[Any], sort: str) -> Select[Any]:
    column = Petition.received_at if sort.lstrip("-") == "received" else Petition.resolve_deadline
    # nulls last either way (a petition without a deadline is no one's most urgent); written
    # as NULLS LAST, the deadline's index still serves the order (SQLite and PostgreSQL)
    ordered = column.desc() if sort.startswith("-") else column.asc()
    return stmt.order_by(ordered.nulls_last(), Petition.petition_id)


def list_petitions(
    db: Session, principal: Principal, q: ListQuery
) -> tuple[int, list[dict[str, Any]]]:
    """(how many match, one page of rows) of the list ``q`` as ``principal`` may see it."""
    stmt = matching(principal, q)
    ids = stmt.with_only_columns(Petition.petition_id)
    total = db.scalar(select(func.count()).select_from(ids.subquery())) or 0
    page = db.scalars(page_of(stmt, q)).all()
    return total, [row_of(p) for p in page]


def page_of(stmt: Select[Any], q: ListQuery) -> Select[Any]:
    """One page of ``stmt`` in ``q``'s order."""
    # the page's ids first (from the lists' indexes: state, deadline, id), then those rows:
    # ordering whole rows would read every matching petition's content to keep a hundred
    return _order(select(Petition).where(Petition.petition_id.in_(page_ids(stmt, q))), q.sort)


def page_ids(stmt: Select[Any], q: ListQuery) -> Select[Any]:
    """The ids of one page of ``stmt`` in ``q``'s order."""
    limit = max(1, min(q.limit, MAX_LIMIT))
    ids = _order(stmt.with_only_columns(Petition.petition_id), q.sort)
    return ids.limit(limit).offset(max(0, q.offset))


def matching(principal: Principal, q: ListQuery) -> Select[Any]:
    """The petitions of the list ``q`` that ``principal`` may see (no order, no page)."""
    stmt: Select[Any] = select(Petition)
    if principal.role == "unit":
        stmt = stmt.where(_visible_to(principal, q.role))
    elif q.unit and q.role == "co":
        stmt = stmt.where(_visible_to(Principal("", "unit", q.unit), "co"))
    elif q.unit:  # the office's "by unit" is the lead unit
        stmt = stmt.where(Petition.lead_unit == q.unit)
    stmt = _view(stmt, q.view)
    for column, value in (
        (Petition.county, q.county),
        (Petition.petition_type, q.petition_type),
        (Petition.channel, q.channel),
        (Petition.theme, q.theme),
    ):
        if value:
            stmt = stmt.where(column == value)
    if q.received_from is not None:
        stmt = stmt.where(Petition.received_at >= q.received_from)
    if q.received_to is not None:
        stmt = stmt.where(Petition.received_at < q.received_to)
    return stmt


def row_of(p: Petition, columns: Sequence[str] = LIST_COLUMNS) -> dict[str, Any]:
    """A petition's columns as a dict (no sealed contact)."""
    return {c: getattr(p, c) for c in columns}


def can_see(db: Session, principal: Principal, petition_id: str) -> bool:
    """Whether ``principal`` may see the petition (a clerk: its unit was routed to it)."""
    if principal.role != "unit":
        return True
    found = db.scalar(
        select(PetitionUnit.unit).where(
            PetitionUnit.petition_id == petition_id, PetitionUnit.unit == principal.unit
        )
    )
    return found is not None


def petition_row(db: Session, petition_id: str) -> Petition | None:
    return db.get(Petition, petition_id)


def units_of(db: Session, petition_id: str) -> list[dict[str, Any]]:
    rows = db.scalars(
        select(PetitionUnit)
        .where(PetitionUnit.petition_id == petition_id)
        .order_by(PetitionUnit.role.desc(), PetitionUnit.unit)
    ).all()
    return [{"unit": r.unit, "role": r.role, "current": r.current} for r in rows]


def history(db: Session, petition_id: str) -> list[dict[str, Any]]:
    """The petition's events in time order."""
    rows = db.scalars(
        select(Event)
        .where(Event.petition_id == petition_id)
        .order_by(Event.at.is_(None), Event.at, Event.event_id)
    ).all()
    keys = ("event_id", "source", "at", "kind", "unit", "author", "from_state", "to_state")
    return [{k: getattr(e, k) for k in (*keys, "text", "reason")} for e in rows]


def refusals(
    db: Session,
    petition_id: str | None = None,
    unit: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Refused events, newest first (of a petition, of a unit, or all)."""
    stmt = select(Refusal)
    if petition_id is not None:
        stmt = stmt.where(Refusal.petition_id == petition_id)
    if unit is not None:
        stmt = stmt.where(Refusal.unit == unit)
    rows = db.scalars(stmt.order_by(Refusal.at.desc()).limit(limit)).all()
    keys = ("petition_id", "unit", "event_kind", "event_ref", "reason", "message", "at")
    return [
        {"source": f"{r.source_topic}:{r.source_partition}:{r.source_offset}"}
        | {k: getattr(r, k) for k in keys}
        for r in rows
    ]


def pending_extensions(db: Session, petition_id: str | None = None) -> list[dict[str, Any]]:
    """Extension requests the office has not answered, oldest first, with the petition (of
    one petition: ``petition_id``)."""
    # the columns shown, not whole rows: a whole petition row carries its content and sealed
    # contact, and the city's pending requests are thousands
    stmt = (
        select(
            ExtensionRequest.petition_id,
            ExtensionRequest.requested_at,
            ExtensionRequest.unit,
            ExtensionRequest.days,
            ExtensionRequest.reason,
            Petition.title,
            Petition.state,
            Petition.resolve_deadline,
        )
        .join(Petition, Petition.petition_id == ExtensionRequest.petition_id, isouter=True)
        .where(ExtensionRequest.decision.is_(None))
    )
    if petition_id is not None:
        stmt = stmt.where(ExtensionRequest.petition_id == petition_id)
    rows = db.execute(stmt.order_by(ExtensionRequest.requested_at))
    return [dict(row._mapping) for row in rows]


#: What a row of the triage queue shows besides a list row's columns.
TRIAGE_COLUMNS: Final = (
    *LIST_COLUMNS,
    "content",
    "routing_explanation",
    "routing_reason",
    "suggested_units",
)


def triage_queue(
    db: Session, limit: int = MAX_LIMIT, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """(how many wait, one page of them): petitions waiting for the office, oldest first, with
    routing's explanation and the units it suggests."""
    waiting = Petition.state == "triage"
    total = db.scalar(select(func.count()).select_from(Petition).where(waiting)) or 0
    page = db.scalars(
        select(Petition)
        .where(waiting)
        .order_by(Petition.received_at, Petition.petition_id)
        .limit(max(1, min(limit, MAX_LIMIT)))
        .offset(max(0, offset))
    ).all()
    return total, [row_of(p, TRIAGE_COLUMNS) for p in page]


def read_petition(db: Session, petition_id: str) -> ReadPetition | None:
    """What the actions' check needs of a petition (None: the read model has not seen it)."""
    p = db.get(Petition, petition_id)
    if p is None:
        return None
    requests = db.scalars(
        select(ExtensionRequest).where(ExtensionRequest.petition_id == petition_id)
    ).all()
    return ReadPetition(
        petition_id=p.petition_id,
        state=p.state,
        channel=p.channel,
        petition_type=p.petition_type,
        urgency=p.urgency,
        received_at=p.received_at,
        routed_at=p.routed_at,
        provincial_deadline=p.provincial_deadline,
        lead_unit=p.lead_unit,
        co_units=tuple(p.co_units or ()),
        round=p.round or 0,
        extension_requests=len(requests),
        extension_pending=any(r.decision is None for r in requests),
        updated_at=p.state_at or p.updated_at,
    )
