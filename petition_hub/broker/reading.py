"""Reading a whole topic once, as operator tools do (dead letters, recent petitions)."""

from __future__ import annotations

from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord


def read_all(bootstrap: str, topic: str, poll_ms: int = 500) -> Iterator[ConsumerRecord]:
    """Every record of ``topic`` from the beginning to its end at the time of reading.

    The end is the high watermark each Fetch response reports, which is right on every broker
    (ListOffsets is not, on Tansu: see :mod:`petition_hub.broker.offsets`).
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        idle = 0
        while idle < 3:
            batch = consumer.poll(timeout_ms=poll_ms, max_records=5000)
            if not batch:
                done = all(
                    consumer.highwater(tp) is not None
                    and consumer.position(tp) >= (consumer.highwater(tp) or 0)
                    for tp in tps
                )
                idle = 3 if done else idle + 1
                continue
            idle = 0
            for records in batch.values():
                yield from records
    finally:
        consumer.close()
