"""The operator tools' Kafka clients (confluent-kafka, i.e. librdkafka): a consumer without a
group, a producer that waits for each acknowledgement, and the record they hand back.

Consumes and emits whatever the tools ask; keeps nothing. The stream runtime uses aiokafka
instead (:mod:`petition_hub.runtime`); these are for commands that run and end (``dlq``,
``report``, ``rules``, ``privacy``). ``options`` everywhere: the client's security settings (SASL,
TLS: :func:`petition_hub.service.security.confluent_config`). :func:`config` is every librdkafka
client's configuration, these and the others' (``topics``' admin, ``tail``).

Where a partition ends, and reading to there, is :mod:`petition_hub.broker.reading`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

#: A group id librdkafka requires of a consumer; the tools only ``assign``, so it never joins.
_TOOLS_GROUP = "petition-hub-tools"


@dataclass(frozen=True)
class Record:
    """One record as a tool reads it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int
    """Milliseconds since the epoch (the producer's or the broker's time)."""


def _headers(message: Message) -> tuple[tuple[str, bytes | None], ...]:
    found: Any = message.headers() or []  # librdkafka gives a list of (name, bytes) pairs
    return tuple((str(name), value) for name, value in found)


def record_of(message: Message) -> Record:
    """A librdkafka message as a :class:`Record`."""
    _, timestamp = message.timestamp()
    return Record(
        topic=str(message.topic()),
        partition=int(message.partition() or 0),
        offset=int(message.offset() or 0),
        key=message.key(),
        value=message.value(),
        headers=_headers(message),
        timestamp=int(timestamp),
    )


#: librdkafka's own lines (a broker gone, a retry: one per attempt) go through logging, not to
#: stderr, and only from CRITICAL: a tool's failure reaches its caller as an exception (one line
#: in the CLI). Lower this logger's level to see them.
LIBRDKAFKA_LOG: Final = logging.getLogger("petition_hub.broker.librdkafka")
LIBRDKAFKA_LOG.setLevel(logging.CRITICAL)


def config(bootstrap: str, options: Mapping[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """A librdkafka client's configuration, for any of the hub's (consumer, producer, admin):
    ``bootstrap``, librdkafka's lines through :data:`LIBRDKAFKA_LOG`, the client's own ``extra``
    settings, and ``options``, the security settings from the hub's (SASL, TLS:
    :func:`petition_hub.service.security.confluent_config`), which no ``extra`` overrides."""
    return {
        "bootstrap.servers": bootstrap,
        "logger": LIBRDKAFKA_LOG,
        **extra,
        **(options or {}),
    }


def consumer(bootstrap: str, options: Mapping[str, Any] | None = None, **extra: Any) -> Consumer:
    """A consumer that is given its partitions (no group, no commits), reads what is written
    (committed or not, as the hub's readers do) and reports each partition's end."""
    return Consumer(
        config(
            bootstrap,
            options,
            **{
                "group.id": _TOOLS_GROUP,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_uncommitted",
                **extra,
            },
        )
    )


def partitions_of(client: Consumer, topic: str, timeout: float = 15.0) -> list[int]:
    """``topic``'s partitions, sorted; none when the topic does not exist."""
    metadata = client.list_topics(topic, timeout=timeout)
    info = metadata.topics.get(topic)
    if info is None or info.error is not None:
        return []
    return sorted(info.partitions)


class SendingProducer:
    """A producer whose :meth:`send` returns once the broker acknowledged the record."""

    def __init__(
        self, bootstrap: str, options: Mapping[str, Any] | None = None, **extra: Any
    ) -> None:
        # Kafka's own partitioner (murmur2 of the key), as the hub's other writers and
        # topics/partitioning.py: librdkafka's default (CRC32) would put a petition's record where
        # the stages that own it never look (an erasure request "of no petition", a redriven
        # petition outside its deduplication state)
        settings = {"acks": "all", "partitioner": "murmur2_random", **extra}
        self._producer = Producer(config(bootstrap, options, **settings))

    def send(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
        timeout: float = 30.0,
    ) -> int:
        """Write one record and wait for its acknowledgement (``KafkaException`` if refused,
        ``TimeoutError`` if none came); the partition it was written to."""
        return self.send_all(topic, [(key, value, headers)], timeout=timeout)[0]

    def send_all(
        self,
        topic: str,
        records: Iterable[tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]]],
        *,
        timeout: float = 30.0,
    ) -> list[int]:
        """Write records (key, value, headers) and wait until every one is acknowledged
        (``KafkaException`` for the first refused, ``TimeoutError`` if some got no answer within
        ``timeout`` seconds of the last one queued); the partition of each, in order."""
        failed: list[KafkaError] = []
        partitions: dict[int, int] = {}

        def delivered(index: int) -> Callable[[KafkaError | None, Message], None]:
            def report(error: KafkaError | None, message: Message) -> None:
                partitions[index] = message.partition() or 0
                if error is not None:
                    failed.append(error)

            return report

        count = 0
        for key, value, headers in records:
            while True:
                try:
                    self._producer.produce(
                        topic,
                        key=key,
                        value=value,
                        headers=list(headers),
                        on_delivery=delivered(count),
                    )
                    break
                except BufferError:
                    # librdkafka's local queue is full: let deliveries drain it, then queue again
                    self._producer.poll(0.1)
            count += 1
        self._producer.flush(timeout)
        if failed:
            raise KafkaException(failed[0])
        if len(partitions) < count:
            raise TimeoutError(
                f"no acknowledgement from the broker for {count - len(partitions)} of {count} "
                f"records on {topic} in {timeout:g}s"
            )
        return [partitions[i] for i in range(count)]

    def close(self) -> None:
        self._producer.flush(5)
