"""The console's JSON API (FastAPI; its OpenAPI at ``/openapi.json``, browsable at ``/docs``).

Who may call what (a session's account, or an API token: role ``operator``):

| route | office | unit | leadership | operator |
|---|---|---|---|---|
| ``GET /api/me``, ``/api/units`` | ✓ | ✓ | ✓ | ✓ |
| ``GET /api/petitions`` (lists, filters, sort) | city | its own | city | city |
| ``GET /api/petitions/{id}`` (detail, history, refusals) | ✓ | its own (else 403) | ✓ | ✓ |
| ``GET /api/petitions/{id}/contact`` (audited) | ✓ | its own, identity not withheld | | |
| ``POST /api/petitions/{id}/actions`` (UnitStatus) | | lead / co-handler | | |
| ``POST /api/petitions/{id}/decisions`` (OfficeDecision) | ✓ | | | |
| ``GET /api/triage``, ``/api/extensions`` | ✓ | | | triage |
| ``GET /api/refusals`` | city | its own | | city |
| ``GET /api/board`` (挂牌督办), ``/api/report`` (通报, JSON or CSV) | ✓ | | ✓ | |

A ``POST`` made with the session cookie carries the session's CSRF token in ``X-CSRF-Token``
(403 without it). An action the hub would refuse is answered ``409`` with the hub's reason
(``reason``: the code ``hub.rejects`` uses, ``detail``, ``text``: in Chinese); a form that cannot
be a record ``422`` (``reason`` ``invalid``); a sent one ``202`` with the record's event id.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from petition_hub.console import listing as queries
from petition_hub.console import operations as ops
from petition_hub.console.actions import ActionError, Outbound, Refused
from petition_hub.console.app import api_principal, check_csrf, console_of, json_safe, require
from petition_hub.console.auth import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["console"])
Who = Annotated[Principal, Depends(api_principal)]


class UnitActionIn(BaseModel):
    """A clerk's action (``UnitStatus`` kinds)."""

    kind: Literal[
        "SIGNED_FOR",
        "IN_PROGRESS",
        "MATERIAL_REQUESTED",
        "MATERIAL_RECEIVED",
        "EXTENSION_REQUESTED",
        "REPLIED",
        "RETURNED",
        "OPINION",
    ]
    note: str | None = Field(
        None,
        description="MATERIAL_REQUESTED: what is needed; RETURNED, EXTENSION_REQUESTED: "
        "why; OPINION: the co-handler's opinion",
    )
    reply_text: str | None = Field(None, description="REPLIED: the answer to the petitioner")
    reply_kind: Literal["RESOLVED", "EXPLAINED"] | None = None
    days: int | None = Field(None, description="EXTENSION_REQUESTED: working days")


class DecisionIn(BaseModel):
    """An office decision (``OfficeDecision`` kinds)."""

    kind: Literal["TRIAGE_ROUTE", "EXTENSION_APPROVED", "EXTENSION_REFUSED"]
    lead: str | None = Field(None, description="TRIAGE_ROUTE: the lead unit (dept.X, county.N)")
    co: list[str] = Field(default_factory=list, description="TRIAGE_ROUTE: co-handlers")
    days: int | None = Field(None, description="EXTENSION_APPROVED: working days")
    note: str | None = Field(None, description="EXTENSION_REFUSED: the reason (told the unit)")


def sent(out: Outbound) -> JSONResponse:
    return JSONResponse(
        {"status": "sent", "topic": out.topic, "event_id": out.event_id}, status_code=202
    )


def refused(exc: Refused | ActionError) -> JSONResponse:
    if isinstance(exc, Refused):
        body = {"reason": exc.reason, "detail": exc.detail, "text": exc.text}
        return JSONResponse(body, status_code=409)
    return JSONResponse({"reason": "invalid", "detail": str(exc)}, status_code=422)


@router.get("/me")
def me(who: Who) -> dict[str, Any]:
    """Who is signed in (and the CSRF token a session's changes carry)."""
    return {"username": who.username, "role": who.role, "unit": who.unit, "csrf_token": who.csrf}


@router.get("/units")
def units(request: Request, who: Who) -> dict[str, str]:
    """Every unit the routing rules know: key → name."""
    return ops.unit_names(console_of(request))


