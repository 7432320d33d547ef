"""Restoring a stage's state: its changelog partitions, read to their true end."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import TopicPartition

from petition_hub.broker.offsets import end_offsets
from petition_hub.runtime import clients
from petition_hub.runtime.state import PartitionState


async def read_changelog(
    bootstrap: str,
    changelog: str,
    partitions: list[int],
    *,
    tansu: bool,
    options: Mapping[str, Any],
) -> dict[int, PartitionState]:
    """The state of each of ``partitions``, rebuilt from the same partition of ``changelog``,
    to its true end (corrected on Tansu, see :mod:`petition_hub.broker.offsets`)."""
    tps = [TopicPartition(changelog, p) for p in partitions]
    ends = await end_offsets(bootstrap, tps, tansu=tansu, options=options)
    states = {p: PartitionState() for p in partitions}
    pending = {tp for tp in tps if ends[tp] > 0}
    if pending:
        reader = clients.reader(bootstrap, options)
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
    return states
