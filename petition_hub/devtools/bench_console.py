"""``petition-hub bench``, the console's part: its read model and web side at a city's size.

Issue 15 asks that the console's list pages and API answer at p95 ≤ 200 ms with 100,000
petitions in the database, and that its projection keeps up with the pipeline. This measures
both, in one process, apart from the data path's part (:mod:`.bench`):

1. **The records the console reads, written by the hub's own code.** The corpus's hotline work
   orders, in order of receipt, go through the intake, routing and lifecycle processors
   in-process (no Kafka, as the data path's baselines), the hub's clock a minute after each
   receipt. Meanwhile the lead units act as the console's own forms make them
   (:func:`petition_hub.console.actions.unit_status`: four in ten signed for, in progress and
   replied, two in progress, one asking for more time), through the status re-keyer and the
   lifecycle; the office decides 19 in 20 of the triage queue
   (:func:`~petition_hub.console.actions.office_decision`, through routing) and approves 19 in
   20 extension requests the next day (through the lifecycle), each when its time comes; the
   lifecycle's timer fires what fell due (sign-for and resolve clocks, 督办), and at the end the
   clock moves to :data:`.bench_console_data.CLOCK`, a fortnight after the last receipt. Each
   output is framed as its stage frames it (:func:`petition_hub.runtime.cloudevents.frame_output`:
   ``ce_id`` and the other CloudEvents headers) and gets the partition and offset it would have
   (Kafka's default partitioner on its key, the petition id, over the topic's partitions in
   ``topics.yaml``: the stage's ``p mod n``).

   Through the hub's code go :data:`FULL`'s first figure (10,000 petitions; ``--quick``
   :data:`QUICK`'s, 1,000): at the lifecycle's and the projection's in-process rates a city's
   100,000 would take most of an hour on a small machine. The database is then filled to the
   second figure (100,000; ``--quick`` 5,000) with copies of the projected rows under new
   petition ids (:func:`fill`: each petition's row, units, history, extension requests and
   refusals), so the lists, counts and indexes are a city's size; the report is computed over
   the petitions that went through the code.
2. **The projection**: those of the records the console reads (:func:`.projector.wanted`) are
   decoded and projected (:func:`petition_hub.console.projection.project`) and applied in batches
   of :data:`petition_hub.console.projector.BATCH_RECORDS`, one transaction each, by the
   projector's own :class:`~petition_hub.console.projector.Applier`, into a fresh SQLite file in
   a temporary directory (or, when ``HUB_BENCH_DATABASE_URL`` is set, that database, emptied
   first: say a PostgreSQL made for the purpose; never the console's own database). Its rate
   (petitions/s) is compared with the pipeline's, the slowest of its processors' rates measured
   on the same petitions (a stage with Kafka is slower still, so the ratio is on the safe side):
   the target is ≥ :data:`TARGET_KEEPS_UP`.
3. **Latency**: the console app (:func:`petition_hub.console.app.create_app`) served by uvicorn on
   127.0.0.1 in a thread of this process, signed in as the office, a unit clerk and the leading
   group through the login form; each route is requested :data:`REQUESTS` times (after a warm-up)
   one at a time, and its p50 and p95 are reported. Target: the worst route's p95 ≤
   :data:`TARGET_P95_MS`; ``/health`` (no database) is the baseline, its ratio printed for noisy
   machines. The 通报 (report) is computed per request by the hub's report code over the decoded
   ``hub.lifecycle`` / ``hub.sla`` / unit records, held in memory: what ``console serve`` spends
   reading the topics from Kafka for it is not in the figure (it is the broker's), so the report is
   reported with no target.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from petition_hub.service.crypto import PiiCipher

from .bench_console_data import (
    Pipeline,
    Projection,
    fill,
    for_report,
    in_order_of_receipt,
    report_events,
)

TARGET_P95_MS: Final = 200.0
TARGET_KEEPS_UP: Final = 1.0
#: Requests per route (after :data:`WARMUP`), full and quick.
REQUESTS: Final = 60
QUICK_REQUESTS: Final = 15
WARMUP: Final = 3
#: Petitions per chunk of the pipeline (its records are projected before the next chunk).
CHUNK: Final = 2000
PASSWORD: Final = "bench-console-password"


@dataclass
class RouteFigures:
    """One route's latency, in milliseconds."""

    path: str
    p50_ms: float
    p95_ms: float
    target: bool
    """Whether the p95 target applies (not to the report: see the module's docstring)."""