@router.get("/petitions")
def petitions(
    request: Request,
    who: Who,
    view: Annotated[str, Query(pattern="^(" + "|".join(queries.VIEWS) + ")$")] = "open",
    unit: str | None = None,
    role: Annotated[str | None, Query(pattern="^(lead|co)$")] = None,
    county: str | None = None,
    petition_type: Annotated[str | None, Query(alias="type")] = None,
    channel: str | None = None,
    theme: str | None = None,
    received_from: Annotated[str | None, Query(alias="from")] = None,
    received_to: Annotated[str | None, Query(alias="to")] = None,
    sort: Annotated[str, Query(pattern="^-?(deadline|received)$")] = "deadline",
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """A list (在办 open, 逾期 overdue, 已办 done, 督办 supervision, 挂牌督办 listed, triage,
    all), filtered and sorted by deadline (``-deadline``: latest first) or receipt."""
    q = queries.ListQuery(
        view=view,
        unit=unit,
        role=role,
        county=county,
        petition_type=petition_type,
        channel=channel,
        theme=theme,
        received_from=ops.parse_time(received_from),
        received_to=ops.parse_time(received_to),
        sort=sort,
        limit=limit,
        offset=offset,
    )
    total, rows = ops.list_petitions(console_of(request), who, q)
    return {"total": total, "petitions": json_safe(rows)}


@router.get("/petitions/{petition_id}")
def petition(request: Request, who: Who, petition_id: str) -> dict[str, Any]:
    """A petition, its units, its history, its refused events (403: not your unit's)."""
    return dict(json_safe(ops.detail(console_of(request), who, petition_id)))


@router.get("/petitions/{petition_id}/contact")
def petition_contact(request: Request, who: Who, petition_id: str) -> dict[str, Any]:
    """The petitioner's contact, decrypted (recorded in the audit log)."""
    return ops.contact(console_of(request), who, petition_id)


@router.post("/petitions/{petition_id}/actions", status_code=202)
async def act(request: Request, who: Who, petition_id: str, body: UnitActionIn) -> Response:
    """A unit's action, sent as its ``UnitStatus`` (409 with the hub's reason if refused)."""
    check_csrf(request, who, None)
    console = console_of(request)
    try:
        out = ops.unit_action(console, who, petition_id, body.model_dump())
    except (Refused, ActionError) as exc:
        return refused(exc)
    await ops.send(console, out)
    return sent(out)


@router.post("/petitions/{petition_id}/decisions", status_code=202)
async def decide(request: Request, who: Who, petition_id: str, body: DecisionIn) -> Response:
    """An office decision, sent on ``office.decisions`` (409 with the reason if refused)."""
    check_csrf(request, who, None)
    console = console_of(request)
    try:
        out = ops.decide(console, who, petition_id, body.model_dump())
    except (Refused, ActionError) as exc:
        return refused(exc)
    await ops.send(console, out)
    return sent(out)


@router.get("/triage")
def triage(
    request: Request,
    who: Who,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The triage queue, oldest first, a page at a time (``total``: how many wait): each
    petition with routing's explanation and suggested units."""
    total, rows = ops.triage_queue(console_of(request), who, limit, offset)
    return {"total": total, "petitions": json_safe(rows)}


@router.get("/extensions")
def extensions(request: Request, who: Who) -> dict[str, Any]:
    """Extension requests waiting for the office."""
    require(who, "office")
    with console_of(request).read() as db:
        return {"requests": json_safe(queries.pending_extensions(db))}


@router.get("/refusals")
def refusal_list(request: Request, who: Who) -> dict[str, Any]:
    """Events the hub refused (a clerk: its unit's)."""
    require(who, "office", "operator", "unit")
    with console_of(request).read() as db:
        rows = queries.refusals(db, unit=who.unit if who.role == "unit" else None)
    return {"refusals": json_safe(rows)}


@router.get("/board")
def board(
    request: Request,
    who: Who,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """挂牌督办: petitions under listed supervision, nearest deadline first, a page at a time
    (``total``: how many there are)."""
    require(who, "office", "leadership")
    q = queries.ListQuery(view="listed", sort="deadline", limit=limit, offset=offset)
    total, rows = ops.list_petitions(console_of(request), who, q)
    return {"total": total, "petitions": json_safe(rows)}


@router.get("/report")
async def report(
    request: Request,
    who: Who,
    period: Annotated[str, Query(description="YYYY-MM, YYYY-Qn or YYYY")],
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Response:
    """The 通报 of a month, quarter or year (each unit's rates), as JSON or CSV."""
    console = console_of(request)
    rep = await ops.report(console, who, period)
    if format == "csv":
        name = f"report-{period}.csv"
        return Response(
            ops.report_csv(console, rep),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(json_safe(ops.report_json(console, rep)))
