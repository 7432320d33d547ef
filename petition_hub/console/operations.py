"""What the API and the pages do, once: each function takes the console, who asks and what
was asked, checks the principal's right to it, and answers (or raises ``HTTPException`` 403 /
404, :class:`~.actions.ActionError`, :class:`~.actions.Refused`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import HTTPException
from sqlalchemy.orm import Session

from petition_hub.console import listing as queries
from petition_hub.console.actions import (
    Outbound,
    check_office_decision,
    check_unit_action,
    office_decision,
    unit_status,
)
from petition_hub.console.app import Console, require
from petition_hub.console.auth import Principal
from petition_hub.console.models import AuditEntry, Event, Petition
from petition_hub.console.sealing import open_personal
from petition_hub.ops.report import Report
from petition_hub.ops.report_format import csv_rows, namer, unit_namer
from petition_hub.ops.report_periods import Period

__all__ = [
    "contact",
    "decide",
    "detail",
    "list_petitions",
    "report",
    "report_csv",
    "triage_queue",
    "unit_action",
    "unit_names",
]


def _visible(console: Console, principal: Principal, petition_id: str) -> Petition:
    with console.read() as db:
        p = queries.petition_row(db, petition_id)
        if p is None:
            raise HTTPException(404, f"no petition {petition_id} in the console")
        if not queries.can_see(db, principal, petition_id):
            # the same answer whatever the petition: a unit learns nothing of another's
            raise HTTPException(403, "this petition is not your unit's")
        return p


def list_petitions(
    console: Console, principal: Principal, q: queries.ListQuery
) -> tuple[int, list[dict[str, Any]]]:
    if principal.role == "unit" and q.role not in (None, "lead", "co"):
        raise HTTPException(422, "role: lead or co")
    with console.read() as db:
        return queries.list_petitions(db, principal, q)


def detail(console: Console, principal: Principal, petition_id: str) -> dict[str, Any]:
    """A petition with its units, history, refused events and extension requests (no
    personal data: :func:`contact` opens the contact, audited)."""
    p = _visible(console, principal, petition_id)
    with console.read() as db:
        data = queries.row_of(
            p,
            (
                *queries.LIST_COLUMNS,
                "channel_ref",
                "content",
                "enterprise_uscc",
                "identity_withheld",
                "sensitive",
                "co_units",
                "reply_kind",
                "repeat_of",
                "routing_explanation",
                "routing_reason",
                "suggested_units",
                "erasure_reason",
            ),
        )
        data["has_contact"] = p.contact_sealed is not None
        data["units"] = queries.units_of(db, petition_id)
        data["history"] = queries.history(db, petition_id)
        data["refusals"] = queries.refusals(db, petition_id=petition_id)
        data["extensions"] = queries.pending_extensions(db, petition_id)
    return data


def contact(console: Console, principal: Principal, petition_id: str) -> dict[str, Any]:
    """The petitioner's contact (``contactName``, ``contactPhone``) and the unmasked texts
    (``title``, ``content``, where masking changed them), decrypted: the office's, and a
    handling unit's unless the identity is withheld from units; every view recorded in
    ``audit_log``."""
    require(principal, "office", "unit")
    p = _visible(console, principal, petition_id)
    if principal.role == "unit" and p.identity_withheld:
        raise HTTPException(403, "the petitioner's identity is withheld from the units")
    if p.contact_sealed is None:
        # none given, or erased by the hub (``erased_at``): nothing to open, nothing to record
        return {"petition_id": petition_id, "contact": None, "erased_at": p.erased_at}
    if console.cipher is None:
        raise HTTPException(503, "the console has no HUB_PII_KEY: it cannot open personal data")
    try:
        opened = open_personal(console.cipher, p.contact_sealed)
    except Exception:  # a rotated-out key, a damaged value: said without the data
        raise HTTPException(500, "the contact cannot be decrypted with HUB_PII_KEY") from None
    with console.read() as db:
        db.add(
            AuditEntry(
                username=principal.username,
                at=console.clock(),
                petition_id=petition_id,
                action="view_personal_data",
            )
        )
    return {"petition_id": petition_id, "contact": opened, "erased_at": None}


def unit_action(
    console: Console, principal: Principal, petition_id: str, fields: dict[str, Any]
) -> Outbound:
    """A clerk's action: checked (the hub's reason if it would refuse), then sent as the
    unit's ``UnitStatus``."""
    require(principal, "unit")
    assert principal.unit is not None  # a unit account always has its unit
    _visible(console, principal, petition_id)
    now = console.clock()
    out = unit_status(
        petition_id,
        principal.unit,
        str(fields.get("kind") or ""),
        principal.username,
        at=now,
        note=fields.get("note"),
        reply_text=fields.get("reply_text"),
        reply_kind=fields.get("reply_kind"),
        days=fields.get("days"),
    )
    with console.read() as db:
        read = queries.read_petition(db, petition_id)
        behind = _behind(db, console, petition_id)
    if not behind:
        check_unit_action(read, out, principal.unit, now)
    return out