@dataclass
class ConsoleBenchResult:
    """The console's figures (see the module's docstring)."""

    console_petitions: int
    console_rows: int
    """Rows of ``petitions`` in the database."""
    console_records: int
    """Records the console read (projected)."""
    console_database: str
    console_pipeline_pps: float
    """The pipeline's rate, petitions/s: its slowest processor's (in-process)."""
    console_stage_pps: dict[str, float]
    console_projection_eps: float
    """Records/s into the database."""
    console_projection_pps: float
    console_projection_ratio: float
    """Projection / pipeline, petitions/s (target ≥ 1)."""
    console_health_p95_ms: float
    console_p95_ms: float
    """The worst p95 of the routes with the target."""
    console_p95_vs_health: float
    console_routes: dict[str, RouteFigures] = field(default_factory=dict)
    console_lists: dict[str, int] = field(default_factory=dict)
    """How many petitions each of the office's lists holds."""
    console_passed: bool = False


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, in a thread; its URL."""
    import uvicorn

    from petition_hub.broker.embedded import free_port

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-console", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


_CSRF: Final = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def signed_in(url: str, username: str) -> httpx.Client:
    """A client signed in as ``username`` through the login form."""
    client = httpx.Client(base_url=url, timeout=60)
    form = client.get("/login")
    token = _CSRF.search(form.text)
    if token is None:
        raise RuntimeError("no CSRF token on the login page")
    answer = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token[1]}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"signing in as {username}: {answer.status_code}")
    return client


def _percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def timed(client: httpx.Client, paths: Sequence[str], n: int) -> list[float]:
    """Milliseconds of ``n`` requests (after :data:`WARMUP`), one at a time, cycling ``paths``;
    every answer must be 200."""
    samples = []
    for i in range(WARMUP + n):
        path = paths[i % len(paths)]
        t0 = time.perf_counter()
        answer = client.get(path)
        took = (time.perf_counter() - t0) * 1000
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:200]}")
        if i >= WARMUP:
            samples.append(took)
    return samples


#: (petitions through the hub's code, petitions in the database), full and quick.
FULL: Final = (10_000, 100_000)
QUICK: Final = (1_000, 5_000)


def _routes(engine: Engine) -> tuple[dict[str, tuple[str, list[str]]], str]:
    """Route name → (who asks, the paths it cycles), from what the database holds; and the
    unit whose clerk asks."""
    from petition_hub.console.models import Petition

    with engine.connect() as conn:

        def top(column: Any) -> str:
            row = conn.execute(
                select(column, func.count())
                .where(column.is_not(None))
                .group_by(column)
                .order_by(func.count().desc())
                .limit(1)
            ).first()
            return "" if row is None else str(row[0])

        unit, county, kind = (
            top(Petition.lead_unit),
            top(Petition.county),
            top(Petition.petition_type),
        )
        some = [str(p) for p in conn.scalars(select(Petition.petition_id).limit(500))][::25]
        units = [
            str(p)
            for p in conn.scalars(
                select(Petition.petition_id).where(Petition.lead_unit == unit).limit(500)
            )
        ][::25]
    q = httpx.QueryParams
    routes: dict[str, tuple[str, list[str]]] = {
        "/health (baseline)": ("anonymous", ["/health"]),
        "api open, by deadline": ("office", ["/api/petitions?view=open&sort=deadline"]),
        "api overdue, one unit": ("office", [f"/api/petitions?{q(view='overdue', unit=unit)}"]),
        "api done, a type, latest first": (
            "office",
            [f"/api/petitions?{q(view='done', type=kind, sort='-deadline')}"],
        ),
        "api open, a county, 5th page": (
            "office",
            [f"/api/petitions?{q(view='open', county=county, offset=400)}"],
        ),
        "api triage queue": ("office", ["/api/triage"]),
        "api extension requests": ("office", ["/api/extensions"]),
        "api petition detail": ("office", [f"/api/petitions/{p}" for p in some]),
        "api listed-supervision board": ("leadership", ["/api/board"]),
        "page listed-supervision board": ("leadership", ["/leadership", "/leadership?page=3"]),
        "page office open": ("office", ["/office?view=open"]),
        "page office overdue, one unit": ("office", [f"/office?{q(view='overdue', unit=unit)}"]),
        "page office done, a county": (
            "office",
            [f"/office?{q(view='done', county=county, sort='-deadline')}"],
        ),
        "page triage queue": ("office", ["/office/triage"]),
        "page petition": ("office", [f"/petitions/{p}" for p in some]),
        "page unit open": ("unit", ["/unit?view=open"]),
        "page unit overdue": ("unit", ["/unit?view=overdue"]),
        "api unit as lead": ("unit", ["/api/petitions?view=open&role=lead"]),
        "api unit as co-handler": ("unit", ["/api/petitions?view=all&role=co"]),
        "page unit's petition": ("unit", [f"/petitions/{p}" for p in units]),
        "api report, quarter (no target)": ("office", ["/api/report?period=2026-Q1"]),
        "page report, month (no target)": ("office", ["/office/report?period=2026-03"]),
        "page rates, month (no target)": ("leadership", ["/leadership/rates?period=2026-03"]),
    }
    return routes, unit


def _database(tmp: Path) -> str:
    """The database to fill: ``HUB_BENCH_DATABASE_URL``, else an SQLite file in ``tmp``."""
    return os.environ.get("HUB_BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'console.db'}"


def run_console(
    quick: bool, *, sizes: tuple[int, int] | None = None, requests: int | None = None
) -> ConsoleBenchResult:
    """The console's part of the bench (see the module's docstring)."""
    from petition_hub.console.app import create_app
    from petition_hub.console.auth import UserError, add_user
    from petition_hub.console.serve import build_console, refresh_statistics
    from petition_hub.console.store import make_engine, migrate, session_factory, transaction
    from petition_hub.ops.report import compute
    from petition_hub.service.settings import Settings

    real, total = sizes or (QUICK if quick else FULL)
    n_requests = requests or (QUICK_REQUESTS if quick else REQUESTS)
    key = Fernet.generate_key().decode()
    with tempfile.TemporaryDirectory(prefix="hub-bench-console-") as tmp:
        url = _database(Path(tmp))
        engine = make_engine(url)
        try:
            migrate(engine)
            if url.startswith("postgresql"):
                from petition_hub.console.rebuild import empty

                empty(session_factory(engine))
            items, pipeline, projection, events = _project(engine, key, real)
            rows = fill(engine, total)
            refresh_statistics(engine)  # as `console serve` does when it starts
            stages = pipeline.rates()
            pipeline_pps = min(stages.values())
            projection_pps = len(items) / projection.seconds

            async def report(period: Any) -> Any:
                return compute(events.lifecycle, events.sla, period, events.facts)

            settings = Settings(
                data_dir=Path(tmp),
                pii_key=SecretStr(key),
                broker=None,
                console_database_url=SecretStr(url),
            )
            routes, unit = _routes(engine)
            console = build_console(settings, engine, send=_no_sending, report=report)
            for name, role, of in (
                ("bench-office", "office", None),
                ("bench-unit", "unit", unit),
                ("bench-leader", "leadership", None),
            ):
                # a database of HUB_BENCH_DATABASE_URL keeps the accounts of an earlier run
                with contextlib.suppress(UserError), transaction(console.db) as db:
                    add_user(db, name, PASSWORD, role, of)
            lists = _list_counts(engine)
            figures = _time_routes(create_app(console), routes, n_requests)
        finally:
            engine.dispose()
    health = figures["/health (baseline)"].p95_ms
    worst = max(f.p95_ms for f in figures.values() if f.target)
    ratio = projection_pps / pipeline_pps
    return ConsoleBenchResult(
        console_petitions=len(items),
        console_rows=rows,
        console_records=projection.records,
        console_database=url.split(":", 1)[0],
        console_pipeline_pps=round(pipeline_pps, 1),
        console_stage_pps=stages,
        console_projection_eps=round(projection.records / projection.seconds),
        console_projection_pps=round(projection_pps, 1),
        console_projection_ratio=round(ratio, 3),
        console_health_p95_ms=health,
        console_p95_ms=worst,
        console_p95_vs_health=round(worst / max(health, 0.1), 1),
        console_routes=figures,
        console_lists=lists,
        console_passed=meets_targets(worst, ratio),
    )


def _project(engine: Any, key: str, real: int) -> tuple[list[Any], Pipeline, Projection, Any]:
    """``real`` petitions through the hub's processors and into the database, in chunks: the
    petitions, the pipeline and projection (with their timings) and the report's events."""
    from petition_hub.devtools.bench import _items

    pipeline, projection = Pipeline(), Projection(engine, PiiCipher(key))
    reported: list[Any] = []
    items = in_order_of_receipt(_items(real))
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    for k, chunk in enumerate(chunks, 1):
        pipeline.chunk(chunk)
        if k == len(chunks):
            pipeline.finish()
        projection.apply(pipeline.console)
        reported += [r for r in pipeline.console if for_report(r.topic)]
        pipeline.console.clear()
    return items, pipeline, projection, report_events(reported)


