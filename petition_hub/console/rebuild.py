"""``petition-hub console rebuild``: empty the projected tables and their offsets, then project
every topic again from its beginning to its end as it is now.

The rows come out the same as a projector's that read the same records (the same
:class:`.projector.Applier`, batch by batch). Console replicas running meanwhile need not be
stopped: their next batch finds its partition's offset gone and reads it again from the
beginning (:attr:`.apply.Applied.reseek`), and the batch lock keeps the two from applying the same
records twice.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import TopicPartition
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from petition_hub.broker.offsets import end_offsets
from petition_hub.runtime import clients
from petition_hub.service.crypto import cipher_for
from petition_hub.service.security import aiokafka_options
from petition_hub.service.settings import Settings

from . import apply
from .models import PROJECTED
from .projector import BATCH_RECORDS, Applier, topic_partitions
from .store import migrate, session_factory

#: How long the reading may stall (no record, ends not reached) before it gives up.
STALL_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild did."""

    partitions: int
    records: int
    """Records applied."""
    skipped: int
    """Records that applied nothing (redeliveries with an event id seen before, unreadable)."""
    undecodable: int
    rows: dict[str, int]
    """Rows per projected table afterwards."""
    seconds: float


def row_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """Rows per projected table."""
    with factory() as session:
        return {
            str(model.__tablename__): int(
                session.scalar(select(func.count()).select_from(model)) or 0
            )
            for model in PROJECTED
        }


def empty(factory: sessionmaker[Session]) -> None:
    """Delete every projected row and stored offset, in one transaction."""
    with factory() as session, session.begin():
        apply.empty(session)


async def replay(settings: Settings, applier: Applier, tps: list[TopicPartition]) -> None:
    """Project ``tps`` from the stored offsets (none: the beginning) to their ends as they are
    when the reading starts (Tansu-corrected, :func:`petition_hub.broker.offsets.end_offsets`)."""
    options = aiokafka_options(settings)
    bootstrap = settings.bootstrap_servers()
    ends = await end_offsets(bootstrap, tps, settings.embedded, options)
    keys = [(tp.topic, tp.partition) for tp in tps]
    stored = await asyncio.to_thread(applier.load_stored, keys)
    consumer = clients.reader(bootstrap, options)
    await consumer.start()
    try:
        consumer.assign(tps)
        starts = await consumer.beginning_offsets(tps)
        pending: set[TopicPartition] = set()
        for tp in tps:
            key = (tp.topic, tp.partition)
            applier.log_start[key] = starts.get(tp, 0)
            position = max(stored.get(key, 0), starts.get(tp, 0))
            consumer.seek(tp, position)
            if position < ends[tp]:
                pending.add(tp)
        last = time.monotonic()
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=500, max_records=BATCH_RECORDS)
            if batch:
                last = time.monotonic()
                items, batch_ends = applier.items(batch)
                done = await asyncio.to_thread(applier.apply, items, batch_ends)
                for (topic, partition), at in done.reseek.items():
                    consumer.seek(TopicPartition(topic, partition), at)
            elif time.monotonic() - last > STALL_TIMEOUT_S:
                raise TimeoutError(
                    f"no records for {STALL_TIMEOUT_S:g}s from {len(pending)} partitions "
                    f"before their ends (e.g. {sorted(map(str, pending))[:3]})"
                )
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()


async def rebuild(settings: Settings, engine: Engine) -> Rebuilt:
    """Empty the projection and replay every topic of the console to its current end."""
    t0 = time.monotonic()
    await asyncio.to_thread(migrate, engine)
    factory = session_factory(engine)
    await asyncio.to_thread(empty, factory)
    tps = await topic_partitions(settings)
    applier = Applier(factory, cipher_for(settings))
    await replay(settings, applier, tps)
    rows = await asyncio.to_thread(row_counts, factory)
    p = applier.progress
    return Rebuilt(
        partitions=len(tps),
        records=p.records,
        skipped=p.skipped,
        undecodable=p.undecodable,
        rows=rows,
        seconds=time.monotonic() - t0,
    )
