"""The projector: the console's consumer of the hub's topics, applying them to its database.

One consumer group, ``<app_id>-console``, whatever the number of console replicas: the group
splits the partitions between them, and all share one database. Kafka's committed offsets are not
used: the offsets the projection goes on from are in ``consumed_offsets``, written in the same
transaction as the rows their records produced (:func:`.apply.apply_batch`), and each partition
is sought there when it is assigned. So a crash (``kill -9``) between a batch's rows and anything
else repeats nothing and loses nothing, and a replica that took over a partition goes on exactly
where the last one stopped.

The topics are found by name (:data:`TOPIC_PATTERN`): the hub's event topics and every unit's
``.petitions`` and ``.status`` topic, those created later included (the consumer refreshes its
metadata every :data:`METADATA_REFRESH_S` seconds and the group rebalances to take them in).

The embedded broker (Tansu 0.6.0) completes a new group's join after about half the session
timeout and answers ListOffsets "latest" too low: the projector uses the stages' session on it
(4 s, joins in ~2 s), never ListOffsets "latest" for its own position (the lag is the fetch high
watermark, right on Tansu), and :mod:`petition_hub.broker.offsets` where it needs the ends
(``console rebuild``). Nothing here needs transactions, which Tansu lacks.

:func:`run` is what ``console serve`` starts as an asyncio task; the database work runs in a
thread, so the web server's event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from petition_hub.runtime import clients
from petition_hub.schemas import WireFormatError
from petition_hub.service.crypto import PiiCipher, cipher_for
from petition_hub.service.security import aiokafka_options
from petition_hub.service.settings import Settings

from . import apply
from .models import ConsumedOffset
from .projection import Record, project
from .store import engine_for, migrate, session_factory

log = structlog.get_logger(__name__)

#: Every topic the console reads: the hub's event topics, and each unit's two topics.
TOPIC_PATTERN: Final = (
    r"^(hub\.lifecycle|hub\.sla|hub\.triage|hub\.rejects|hub\.privacy|office\.decisions"
    r"|office\.supervision|leadinggroup\.supervision"
    r"|(dept|county)\.[A-Za-z0-9_-]+\.(petitions|status))$"
)

#: How often the consumer refreshes its metadata, so new unit topics join the subscription.
METADATA_REFRESH_S: Final = 30.0

#: Records per batch (one database transaction each).
BATCH_RECORDS: Final = 2000

#: The group session on Tansu (as the hub's stages: petition_hub.service.app.stage_session) and
#: on Kafka: (session timeout, heartbeat interval) in seconds.
TANSU_SESSION: Final = (4.0, 0.5)
KAFKA_SESSION: Final = (10.0, 1.0)

#: How often a batch is tried again when the database refuses it for a passing reason (a
#: deadlock, a lock wait that timed out, a connection lost).
_RETRIES: Final = 5


def group_of(settings: Settings) -> str:
    """The console's consumer group."""
    return f"{settings.app_id}-console"


def wanted(topic: str) -> bool:
    """Whether the console reads ``topic``."""
    return re.match(TOPIC_PATTERN, topic) is not None


@dataclass
class Progress:
    """What a projector did so far (for ``rebuild``'s report and the tests)."""

    records: int = 0
    skipped: int = 0
    batches: int = 0
    undecodable: int = 0
    started: float = field(default_factory=time.monotonic)


