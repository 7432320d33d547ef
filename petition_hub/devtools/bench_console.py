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
   lifecycle, and the office decides 19 in 20 of the triage queue
   (:func:`~petition_hub.console.actions.office_decision`, through routing), each when its time
   comes; the lifecycle's timer fires what fell due (sign-for and resolve clocks, 督办), and at
   the end the clock moves to :data:`CLOCK`, a fortnight after the last receipt. Each output is
   framed as its stage frames it (:func:`petition_hub.runtime.cloudevents.frame_output`:
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

import base64
import contextlib
import hashlib
import heapq
import math
import os
import re
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, cast

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import Engine, Table, func, insert, select

from petition_hub import schemas
from petition_hub.agents.intake import IntakeProcessor, channels
from petition_hub.agents.lifecycle import LifecycleProcessor
from petition_hub.agents.lifecycle_records import units_of
from petition_hub.agents.rekeyers import StatusRekeyer
from petition_hub.agents.routing import LiveRules, RoutingProcessor
from petition_hub.devtools.corpus import CorpusItem
from petition_hub.domain.rules import default_rules
from petition_hub.runtime.cloudevents import frame_output
from petition_hub.runtime.processor import Processor
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec
from petition_hub.service.crypto import PiiCipher
from petition_hub.service.settings import PACKAGED_TOPICS_FILE
from petition_hub.topics import load_topics
from petition_hub.topics.names import DECISIONS

TARGET_P95_MS: Final = 200.0
TARGET_KEEPS_UP: Final = 1.0
#: Requests per route (after :data:`WARMUP`), full and quick.
REQUESTS: Final = 60
QUICK_REQUESTS: Final = 15
WARMUP: Final = 3
#: Petitions per chunk of the pipeline (its records are projected before the next chunk).
CHUNK: Final = 2000
PARTITIONS: Final = 12
TOPIC: Final = "hotline12345.workorders"
ROUTED: Final = "bench.routed"
STATUSES: Final = "bench.statuses"
CITY: Final = "410400"
#: The hub's clock in this part: a fortnight after the corpus's last work order (February and
#: March 2026), so some petitions are overdue, some not yet, and some are done.
CLOCK: Final = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
PASSWORD: Final = "bench-console-password"
#: Who acts for the units (UnitStatus.author).
AUTHOR: Final = "bench-clerk"


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


def _partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key), as a producer places a key."""
    from aiokafka.partitioner import murmur2

    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


class Pipeline:
    """The hub's processors in-process, and the records they write (framed as the stages frame
    them), each at its partition and offset."""

    def __init__(self) -> None:
        from petition_hub.console.projection import Record

        self.Record = Record
        self.spec = {t.name: t for t in load_topics(PACKAGED_TOPICS_FILE).topics}
        hotline = next(c for c in channels() if c.topic == TOPIC)
        self.intake = IntakeProcessor(hotline, PiiCipher(Fernet.generate_key().decode()))
        #: the hub's clock: a minute after the receipt of the petition in hand (the corpus in
        #: order of receipt), then :data:`CLOCK` (:meth:`finish`)
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.router = RoutingProcessor(LiveRules(None), CITY, ROUTED, clock=lambda: self.now)
        self.rekeyer = StatusRekeyer(STATUSES, clock=lambda: self.now)
        self.lifecycle = LifecycleProcessor(
            rules=default_rules(),
            city=CITY,
            routed=ROUTED,
            statuses=STATUSES,
            evaluations="bench.evaluations",
            unit_topics=units_of(self.spec),
            clock=lambda: self.now,
        )
        #: the office's and the units' records to come: (when, order, Outbound)
        self.pending: list[tuple[datetime, int, Any]] = []
        self.leads = 0
        self.triaged = 0
        self.asked = 0
        self.scheduled = 0
        self.states: dict[tuple[str, int], PartitionState] = {}
        self.offsets: Counter[tuple[str, int]] = Counter()
        #: seconds each processor worked (framing and bookkeeping left out)
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.console: list[Any] = []
        """The records of the chunk in hand that the console reads (projection.Record)."""
        self.petitions = 0

    def _partition_of(self, topic: str, key: bytes | None, partition: int) -> int:
        """Where a record of ``topic`` goes: by its key, as Kafka's default partitioner puts it
        (for the hub's topics, keyed by petition id, the same partition as the stage's ``p mod
        n``: every partition count divides 12); without a key, the source's ``p mod n``."""
        spec = self.spec.get(topic)
        n = spec.partitions if spec is not None else PARTITIONS
        return _partition(key, n) if key else partition % n

    def _state(self, stage: str, partition: int) -> PartitionState:
        return self.states.setdefault((stage, partition), PartitionState())

    def _source(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | None]] = (),
    ) -> SourceRecord:
        """A record written to ``topic`` (its offset taken), as the next stage reads it."""
        offset = self.offsets[(topic, partition)]
        self.offsets[(topic, partition)] += 1
        return SourceRecord(topic, partition, offset, key, value, tuple(headers), None)

    def _run(self, stage: str, processor: Processor, src: SourceRecord) -> list[SourceRecord]:
        """``processor`` on ``src``; its outputs written (the console's kept)."""
        t0 = time.perf_counter()
        outputs = processor(src, self._state(stage, src.partition))
        self.seconds[stage] += time.perf_counter() - t0
        return self._write(stage, src, outputs, src.partition)

    def _write(
        self, stage: str, src: SourceRecord | None, outputs: Sequence[Output], partition: int
    ) -> list[SourceRecord]:
        from petition_hub.console.projector import wanted

        written = []
        for index, out in enumerate(outputs):
            value, headers = frame_output(out, stage, src, index)
            p = self._partition_of(out.topic, out.key, partition)
            rec = self._source(out.topic, p, out.key, value, headers)
            written.append(rec)
            if wanted(out.topic):
                self.console.append(self._console_record(rec))
        return written

    def chunk(self, items: Sequence[CorpusItem]) -> None:
        """``items`` (in order of receipt) through intake, routing and the lifecycle, the clock
        a minute after each one's receipt; what the office and the units do in between (due by
        then) first; then the lifecycle's timer."""
        for item in items:
            p = self._partition_of(TOPIC, item.key, 0)
            raw = self._source(TOPIC, p, item.key, item.value, item.headers)
            for petition in self._run("intake", self.intake, raw):
                if petition.topic != "hub.petitions" or not petition.value:
                    continue
                received = schemas.decode(petition.value)[1]["received_at"]
                self._release(received + timedelta(minutes=1))
                for out in self._run("routing", self.router, petition):
                    self._routed(out)
        self.petitions += len(items)
        self._ticks()

    def finish(self) -> None:
        """The clock to :data:`CLOCK`: what is still due is done, and the timer fires."""
        self._release(CLOCK)
        self._ticks()

    def _release(self, until: datetime) -> None:
        """The clock to ``until``; the office's and the units' records due by then written and
        read by the hub, in time order."""
        while self.pending and self.pending[0][0] <= until:
            at, _, out = heapq.heappop(self.pending)
            self.now = max(self.now, at)
            src = self._source(
                out.topic,
                self._partition_of(out.topic, out.key, 0),
                out.key,
                out.value,
                out.headers,
            )
            self.console.append(self._console_record(src))
            if out.topic == DECISIONS:  # read by routing (triage) and the lifecycle (the rest)
                for routed in self._run("routing", self.router, src):
                    self._routed(routed)
                self._run("lifecycle", self.lifecycle, src)
            else:
                for relayed in self._run("rekeyer", self.rekeyer, src):
                    if relayed.topic == STATUSES:
                        self._run("lifecycle", self.lifecycle, relayed)
        self.now = max(self.now, until)

    def _routed(self, out: SourceRecord) -> None:
        """A record routing wrote: a decision for the lifecycle; a lead's copy, which the unit
        acts on; a triage copy, which the office decides (19 in 20)."""
        if out.topic == ROUTED:
            self._run("lifecycle", self.lifecycle, out)
            return
        if not (out.topic.endswith(".petitions") or out.topic == "hub.triage") or not out.value:
            return
        rec = schemas.decode(out.value)[1]
        if "role" not in rec:
            return  # a notice, not a petition
        pid, received = str(rec["petitionId"]), rec["receivedAt"]
        if rec["role"] == "LEAD" and rec.get("leadUnit"):
            self.leads += 1
            for outbound in _actions(pid, rec["leadUnit"], max(received, self.now), self.leads):
                self._schedule(outbound)
                if schemas.decode(outbound.value)[1]["kind"] == "EXTENSION_REQUESTED":
                    self.asked += 1
                    if self.asked % 20:  # the office answers 19 in 20 the next day
                        self._schedule(_extension_decision(pid, outbound))
        elif rec["role"] == "TRIAGE":
            self.triaged += 1
            if self.triaged % 20:
                self._schedule(_decision(pid, rec, self.now))

    def _schedule(self, out: Any) -> None:
        record = schemas.decode(out.value)[1]
        when: datetime = record.get("at") or record["decidedAt"]
        self.scheduled += 1  # the order of records due at the same time: as scheduled
        heapq.heappush(self.pending, (when, self.scheduled, out))

    def _console_record(self, src: SourceRecord) -> Any:
        return self.Record(src.topic, src.partition, src.offset, src.key, src.value, src.headers)

    def _ticks(self) -> None:
        for (stage, partition), state in list(self.states.items()):
            if stage == "lifecycle":
                self._tick(partition, state)

    def _tick(self, partition: int, state: PartitionState) -> None:
        """The lifecycle's timer on ``partition`` until nothing is due, then its state flush."""
        while True:
            t0 = time.perf_counter()
            outputs = self.lifecycle.tick(partition, state)
            self.seconds["lifecycle"] += time.perf_counter() - t0
            if not outputs:
                break
            self._write("lifecycle", None, outputs, partition)
        t0 = time.perf_counter()
        self.lifecycle.flushing(partition, state)
        self.seconds["lifecycle"] += time.perf_counter() - t0

    def rates(self) -> dict[str, float]:
        """Petitions/s of each processor (the re-keyer's work counted in the lifecycle's: it
        is a light stage of its own, but its records are the units')."""
        work = dict(self.seconds)
        work["lifecycle"] = work.get("lifecycle", 0.0) + work.pop("rekeyer", 0.0)
        return {stage: round(self.petitions / s) for stage, s in work.items() if s > 0}


