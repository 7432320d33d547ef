"""Batch stages: consume, process, produce, commit, with partitioned changelog-backed state.

Why not a faust agent: faust hands every message from its consumer thread to the agent through
a task of its own, which caps a worker at a few thousand events a second (measured here: an agent
awaiting one send per event ~5,000/s, ``take_events`` with unawaited sends ~8,600/s, against
~40,000/s for a bare aiokafka consume-transform-produce loop). The hub's high-volume data path
(intake now, routing next) therefore runs as a :class:`Stage`: a faust service (started and
stopped with the worker, beside faust's agents, tables, timers and web server) that drives its
own aiokafka consumer in batches.

Guarantees, per batch:

1. Records are processed in offset order per partition by one coroutine (order per key).
2. Outputs are queued without awaiting each; the stage waits until every one is acknowledged,
   then writes the state changes that record them and waits for those, and only then commits the
   batch's offsets. A crash at any point leaves the batch uncommitted: it is read again, and the
   state (restored from its changelog) says what was already emitted; since state is written
   only after its outputs are on the broker, it never claims an output that is not. A delivery
   that fails for good stops the worker before anything more is committed (crash-only).
3. State is kept per source partition and written to a compacted changelog topic in the same
   partition number, so whichever worker holds a partition restores exactly its state, reading
   the changelog to its true end offset (corrected on Tansu, see :mod:`.broker.offsets`).
4. A rebalance waits for the batch in hand: revocation takes the same lock as processing, and
   no record is processed, or skipped, before its partition's state is restored.

Exactly-once outputs (``outputs=`` given; the lifecycle's clock events must fire once): without
broker transactions (Tansu has none) a crash after the outputs were acknowledged but before the
state recording them was would emit them again. So each output carries a stable ``event_id``
(header ``hub-event-id``) and is written to partition ``p mod n`` of its topic for source
partition ``p``; the state of ``p`` records, with each flush, where the outputs of ``p`` ended
in those partitions (the *marks*, written after the other state changes). Restoring ``p`` reads
every output partition from its mark to its end: those records were written after the last state
flush, and a processor that regenerates one of them (same ``event_id``) has it suppressed.
Together with processors that skip input records their state already holds (a partial state
flush), a crash repeats no output and loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import (
    CommitFailedError,
    CorruptRecordException,
    IllegalStateError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAlreadyExistsError,
)
from mode import Service

from . import metrics
from .broker.offsets import end_offsets
from .broker.reading import event_ids_since
from .deadletter import SourceRecord

log = structlog.get_logger(__name__)

#: How a stage's consumer group shares partitions out (see ``Stage.on_start``).
ASSIGNORS = (RangePartitionAssignor,)

#: Exit status of a worker that stopped because an output could not be delivered (EX_IOERR).
EXIT_DELIVERY_FAILED = 74

#: The longest a stage computes without giving the event loop back (seconds).
YIELD_EVERY = 0.02

#: How often a stage reports its consumer lag apart from its batches (seconds).
LAG_EVERY = 2.0

#: Errors about one record, not about the broker: the record that caused them becomes a dead
#: letter (``Stage(dead_letter=…)``) and the stage goes on; any other delivery error stops the
#: worker (crash-only).
RECORD_ERRORS: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    CorruptRecordException,
)

#: The share of the session (and rebalance) timeout a stage may go on producing after its last
#: sign of membership (a heartbeat, a join, or the start of a rebalance): past it, the group may
#: already have given its partitions to another worker, so it stops producing (see ``_Lease``).
LEASE_SHARE = 0.5

#: ``dead_letter(record, reason, message) -> Output``: a source record whose own output could not
#: be written, as a dead letter (the stage's owner seals it with the PII key).
DeadLetterer = Callable[[SourceRecord, str, str], "Output"]


class LeaseLost(Exception):
    """The stage may have lost its partitions: it must not produce, flush or commit any more."""


@dataclass(frozen=True, slots=True)
class Output:
    """A record a stage emits."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    event_id: str | None = None
    """Stable id of what this output says (exactly-once stages): regenerated, it is the same."""


