"""The console bench's data (:mod:`.bench_console`): the records the hub's processors write for
a city's petitions, on a clock that follows their receipt, the units' and the office's records
among them (:class:`Pipeline`); their projection into the console's database, timed
(:class:`Projection`); the database filled to a city's size with copies (:func:`fill`); the
report's input (:func:`report_events`)."""

from __future__ import annotations

import base64
import gc
import hashlib
import heapq
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from cryptography.fernet import Fernet
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

PARTITIONS: Final = 12
TOPIC: Final = "hotline12345.workorders"
ROUTED: Final = "bench.routed"
STATUSES: Final = "bench.statuses"
CITY: Final = "410400"
#: The hub's clock in this part: a fortnight after the corpus's last work order (February and
#: March 2026), so some petitions are overdue, some not yet, and some are done.
CLOCK: Final = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
#: Who acts for the units and the office (UnitStatus.author, OfficeDecision.decidedBy).
AUTHOR: Final = "bench-clerk"


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

        # the pipeline's state lives in this process only because the bench runs both here: out
        # of the collector's reach while the projection is timed, or its full collections walk
        # the lifecycle's petitions (a sixth of the projection's time at 10,000 petitions),
        # which a console's own process never holds
        gc.freeze()
        try:
            for start in range(0, len(records), BATCH_RECORDS):
                batch = records[start : start + BATCH_RECORDS]
                t0 = time.perf_counter()
                items = [
                    apply.Item(r.topic, r.partition, r.offset, project(r, self.cipher))
                    for r in batch
                ]
                ends = {(r.topic, r.partition): r.offset + 1 for r in batch}
                self.applier.apply(items, ends)
                self.seconds += time.perf_counter() - t0
                self.records += len(batch)
        finally:
            gc.unfreeze()


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


def in_order_of_receipt(items: list[CorpusItem]) -> list[CorpusItem]:
    """``items`` in order of receipt (the hub's clock follows them)."""
    from petition_hub.connectors import PETITION_DECODERS

    decode = PETITION_DECODERS[TOPIC]
    return sorted(items, key=lambda i: decode(i.key, i.value, i.headers).received_at)


def for_report(topic: str) -> bool:
    """Whether the report reads ``topic``."""
    return topic in ("hub.lifecycle", "hub.sla") or topic.endswith(".petitions")
