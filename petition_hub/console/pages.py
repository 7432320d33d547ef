"""The console's pages (Chinese, server-rendered with Jinja2 on the same operations as the API;
no script but what a form needs).

- ``/login``, ``/logout``; ``/`` sends each role to its start page.
- The office (联席会议办公室): ``/office`` (在办 / 逾期 / 已办 / 督办 / 挂牌督办, filters, sorted
  by deadline), ``/office/triage`` (decide lead and co-handlers), ``/office/extensions``
  (approve / refuse), ``/office/refusals``, ``/office/report`` (通报, CSV download).
- A unit's clerk: ``/unit`` (its petitions as lead and as co-handler, deadlines, provisional
  marked), ``/petitions/{id}`` with every action form.
- The leading group (领导小组): ``/leadership`` (挂牌督办 board, each unit's rates by period).

Every form posts ``csrf_token``; a form without the right one is refused (403).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from petition_hub.console import listing as queries
from petition_hub.console import operations as ops
from petition_hub.console.actions import ActionError, Refused
from petition_hub.console.app import (
    CSRF_FIELD,
    check_csrf,
    console_of,
    cookie_for_login_any,
    page_principal,
    require,
    session_of,
)
from petition_hub.console.auth import LoginResult, Principal, authenticate

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
Who = Annotated[Principal, Depends(page_principal)]
BJ: Final = timezone(timedelta(hours=8))

#: Names of what the pages show (states, views, actions, roles).
STATES: Final = {
    "received": "已受理",
    "triage": "待分办",
    "routed": "待签收",
    "returned": "已退回",
    "signed_for": "已签收",
    "in_progress": "办理中",
    "waiting_material": "待补充材料",
    "extended": "已延期",
    "replied": "已答复",
    "evaluated": "已评价",
    "reopened": "重新办理",
    "transferred": "已转省",
    "closed": "已办结",
}
VIEWS: Final = {
    "open": "在办",
    "overdue": "逾期",
    "done": "已办",
    "supervision": "督办",
    "listed": "挂牌督办",
    "triage": "待分办",
    "all": "全部",
}
ACTIONS: Final = {
    "SIGNED_FOR": "签收",
    "IN_PROGRESS": "开始办理",
    "MATERIAL_REQUESTED": "要求补充材料",
    "MATERIAL_RECEIVED": "材料已收到",
    "EXTENSION_REQUESTED": "申请延期",
    "REPLIED": "答复",
    "RETURNED": "退回（非本单位职责）",
    "OPINION": "协办意见",
}
CHANNELS: Final = {"HOTLINE": "12345热线", "MINIPROGRAM": "小程序", "PROVINCE": "省平台"}
ROLES: Final = {
    "office": "联席会议办公室",
    "unit": "承办单位",
    "leadership": "领导小组",
    "operator": "运维",
}
HOME: Final = {
    "office": "/office",
    "unit": "/unit",
    "leadership": "/leadership",
    "operator": "/office/refusals",
}


def _time(value: Any) -> str:
    """A time as the city reads it (UTC+8), to the minute."""
    if isinstance(value, datetime):
        return value.astimezone(BJ).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


#: History entries' kinds (the projection's ``events.kind``), as a clerk reads them.
KINDS: Final = {
    "state_changed": "状态变更",
    "triage": "转研判",
    "routed_to_unit": "分送单位",
    "co_handler_opinion": "协办意见",
    "office.TRIAGE_ROUTE": "办公室分办",
    "office.EXTENSION_APPROVED": "批准延期",
    "office.EXTENSION_REFUSED": "不予延期",
    "privacy.erasure_requested": "申请删除个人信息",
    "privacy.erasure_due": "个人信息待删除",
    "privacy.erased": "个人信息已删除",
}
CLOCKS: Final = {"sign_for": "签收时限", "resolve": "办结时限"}
SIGNALS: Final = {
    "started": "开始计时",
    "warning": "预警",
    "urging": "催办",
    "overdue": "逾期督办",
    "listed_supervision": "挂牌督办",
    "met": "按时完成",
    "missed": "超时完成",
    "paused": "暂停计时",
    "resumed": "恢复计时",
    "extended": "延期",
    "cancelled": "取消",
}


def _kind(kind: str) -> str:
    """A history entry's kind in Chinese (the code itself when it has no name here)."""
    if kind in KINDS:
        return KINDS[kind]
    head, _, rest = kind.partition(".")
    if head == "status" and rest in ACTIONS:
        return ACTIONS[rest]
    if head == "sla":
        clock, _, signal = rest.partition(".")
        if clock in CLOCKS and signal in SIGNALS:
            return f"{CLOCKS[clock]}{SIGNALS[signal]}"
    if head == "supervision" and rest in SIGNALS:
        return f"督办：{SIGNALS[rest]}"
    return kind


templates.env.filters["t"] = _time
templates.env.filters["kind"] = _kind