def _behind(db: Session, console: Console, petition_id: str) -> bool:
    """Whether the read model has not yet seen the last record this console sent for the
    petition: its state is older than the clerk's own last action (a sign-for a second ago),
    so the console does not refuse on it, and the hub decides (a refusal comes back)."""
    last = console.sent.get(petition_id)
    return last is not None and db.get(Event, last) is None


async def send(console: Console, out: Outbound) -> None:
    """Send ``out`` (acknowledged by the broker) and remember it for :func:`_behind`."""
    await console.send([out])
    console.sent[out.key.decode()] = out.event_id
    if len(console.sent) > 10_000:  # a bound: the oldest entries are long projected
        for pid in list(console.sent)[:5_000]:
            del console.sent[pid]


def decide(
    console: Console, principal: Principal, petition_id: str, fields: dict[str, Any]
) -> Outbound:
    """An office decision: checked as routing and the lifecycle would, then sent."""
    require(principal, "office")
    _visible(console, principal, petition_id)
    now = console.clock()
    kind = str(fields.get("kind") or "")
    co: Sequence[str] = fields.get("co") or ()
    out = office_decision(
        petition_id,
        kind,
        principal.username,
        at=now,
        lead=fields.get("lead"),
        co=co,
        days=fields.get("days"),
        note=fields.get("note"),
    )
    with console.read() as db:
        read = queries.read_petition(db, petition_id)
        if _behind(db, console, petition_id):
            return out
    check_office_decision(
        read,
        kind,
        console.rules(),
        now,
        lead=fields.get("lead"),
        co=co,
        days=fields.get("days"),
        note=fields.get("note"),
    )
    return out


def triage_queue(
    console: Console, principal: Principal, limit: int = queries.MAX_LIMIT, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """(how many wait, one page of them, oldest first): petitions waiting for the office, with
    routing's explanation and the units it suggests."""
    require(principal, "office", "operator")
    with console.read() as db:
        return queries.triage_queue(db, limit, offset)


def unit_names(console: Console) -> dict[str, str]:
    """Every unit key the rules know → its Chinese name (for the forms and the lists)."""
    rules = console.rules()
    name = unit_namer(rules)
    keys = [f"dept.{d.code}" for d in rules.departments if d.code != "COUNTY"]
    keys += [f"county.{c.code}" for c in rules.county_units]
    return {k: name(k) for k in keys}


async def report(console: Console, principal: Principal, period: str) -> Report:
    """The 通报 of ``period`` (``YYYY-MM``, ``YYYY-Qn``, ``YYYY``), from the hub's topics."""
    require(principal, "office", "leadership")
    try:
        parsed = Period.parse(period)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if console.report is None:
        raise HTTPException(503, "the console has no broker to read the report from")
    return await console.report(parsed)


def report_csv(console: Console, rep: Report) -> str:
    """The report's CSV (the same rows as ``petition-hub report --csv``)."""
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(csv_rows(rep, namer(rep, unit_namer(console.rules()))))
    return buffer.getvalue()


def report_json(console: Console, rep: Report) -> dict[str, Any]:
    """The report's per-unit rows and total, named."""
    name = unit_namer(console.rules())
    units = [row.as_dict() | {"name": name(row.key)} for row in rep.units]
    return {"period": str(rep.period), "units": units, "total": rep.total.as_dict()}


def parse_time(value: str | None) -> datetime | None:
    """An ISO date or time from a query (422 when it is neither)."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"not an ISO date or time: {value!r}") from None
    if at.tzinfo is None:  # a date typed in a form: the city's day (UTC+8)
        from datetime import timedelta, timezone

        at = at.replace(tzinfo=timezone(timedelta(hours=8)))
    return at
