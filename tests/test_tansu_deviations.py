"""Tansu's two known deviations from Apache Kafka, and the hub's workarounds.

The ``*_deviation_present`` tests are canaries: they assert that the broker still misbehaves. When a
fixed Tansu arrives they fail, which says: drop the workaround (petition_hub.broker.offsets and the
short session timeout in petition_hub.service.app) and these tests.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from hubtest import create_topics
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.broker.offsets import end_offsets, fetched_end_offsets
from petition_hub.service.app import TANSU_HEARTBEAT_INTERVAL, TANSU_SESSION_TIMEOUT

pytestmark = pytest.mark.broker


def _create(bootstrap: str, topic: str, partitions: int = 1) -> None:
    create_topics(bootstrap, {topic: partitions})


async def _ten_singles_then_a_batch_of_five(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        for i in range(10):  # awaited one by one: ten one-record batches
            await producer.send_and_wait(topic, b"v%d" % i, partition=0)
        pending = [await producer.send(topic, b"b%d" % i, partition=0) for i in range(5)]
        await asyncio.gather(*pending)  # sent together within linger: one five-record batch
    finally:
        await producer.stop()


async def _list_offsets_latest(bootstrap: str, tp: TopicPartition) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


async def test_list_offsets_latest_deviation_present(fresh_broker: EmbeddedBroker) -> None:
    _create(fresh_broker.bootstrap, "dev.offsets")
    await _ten_singles_then_a_batch_of_five(fresh_broker.bootstrap, "dev.offsets")
    tp = TopicPartition("dev.offsets", 0)
    reported = await _list_offsets_latest(fresh_broker.bootstrap, tp)
    assert reported == 11, (
        f"Tansu's ListOffsets(latest) now says {reported} for 15 records (11 while the bug lasts): "
        "if 15, the broker is fixed; drop petition_hub.broker.offsets"
    )


async def test_fetched_end_offsets_are_right(fresh_broker: EmbeddedBroker) -> None:
    _create(fresh_broker.bootstrap, "dev.offsets2", partitions=3)
    await _ten_singles_then_a_batch_of_five(fresh_broker.bootstrap, "dev.offsets2")
    tps = [TopicPartition("dev.offsets2", p) for p in range(3)]
    assert await end_offsets(fresh_broker.bootstrap, tps, tansu=True) == {
        tps[0]: 15,
        tps[1]: 0,  # empty partitions stay 0
        tps[2]: 0,
    }
    # never below what ListOffsets reported, and idempotent on a right answer
    right = {tps[0]: 15, tps[1]: 0, tps[2]: 0}
    assert await fetched_end_offsets(fresh_broker.bootstrap, right) == right


async def _join_seconds(bootstrap: str, group: str, session_ms: int, heartbeat_ms: int) -> float:
    consumer = AIOKafkaConsumer(
        "dev.join",
        bootstrap_servers=bootstrap,
        group_id=group,
        session_timeout_ms=session_ms,
        heartbeat_interval_ms=heartbeat_ms,
    )
    t0 = time.monotonic()
    await consumer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.02)
        return time.monotonic() - t0
    finally:
        await consumer.stop()


async def test_group_join_deviation_present(fresh_broker: EmbeddedBroker) -> None:
    _create(fresh_broker.bootstrap, "dev.join")
    took = await _join_seconds(fresh_broker.bootstrap, "g-slow", 6000, 2000)
    assert took >= 2.5, (
        f"a new group joined in {took:.1f}s with a 6 s session timeout (3 s while the bug lasts): "
        "if fast, the broker is fixed; drop the short Tansu session timeout in "
        "petition_hub.service.app"
    )


async def test_short_session_timeout_makes_joins_fast(fresh_broker: EmbeddedBroker) -> None:
    _create(fresh_broker.bootstrap, "dev.join")
    took = await _join_seconds(
        fresh_broker.bootstrap,
        "g-fast",
        int(TANSU_SESSION_TIMEOUT * 1000),
        int(TANSU_HEARTBEAT_INTERVAL * 1000),
    )
    assert took < 2.0, f"join took {took:.1f}s with the hub's Tansu session timeout"
