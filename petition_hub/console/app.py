"""The console's web application: one FastAPI app serving the JSON API (:mod:`.api`) and the
pages built on it (:mod:`.pages`), with what they share: the context (:class:`Console`), who is
asking (:func:`api_principal`, :func:`page_principal`), CSRF, and the console's own metrics.

- ``/health``: open (200 when the database answers; 503 otherwise).
- ``/openapi.json`` (the API's OpenAPI 3.1 document) and ``/docs`` (Swagger UI on it): like the
  API, for a session or an API token.
- Everything else asks for a session (a signed-in account) or ``Authorization: Bearer`` with a
  token of ``HUB_API_TOKENS``: the API answers 401, a page sends the browser to ``/login``.
- ``/metrics``: Prometheus text: requests by route and status, their latency, the projection's
  lag (operators, the office, or an API token). Prometheus scrapes the same series on a port of
  their own with no sign-in, ``HUB_CONSOLE_METRICS_PORT`` (compose: 9109, on the compose network
  only, as the workers' 9108): :meth:`ConsoleMetrics.serve`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from petition_hub.console.actions import Sender, now_utc
from petition_hub.console.auth import (
    Principal,
    SessionData,
    Sessions,
    active_user,
    principal_of,
    token_principal,
)
from petition_hub.domain.rules import RuleSet
from petition_hub.ops.report import Report
from petition_hub.ops.report_periods import Period
from petition_hub.service.crypto import PiiCipher
from petition_hub.service.settings import Settings

__all__ = ["Console", "ConsoleMetrics", "api_principal", "create_app", "page_principal"]

#: Header a JSON call made with the session cookie carries its CSRF token in.
CSRF_HEADER: Final = "X-CSRF-Token"
#: The form field of the CSRF token.
CSRF_FIELD: Final = "csrf_token"


class _Lag(Collector):
    """The projection's lag, asked of the projector when scraped (from the metrics port's
    thread too: a reading that fails while the group reassigns partitions gives the last one)."""

    NAME: Final = "petition_hub_console_projection_lag_records"

    def __init__(self, source: Callable[[], float | None] | None) -> None:
        self.source = source
        self.last: float | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            value = self.source() if self.source is not None else None
        except Exception:  # e.g. the assignment changed as it was read: a scrape must not fail
            value = None
        if value is not None:
            self.last = value
        family = GaugeMetricFamily(
            self.NAME,
            "Records on the hub's topics the console's projection has not applied yet "
            "(no sample before the projector has its partitions).",
        )
        if self.last is not None:
            family.add_metric([], self.last)
        yield family


class ConsoleMetrics:
    """The console's series, in a registry of its own (one per app: tests make several):
    requests by route (its template: never an id), method and status, their latency, and the
    projection's lag. Served at ``/metrics`` on the console's port (signed in) and, with
    ``HUB_CONSOLE_METRICS_PORT``, on a port of their own (:meth:`serve`)."""

    def __init__(self, lag: Callable[[], float | None] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "petition_hub_console_requests_total",
            "Console HTTP requests by route (its template, no ids), method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "petition_hub_console_request_duration_seconds",
            "Console HTTP request latency by route.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.lag = _Lag(lag)
        self.registry.register(self.lag)
        # the process's memory, CPU and files, as a worker's /metrics has them
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, bind: str, port: int) -> Callable[[], None]:
        """Serve these series, and nothing else, on ``bind:port`` with no sign-in (the client
        library's server, in a thread of its own); the function returned stops it. What they
        hold is no one's data: route templates, status codes, durations, a count of records."""
        server, thread = start_http_server(port, bind, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(5)

        return stop


#: The 通报 of a period (the hub's topics are its source: petition_hub.ops.report).
ReportSource = Callable[[Period], Awaitable[Report]]


@dataclass
class Console:
    """What every request may need."""

    settings: Settings
    db: sessionmaker[Session]
    sessions: Sessions
    send: Sender
    rules: Callable[[], RuleSet]
    cipher: PiiCipher | None
    report: ReportSource | None = None
    clock: Callable[[], datetime] = now_utc
    metrics: ConsoleMetrics = field(default_factory=ConsoleMetrics)
    sent: dict[str, str] = field(default_factory=dict)
    """Petition id → the event id of the last record this console sent for it: until the read
    model has that event, it is behind the console's own action, and the hub decides alone."""

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session to read (and write what the request changes), committed at the end."""
        with self.db() as session, session.begin():
            yield session


class LoginRequired(Exception):
    """A page asked for by someone not signed in: the browser goes to /login."""


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def session_of(request: Request) -> SessionData:
    data: SessionData = request.state.session
    return data


def _session_principal(request: Request) -> Principal | None:
    console = console_of(request)
    data = session_of(request)
    if data.username is None:
        return None
    with console.read() as db:
        user = active_user(db, data.username)
        if user is None:
            return None
        return principal_of(user, console.sessions.csrf_token(data))


def api_principal(request: Request) -> Principal:
    """Who calls the API: a bearer token of HUB_API_TOKENS, or the session's account (a call
    that changes something with the session must carry the CSRF token: :func:`check_csrf`)."""
    header = request.headers.get("authorization")
    if header is not None:
        token = token_principal(header, console_of(request).settings)
        if token is None:
            raise HTTPException(
                401, "the bearer token is not one of HUB_API_TOKENS", {"WWW-Authenticate": "Bearer"}
            )
        return token
    principal = _session_principal(request)
    if principal is None:
        raise HTTPException(
            401, "sign in (/login) or send a bearer token", {"WWW-Authenticate": "Bearer"}
        )
    return principal


def page_principal(request: Request) -> Principal:
    """Who looks at a page: the session's account (else to /login)."""
    principal = _session_principal(request)
    if principal is None:
        raise LoginRequired()
    return principal


def check_csrf(request: Request, principal: Principal, token: str | None) -> None:
    """A change made with the session cookie must carry the session's CSRF token (403);
    a bearer token's call carries no cookie and needs none."""
    if principal.via == "token":
        return
    console = console_of(request)
    given = token if token is not None else request.headers.get(CSRF_HEADER)
    if not console.sessions.csrf_ok(session_of(request), given):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")


def require(principal: Principal, *roles: str) -> None:
    """403 unless ``principal`` has one of ``roles``."""
    if principal.role not in roles:
        raise HTTPException(403, f"this needs the role {' or '.join(roles)}")


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"  # never the raw path: it may hold an id


def _sessions_and_metrics(
    console: Console,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """The middleware: every request gets its session (an anonymous one when it has none, so
    the sign-in form has a CSRF token too), a new session's cookie is set on the response, and
    the request is counted by route and status with its latency."""
    settings = console.settings

    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        cookie = request.cookies.get(Sessions.COOKIE)
        data = console.sessions.read(cookie)
        fresh = data is None
        if data is None:
            cookie, data = console.sessions.issue(None)
        request.state.session = data
        request.state.set_cookie = cookie if fresh else None
        try:
            response = await call_next(request)
        except Exception:
            console.metrics.requests.labels(_route_of(request), request.method, "500").inc()
            raise
        new_cookie = getattr(request.state, "set_cookie", None)
        if new_cookie:
            response.set_cookie(
                Sessions.COOKIE,
                new_cookie,
                max_age=int(console.sessions.max_age),
                httponly=True,
                samesite="lax",
                secure=settings.console_secure_cookies,
            )
        route = _route_of(request)
        console.metrics.requests.labels(route, request.method, str(response.status_code)).inc()
        console.metrics.latency.labels(route).observe(time.perf_counter() - started)
        return response

    return middleware


def create_app(console: Console) -> FastAPI:
    """The console's app on ``console``."""
    from petition_hub.console import api, pages

    app = FastAPI(
        # the contract is served below, to the signed-in and the API tokens only (every route
        # but /health asks who is calling)
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        title="petition hub console",
        version="1",
        description="The enterprise petition hub's workbench (企业诉求工作台): the office, the "
        "units and the leading group. Sign in (session cookie, CSRF token on changes) or send "
        "Authorization: Bearer <a token of HUB_API_TOKENS>.",
    )
    app.state.console = console
    app.middleware("http")(_sessions_and_metrics(console))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        if path.startswith(("/api", "/metrics", "/health", "/openapi", "/docs")):
            return await http_exception_handler(request, exc)
        return pages.error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.get("/health", include_in_schema=True, tags=["operations"])
    def health() -> JSONResponse:
        """200 when the console's database answers (no sign-in needed)."""
        try:
            with console.read() as db:
                db.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure is "not healthy", said in one line
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, 503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics(request: Request) -> Response:
        """Prometheus text (operators, the office, or an API token)."""
        principal = api_principal(request)
        require(principal, "operator", "office")
        return Response(console.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        api_principal(request)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        page_principal(request)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="petition hub console API")

    app.include_router(api.router)
    app.include_router(pages.router)
    return app


def cookie_for_login_any(request: Request, username: str | None) -> None:
    """A new session for ``username`` (None: anonymous again, after signing out) with a fresh
    nonce: the middleware sets its cookie on the response."""
    console = console_of(request)
    cookie, data = console.sessions.issue(username)
    request.state.set_cookie = cookie
    request.state.session = data


def json_safe(value: Any) -> Any:
    """Datetimes as ISO text, recursively (for JSON answers and CSV)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
