"""Reading topics to their end: whole, as operator tools do (dead letters, recent petitions), or
from given offsets, as an exactly-once stage does on restore; and where a partition ends.

The end of a partition is the high watermark of the Fetch responses, which is right on every
broker. ListOffsets is not, on Tansu: it answers end offsets that are too small (see
:mod:`petition_hub.broker.offsets`). The high watermark is what librdkafka's end-of-partition
events (:func:`is_end`, with the tools' consumer: :func:`petition_hub.broker.tools.consumer`) and
``get_watermark_offsets(cached=True)`` report, and what aiokafka's ``highwater`` is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aiokafka import TopicPartition
from confluent_kafka import KafkaError, KafkaException, Message

from petition_hub.broker import tools
from petition_hub.broker.tools import Record

#: Empty polls in a row after which a reading gives up on a partition's end (a broker that stopped
#: answering): 10 s at the default poll.
_IDLE_POLLS = 20


def is_end(message: Message) -> bool:
    """True for librdkafka's end-of-partition event (the partition's fetch high watermark
    reached); raises ``KafkaException`` on any other error."""
    error = message.error()
    if error is None:
        return False
    if error.code() == KafkaError._PARTITION_EOF:
        return True
    raise KafkaException(error)


def read_all(
    bootstrap: str,
    topic: str,
    poll_ms: int = 500,
    *,
    options: Mapping[str, Any] | None = None,
) -> Iterator[Record]:
    """Every record of ``topic`` from the beginning to its end at the time of reading (each
    partition's end-of-partition event). ``options``: the client's security settings (SASL, TLS:
    :func:`petition_hub.service.security.confluent_config`).
    """
    return read_all_of(bootstrap, [topic], poll_ms, options=options)


def read_all_of(
    bootstrap: str,
    topics: Sequence[str],
    poll_ms: int = 500,
    *,
    options: Mapping[str, Any] | None = None,
) -> Iterator[Record]:
    """:func:`read_all` of several topics with one consumer (records of different partitions
    interleaved; each partition's in order). A topic that does not exist has no records."""
    from confluent_kafka import OFFSET_BEGINNING
    from confluent_kafka import TopicPartition as ConfluentTP

    client = tools.consumer(bootstrap, options)
    try:
        pending = {(t, p) for t in dict.fromkeys(topics) for p in tools.partitions_of(client, t)}
        if not pending:
            return
        client.assign([ConfluentTP(t, p, OFFSET_BEGINNING) for t, p in sorted(pending)])
        idle = 0
        while pending and idle < _IDLE_POLLS:
            batch = client.consume(num_messages=5000, timeout=poll_ms / 1000)
            idle = 0 if batch else idle + 1
            for message in batch:
                if is_end(message):
                    pending.discard((str(message.topic()), int(message.partition() or 0)))
                else:
                    yield tools.record_of(message)
    finally:
        client.close()


async def event_ids_since(
    bootstrap: str,
    starts: Mapping[TopicPartition, int],
    header: str = "ce_id",
    timeout: float = 60.0,
    options: Mapping[str, Any] | None = None,
) -> set[str]:
    """The ``header`` values of every record from ``starts`` (partition -> offset) to the end.

    The end is each partition's fetch high watermark (aiokafka's ``highwater``). An exactly-once
    stage reads this on restore: what it wrote after its last state flush.
    """
    from aiokafka import AIOKafkaConsumer
    from aiokafka import TopicPartition as AioTP

    tps = {AioTP(tp.topic, tp.partition): start for tp, start in starts.items()}
    found: set[str] = set()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_wait_ms=50,
        **(options or {}),
    )
    await consumer.start()
    try:
        consumer.assign(list(tps))
        for tp, start in tps.items():
            consumer.seek(tp, start)
        pending = set(tps)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while pending:
            if loop.time() > deadline:
                raise TimeoutError(f"could not read {sorted(map(str, pending))[:5]} to the end")
            batch = await consumer.getmany(*pending, timeout_ms=200, max_records=10_000)
            for records in batch.values():
                for r in records:
                    for name, value in r.headers or ():
                        if name == header and value is not None:
                            found.add(value.decode())
            for tp in list(pending):
                high = consumer.highwater(tp)
                if high is not None and await consumer.position(tp) >= high:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return found
