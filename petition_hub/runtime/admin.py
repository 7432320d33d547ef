"""The hub-internal topics a stage needs (its changelog, its routed and repartition topics), made
at start as ``topics.yaml`` declares them (partitions, replication, cleanup and retention,
``min.insync.replicas``); on a single-node broker the replication is capped at 1."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from petition_hub.topics.spec import TopicSpec

#: Replication of an ad-hoc topic (one without a topics.yaml entry) on a real cluster.
_ADHOC_REPLICATION = 3
#: Retention of an ad-hoc topic: Kafka's default (7 days), said explicitly.
_ADHOC_RETENTION_MS = "604800000"


def adhoc_topic(name: str, partitions: int, *, compact: bool = False) -> TopicSpec:
    """A topic of a stage outside the hub's topics.yaml (tests, the bench): replicated 3 times,
    compacted (a changelog) or deleted after Kafka's default retention."""
    return TopicSpec(
        name=name,
        partitions=partitions,
        replication_factor=_ADHOC_REPLICATION,
        config={
            "cleanup.policy": "compact" if compact else "delete",
            "retention.ms": "-1" if compact else _ADHOC_RETENTION_MS,
        },
        description=f"{name} (a stage's own, not in topics.yaml)",
    )


async def ensure_topics(
    bootstrap: str,
    topics: Sequence[TopicSpec],
    *,
    tansu: bool,
    options: Mapping[str, Any],
) -> None:
    """Create the topics of ``topics`` that are missing, as specified (replication capped at 1
    on Tansu). An existing topic is left as it is: ``petition-hub topics diff`` reports drift."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        for spec in topics:
            if spec.name in existing:
                continue
            made = spec.capped(1) if tansu else spec
            topic = NewTopic(
                made.name,
                made.partitions,
                made.replication_factor,
                topic_configs=dict(made.config),
            )
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker was quicker
                await admin.create_topics([topic])
    finally:
        await admin.close()