def _render(
    request: Request, name: str, who: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    console = console_of(request)
    csrf = console.sessions.csrf_token(session_of(request))
    base = {
        "who": who,
        "csrf": csrf,
        "csrf_field": CSRF_FIELD,
        "states": STATES,
        "views": VIEWS,
        "actions": ACTIONS,
        "channels": CHANNELS,
        "roles": ROLES,
        "unit_name": ops.unit_names(console),
    }
    return templates.TemplateResponse(request, name, base | context, status_code=status)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return _render(request, "login.html", None, next=next, error=None)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str | None, Form()] = None,
    next: Annotated[str, Form()] = "/",
) -> Response:
    console = console_of(request)
    if not console.sessions.csrf_ok(session_of(request), csrf_token):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")
    with console.read() as db:
        result, user = authenticate(db, username, password, console.clock())
    if result is LoginResult.THROTTLED:
        error = "登录失败次数过多，请 15 分钟后再试"
        return _render(request, "login.html", None, 429, next=next, error=error)
    if user is None:
        return _render(request, "login.html", None, 401, next=next, error="用户名或密码不正确")
    cookie_for_login_any(request, user.username)  # a new session: a new nonce
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    return RedirectResponse(target if target != "/" else HOME[user.role], status_code=303)


@router.post("/logout")
def logout(
    request: Request, who: Who, csrf_token: Annotated[str | None, Form()] = None
) -> Response:
    check_csrf(request, who, csrf_token or "")
    cookie_for_login_any(request, None)
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(who: Who) -> Response:
    return RedirectResponse(HOME.get(who.role, "/login"), status_code=303)


def _query(request: Request, view: str, **fixed: Any) -> queries.ListQuery:
    args = request.query_params
    if view not in queries.VIEWS:
        raise HTTPException(422, f"view: one of {', '.join(queries.VIEWS)}")
    sort = args.get("sort", "deadline")
    if sort not in queries.SORTS:
        raise HTTPException(422, f"sort: one of {', '.join(queries.SORTS)}")
    start = ops.parse_time(args.get("from"))
    end = ops.parse_time(args.get("to"))
    return queries.ListQuery(
        view=view,
        unit=fixed.get("unit", args.get("unit") or None),
        role=fixed.get("role"),
        county=args.get("county") or None,
        petition_type=args.get("type") or None,
        channel=args.get("channel") or None,
        theme=args.get("theme") or None,
        received_from=start,
        received_to=None if end is None else end + timedelta(days=1),
        sort=sort,
        limit=200,
    )


@router.get("/office")
def office(request: Request, who: Who, view: str = "open") -> HTMLResponse:
    require(who, "office", "operator")
    q = _query(request, view)
    total, rows = ops.list_petitions(console_of(request), who, q)
    filters = dict(request.query_params)
    return _render(request, "office.html", who, view=view, total=total, rows=rows, f=filters)


