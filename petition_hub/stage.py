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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, TopicAlreadyExistsError
from mode import Service

from . import metrics
from .broker.offsets import end_offsets
from .deadletter import SourceRecord

log = structlog.get_logger(__name__)

#: Exit status of a worker that stopped because an output could not be delivered (EX_IOERR).
EXIT_DELIVERY_FAILED = 74

#: The longest a stage computes without giving the event loop back (seconds).
YIELD_EVERY = 0.02


@dataclass(frozen=True, slots=True)
class Output:
    """A record a stage emits."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


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
#: ``tick_interval`` seconds for each partition held (timers: due SLA steps), and
#: ``restored(partition, state)``, called after a partition's state is restored (to rebuild an
#: index, such as due times, that is derived from the state and not stored).
Processor = Callable[[SourceRecord, PartitionState], Sequence[Output]]


def _die(reason: str, **fields: Any) -> None:
    log.critical(reason, **fields)
    logging.shutdown()
    os._exit(EXIT_DELIVERY_FAILED)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self.stage.lock:  # the batch in hand is finished and committed first
            for p in {tp.partition for tp in revoked}:
                self.stage.states.pop(p, None)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
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
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
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
        )
        self.consumer.subscribe(list(self.sources), listener=_Rebalance(self))
        await self.consumer.start()
        self.add_future(self._run())
        if hasattr(self.processor, "tick"):
            self.add_future(self._ticker())

    async def on_stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()  # leaves the group; uncommitted work is redone elsewhere
        if self.producer is not None:
            await self.producer.stop()

    async def restore(self, partitions: list[int]) -> None:
        """Rebuild the state of ``partitions`` from the changelog, to its true end."""
        t0 = time.monotonic()
        tps = [TopicPartition(self.changelog, p) for p in partitions]
        ends = await end_offsets(self.bootstrap, tps, tansu=self.tansu)
        states = {p: PartitionState() for p in partitions}
        pending = {tp for tp in tps if ends[tp] > 0}
        if pending:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                max_partition_fetch_bytes=8 * 1024 * 1024,
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
        log.info(
            "stage state restored",
            stage=self.stage_name,
            partitions=sorted(partitions),
            keys=sum(len(s) for s in states.values()),
            seconds=round(time.monotonic() - t0, 3),
        )

    async def _run(self) -> None:
        assert self.consumer is not None
        while not self.should_stop:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=self.batch_size)
            if batch:
                async with self.lock:
                    await self._process(batch)
            self._report_lag()

    async def _ticker(self) -> None:
        tick = self.processor.tick  # type: ignore[attr-defined]
        while not self.should_stop:
            await asyncio.sleep(self.tick_interval)
            async with self.lock:
                outputs: list[asyncio.Future[Any]] = []
                for partition, state in self.states.items():
                    for out in tick(partition, state):
                        outputs.append(await self._send(out))
                await self._settle(outputs)
                await self._settle(
                    [f for p, st in self.states.items() for f in await self._flush_state(p, st)]
                )

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
        futures = [
            await self.producer.send(self.changelog, value, key=key, partition=partition)
            for key, value in state.dirty.items()
        ]
        state.dirty.clear()
        return futures

    async def _settle(self, futures: list[asyncio.Future[Any]]) -> None:
        """Wait until every future is acknowledged; stop the worker if one failed for good."""
        if not futures:
            return
        done, _ = await asyncio.wait(futures)
        failed = [f.exception() for f in done if f.exception() is not None]
        if failed:
            _die(
                "output not delivered; stopping before the batch is committed",
                stage=self.stage_name,
                error=repr(failed[0]),
            )

    async def _process(self, batch: dict[TopicPartition, list[Any]]) -> None:
        assert self.consumer is not None and self.producer is not None
        t0 = slice_start = time.perf_counter()
        futures: list[asyncio.Future[Any]] = []
        offsets: dict[TopicPartition, int] = {}
        n = 0
        for tp, records in batch.items():
            state = self.states.get(tp.partition)
            if state is None:
                if tp not in self.consumer.assignment():
                    continue  # revoked while the batch was fetched: its new owner reads it
                # aiokafka may hand out records of a new partition before the assignment
                # listener ran: restore first, never skip (the position has moved past them)
                await self.restore([tp.partition])
                state = self.states[tp.partition]
            for r in records:
                src = SourceRecord(
                    tp.topic,
                    tp.partition,
                    r.offset,
                    r.key,
                    r.value,
                    tuple(r.headers or ()),
                    r.timestamp,
                )
                for out in self.processor(src, state):
                    futures.append(await self._send(out))
                if time.perf_counter() - slice_start > YIELD_EVERY:
                    # let heartbeats, other stages and the web server run: a loop blocked longer
                    # than the session timeout gets every consumer of this worker thrown out
                    await asyncio.sleep(0)
                    slice_start = time.perf_counter()
            offsets[tp] = records[-1].offset + 1
            n += len(records)
        # outputs first, then the state that records them, then the input offsets: a crash
        # between any two steps repeats work (at-least-once), never skips it
        await self._settle(futures)
        held = {tp.partition for tp in offsets}
        await self._settle([f for p in held for f in await self._flush_state(p, self.states[p])])
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

    def _report_lag(self) -> None:
        """Consumer lag per source topic: fetch high watermark (right on Tansu too) minus the
        next offset to process, over the partitions held. A partition counts from its first
        batch in this worker (before that its position is not known here)."""
        assert self.consumer is not None
        lag: dict[str, int] = dict.fromkeys(self.sources, 0)
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            done = self._next.get(tp)
            if high is not None and done is not None:
                lag[tp.topic] += max(high - done, 0)
        for topic, value in lag.items():
            metrics.CONSUMER_LAG.labels(self.stage_name, topic).set(value)