def _actions(pid: str, unit: str, received: datetime, k: int) -> list[Any]:
    """What the lead unit does with its ``k``-th petition, as the console's forms send it: four
    in ten replied, two in progress, one asked for more time; the rest left as routed."""
    from petition_hub.console.actions import unit_status

    share = k % 10
    if share > 6:
        return []
    at = received + timedelta(hours=2)

    def act(kind: str, hours: float, **fields: Any) -> Any:
        return unit_status(pid, unit, kind, AUTHOR, at=at + timedelta(hours=hours), **fields)

    out = [act("SIGNED_FOR", 0)]
    if share == 6:
        out.append(act("EXTENSION_REQUESTED", 1, note="需要协调多个部门", days=1))
        return out
    out.append(act("IN_PROGRESS", 20))
    if share < 4:
        out.append(act("REPLIED", 70, reply_kind="RESOLVED", reply_text="已与企业沟通并解决。"))
    return out


def _decision(pid: str, rec: dict[str, Any], now: datetime) -> Any:
    """The office's triage decision on a petition, as the console's form sends it: its
    county's unit leads when it names a county, else the development and reform commission."""
    from petition_hub.console.actions import office_decision

    county = rec.get("locationCode") if rec.get("locationKind") == "county" else None
    lead = f"county.{county}" if county else "dept.DRC"
    return office_decision(pid, "TRIAGE_ROUTE", AUTHOR, at=now + timedelta(hours=4), lead=lead)


