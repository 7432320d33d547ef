"""The hub-internal topics a stage needs (its changelog, its repartition topics), made at start."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


async def ensure_topics(
    bootstrap: str,
    creates: Mapping[str, int],
    *,
    changelog: str,
    tansu: bool,
    options: Mapping[str, Any],
) -> None:
    """Create the topics of ``creates`` (name -> partitions) that are missing: ``changelog``
    compacted, the others deleted by retention."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        for name, partitions in creates.items():
            if name in existing:
                continue
            policy = "compact" if name == changelog else "delete"
            topic = NewTopic(
                name,
                partitions,
                1 if tansu else 3,
                topic_configs={"cleanup.policy": policy},
            )
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker was quicker
                await admin.create_topics([topic])
    finally:
        await admin.close()