def _time_routes(
    app: Any, routes: Mapping[str, tuple[str, list[str]]], n_requests: int
) -> dict[str, RouteFigures]:
    """p50 and p95 of each route, served by uvicorn on loopback, asked by signed-in clients."""
    figures: dict[str, RouteFigures] = {}
    # the pipeline's and the report's objects stay in this process (a console serves
    # from its own): out of the collector's reach, or a full collection walks them all
    # in the middle of a request (a quarter second, the p95 of a route of 15 requests)
    gc.collect()
    gc.freeze()
    with served(app) as base:
        clients = {
            "anonymous": httpx.Client(base_url=base, timeout=60),
            "office": signed_in(base, "bench-office"),
            "unit": signed_in(base, "bench-unit"),
            "leadership": signed_in(base, "bench-leader"),
        }
        try:
            for name, (who, paths) in routes.items():
                # the report reads whole topics per request (seconds at a city's size): fewer
                # requests of it, so the run stays short
                n = n_requests if "no target" not in name else min(n_requests, 10)
                samples = timed(clients[who], paths, n)
                figures[name] = RouteFigures(
                    path=paths[0],
                    p50_ms=round(statistics.median(samples), 1),
                    p95_ms=round(_percentile(samples, 0.95), 1),
                    target="no target" not in name and "baseline" not in name,
                )
        finally:
            for client in clients.values():
                client.close()
            gc.unfreeze()
    return figures