#: Header carrying an output's ``event_id``.
EVENT_ID_HEADER = "hub-event-id"
#: State key of the output marks (exactly-once stages); processors skip keys starting with NUL.
MARKS_KEY = b"\x00stage:marks"
#: How often an exactly-once stage moves its marks to the current ends (bounds the reading on
#: restore to what others wrote since), in seconds.
MARKS_REFRESH = 30.0


class PartitionState(MutableMapping[bytes, bytes]):
    """The state of one source partition: a dict that remembers which keys changed."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self.dirty: dict[bytes, bytes | None] = {}

    def __getitem__(self, key: bytes) -> bytes:
        return self._data[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._data[key] = value
        self.dirty[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self._data[key]
        self.dirty[key] = None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Apply one changelog record (``None``: a deletion) without marking it dirty."""
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value


#: ``process(record, state) -> outputs``: the stage's pure(ish) work on one record.
#:
#: A processor may also have ``tick(partition, state) -> outputs``, called every
#: ``tick_interval`` seconds for each partition held (timers: due SLA steps; a tick should do a
#: bounded slice of work: while ticks return outputs they are called again at once), and
#: ``restored(partition, state)``, called after a partition's state is restored (to rebuild an
#: index, such as due times, that is derived from the state and not stored),
#: ``flushing(partition, state)`` just before the partition's state changes are written (a
#: processor that keeps decoded objects writes them then, once per batch), and
#: ``revoked(partition)`` when the partition goes to another worker.
Processor = Callable[[SourceRecord, PartitionState], Sequence[Output]]


def _die(reason: str, **fields: Any) -> None:
    log.critical(reason, **fields)
    logging.shutdown()
    os._exit(EXIT_DELIVERY_FAILED)


class _Lease:
    """Whether this worker may still be the owner of its partitions, as far as it can tell.

    Without broker transactions (Tansu) nothing fences a worker the group has moved on from: a
    worker whose heartbeats stalled (a loaded host), or that took longer than the rebalance
    timeout to finish its batch, would go on writing after the new owner restored and read back
    the outputs, and those would be duplicates. So the stage produces only while a sign of
    membership is recent: the last successful heartbeat (or join) less than half the session
    timeout ago, and, once a rebalance is under way, less than half the rebalance timeout since
    it began. A worker that outlives its lease stops at once (``LeaseLost``): no output, no state,
    no commit; the group gives its partitions to whoever rejoins, who restores them.

    Reads aiokafka's group coordinator (``_do_heartbeat``, ``_rejoin_needed_fut``): no public API
    says when the last heartbeat succeeded. ``tests/test_stage_lease.py`` fails if that changes.
    """

    def __init__(self, session: float, rebalance: float) -> None:
        self.session = session
        self.rebalance = rebalance
        self.beat = time.monotonic()
        self.rebalance_since: float | None = None
        self._coordinator: Any = None

    def watch(self, consumer: AIOKafkaConsumer) -> None:
        """Hook the consumer's heartbeats (after ``consumer.start()``)."""
        coordinator = consumer._coordinator
        beat = coordinator._do_heartbeat

        async def heartbeat() -> bool:
            ok = bool(await beat())
            if ok:  # the coordinator still counts this member (rebalancing or not)
                self.beat = time.monotonic()
            return ok

        coordinator._do_heartbeat = heartbeat
        self._coordinator = coordinator

    def joined(self) -> None:
        """A join (or sync) completed: a fresh session, no rebalance under way."""
        self.beat = time.monotonic()
        self.rebalance_since = None

    def rebalancing(self) -> bool:
        """A rebalance was requested (this worker must rejoin): finish quickly."""
        fut = getattr(self._coordinator, "_rejoin_needed_fut", None)
        if fut is None or not fut.done():
            return False
        if self.rebalance_since is None:
            self.rebalance_since = time.monotonic()
        return True

    def fresh(self) -> bool:
        """The fast path: a heartbeat recent enough, and no rebalance outlasting its share."""
        now = time.monotonic()
        if self.rebalancing():
            assert self.rebalance_since is not None
            if now - self.rebalance_since > self.rebalance * LEASE_SHARE:
                return False
        return now - self.beat <= self.session * LEASE_SHARE

    async def check(self) -> None:
        """Raise :class:`LeaseLost` unless this worker may still own its partitions. When the
        last heartbeat is old (the loop was busy: a long restore, a loaded host) it asks the
        group coordinator at once, with a heartbeat of its own: an accepted one proves that the
        group still counts this member, so nobody else can own its partitions yet."""
        if self.fresh():
            return
        now = time.monotonic()
        if self.rebalance_since is not None and (
            now - self.rebalance_since > self.rebalance * LEASE_SHARE
        ):
            raise LeaseLost(f"rebalance under way for {now - self.rebalance_since:.1f}s")
        stale = now - self.beat
        try:
            member = self._coordinator is not None and await asyncio.wait_for(
                self._coordinator._do_heartbeat(), self.session * LEASE_SHARE
            )
        except Exception:  # no answer in time (or an error) is no proof of membership
            member = False
        if not member:
            raise LeaseLost(f"no heartbeat for {stale:.1f}s, and the group does not confirm it")


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self.stage.lock:  # the batch in hand is finished and committed first
            forget = getattr(self.stage.processor, "revoked", None)
            for p in {tp.partition for tp in revoked}:
                self.stage.states.pop(p, None)
                self.stage._suppress.pop(p, None)
                if forget is not None:
                    forget(p)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.stage.lease.joined()
        self.stage.watch_lag(assigned)
        async with self.stage.lock:
            missing = {tp.partition for tp in assigned} - set(self.stage.states)
            if missing:
                await self.stage.restore(sorted(missing))