def _extension_decision(pid: str, asked: Any) -> Any:
    """The office's approval of an extension request, the day after it was asked."""
    from petition_hub.console.actions import office_decision

    at = schemas.decode(asked.value)[1]["at"] + timedelta(days=1)
    return office_decision(pid, "EXTENSION_APPROVED", AUTHOR, at=at, days=1)


class Projection:
    """The console's projection of the pipeline's records into a database, timed."""

    def __init__(self, engine: Engine, cipher: PiiCipher) -> None:
        from petition_hub.console.projector import Applier
        from petition_hub.console.store import session_factory

        self.applier = Applier(session_factory(engine), cipher)
        self.cipher = cipher
        self.seconds = 0.0
        self.records = 0

    def apply(self, records: Sequence[Any]) -> None:
        """``records`` (in the order written: each partition's in offset order) decoded,
        projected and applied as the projector does, a batch per transaction."""
        from petition_hub.console import apply
        from petition_hub.console.projection import project
        from petition_hub.console.projector import BATCH_RECORDS

        for start in range(0, len(records), BATCH_RECORDS):
            batch = records[start : start + BATCH_RECORDS]
            t0 = time.perf_counter()
            items = [
                apply.Item(r.topic, r.partition, r.offset, project(r, self.cipher)) for r in batch
            ]
            ends = {(r.topic, r.partition): r.offset + 1 for r in batch}
            self.applier.apply(items, ends)
            self.seconds += time.perf_counter() - t0
            self.records += len(batch)