def meets_targets(worst_p95_ms: float, projection_ratio: float) -> bool:
    """Whether the console's figures meet its targets (the exit status)."""
    return worst_p95_ms <= TARGET_P95_MS and projection_ratio >= TARGET_KEEPS_UP


async def _no_sending(records: Sequence[Any]) -> None:
    raise RuntimeError("the bench sends nothing")


def _list_counts(engine: Engine) -> dict[str, int]:
    """How many petitions each of the office's lists holds (what the routes were asked over)."""
    from petition_hub.console.auth import Principal
    from petition_hub.console.listing import ListQuery, matching

    office = Principal(username="bench", role="office", unit=None, csrf="")
    out = {}
    with engine.connect() as conn:
        for view in ("open", "overdue", "done", "listed", "triage", "all"):
            stmt = matching(office, ListQuery(view=view)).subquery()
            out[view] = int(conn.scalar(select(func.count()).select_from(stmt)) or 0)
    return out


def print_console_table(result: ConsoleBenchResult) -> None:
    """The console's figures as a table."""
    r = result
    lines = [
        f"console: petitions in the database {r.console_rows} ({r.console_petitions} through "
        f"the hub's code, the rest copies of them; {r.console_database})",
        "  lists: " + ", ".join(f"{k} {v}" for k, v in r.console_lists.items()),
        "  pipeline, no Kafka    "
        + ", ".join(f"{k} {v}" for k, v in r.console_stage_pps.items())
        + " petitions/s",
        f"  projection            {r.console_projection_eps:>8} records/s, "
        f"{r.console_projection_pps} petitions/s",
        f"  projection / pipeline {r.console_projection_ratio:>8}  (target >= {TARGET_KEEPS_UP})",
        f"  {'route':<34} {'p50 ms':>8} {'p95 ms':>8}",
    ]
    for name, f in r.console_routes.items():
        lines.append(f"  {name:<34} {f.p50_ms:>8} {f.p95_ms:>8}")
    lines += [
        f"  worst p95               {r.console_p95_ms:>6} ms  (target <= {TARGET_P95_MS:g}; "
        f"{r.console_p95_vs_health} x /health)",
        "  " + ("PASS" if r.console_passed else "FAIL"),
    ]
    print("\n".join(lines))