class Applier:
    """Turns fetched records into database batches: decoding, then one transaction per batch,
    tried again on a passing database error. Shared by the group projector and ``rebuild``."""

    def __init__(self, factory: sessionmaker[Session], cipher: PiiCipher) -> None:
        self.factory = factory
        self.cipher = cipher
        self.progress = Progress()
        #: where each partition's log starts (retention), for partitions with no stored offset
        self.log_start: dict[tuple[str, int], int] = {}
        #: the next offset stored per partition (after this replica's last batch of it)
        self.stored: dict[tuple[str, int], int] = {}

    def items(
        self, batch: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> tuple[list[apply.Item], dict[tuple[str, int], int]]:
        """The batch's records as items to apply, and each partition's next offset."""
        items: list[apply.Item] = []
        ends: dict[tuple[str, int], int] = {}
        for tp, records in batch.items():
            for r in records:
                rec = Record(
                    tp.topic,
                    tp.partition,
                    r.offset,
                    r.key,
                    r.value,
                    tuple((k, v) for k, v in r.headers or ()),
                )
                try:
                    projected = project(rec, self.cipher)
                except (WireFormatError, KeyError, TypeError, ValueError) as exc:
                    # a record the console cannot read must not stop it; it is logged (its place
                    # and the error's class, never its content) and passed over
                    self.progress.undecodable += 1
                    log.warning(
                        "console: record not projected", record=rec.ref, error=type(exc).__name__
                    )
                    projected = None
                items.append(apply.Item(tp.topic, tp.partition, r.offset, projected))
            if records:
                ends[(tp.topic, tp.partition)] = records[-1].offset + 1
        return items, ends

    def apply(self, items: list[apply.Item], ends: dict[tuple[str, int], int]) -> apply.Applied:
        """Apply one batch in one transaction (blocking: run it in a thread)."""
        for attempt in range(_RETRIES):
            try:
                with self.factory() as session, session.begin():
                    done = apply.apply_batch(session, items, ends, self.log_start)
                break
            except OperationalError as exc:
                if attempt == _RETRIES - 1:
                    raise
                log.warning("console: batch refused by the database, again", error=str(exc.orig))
                time.sleep(0.5 * (attempt + 1))
        self.progress.records += done.records
        self.progress.skipped += done.skipped
        self.progress.batches += 1
        for tp, end in ends.items():
            if tp not in done.reseek:
                self.stored[tp] = max(self.stored.get(tp, 0), end)
        return done

    def load_stored(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The stored next offsets of ``partitions`` (blocking)."""
        with self.factory() as session:
            found = apply.stored_offsets(session, partitions)
        self.stored.update(found)
        return found


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        # nothing to hand over: what was applied is in the database with its offsets
        for tp in revoked:
            self.projector.applier.stored.pop((tp.topic, tp.partition), None)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        await self.projector.seek_stored(list(assigned))


class Projector:
    """The console's group consumer of the hub's topics (see the module's docstring)."""

    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        *,
        batch_records: int = BATCH_RECORDS,
        metadata_refresh: float = METADATA_REFRESH_S,
    ) -> None:
        self.settings = settings
        self.applier = Applier(factory, cipher_for(settings))
        self.batch_records = batch_records
        self.metadata_refresh = metadata_refresh
        self.consumer: AIOKafkaConsumer | None = None
        #: set once the group has given this replica its partitions (and they were sought)
        self.assigned = asyncio.Event()

    def _consumer(self) -> AIOKafkaConsumer:
        session, heartbeat = TANSU_SESSION if self.settings.embedded else KAFKA_SESSION
        options = {
            **aiokafka_options(self.settings),
            "metadata_max_age_ms": int(self.metadata_refresh * 1000),
        }
        return clients.group_consumer(
            group_of(self.settings),
            self.settings.bootstrap_servers(),
            options,
            session_timeout=session,
            heartbeat_interval=heartbeat,
            rebalance_timeout=max(30.0, 3 * session),
        )

    async def seek_stored(self, partitions: list[TopicPartition]) -> None:
        """Seek ``partitions`` to the stored offsets (where none is stored: their beginning)."""
        assert self.consumer is not None
        if not partitions:
            self.assigned.set()
            return
        keys = [(tp.topic, tp.partition) for tp in partitions]
        stored = await asyncio.to_thread(self.applier.load_stored, keys)
        starts = await self.consumer.beginning_offsets(partitions)
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self.applier.log_start[key] = starts.get(tp, 0)
            self.consumer.seek(tp, max(stored.get(key, 0), starts.get(tp, 0)))
        log.info("console: partitions assigned", partitions=len(partitions))
        self.assigned.set()

    async def run(self) -> None:
        """Consume and apply until cancelled (then leave the group)."""
        self.consumer = self._consumer()
        self.consumer.subscribe(pattern=TOPIC_PATTERN, listener=_Rebalance(self))
        await self.consumer.start()
        try:
            while True:
                batch = await self.consumer.getmany(timeout_ms=500, max_records=self.batch_records)
                if not batch:
                    continue
                items, ends = self.applier.items(batch)
                done = await asyncio.to_thread(self.applier.apply, items, ends)
                if done.reseek:
                    await self._reseek(done.reseek)
        finally:
            await self.consumer.stop()

    async def _reseek(self, where: Mapping[tuple[str, int], int]) -> None:
        """Read partitions again from where the projection stands (their log start refreshed:
        retention may have moved it)."""
        assert self.consumer is not None
        mine = self.consumer.assignment()
        tps = [TopicPartition(t, p) for t, p in where if TopicPartition(t, p) in mine]
        starts = await self.consumer.beginning_offsets(tps) if tps else {}
        for tp in tps:
            start = starts.get(tp, 0)
            self.applier.log_start[(tp.topic, tp.partition)] = start
            self.consumer.seek(tp, max(where[(tp.topic, tp.partition)], start))
        log.info("console: partitions read again from the stored offsets", partitions=len(tps))

    def lag(self) -> dict[str, int]:
        """Records not yet projected, per topic, over the partitions this replica holds (the
        fetch high watermark, right on Tansu, minus the stored offset); empty before the first
        fetch."""
        if self.consumer is None:
            return {}
        found: dict[str, int] = {}
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            done = self.applier.stored.get((tp.topic, tp.partition), 0)
            found[tp.topic] = found.get(tp.topic, 0) + max(0, high - done)
        return found


async def run(
    settings: Settings,
    engine: Engine | None = None,
    *,
    started: Callable[[Projector], None] | None = None,
) -> None:
    """The projector of ``console serve``: migrate the database, then project until cancelled
    (``asyncio.create_task(run(settings))``). ``started`` is handed the projector (its
    :meth:`Projector.lag` for the metrics)."""
    engine = engine or engine_for(settings)
    await asyncio.to_thread(migrate, engine)
    projector = Projector(settings, session_factory(engine))
    if started is not None:
        started(projector)
    await projector.run()


def stored_total(factory: sessionmaker[Session]) -> dict[str, int]:
    """The stored next offsets summed per topic (what the projection has consumed)."""
    with factory() as session:
        rows = session.execute(
            select(ConsumedOffset.topic, func.sum(ConsumedOffset.next_offset)).group_by(
                ConsumedOffset.topic
            )
        )
        return {str(t): int(n or 0) for t, n in rows}


async def topic_partitions(settings: Settings) -> list[TopicPartition]:
    """Every partition of the topics the console reads, as the broker has them now."""
    consumer = clients.reader(settings.bootstrap_servers(), aiokafka_options(settings))
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if wanted(t))
        found: list[TopicPartition] = []
        for t in topics:
            found += [TopicPartition(t, p) for p in sorted(consumer.partitions_for_topic(t) or ())]
        return found
    finally:
        await consumer.stop()


async def lag(settings: Settings, factory: sessionmaker[Session]) -> int:
    """Records on the console's topics not projected yet, over every partition whoever holds it
    (the topics' ends, right on Tansu, minus the stored offsets)."""
    from petition_hub.broker.offsets import end_offsets

    tps = await topic_partitions(settings)
    ends = await end_offsets(
        settings.bootstrap_servers(), tps, settings.embedded, aiokafka_options(settings)
    )
    keys = [(tp.topic, tp.partition) for tp in tps]
    with factory() as session:
        stored = apply.stored_offsets(session, keys)
    return sum(max(0, ends[tp] - stored.get((tp.topic, tp.partition), 0)) for tp in tps)
