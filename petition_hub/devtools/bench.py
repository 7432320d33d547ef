"""``petition-hub bench``: the data path's speed, as ratios to baselines run in the same process.

Machines here are noisy, so absolute rates mean little; ratios measured side by side do. On a
fresh embedded broker, with the same pre-loaded 12345 work orders, it measures:

- ``copy``: a bare aiokafka consume → produce loop (no decoding): what Kafka I/O alone allows;
- ``cpu``: the intake processor on the same records with no Kafka at all: what the work costs;
- ``intake``: the hub's intake stage (:mod:`petition_hub.runtime`), consume → decode → dedup →
  encode → produce → commit;
- ``routing``: the routing stage over the petitions intake wrote, against the routing processor
  alone (classify, locate, route, deadlines, encode for every recipient);
- ``lifecycle``: the lifecycle stage over the routing decisions routing wrote (each starts a
  petition's clocks: received and routed, their SLA events, the due-time index), against the
  lifecycle processor alone; the stage is exactly-once (event ids, marks), so this also prices
  that.

It also reports (no target) what the pure core costs per record: decoding, routing (classify,
locate, route) and SLA deadlines; these used to be timed tests, which do not belong in a suite
run on shared machines.

Targets (ratios): each stage keeps at least :data:`TARGET_VS_CPU` of its processor's own speed
(Kafka I/O and commits must not dominate), and intake reaches at least :data:`TARGET_VS_COPY` of
the bare copy loop. The exit status is 1 when a target is missed.

The console's part (its projection's rate against the pipeline's, its pages' and API's latency
over a city's 100,000 petitions) is :mod:`.bench_console`, reported in the same run and JSON
(keys ``console_*``); ``--only path`` or ``--only console`` runs one part.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.fernet import Fernet

from petition_hub import schemas
from petition_hub.agents.intake import IntakeProcessor, channels
from petition_hub.agents.lifecycle import LifecycleProcessor
from petition_hub.agents.lifecycle_records import lifecycle_outputs, units_of
from petition_hub.agents.routing import LiveRules, RoutingProcessor
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.devtools.corpus import CorpusItem, generate
from petition_hub.domain.rules import default_rules
from petition_hub.runtime.processor import Processor
from petition_hub.runtime.records import SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec
from petition_hub.service.crypto import PiiCipher
from petition_hub.service.settings import PACKAGED_TOPICS_FILE
from petition_hub.topics import load_topics, run_apply

TARGET_VS_CPU = 0.5
TARGET_VS_COPY = 0.1
TOPIC = "hotline12345.workorders"
ROUTED = "bench.routed"
#: Records per batch, as a stage takes them (petition_hub.runtime.stage.Stage.batch_size).
BATCH = 2000
#: The hub's clocks in the benchmark: fixed, so its deadlines never need a year without calendar
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@dataclass
class BenchResult:
    """Rates in records per second, and the ratios the targets are about."""

    records: int
    copy_rate: float
    cpu_rate: float
    intake_rate: float
    intake_vs_cpu: float
    intake_vs_copy: float
    max_rss_mib: float
    routing_cpu_rate: float
    routing_rate: float
    routing_vs_cpu: float
    lifecycle_cpu_rate: float
    lifecycle_rate: float
    lifecycle_vs_cpu: float
    decode_us: float
    route_us: float
    deadline_us: float
    passed: bool


def _items(n: int) -> list[CorpusItem]:
    items = generate("hotline", int(n * 1.5), seed=2026, broken_every=10**9)
    unique = list({i.key: i for i in items if i.expected == "petition"}.values())
    return unique[:n]


async def _preload(bootstrap: str, items: Sequence[CorpusItem]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(TOPIC, i.value, key=i.key, headers=list(i.headers)) for i in items
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _copy_rate(bootstrap: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="bench-copy",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=2000,
        heartbeat_interval_ms=400,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await consumer.start()
    await producer.start()
    try:
        done, t0 = 0, 0.0
        while done < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            if batch and not t0:
                t0 = time.perf_counter()
            futures = []
            for records in batch.values():
                for r in records:
                    futures.append(await producer.send("bench.copy", r.value, key=r.key))
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
            done += sum(len(r) for r in batch.values())
        return n / (time.perf_counter() - t0)
    finally:
        await consumer.stop()
        await producer.stop()


def _cpu_rate(sources: Sequence[SourceRecord], make: Callable[[], Processor]) -> float:
    """Records/s of a processor alone, no Kafka (the second of two passes, each with a fresh
    processor and state: caches warm, as the stage's run is)."""
    rate = 0.0
    for _ in range(2):
        processor, state = make(), PartitionState()
        t0 = time.perf_counter()
        for k, src in enumerate(sources, 1):
            processor(src, state)
            if k % BATCH == 0 or k == len(sources):
                processor.flushing(0, state)  # as the stage does before each state write
        rate = len(sources) / (time.perf_counter() - t0)
    return rate


async def _stage_rate(
    bootstrap: str,
    name: str,
    source: str,
    n: int,
    processor: Processor,
    **options: Any,
) -> float:
    """Records/s of a stage working off ``n`` pre-loaded records of ``source``."""
    stage = Stage(
        name=name,
        sources=(source,),
        partitions=12,
        processor=processor,
        bootstrap=bootstrap,
        group=name,
        tansu=True,
        session_timeout=2.0,
        heartbeat_interval=0.4,
        **options,
    )
    await stage.start()
    try:
        first: tuple[float, float] | None = None
        # the stage's own count: collecting the metrics registry every 10 ms would be work in
        # the process being measured
        while (done := stage.records_done) < n:
            if done and first is None:
                first = (time.perf_counter(), done)
            await asyncio.sleep(0.01)
        if first is None:  # everything in one batch: the rate is not measurable at this size
            raise RuntimeError("the run was too small to measure; use more records")
        return (n - first[1]) / (time.perf_counter() - first[0])
    finally:
        await stage.stop()


def _per_record_us(fn: Callable[[], object], n: int) -> float:
    fn()  # warm caches
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return round(best * 1e6, 1)


def _core_costs(items: Sequence[CorpusItem]) -> tuple[float, float, float]:
    from petition_hub.connectors import PETITION_DECODERS
    from petition_hub.domain.routing import route
    from petition_hub.domain.rules import default_rules
    from petition_hub.domain.sla import deadline, resolve_clock

    decode = PETITION_DECODERS[TOPIC]
    sample = list(items[:2000])
    petitions = [decode(i.key, i.value, i.headers) for i in sample]
    rules = default_rules()
    n = len(sample)
    return (
        _per_record_us(lambda: [decode(i.key, i.value, i.headers) for i in sample], n),
        _per_record_us(lambda: [route(p, rules) for p in petitions], n),
        _per_record_us(
            lambda: [
                deadline(resolve_clock(p.received_at, p.petition_type, p.urgency))
                for p in petitions
            ],
            n,
        ),
    )


def _petition_records(items: Sequence[CorpusItem]) -> list[SourceRecord]:
    """The ``hub.petitions`` records intake makes of ``items``."""
    from petition_hub.connectors import PETITION_DECODERS

    decode = PETITION_DECODERS[TOPIC]
    out = []
    for k, i in enumerate(items):
        p = decode(i.key, i.value, i.headers)
        value = schemas.encode(codec.PETITION, codec.petition_record(p))
        out.append(SourceRecord("hub.petitions", 0, k, p.petition_id.encode(), value, (), None))
    return out


def _routed_records(
    petitions: Sequence[SourceRecord], router: RoutingProcessor
) -> list[SourceRecord]:
    """The routing decisions (``Routed.v3``) the router makes of ``petitions``."""
    out: list[SourceRecord] = []
    state = PartitionState()
    for src in petitions:
        for o in router(src, state):
            if o.topic == ROUTED:
                out.append(SourceRecord(ROUTED, 0, len(out), o.key, o.value, (), None))
    return out


def _lifecycle(spec: dict[str, Any]) -> LifecycleProcessor:
    return LifecycleProcessor(
        rules=default_rules(),
        city="410400",
        routed=ROUTED,
        statuses="bench.statuses",
        evaluations="bench.evaluations",
        unit_topics=units_of(spec),
        clock=lambda: NOW,
    )


async def _run(n: int) -> BenchResult:
    items = _items(n)
    hotline = next(c for c in channels() if c.topic == TOPIC)
    intake_processor = IntakeProcessor(hotline, PiiCipher(Fernet.generate_key().decode()))
    router = RoutingProcessor(LiveRules(None), "410400", ROUTED, clock=lambda: NOW)
    spec = {t.name: t for t in load_topics(PACKAGED_TOPICS_FILE).topics}
    with EmbeddedBroker() as broker:
        text, code = run_apply(broker.bootstrap, True, PACKAGED_TOPICS_FILE)
        if code != 0:
            raise RuntimeError(text)
        await _preload(broker.bootstrap, items)
        copy = await _copy_rate(broker.bootstrap, len(items))
        raw = [
            SourceRecord(TOPIC, 0, k, i.key, i.value, i.headers, None) for k, i in enumerate(items)
        ]
        cpu = _cpu_rate(raw, lambda: intake_processor)
        intake = await _stage_rate(
            broker.bootstrap, "bench-intake", TOPIC, len(items), intake_processor
        )
        # the intake stage has just written the petitions: route them
        petitions = _petition_records(items)
        routing_cpu = _cpu_rate(petitions, lambda: router)
        routing = await _stage_rate(
            broker.bootstrap,
            "bench-routing",
            "hub.petitions",
            len(items),
            router,
            creates={ROUTED: 12},
        )
        # routing has just written its decisions: start the petitions' lifecycles
        decisions = _routed_records(petitions, router)
        lifecycle_cpu = _cpu_rate(decisions, lambda: _lifecycle(spec))
        lifecycle = await _stage_rate(
            broker.bootstrap,
            "bench-lifecycle",
            ROUTED,
            len(decisions),
            _lifecycle(spec),
            outputs=lifecycle_outputs(spec),
        )
    vs_cpu, vs_copy = intake / cpu, intake / copy
    decode_us, route_us, deadline_us = _core_costs(items)
    return BenchResult(
        records=len(items),
        copy_rate=round(copy),
        cpu_rate=round(cpu),
        intake_rate=round(intake),
        intake_vs_cpu=round(vs_cpu, 3),
        intake_vs_copy=round(vs_copy, 3),
        max_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        routing_cpu_rate=round(routing_cpu),
        routing_rate=round(routing),
        routing_vs_cpu=round(routing / routing_cpu, 3),
        lifecycle_cpu_rate=round(lifecycle_cpu),
        lifecycle_rate=round(lifecycle),
        lifecycle_vs_cpu=round(lifecycle / lifecycle_cpu, 3),
        decode_us=decode_us,
        route_us=route_us,
        deadline_us=deadline_us,
        passed=vs_cpu >= TARGET_VS_CPU
        and vs_copy >= TARGET_VS_COPY
        and routing / routing_cpu >= TARGET_VS_CPU
        and lifecycle / lifecycle_cpu >= TARGET_VS_CPU,
    )


#: The parts of the bench: the data path (this module) and the console (:mod:`.bench_console`).
PARTS = ("path", "console")


def run_bench(
    quick: bool,
    json_path: Path | None,
    *,
    as_json: bool = False,
    parts: Sequence[str] = PARTS,
) -> int:
    """Run the suite's ``parts``, print a table each (or, ``as_json``, one JSON object; and write
    it to ``json_path``); 0 when every target is met."""
    from petition_hub.devtools.bench_console import print_console_table, run_console

    figures: dict[str, Any] = {}
    passed = True
    if "path" in parts:
        result = asyncio.run(_run(12_000 if quick else 60_000))
        figures |= asdict(result)
        passed = passed and result.passed
        if not as_json:
            _print_table(result)
    if "console" in parts:
        console = run_console(quick)
        figures |= asdict(console)
        passed = passed and console.console_passed
        if not as_json:
            print_console_table(console)
    if as_json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
    if json_path is not None:
        text = json.dumps(figures, indent=2, ensure_ascii=False)
        json_path.write_text(text + "\n", encoding="utf-8")
    return 0 if passed else 1


def _print_table(result: BenchResult) -> None:
    print(
        f"records                 {result.records}\n"
        f"copy loop (baseline)    {result.copy_rate:>8} records/s\n"
        f"processor, no Kafka     {result.cpu_rate:>8} records/s\n"
        f"intake stage            {result.intake_rate:>8} records/s\n"
        f"intake / processor      {result.intake_vs_cpu:>8}  (target >= {TARGET_VS_CPU})\n"
        f"intake / copy loop      {result.intake_vs_copy:>8}  (target >= {TARGET_VS_COPY})\n"
        f"routing, no Kafka       {result.routing_cpu_rate:>8} records/s\n"
        f"routing stage           {result.routing_rate:>8} records/s\n"
        f"routing / processor     {result.routing_vs_cpu:>8}  (target >= {TARGET_VS_CPU})\n"
        f"lifecycle, no Kafka     {result.lifecycle_cpu_rate:>8} records/s\n"
        f"lifecycle stage         {result.lifecycle_rate:>8} records/s\n"
        f"lifecycle / processor   {result.lifecycle_vs_cpu:>8}  (target >= {TARGET_VS_CPU})\n"
        f"peak memory             {result.max_rss_mib:>8} MiB\n"
        f"core, per record        decode {result.decode_us} µs, route {result.route_us} µs, "
        f"deadline {result.deadline_us} µs\n"
        f"{'PASS' if result.passed else 'FAIL'}"
    )