def copy_id(pid: str, k: int) -> str:
    """The id of the ``k``-th copy of petition ``pid`` (the hub's shape, ``PH-`` and 20 base32
    characters; a hash, so no copy meets another petition's id)."""
    digest = hashlib.sha256(f"{pid}/{k}".encode()).digest()
    return "PH-" + base64.b32encode(digest).decode()[:20]


def fill(engine: Engine, target: int) -> int:
    """Copy the projected petitions (every row of theirs, in each projected table) under new ids
    until ``petitions`` holds ``target`` rows; the rows now there."""
    from petition_hub.console.models import Event, ExtensionRequest, Petition, PetitionUnit, Refusal

    tables = [
        cast(Table, m.__table__) for m in (Petition, PetitionUnit, Event, ExtensionRequest, Refusal)
    ]
    with engine.connect() as conn:
        have = int(conn.scalar(select(func.count()).select_from(Petition)) or 0)
        originals = {
            str(t.name): [dict(r._mapping) for r in conn.execute(select(t))] for t in tables
        }
    pids = [str(r["petition_id"]) for r in originals["petitions"]]
    k = 0
    while have < target and pids:
        k += 1
        take = set(pids[: target - have])
        with engine.begin() as conn:
            for table in tables:
                rows = []
                for row in originals[str(table.name)]:
                    pid = row.get("petition_id")
                    if pid not in take:
                        continue
                    new = dict(row, petition_id=copy_id(str(pid), k))
                    if "event_id" in new:
                        new["event_id"] = f"{new['event_id']}~{k}"
                    if "source_offset" in new:
                        new["source_offset"] = int(new["source_offset"]) + k * 10**9
                    if new.get("repeat_of"):
                        new["repeat_of"] = copy_id(str(new["repeat_of"]), k)
                    rows.append(new)
                for start in range(0, len(rows), 5000):
                    conn.execute(insert(table), rows[start : start + 5000])
        have += len(take)
    return have


