"""The tools' producer (petition_hub/broker/tools.py: `privacy erase`, `dlq redrive`) puts a
petition's record in the partition the hub's stages own it in: Kafka's murmur2, as
topics/partitioning.py says, not librdkafka's default (CRC32), which sent erasure requests where
routing never looks ("no petition")."""

from __future__ import annotations

import pytest

from petition_hub.broker import tools
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.topics.partitioning import petition_partition

pytestmark = pytest.mark.broker


def test_a_tools_record_lands_in_its_petitions_partition(fresh_broker: EmbeddedBroker) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": fresh_broker.bootstrap})
    admin.create_topics([NewTopic("hub.privacy", 12, 1)])["hub.privacy"].result(30)
    producer = tools.SendingProducer(fresh_broker.bootstrap)
    try:
        keys = [f"PH-TEST{n:015d}" for n in range(40)]
        written = {k: producer.send("hub.privacy", key=k.encode(), value=b"x") for k in keys}
    finally:
        producer.close()
    wrong = {k: p for k, p in written.items() if p != petition_partition(k.encode(), 12)}
    assert wrong == {}, f"records outside their petition's partition (key: partition): {wrong}"
    assert len(set(written.values())) > 1, "40 keys in one partition: the test proves nothing"
