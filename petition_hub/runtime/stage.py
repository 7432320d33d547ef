"""The :class:`Stage` service: its batch loop with its commit order, its ticker, and its part in
a rebalance (see :mod:`petition_hub.runtime` for the guarantees)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from mode import Service

from petition_hub.broker.offsets import end_offsets
from petition_hub.runtime import clients
from petition_hub.runtime.admin import adhoc_topic, ensure_topics
from petition_hub.runtime.delivery import DeadLetterer, Delivery
from petition_hub.runtime.lease import Lease, LeaseLost
from petition_hub.runtime.marks import MARKS_KEY, Marks
from petition_hub.runtime.processor import ProcessFn, Processor, as_processor
from petition_hub.runtime.records import SourceRecord
from petition_hub.runtime.recovery import read_changelog
from petition_hub.runtime.state import PartitionState
from petition_hub.service import metrics
from petition_hub.topics.names import changelog_topic
from petition_hub.topics.spec import TopicSpec

# the stage's logger, under its name from before the move into petition_hub.runtime
log = structlog.get_logger("petition_hub.stage")

#: The longest a stage computes without giving the event loop back (seconds).
YIELD_EVERY = 0.02

#: How often a stage reports its consumer lag apart from its batches (seconds).
LAG_EVERY = 2.0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self.stage.lock:  # the batch in hand is finished and committed first
            for p in {tp.partition for tp in revoked}:
                self.stage._drop(p)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.stage.lease.joined()
        self.stage.watch_lag(assigned)
        # restored by the stage's loop, not here: aiokafka sends no heartbeat while this callback
        # runs, and a restore longer than the session (seconds on a loaded host) got the worker
        # thrown out of the group, the partitions given back, restored again, over and over
        self.stage.unrestored |= {tp.partition for tp in assigned} - set(self.stage.states)


@dataclass
class _Batch:
    """What the batch in hand has done so far."""

    slice_start: float
    futures: list[asyncio.Future[Any]] = field(default_factory=list)
    origin: dict[int, SourceRecord] = field(default_factory=dict)  # id of a future -> its source
    offsets: dict[TopicPartition, int] = field(default_factory=dict)  # next offsets to commit
    records: int = 0
    stopped: bool = False  # a rebalance ended it early


class Stage(Service):
    """Source topics, one processor, one consumer group, one changelog.

    Several sources must be co-partitioned (same partition count, keyed alike): the consumer's
    range assignment gives a worker the same partition numbers of each, and the state of
    partition ``p`` serves records of partition ``p`` of every source.

    ``petition_keyed`` (name -> partitions): topics whose partition the stage chooses by the
    hub's one rule for records keyed by petition id
    (:func:`petition_hub.topics.partitioning.petition_partition`), so that two stages writing one
    topic (the units' ``.petitions``) put a petition's records in one partition.
    """

    #: records processed and committed since the start (what the metric counts, read without
    #: collecting the registry: the bench polls it)
    records_done: int = 0

    def __init__(
        self,
        *,
        name: str,
        sources: Sequence[str],
        partitions: int,
        processor: Processor | ProcessFn,
        bootstrap: str,
        group: str,
        tansu: bool,
        batch_size: int = 2000,
        session_timeout: float = 10.0,
        heartbeat_interval: float = 3.0,
        creates: Mapping[str, int] | None = None,
        topics: Sequence[TopicSpec] = (),
        petition_keyed: Mapping[str, int] | None = None,
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
        #: a plain ``process`` callable becomes a processor without hooks
        self.processor = as_processor(processor)
        self.bootstrap = bootstrap
        self.group = group
        self.tansu = tansu
        self.batch_size = batch_size
        self.session_timeout = session_timeout
        self.heartbeat_interval = heartbeat_interval
        self.changelog = changelog_topic(group)
        #: topics this stage needs, made at start if missing: ``topics`` as topics.yaml declares
        #: them (the hub's stages: their changelog, routed and repartition topics), ``creates``
        #: (name -> partitions) and an undeclared changelog as :func:`.admin.adhoc_topic`
        self.creates: dict[str, TopicSpec] = {
            self.changelog: adhoc_topic(self.changelog, partitions, compact=True),
            **{name: adhoc_topic(name, n) for name, n in (creates or {}).items()},
            **{spec.name: spec for spec in topics},
        }
        if self.creates[self.changelog].partitions != partitions:
            raise ValueError(
                f"stage {name}: changelog {self.changelog} has "
                f"{self.creates[self.changelog].partitions} partitions, the sources {partitions}: "
                "the state of source partition p is written to changelog partition p"
            )
        self.tick_interval = tick_interval
        #: exactly-once stages: every topic written (name -> partitions), see the package doc
        self.outputs = dict(outputs) if outputs is not None else None
        #: what every Kafka client of the stage adds to its settings (SASL, TLS)
        self.client_options: dict[str, Any] = dict(client_options or {})
        #: how long the group waits for members to rejoin in a rebalance (aiokafka's default is
        #: the session timeout, too short for a batch on a loaded host)
        self.rebalance_timeout = rebalance_timeout or max(30.0, 3 * session_timeout)
        self.lease = Lease(session_timeout, self.rebalance_timeout)
        self.dead_letter = dead_letter
        #: the exactly-once bookkeeping (exactly-once stages only)
        self.marks = (
            Marks(name, self.outputs, bootstrap, self.client_options)
            if self.outputs is not None
            else None
        )
        self.delivery = Delivery(name, self.marks, dead_letter, petition_keyed)
        self._committed: dict[TopicPartition, int] = {}  # where a partition starts, for the lag
        self._fenced = metrics.STAGE_FENCED.labels(name)
        self._closing = False
        self.lock = asyncio.Lock()
        self.states: dict[int, PartitionState] = {}
        #: assigned partitions whose state is not restored yet (restored before any record of
        #: theirs is processed, and by the loop as soon as it comes round: see _restore_assigned)
        self.unrestored: set[int] = set()
        self._next: dict[TopicPartition, int] = {}  # next offset to process, for the lag
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._batch_seconds = metrics.STAGE_BATCH_SECONDS.labels(name)
        self._records = metrics.STAGE_RECORDS.labels(name)

    @property
    def assigned(self) -> set[int]:
        """Source partitions this stage holds and has restored."""
        return set(self.states)

    async def on_start(self) -> None:
        await ensure_topics(
            self.bootstrap,
            list(self.creates.values()),
            tansu=self.tansu,
            options=self.client_options,
        )
        self.producer = clients.producer(self.group, self.bootstrap, self.client_options)
        await self.producer.start()
        self.delivery.producer = self.producer
        self.consumer = clients.group_consumer(
            self.group,
            self.bootstrap,
            self.client_options,
            session_timeout=self.session_timeout,
            heartbeat_interval=self.heartbeat_interval,
            rebalance_timeout=self.rebalance_timeout,
        )
        self.consumer.subscribe(list(self.sources), listener=_Rebalance(self))
        await self.consumer.start()
        self.lease.watch(self.consumer)
        self.add_future(self._run())
        self.add_future(self._lag_reporter())
        if self.processor.ticks:
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
        states = await read_changelog(
            self.bootstrap,
            self.changelog,
            partitions,
            tansu=self.tansu,
            options=self.client_options,
        )
        for p, state in states.items():
            self.processor.restored(p, state)
            # a partition at a time, heartbeats between: rebuilding thousands of petitions takes
            # seconds, longer than a session, and a group that loses this worker mid-restore
            # takes the partitions away and gives them back to be restored again (seen: a
            # restarted worker restoring 4,000 petitions over and over on a loaded host)
            await asyncio.sleep(0)
        self.states.update(states)
        if self.marks is not None:
            await self._reconcile(partitions)
        log.info(
            "stage state restored",
            stage=self.stage_name,
            partitions=sorted(partitions),
            keys=sum(len(s) for s in states.values()),
            seconds=round(time.monotonic() - t0, 3),
        )

    async def _reconcile(self, partitions: list[int]) -> None:
        """After restoring ``partitions``: find the outputs written after their last state flush
        (to suppress them when regenerated); where some were, the marks stay until the replay has
        passed them, elsewhere they move to the current ends. The state is written at once."""
        assert self.marks is not None and self.consumer is not None
        found, fresh = await self.marks.reconcile(self.states, partitions)
        ids = frozenset(found)
        for p in partitions:
            self.processor.outputs_found(p, ids)
        if found:
            await self._hold_marks([p for p in partitions if p not in fresh])
        await self.delivery.settle(
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

    async def _hold_marks(self, partitions: list[int]) -> None:
        """Keep the marks of restored ``partitions`` until they are replayed up to the source
        ends now (true ends: what the last owner may have processed)."""
        assert self.marks is not None and self.consumer is not None
        tps = [TopicPartition(s, p) for s in self.sources for p in partitions]
        ends = await end_offsets(self.bootstrap, tps, tansu=self.tansu, options=self.client_options)
        for p in partitions:
            behind = {}
            for tp in tps:
                if tp.partition == p and ends[tp] > (await self.consumer.committed(tp) or 0):
                    behind[tp] = ends[tp]
            self.marks.hold(p, behind, ticks=self.processor.ticks)

    def _drop(self, partition: int) -> None:
        """Forget ``partition`` (revoked, or the lease ran out): its state is restored from the
        changelog if it comes back."""
        self.states.pop(partition, None)
        self.unrestored.discard(partition)
        if self.marks is not None:
            self.marks.forget(partition)
        self.processor.revoked(partition)

    async def _run(self) -> None:
        assert self.consumer is not None
        while not self.should_stop and not self._closing:
            if self.unrestored:
                async with self.lock:
                    if self._closing:
                        return
                    try:
                        await self._restore_assigned()
                    except LeaseLost as exc:
                        await self._fence(str(exc))
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

    async def _restore_assigned(self) -> None:
        """Restore the partitions assigned since the last round (those still assigned), so that
        their timers run even before a record of theirs comes."""
        assert self.consumer is not None
        self.unrestored &= {tp.partition for tp in self.consumer.assignment()}
        self.unrestored -= set(self.states)
        if not self.unrestored:
            return
        await self.lease.check()  # a worker left behind must not write state either
        try:
            await self.restore(sorted(self.unrestored))
        except (KafkaError, OSError, TimeoutError) as exc:
            # the broker slow or away: tried again next round (a record of the partition
            # restores it first in any case)
            log.warning("stage restore failed", stage=self.stage_name, error=repr(exc))
            return
        self.unrestored.clear()

    async def _ticker(self) -> None:
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
                    busy = await self._tick()
                except LeaseLost as exc:
                    await self._fence(str(exc))

    async def _tick(self) -> bool:
        """One round of the processor's timers over the held partitions; True when it did work."""
        busy = False
        outputs: list[asyncio.Future[Any]] = []
        for partition, state in list(self.states.items()):
            await self.lease.check()
            for out in self.processor.tick(partition, state):
                busy = True
                fut = await self.delivery.emit(out, partition)
                if fut is not None:
                    outputs.append(fut)
            await asyncio.sleep(0)
        await self.delivery.settle(outputs)
        await self.lease.check()
        if self.marks is not None:
            self.marks.record(self.states)
            if self.marks.due():
                await self.marks.refresh(self.states)
        await self.delivery.settle(
            [f for p, st in self.states.items() for f in await self._flush_state(p, st)]
        )
        if self.marks is not None and not busy:
            self.marks.ticked()
        return busy

    async def _fence(self, why: str) -> None:
        """The lease ran out: forget every partition (its state is restored from the changelog if
        it comes back) and go back to the committed offsets. Outputs already written stand: a new
        owner reads them back past its marks, and an exactly-once stage does not repeat them."""
        assert self.consumer is not None and self.producer is not None
        held = sorted(self.states)
        dropped = self.delivery.drop_queued(why)
        for p in held:
            self._drop(p)
        # what the group still gives this worker is restored again once the lease is renewed
        # (by the loop: a partition with no new records must not lose its timers)
        self.unrestored |= set(held)
        if self.marks is not None:
            self.marks.sent.clear()
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

    async def _flush_state(
        self, partition: int, state: PartitionState
    ) -> list[asyncio.Future[Any]]:
        """Send the state changes of ``partition`` to the changelog (same partition number)."""
        assert self.producer is not None
        self.processor.flushing(partition, state)
        # the marks last: when they are on the broker, so is the state they vouch for
        marks = state.dirty.pop(MARKS_KEY, False)
        futures = [
            await self.producer.send(self.changelog, value, key=key, partition=partition)
            for key, value in state.dirty.items()
        ]
        state.dirty.clear()
        if marks is not False:
            await self.delivery.settle(futures)
            futures = [
                await self.producer.send(self.changelog, marks, key=MARKS_KEY, partition=partition)
            ]
        return futures

    async def _process(self, batch: dict[TopicPartition, list[Any]]) -> None:
        assert self.consumer is not None and self.producer is not None
        t0 = time.perf_counter()
        work = _Batch(slice_start=t0)
        for tp, records in batch.items():
            if work.stopped:  # not started: read again, by whoever owns it after the rebalance
                with contextlib.suppress(IllegalStateError):
                    self.consumer.seek(tp, records[0].offset)
                continue
            state = await self._state_for(tp)
            if state is None:
                continue  # revoked while the batch was fetched: its new owner reads it
            done = await self._process_records(tp, records, state, work)
            if done:
                work.offsets[tp] = records[done - 1].offset + 1
                work.records += done
            if done < len(records):
                with contextlib.suppress(IllegalStateError):  # not ours any more: nothing to do
                    self.consumer.seek(tp, records[done].offset)
        await self._complete(work)
        self._records.inc(work.records)
        self.records_done += work.records
        self._batch_seconds.observe(time.perf_counter() - t0)

    async def _state_for(self, tp: TopicPartition) -> PartitionState | None:
        """The state serving ``tp``; None when ``tp`` is not assigned to this worker any more."""
        assert self.consumer is not None
        state = self.states.get(tp.partition)
        if state is None:
            if tp not in self.consumer.assignment():
                return None
            await self.lease.check()  # a worker left behind must not write state either
            # aiokafka may hand out records of a new partition before the assignment
            # listener ran: restore first, never skip (the position has moved past them)
            await self.restore([tp.partition])
            self.unrestored.discard(tp.partition)
            state = self.states[tp.partition]
        return state

    async def _process_records(
        self, tp: TopicPartition, records: list[Any], state: PartitionState, work: _Batch
    ) -> int:
        """Process ``records`` of ``tp`` in offset order, their outputs queued in ``work``; how
        many were done (fewer than all when a rebalance ends the batch)."""
        done = 0
        for r in records:
            if self.lease.rebalancing():
                # a rebalance is under way: end the batch here (what is done is settled and
                # committed), so the group is not kept waiting; the rest is read again
                work.stopped = True
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
                work.futures.append(await self.delivery.poison(src, exc, "internal"))
                outs = ()
            for n, out in enumerate(outs):
                await self.delivery.emit_for(out, src, work.futures, work.origin, n)
            done += 1
            if time.perf_counter() - work.slice_start > YIELD_EVERY:
                # let heartbeats, other stages and the web server run: a loop blocked longer
                # than the session timeout gets every consumer of this worker thrown out
                await asyncio.sleep(0)
                work.slice_start = time.perf_counter()
        return done

    async def _complete(self, work: _Batch) -> None:
        """Settle the batch: outputs, then state, then offsets."""
        assert self.consumer is not None
        # outputs first, then the state that records them, then the input offsets: a crash
        # between any two steps repeats work (at-least-once), never skips it
        await self.delivery.settle(work.futures, work.origin)
        await self.lease.check()
        if self.marks is not None:
            self.marks.record(self.states)
        held = {tp.partition for tp in work.offsets}
        await self.delivery.settle(
            [f for p in held for f in await self._flush_state(p, self.states[p])]
        )
        await self.lease.check()
        if work.offsets:
            try:
                await self.consumer.commit(work.offsets)
            except CommitFailedError as exc:
                # a rebalance took the partitions: the outputs stand, the state changelog says
                # so, and the new owner skips what was emitted
                log.warning("commit failed after rebalance", stage=self.stage_name, error=str(exc))
            else:
                if self.marks is not None:
                    self.marks.replayed(work.offsets)
        self._next.update(work.offsets)

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
