"""End offsets that are right on Tansu.

Tansu 0.6.0 answers ListOffsets(latest) with the base offset of the partition's last record batch
plus one, so whenever that batch holds several records the end offset is too small (ten
one-record batches then one five-record batch: 11, not 15). The high watermark in a Fetch
response is right. So: ask ListOffsets, then fetch from just before the reported end, which
returns the last batch, and read the high watermark the broker sends with it.

Only the Tansu driver calls this; the Apache Kafka path never does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


async def fetched_end_offsets(
    bootstrap_servers: str,
    reported: Mapping[TopicPartition, int],
    timeout: float = 10.0,
    options: Mapping[str, Any] | None = None,
) -> dict[TopicPartition, int]:
    """Correct ListOffsets(latest) results by the high watermark of a Fetch.

    ``reported`` maps partitions to what ListOffsets said. A partition reported empty (0) is
    empty. The result is never below what was reported.
    """
    result = dict(reported)
    probe = [tp for tp, end in reported.items() if end > 0]
    if not probe:
        return result
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        client_id="petition-hub-endoffsets",
        # one batch per partition is all we need; the broker still returns a whole batch
        max_partition_fetch_bytes=1,
        fetch_max_wait_ms=100,
        **(options or {}),
    )
    await consumer.start()
    try:
        consumer.assign(probe)
        for tp in probe:
            consumer.seek(tp, reported[tp] - 1)
        pending = set(probe)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while pending:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no fetch answer for {sorted(map(str, pending))}")
            await consumer.getmany(*pending, timeout_ms=int(min(remaining, 1.0) * 1000))
            for tp in list(pending):
                high = consumer.highwater(tp)
                if high is not None:
                    result[tp] = max(high, reported[tp])
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return result


async def end_offsets(
    bootstrap_servers: str,
    partitions: Iterable[TopicPartition],
    tansu: bool,
    options: Mapping[str, Any] | None = None,
    *,
    consumer: AIOKafkaConsumer | None = None,
) -> dict[TopicPartition, int]:
    """End offsets of ``partitions``: ListOffsets, corrected by a Fetch on Tansu. ``options``:
    the client's security settings (SASL, TLS). ``consumer``: a started consumer to ask
    ListOffsets with (its assignment is left alone); without it, one is opened for the call."""
    tps = list(partitions)
    reported: dict[TopicPartition, int]
    if consumer is not None:
        reported = await consumer.end_offsets(tps)
    else:
        own = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **(options or {})
        )
        await own.start()
        try:
            reported = await own.end_offsets(tps)
        finally:
            await own.stop()
    if not tansu:
        return reported
    return await fetched_end_offsets(bootstrap_servers, reported, options=options)
