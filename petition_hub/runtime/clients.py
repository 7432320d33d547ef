"""The Kafka clients of a stage and their settings: its producer, its group consumer, and the
reader that restores its state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

#: How a stage's consumer group shares partitions out (see :func:`group_consumer`).
ASSIGNORS = (RangePartitionAssignor,)


def producer(group: str, bootstrap: str, options: Mapping[str, Any]) -> AIOKafkaProducer:
    """The stage's producer: outputs and state changes (``options``: SASL, TLS)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=16 * 1024 * 1024,
        client_id=f"{group}-producer",
        **options,
    )


def group_consumer(
    group: str,
    bootstrap: str,
    options: Mapping[str, Any],
    *,
    session_timeout: float,
    heartbeat_interval: float,
    rebalance_timeout: float,
) -> AIOKafkaConsumer:
    """The stage's consumer of its sources, in ``group``; it commits by itself, after each
    batch's outputs and state (timeouts in seconds)."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=f"{group}-consumer",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        session_timeout_ms=int(session_timeout * 1000),
        heartbeat_interval_ms=int(heartbeat_interval * 1000),
        # co-partitioning needs the same partition numbers of every source in one worker:
        # range assignment gives that; aiokafka's default (round robin over all
        # topic-partitions) does not, as soon as the worker count does not divide them
        partition_assignment_strategy=ASSIGNORS,
        rebalance_timeout_ms=int(rebalance_timeout * 1000),
        **options,
    )


def reader(bootstrap: str, options: Mapping[str, Any]) -> AIOKafkaConsumer:
    """A consumer without a group, for reading a changelog from its beginning."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        **options,
    )