def report_events(records: Sequence[Any]) -> Any:
    """The report's input of ``records``, decoded as :func:`petition_hub.ops.report.read_events`
    decodes the topics (``hub.lifecycle``, ``hub.sla``, the units' ``.petitions``)."""
    from petition_hub.ops.report import Events, _keep_facts
    from petition_hub.runtime.cloudevents import event_id_of

    events = Events()
    lifecycle_ids = schemas.record_ids(codec.LIFECYCLE_RECORD)
    sla_ids = schemas.record_ids(codec.SLA_RECORD)
    unit_ids = schemas.record_ids(codec.UNIT_PETITION_RECORD)
    for r in records:
        if not r.value or not (
            r.topic in ("hub.lifecycle", "hub.sla") or r.topic.endswith(".petitions")
        ):
            continue
        sid, value = schemas.decode(r.value)
        if r.topic == "hub.lifecycle" and sid in lifecycle_ids:
            event_id = event_id_of(r.headers) or value.get("eventId")
            events.lifecycle.append(codec.read_lifecycle_event({**value, "eventId": event_id}))
        elif r.topic == "hub.sla" and sid in sla_ids:
            event_id = event_id_of(r.headers) or value.get("eventId")
            events.sla.append(codec.read_sla_event({**value, "eventId": event_id}))
        elif sid in unit_ids:
            _keep_facts(events.facts, codec.read_unit_petition(value))
    return events


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
    from petition_hub.console.auth import add_user
    from petition_hub.console.serve import build_console, refresh_statistics
    from petition_hub.console.store import make_engine, migrate, session_factory, transaction
    from petition_hub.devtools.bench import _items
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
            pipeline, projection = Pipeline(), Projection(engine, PiiCipher(key))
            reported: list[Any] = []
            items = _in_order_of_receipt(_items(real))
            chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
            for k, chunk in enumerate(chunks, 1):
                pipeline.chunk(chunk)
                if k == len(chunks):
                    pipeline.finish()
                projection.apply(pipeline.console)
                reported += [r for r in pipeline.console if _for_report(r.topic)]
                pipeline.console.clear()
            rows = fill(engine, total)
            refresh_statistics(engine)  # as `console serve` does when it starts
            stages = pipeline.rates()
            pipeline_pps = min(stages.values())
            projection_pps = len(items) / projection.seconds
            events = report_events(reported)
            del reported

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
            with transaction(console.db) as db:
                add_user(db, "bench-office", PASSWORD, "office")
                add_user(db, "bench-unit", PASSWORD, "unit", unit)
                add_user(db, "bench-leader", PASSWORD, "leadership")
            lists = _list_counts(engine)
            figures: dict[str, RouteFigures] = {}
            with served(create_app(console)) as base:
                clients = {
                    "anonymous": httpx.Client(base_url=base, timeout=60),
                    "office": signed_in(base, "bench-office"),
                    "unit": signed_in(base, "bench-unit"),
                    "leadership": signed_in(base, "bench-leader"),
                }
                try:
                    for name, (who, paths) in routes.items():
                        # the report reads whole topics per request (seconds at a city's
                        # size): fewer requests of it, so the run stays short
                        n = n_requests if "report" not in name else min(n_requests, 10)
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


def meets_targets(worst_p95_ms: float, projection_ratio: float) -> bool:
    """Whether the console's figures meet its targets (the exit status)."""
    return worst_p95_ms <= TARGET_P95_MS and projection_ratio >= TARGET_KEEPS_UP


def _in_order_of_receipt(items: list[CorpusItem]) -> list[CorpusItem]:
    from petition_hub.connectors import PETITION_DECODERS

    decode = PETITION_DECODERS[TOPIC]
    return sorted(items, key=lambda i: decode(i.key, i.value, i.headers).received_at)


def _for_report(topic: str) -> bool:
    return topic in ("hub.lifecycle", "hub.sla") or topic.endswith(".petitions")


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