def _pages(total: int, per_page: int) -> int:
    """How many pages ``total`` rows fill (one, empty, for none)."""
    return max(1, -(-total // per_page))


#: Petitions per page of the triage queue (each with its content and a form of every unit).
TRIAGE_PAGE: Final = 50
#: How much of a petition's content the triage queue shows (the petition's page has it all).
TRIAGE_CONTENT: Final = 200


@router.get("/office/triage")
def triage(request: Request, who: Who, page: Annotated[int, Query(ge=1)] = 1) -> HTMLResponse:
    offset = (page - 1) * TRIAGE_PAGE
    total, rows = ops.triage_queue(console_of(request), who, TRIAGE_PAGE, offset)
    for row in rows:
        content = row["content"] or ""
        trimmed = len(content) > TRIAGE_CONTENT
        row["content"] = content[:TRIAGE_CONTENT] + "…" if trimmed else content
        row["content_trimmed"] = trimmed
    pages = _pages(total, TRIAGE_PAGE)
    return _render(request, "triage.html", who, rows=rows, total=total, page=page, pages=pages)


@router.post("/office/triage/{petition_id}")
async def triage_decide(
    request: Request,
    who: Who,
    petition_id: str,
    lead: Annotated[str, Form()] = "",
    co: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, who, csrf_token or "")
    fields = {"kind": "TRIAGE_ROUTE", "lead": lead, "co": co or []}
    return await _decide(request, who, petition_id, fields, "/office/triage")


@router.get("/office/extensions")
def extensions(request: Request, who: Who) -> HTMLResponse:
    require(who, "office")
    with console_of(request).read() as db:
        rows = queries.pending_extensions(db)
    return _render(request, "extensions.html", who, rows=rows)


@router.post("/office/extensions/{petition_id}")
async def extension_decide(
    request: Request,
    who: Who,
    petition_id: str,
    decision: Annotated[str, Form()],
    days: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, who, csrf_token or "")
    kind = "EXTENSION_APPROVED" if decision == "approve" else "EXTENSION_REFUSED"
    fields = {"kind": kind, "days": _int(days), "note": note}
    return await _decide(request, who, petition_id, fields, "/office/extensions")


def _status_of(problem: Refused | ActionError) -> int:
    """409 for what the hub would refuse, 422 for a form that is not a record (as the API)."""
    return 409 if isinstance(problem, Refused) else 422


ERRORS: Final = {
    401: "请先登录",
    403: "无权访问",
    404: "没有找到",
    422: "填写有误",
    503: "暂不可用",
}


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    """An error as a page (the API answers JSON)."""
    who = None
    try:
        who = page_principal(request)
    except Exception:  # not signed in: the page without the menu
        who = None
    title = ERRORS.get(status, "出错了")
    return _render(request, "error.html", who, status, code=status, title=title, detail=detail)


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


async def _decide(
    request: Request, who: Who, petition_id: str, fields: dict[str, Any], back: str
) -> Response:
    console = console_of(request)
    try:
        out = ops.decide(console, who, petition_id, fields)
    except (Refused, ActionError) as exc:
        return _petition_page(request, who, petition_id, exc, status=_status_of(exc))
    await ops.send(console, out)
    return RedirectResponse(f"/petitions/{petition_id}?sent={out.event_id}", status_code=303)


@router.get("/office/refusals")
def refusals(request: Request, who: Who) -> HTMLResponse:
    require(who, "office", "operator")
    with console_of(request).read() as db:
        rows = queries.refusals(db)
    return _render(request, "refusals.html", who, rows=rows)


@router.get("/office/report")
async def report(request: Request, who: Who, period: str = "", format: str = "html") -> Response:
    require(who, "office", "leadership")
    console = console_of(request)
    if not period:
        period = datetime.now(BJ).strftime("%Y-%m")
    rep = await ops.report(console, who, period)
    if format == "csv":
        return Response(
            ops.report_csv(console, rep),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="report-{period}.csv"'},
        )
    return _render(request, "report.html", who, period=period, report=ops.report_json(console, rep))


@router.get("/unit")
def unit(request: Request, who: Who, view: str = "open") -> HTMLResponse:
    require(who, "unit")
    console = console_of(request)
    lead = ops.list_petitions(console, who, _query(request, view, role="lead"))
    co = ops.list_petitions(console, who, _query(request, view, role="co"))
    return _render(request, "unit.html", who, view=view, lead=lead, co=co)


#: Petitions per page of the 挂牌督办 board.
BOARD_PAGE: Final = 100


@router.get("/leadership")
def leadership(request: Request, who: Who, page: Annotated[int, Query(ge=1)] = 1) -> HTMLResponse:
    """The 挂牌督办 board, nearest deadline first, a page at a time (the rates are a page of
    their own: they read whole topics, seconds at a city's size, and must not hold the board)."""
    require(who, "leadership", "office")
    q = queries.ListQuery(
        view="listed", sort="deadline", limit=BOARD_PAGE, offset=(page - 1) * BOARD_PAGE
    )
    total, rows = ops.list_petitions(console_of(request), who, q)
    pages = _pages(total, BOARD_PAGE)
    return _render(request, "leadership.html", who, rows=rows, total=total, page=page, pages=pages)


@router.get("/leadership/rates")
async def leadership_rates(request: Request, who: Who, period: str = "") -> HTMLResponse:
    """Each unit's rates for a month, quarter or year (the 通报's figures)."""
    require(who, "leadership", "office")
    console = console_of(request)
    period = period or datetime.now(BJ).strftime("%Y-%m")
    try:
        rates: dict[str, Any] | None = ops.report_json(
            console, await ops.report(console, who, period)
        )
        error = None
    except HTTPException as exc:
        rates, error = None, str(exc.detail)
    return _render(request, "rates.html", who, period=period, rates=rates, error=error)


def _petition_page(
    request: Request,
    who: Principal,
    petition_id: str,
    problem: Refused | ActionError | None = None,
    status: int = 200,
    contact: dict[str, Any] | None = None,
) -> HTMLResponse:
    data = ops.detail(console_of(request), who, petition_id)
    return _render(
        request,
        "petition.html",
        who,
        status,
        p=data,
        problem=problem,
        sent=request.query_params.get("sent"),
        contact=contact,
    )


@router.get("/petitions/{petition_id}")
def petition(request: Request, who: Who, petition_id: str) -> HTMLResponse:
    return _petition_page(request, who, petition_id)


@router.post("/petitions/{petition_id}/contact")
def petition_contact(
    request: Request,
    who: Who,
    petition_id: str,
    csrf_token: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Show the petitioner's contact (recorded in the audit log)."""
    check_csrf(request, who, csrf_token or "")
    opened = ops.contact(console_of(request), who, petition_id)
    return _petition_page(request, who, petition_id, contact=opened)


@router.post("/petitions/{petition_id}/action")
async def petition_action(
    request: Request,
    who: Who,
    petition_id: str,
    kind: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    reply_text: Annotated[str, Form()] = "",
    reply_kind: Annotated[str, Form()] = "",
    days: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, who, csrf_token or "")
    console = console_of(request)
    fields = {
        "kind": kind,
        "note": note,
        "reply_text": reply_text,
        "reply_kind": reply_kind or None,
        "days": _int(days),
    }
    try:
        out = ops.unit_action(console, who, petition_id, fields)
    except (Refused, ActionError) as exc:
        return _petition_page(request, who, petition_id, exc, status=_status_of(exc))
    await ops.send(console, out)
    return RedirectResponse(f"/petitions/{petition_id}?sent={out.event_id}", status_code=303)