class Stage(Service):
    """Source topics, one processor, one consumer group, one changelog.

    Several sources must be co-partitioned (same partition count, keyed alike): the consumer's
    range assignment gives a worker the same partition numbers of each, and the state of
    partition ``p`` serves records of partition ``p`` of every source.
    """

    def __init__(
        self,
        *,
        name: str,
        sources: Sequence[str],
        partitions: int,
        processor: Processor,
        bootstrap: str,
        group: str,
        tansu: bool,
        batch_size: int = 2000,
        session_timeout: float = 10.0,
        heartbeat_interval: float = 3.0,
        creates: Mapping[str, int] | None = None,
        tick_interval: float = 1.0,
        outputs: Mapping[str, int] | None = None,
        client_options: Mapping[str, Any] | None = None,
        rebalance_timeout: float | None = None,
        dead_letter: DeadLetterer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stage_name = name
        self.sources = tuple(sources)
        self.partitions = partitions
        self.processor = processor
        self.bootstrap = bootstrap
        self.group = group
        self.tansu = tansu
        self.batch_size = batch_size
        self.session_timeout = session_timeout
        self.heartbeat_interval = heartbeat_interval
        self.changelog = f"{group}-changelog"
        #: hub-internal topics this stage needs (name -> partitions), made at start if missing
        self.creates = {self.changelog: partitions, **(creates or {})}
        self.tick_interval = tick_interval
        #: exactly-once stages: every topic written (name -> partitions), see the module doc
        self.outputs = dict(outputs) if outputs is not None else None
        #: what every Kafka client of the stage adds to its settings (SASL, TLS)
        self.client_options: dict[str, Any] = dict(client_options or {})
        #: how long the group waits for members to rejoin in a rebalance (aiokafka's default is
        #: the session timeout, too short for a batch on a loaded host)
        self.rebalance_timeout = rebalance_timeout or max(30.0, 3 * session_timeout)
        self.lease = _Lease(session_timeout, self.rebalance_timeout)
        self.dead_letter = dead_letter
        self._committed: dict[TopicPartition, int] = {}  # where a partition starts, for the lag
        self._fenced = metrics.STAGE_FENCED.labels(name)
        self._suppress: dict[int, set[str]] = {}  # partition -> event ids already on the broker
        self._sent: dict[int, list[asyncio.Future[Any]]] = {}  # per source partition, unsettled
        self._marks_at = time.monotonic()
        self._closing = False
        self.lock = asyncio.Lock()
        self.states: dict[int, PartitionState] = {}
        self._next: dict[TopicPartition, int] = {}  # next offset to process, for the lag
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._batch_seconds = metrics.STAGE_BATCH_SECONDS.labels(name)
        self._records = metrics.STAGE_RECORDS.labels(name)

    @property
    def assigned(self) -> set[int]:
        """Source partitions this stage holds and has restored."""
        return set(self.states)

    async def _ensure_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **self.client_options)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            for name, partitions in self.creates.items():
                if name in existing:
                    continue
                policy = "compact" if name == self.changelog else "delete"
                topic = NewTopic(
                    name,
                    partitions,
                    1 if self.tansu else 3,
                    topic_configs={"cleanup.policy": policy},
                )
                with contextlib.suppress(TopicAlreadyExistsError):  # another worker was quicker
                    await admin.create_topics([topic])
        finally:
            await admin.close()

    async def on_start(self) -> None:
        await self._ensure_topics()
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=5,
            max_batch_size=512 * 1024,
            max_request_size=16 * 1024 * 1024,
            client_id=f"{self.group}-producer",
            **self.client_options,
        )
        await self.producer.start()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            client_id=f"{self.group}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            session_timeout_ms=int(self.session_timeout * 1000),
            heartbeat_interval_ms=int(self.heartbeat_interval * 1000),
            # co-partitioning needs the same partition numbers of every source in one worker:
            # range assignment gives that; aiokafka's default (round robin over all
            # topic-partitions) does not, as soon as the worker count does not divide them
            partition_assignment_strategy=ASSIGNORS,
            rebalance_timeout_ms=int(self.rebalance_timeout * 1000),
            **self.client_options,
        )
        self.consumer.subscribe(list(self.sources), listener=_Rebalance(self))
        await self.consumer.start()
        self.lease.watch(self.consumer)
        self.add_future(self._run())
        self.add_future(self._lag_reporter())
        if hasattr(self.processor, "tick"):
            self.add_future(self._ticker())

    async def on_stop(self) -> None:
        # no new batch or tick after this; the one in hand finishes (outputs, state, commit)
        # before the clients close, so a stop never meets a closed producer half-way
        self._closing = True
        async with self.lock:
            pass
        if self.consumer is not None:
            await self.consumer.stop()  # leaves the group; uncommitted work is redone elsewhere
        if self.producer is not None:
            await self.producer.stop()

    async def restore(self, partitions: list[int]) -> None:
        """Rebuild the state of ``partitions`` from the changelog, to its true end."""
        t0 = time.monotonic()
        tps = [TopicPartition(self.changelog, p) for p in partitions]
        ends = await end_offsets(self.bootstrap, tps, tansu=self.tansu, options=self.client_options)
        states = {p: PartitionState() for p in partitions}
        pending = {tp for tp in tps if ends[tp] > 0}
        if pending:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                max_partition_fetch_bytes=8 * 1024 * 1024,
                **self.client_options,
            )
            await reader.start()
            try:
                reader.assign(list(pending))
                await reader.seek_to_beginning(*pending)
                while pending:
                    batch = await reader.getmany(*pending, timeout_ms=1000, max_records=10_000)
                    for tp, records in batch.items():
                        state = states[tp.partition]
                        for r in records:
                            state.restore(r.key, r.value)
                    for tp in list(pending):
                        if await reader.position(tp) >= ends[tp]:
                            pending.discard(tp)
            finally:
                await reader.stop()
        restored = getattr(self.processor, "restored", None)
        if restored is not None:
            for p, state in states.items():
                restored(p, state)
        self.states.update(states)
        if self.outputs is not None:
            await self._reconcile(partitions)
        log.info(
            "stage state restored",
            stage=self.stage_name,
            partitions=sorted(partitions),
            keys=sum(len(s) for s in states.values()),
            seconds=round(time.monotonic() - t0, 3),
        )

    def _out_tp(self, topic: str, source_partition: int) -> TopicPartition:
        """Where an exactly-once stage writes ``topic`` for ``source_partition``."""
        assert self.outputs is not None
        try:
            return TopicPartition(topic, source_partition % self.outputs[topic])
        except KeyError:
            raise ValueError(f"stage {self.stage_name} does not declare output {topic}") from None

    def _marks(self, partition: int) -> dict[TopicPartition, int]:
        raw = self.states[partition].get(MARKS_KEY)
        if raw is None:
            return {}
        marks = json.loads(raw)
        return {TopicPartition(t, int(q)): int(o) for t, q, o in marks}

    def _set_marks(self, partition: int, marks: Mapping[TopicPartition, int]) -> None:
        old = self._marks(partition)
        merged = {**old, **{tp: max(o, old.get(tp, 0)) for tp, o in marks.items()}}
        if merged != old:
            self.states[partition][MARKS_KEY] = json.dumps(
                sorted([tp.topic, tp.partition, o] for tp, o in merged.items())
            ).encode()

    async def _current_marks(
        self, partitions: Iterable[int]
    ) -> dict[int, dict[TopicPartition, int]]:
        """The end offsets of every output partition of ``partitions`` now. Taken while none of
        their outputs is unflushed; plain ListOffsets, which on Tansu may say less than the true
        end: a mark may only ever be too early (more is read on restore), never too late."""
        assert self.outputs is not None
        want = {p: [self._out_tp(t, p) for t in self.outputs] for p in partitions}
        ends = await end_offsets(
            self.bootstrap,
            {tp for tps in want.values() for tp in tps},
            tansu=False,
            options=self.client_options,
        )
        return {p: {tp: ends[tp] for tp in tps} for p, tps in want.items()}

    async def _reconcile(self, partitions: list[int]) -> None:
        """After restoring ``partitions``: find the outputs written after their last state flush
        (to suppress them when regenerated), then move their marks to the current ends."""
        starts: dict[TopicPartition, int] = {}
        fresh = []
        for p in partitions:
            marks = self._marks(p)
            if not marks:
                fresh.append(p)  # never flushed: nothing of it can be on the broker unrecorded
            for tp, offset in marks.items():
                starts[tp] = min(offset, starts.get(tp, offset))
        found = (
            await event_ids_since(self.bootstrap, starts, options=self.client_options)
            if starts
            else set()
        )
        for p in partitions:
            self._suppress[p] = found
        current = await self._current_marks(partitions)
        for p in partitions:
            self._set_marks(p, current[p])
        await self._settle(
            [f for p in partitions for f in await self._flush_state(p, self.states[p])]
        )
        if found:
            log.info(
                "outputs found after the last state flush; not emitting them again",
                stage=self.stage_name,
                partitions=sorted(partitions),
                count=len(found),
                fresh=fresh,
            )

    async def _emit(self, out: Output, partition: int) -> asyncio.Future[Any] | None:
        """Send ``out`` for source ``partition``; None when an exactly-once stage finds it was
        sent before the crash it recovers from."""
        if self.outputs is None:
            return await self._send(out)
        if out.event_id is not None:
            seen = self._suppress.get(partition)
            if seen and out.event_id in seen:
                seen.discard(out.event_id)
                return None
        tp = self._out_tp(out.topic, partition)
        headers = list(out.headers)
        if out.event_id is not None:
            headers.append((EVENT_ID_HEADER, out.event_id.encode()))
        assert self.producer is not None
        fut: asyncio.Future[Any] = await self.producer.send(
            out.topic, out.value, key=out.key, headers=headers, partition=tp.partition
        )
        self._sent.setdefault(partition, []).append(fut)
        return fut

    def _record_marks(self) -> None:
        """After the outputs were acknowledged: where they ended, per source partition."""
        for p, futures in self._sent.items():
            if p not in self.states:
                continue
            ends: dict[TopicPartition, int] = {}
            for fut in futures:
                md = fut.result()
                tp = TopicPartition(md.topic, md.partition)
                ends[tp] = max(ends.get(tp, 0), md.offset + 1)
            self._set_marks(p, ends)
        self._sent.clear()

    async def _refresh_marks(self) -> None:
        """Move the marks of every held partition to the current ends (bounds restore reads)."""
        if self.outputs is None or not self.states:
            return
        current = await self._current_marks(list(self.states))
        for p, marks in current.items():
            self._set_marks(p, marks)
        self._marks_at = time.monotonic()

    async def _run(self) -> None:
        assert self.consumer is not None
        while not self.should_stop and not self._closing:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=self.batch_size)
            if batch:
                async with self.lock:
                    if self._closing:
                        return  # not processed, not committed: read again by the next owner
                    try:
                        await self._process(batch)
                    except LeaseLost as exc:
                        await self._fence(str(exc))
            self._report_lag()

    async def _ticker(self) -> None:
        tick = self.processor.tick  # type: ignore[attr-defined]
        busy = False
        while not self.should_stop and not self._closing:
            # a tick does a bounded slice of work (the processor's budget); while there was work,
            # the next slice comes at once, after giving heartbeats and batches their turn
            await asyncio.sleep(0 if busy else self.tick_interval)
            busy = False
            async with self.lock:
                if self._closing:
                    return
                try:
                    busy = await self._tick(tick)
                except LeaseLost as exc:
                    await self._fence(str(exc))

    async def _tick(self, tick: Callable[[int, PartitionState], Sequence[Output]]) -> bool:
        """One round of the processor's timers over the held partitions; True when it did work."""
        busy = False
        outputs: list[asyncio.Future[Any]] = []
        for partition, state in list(self.states.items()):
            await self.lease.check()
            for out in tick(partition, state):
                busy = True
                fut = await self._emit(out, partition)
                if fut is not None:
                    outputs.append(fut)
            await asyncio.sleep(0)
        await self._settle(outputs)
        await self.lease.check()
        self._record_marks()
        if time.monotonic() - self._marks_at > MARKS_REFRESH:
            await self._refresh_marks()
        await self._settle(
            [f for p, st in self.states.items() for f in await self._flush_state(p, st)]
        )
        return busy

    async def _fence(self, why: str) -> None:
        """The lease ran out: forget every partition (its state is restored from the changelog if
        it comes back) and go back to the committed offsets. Outputs already written stand: a new
        owner reads them back past its marks, and an exactly-once stage does not repeat them."""
        assert self.consumer is not None and self.producer is not None
        held = sorted(self.states)
        dropped = self._drop_queued(why)
        forget = getattr(self.processor, "revoked", None)
        for p in held:
            self.states.pop(p, None)
            self._suppress.pop(p, None)
            if forget is not None:
                forget(p)
        self._sent.clear()
        # what already left for the broker lands (or fails) before this worker may restore
        # anything again: a read-back must never be overtaken by the worker's own outputs
        with contextlib.suppress(Exception):
            await self.producer.flush()
        if held or dropped:
            self._fenced.inc()
            log.warning(
                "stage stopped producing: it may have lost its partitions",
                stage=self.stage_name,
                why=why,
                partitions=held,
                outputs_dropped=dropped,
            )
        with contextlib.suppress(IllegalStateError):
            await self.consumer.seek_to_committed()

    def _drop_queued(self, why: str) -> int:
        """Drop the outputs still waiting in the producer (not yet sent to the broker): they must
        not land after the lease ran out. Those already in flight cannot be called back; the
        lease's margin (half the session timeout) is what covers them. Uses aiokafka's message
        accumulator: it has no public way to discard queued records."""
        assert self.producer is not None
        acc = self.producer._message_accumulator
        dropped = 0
        lost = LeaseLost(why)
        for batches in acc._batches.values():
            for batch in batches:
                dropped += batch.record_count
                batch.failure(lost)
                with contextlib.suppress(BaseException):
                    batch.future.exception()  # retrieved: not an "unhandled" error
        acc._batches.clear()
        return dropped

    async def _send(self, out: Output) -> asyncio.Future[Any]:
        assert self.producer is not None
        fut: asyncio.Future[Any] = await self.producer.send(
            out.topic, out.value, key=out.key, headers=list(out.headers)
        )
        return fut

    async def _flush_state(
        self, partition: int, state: PartitionState
    ) -> list[asyncio.Future[Any]]:
        """Send the state changes of ``partition`` to the changelog (same partition number)."""
        assert self.producer is not None
        flushing = getattr(self.processor, "flushing", None)
        if flushing is not None:
            flushing(partition, state)
        # the marks last: when they are on the broker, so is the state they vouch for
        marks = state.dirty.pop(MARKS_KEY, False)
        futures = [
            await self.producer.send(self.changelog, value, key=key, partition=partition)
            for key, value in state.dirty.items()
        ]
        state.dirty.clear()
        if marks is not False:
            await self._settle(futures)
            futures = [
                await self.producer.send(self.changelog, marks, key=MARKS_KEY, partition=partition)
            ]
        return futures

    async def _settle(
        self,
        futures: list[asyncio.Future[Any]],
        origin: Mapping[int, SourceRecord] | None = None,
    ) -> None:
        """Wait until every future is acknowledged. A failure caused by the record itself (too
        large, refused as corrupt) makes its source record (``origin``: id of the future -> the
        record) a dead letter; any other failure stops the worker (crash-only)."""
        if not futures:
            return
        done, _ = await asyncio.wait(futures)
        poisoned: dict[str, tuple[SourceRecord, BaseException]] = {}
        for f in done:
            exc = f.exception()
            if exc is None:
                continue
            src = (origin or {}).get(id(f))
            if src is None or not isinstance(exc, RECORD_ERRORS) or self.dead_letter is None:
                _die(
                    "output not delivered; stopping before the batch is committed",
                    stage=self.stage_name,
                    error=repr(exc),
                )
            assert src is not None
            poisoned.setdefault(src.ref, (src, exc))
        if poisoned:
            await self._settle([await self._poison(src, exc) for src, exc in poisoned.values()])

    async def _poison(
        self, src: SourceRecord, exc: BaseException, reason: str = "unwritable_output"
    ) -> asyncio.Future[Any]:
        """``src`` cannot be processed (``internal``) or its own output cannot be written
        (``unwritable_output``): ``src`` becomes a dead letter instead, and the stage goes on."""
        assert self.dead_letter is not None
        log.warning(
            "record made a dead letter", stage=self.stage_name, source=src.ref, reason=reason
        )
        what = "process" if reason == "internal" else "write an output of"
        message = f"the {self.stage_name} stage could not {what} this record: {type(exc).__name__}"
        return await self._send(self.dead_letter(src, reason, message))

    async def _emit_for(
        self,
        out: Output,
        src: SourceRecord,
        futures: list[asyncio.Future[Any]],
        origin: dict[int, SourceRecord],
    ) -> None:
        """Emit ``out`` of ``src``, remembering where it came from; a record the producer
        refuses before sending (too large) makes ``src`` a dead letter at once."""
        try:
            fut = await self._emit(out, src.partition)
        except RECORD_ERRORS as exc:
            if self.dead_letter is None:
                raise
            futures.append(await self._poison(src, exc))
            return
        if fut is not None:
            futures.append(fut)
            origin[id(fut)] = src

    async def _process(self, batch: dict[TopicPartition, list[Any]]) -> None:
        assert self.consumer is not None and self.producer is not None
        t0 = slice_start = time.perf_counter()
        futures: list[asyncio.Future[Any]] = []
        origin: dict[int, SourceRecord] = {}
        offsets: dict[TopicPartition, int] = {}
        n = 0
        stopped = False
        for tp, records in batch.items():
            if stopped:  # not started: read again, by whoever owns it after the rebalance
                with contextlib.suppress(IllegalStateError):
                    self.consumer.seek(tp, records[0].offset)
                continue
            state = self.states.get(tp.partition)
            if state is None:
                if tp not in self.consumer.assignment():
                    continue  # revoked while the batch was fetched: its new owner reads it
                await self.lease.check()  # a worker left behind must not write state either
                # aiokafka may hand out records of a new partition before the assignment
                # listener ran: restore first, never skip (the position has moved past them)
                await self.restore([tp.partition])
                state = self.states[tp.partition]
            done = 0
            for r in records:
                if self.lease.rebalancing():
                    # a rebalance is under way: end the batch here (what is done is settled and
                    # committed), so the group is not kept waiting; the rest is read again
                    stopped = True
                    break
                await self.lease.check()
                src = SourceRecord(
                    tp.topic,
                    tp.partition,
                    r.offset,
                    r.key,
                    r.value,
                    tuple(r.headers or ()),
                    r.timestamp,
                )
                try:
                    outs = self.processor(src, state)
                except Exception as exc:  # a bug must not stop the partition: keep the record
                    if self.dead_letter is None:
                        raise
                    log.exception("processor raised", stage=self.stage_name, source=src.ref)
                    futures.append(await self._poison(src, exc, "internal"))
                    outs = ()
                for out in outs:
                    await self._emit_for(out, src, futures, origin)
                done += 1
                if time.perf_counter() - slice_start > YIELD_EVERY:
                    # let heartbeats, other stages and the web server run: a loop blocked longer
                    # than the session timeout gets every consumer of this worker thrown out
                    await asyncio.sleep(0)
                    slice_start = time.perf_counter()
            if done:
                offsets[tp] = records[done - 1].offset + 1
                n += done
            if done < len(records):
                with contextlib.suppress(IllegalStateError):  # not ours any more: nothing to do
                    self.consumer.seek(tp, records[done].offset)
        # outputs first, then the state that records them, then the input offsets: a crash
        # between any two steps repeats work (at-least-once), never skips it
        await self._settle(futures, origin)
        await self.lease.check()
        self._record_marks()
        held = {tp.partition for tp in offsets}
        await self._settle([f for p in held for f in await self._flush_state(p, self.states[p])])
        await self.lease.check()
        if offsets:
            try:
                await self.consumer.commit(offsets)
            except CommitFailedError as exc:
                # a rebalance took the partitions: the outputs stand, the state changelog says
                # so, and the new owner skips what was emitted
                log.warning("commit failed after rebalance", stage=self.stage_name, error=str(exc))
        self._next.update(offsets)
        self._records.inc(n)
        self._batch_seconds.observe(time.perf_counter() - t0)

    async def _lag_reporter(self) -> None:
        """The lag every few seconds, whatever the processing loop is doing: a stage wedged in a
        batch (or one that cannot finish one) shows its partitions' lag growing."""
        while not self.should_stop and not self._closing:
            await asyncio.sleep(LAG_EVERY)
            self._report_lag()

    def watch_lag(self, assigned: Iterable[TopicPartition]) -> None:
        """Learn the committed offsets of newly assigned partitions (for the lag, before their
        first batch here completes)."""
        new = [tp for tp in assigned if tp not in self._next and tp not in self._committed]
        if new and self.consumer is not None:
            self.add_future(self._load_committed(new))

    async def _load_committed(self, tps: list[TopicPartition]) -> None:
        assert self.consumer is not None
        for tp in tps:
            with contextlib.suppress(Exception):  # only for the metric: never fatal
                self._committed[tp] = await self.consumer.committed(tp) or 0

    def _report_lag(self) -> None:
        """Consumer lag per source topic: fetch high watermark (right on Tansu too) minus the
        next offset to process, over the partitions held. A partition counts from its first
        batch in this worker (before that its position is not known here)."""
        assert self.consumer is not None
        lag: dict[str, int] = dict.fromkeys(self.sources, 0)
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            # a partition that never finished a batch here (a record that stops the worker each
            # time) counts from its committed offset: stuck shows as lag, not as nothing
            done = self._next.get(tp, self._committed.get(tp))
            if high is not None and done is not None:
                lag[tp.topic] += max(high - done, 0)
        for topic, value in lag.items():
            metrics.CONSUMER_LAG.labels(self.stage_name, topic).set(value)
