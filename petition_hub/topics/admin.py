"""Broker access for reconciling: the :class:`TopicAdmin` protocol and its Kafka adapter.

:class:`KafkaTopicAdmin` speaks to Apache Kafka or Tansu through confluent-kafka's admin client;
tests pass a fake :class:`TopicAdmin` instead.

Tansu (the embedded broker) does not support CreatePartitions: adding partitions there fails, and
is reported as drift, not as a crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from petition_hub.broker import tools
from petition_hub.topics.planning import ActualTopic
from petition_hub.topics.spec import TopicSpec

#: Why partitions could not be added on a broker without CreatePartitions (Tansu).
NO_CREATE_PARTITIONS = "the broker does not support adding partitions (CreatePartitions)"


class TopicsBrokerError(RuntimeError):
    """The broker could not be reached or described."""


class TopicAdmin(Protocol):
    """What reconciling needs from a broker (:class:`KafkaTopicAdmin`, or a fake in tests)."""

    def describe(self) -> dict[str, ActualTopic]:
        """Every topic on the broker, internal ones included."""
        ...

    def create(self, topics: Sequence[TopicSpec]) -> dict[str, str | None]:
        """Create topics; per name, None or why it failed."""
        ...

    def can_add_partitions(self) -> bool | None:
        """Whether the broker supports CreatePartitions (None: cannot tell)."""
        ...

    def add_partitions(self, topic: str, total: int) -> str | None:
        """Grow ``topic`` to ``total`` partitions; None or why not."""
        ...

    def delete(self, topics: Sequence[str]) -> dict[str, str | None]:
        """Delete topics; per name, None or why it failed."""
        ...


#: librdkafka's answers that mean "this broker has no CreatePartitions" (Tansu answers the request
#: with UNSUPPORTED_VERSION; a client that knows the broker's API versions refuses it itself).
_NO_CREATE_PARTITIONS_CODES = frozenset({"UNSUPPORTED_VERSION", "_UNSUPPORTED_FEATURE"})


def _why(exc: BaseException) -> tuple[str, str]:
    """(librdkafka's error name, a message) of what a confluent-kafka future raised."""
    from confluent_kafka import KafkaException

    if isinstance(exc, KafkaException) and exc.args:
        error = exc.args[0]
        name = getattr(error, "name", lambda: "")()
        return str(name), str(getattr(error, "str", lambda: exc)()) or str(name)
    return "", str(exc)


class KafkaTopicAdmin:
    """:class:`TopicAdmin` over confluent-kafka's ``AdminClient`` (librdkafka).

    ``security``: the client's SASL and TLS settings
    (:func:`petition_hub.service.security.confluent_config`; none: PLAINTEXT)."""

    def __init__(
        self,
        bootstrap: str,
        *,
        timeout_s: float = 15.0,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        # librdkafka's own lines (connection refused, …) are logged, not on stderr, as the
        # tools' (one configuration for every librdkafka client)
        config = tools.config(
            bootstrap,
            security,
            **{"client.id": "petition-hub-topics", "socket.timeout.ms": int(timeout_s * 1000)},
        )
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self._partitions_unsupported: str | None = None
        try:
            self._admin = AdminClient(config)
            # librdkafka connects lazily: ask once, so an unreachable broker is told here
            self._admin.list_topics(timeout=timeout_s)
        except KafkaException as exc:
            raise TopicsBrokerError(f"broker {bootstrap} unreachable: {_why(exc)[1]}") from exc

    def close(self) -> None:
        pass  # librdkafka's client ends with the object

    def __enter__(self) -> KafkaTopicAdmin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _configs(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each topic's configuration; a topic whose configuration the broker does not tell is
        left out (no config drift can be told for it)."""
        from confluent_kafka.admin import (  # type: ignore[attr-defined]
            ConfigResource,
            ResourceType,
        )

        if not names:
            return {}
        resources = [ConfigResource(ResourceType.TOPIC, n) for n in names]
        try:
            futures = self._admin.describe_configs(resources, request_timeout=self.timeout_s)
        except Exception:
            return {}
        configs: dict[str, dict[str, str]] = {}
        for resource, future in futures.items():
            try:
                entries = future.result()
            except Exception:
                continue
            configs[resource.name] = {
                key: str(entry.value) for key, entry in entries.items() if entry.value is not None
            }
        return configs

    def describe(self) -> dict[str, ActualTopic]:
        from confluent_kafka import KafkaException

        try:
            metadata = self._admin.list_topics(timeout=self.timeout_s)
        except KafkaException as exc:
            raise TopicsBrokerError(
                f"cannot describe topics on {self.bootstrap}: {_why(exc)[1]}"
            ) from exc
        live = {n: t for n, t in metadata.topics.items() if t.error is None}
        configs = self._configs(sorted(live))
        topics: dict[str, ActualTopic] = {}
        for name, info in sorted(live.items()):
            partitions = [info.partitions[p] for p in sorted(info.partitions)]
            replicas = partitions[0].replicas if partitions else None
            topics[name] = ActualTopic(
                name=name,
                partitions=len(partitions),
                replication_factor=len(replicas) if replicas else None,
                config=configs.get(name, {}),
            )
        return topics

    def create(self, topics: Sequence[TopicSpec]) -> dict[str, str | None]:
        from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

        if not topics:
            return {}
        request = [
            NewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=t.replication_factor,
                config={k: str(v) for k, v in t.config.items()},
            )
            for t in topics
        ]
        try:
            futures = self._admin.create_topics(request, request_timeout=self.timeout_s)
        except Exception as exc:
            return {t.name: str(exc) for t in topics}
        out: dict[str, str | None] = {t.name: "no answer from the broker" for t in topics}
        for name, future in futures.items():
            try:
                future.result()
                out[name] = None
            except Exception as exc:
                code, message = _why(exc)
                # created meanwhile by someone else: fine
                out[name] = None if code == "TOPIC_ALREADY_EXISTS" else message
        return out

    def can_add_partitions(self) -> bool | None:
        from confluent_kafka.admin import NewPartitions  # type: ignore[attr-defined]

        # librdkafka does not list the broker's API versions, but refuses a request the broker
        # lacks before sending it: ask to validate (only) growing a topic nobody has
        probe = "__petition_hub_probe"
        try:
            futures = self._admin.create_partitions(
                [NewPartitions(probe, 2)], validate_only=True, request_timeout=self.timeout_s
            )
            futures[probe].result()
        except Exception as exc:
            code, _ = _why(exc)
            if code in _NO_CREATE_PARTITIONS_CODES:
                return False
            if code in ("_TRANSPORT", "_TIMED_OUT", ""):
                return None  # no answer: find out by trying
        return True  # the broker answered the request (no such topic, most likely)

    def add_partitions(self, topic: str, total: int) -> str | None:
        from confluent_kafka.admin import NewPartitions  # type: ignore[attr-defined]

        if self._partitions_unsupported is not None:
            return self._partitions_unsupported
        try:
            futures = self._admin.create_partitions(
                [NewPartitions(topic, total)], request_timeout=self.timeout_s
            )
            futures[topic].result()
        except Exception as exc:
            code, message = _why(exc)
            if code in _NO_CREATE_PARTITIONS_CODES:
                self._partitions_unsupported = NO_CREATE_PARTITIONS
                return self._partitions_unsupported
            return message
        return None

    def delete(self, topics: Sequence[str]) -> dict[str, str | None]:
        if not topics:
            return {}
        try:
            futures = self._admin.delete_topics(list(topics), request_timeout=self.timeout_s)
        except Exception as exc:
            return {t: str(exc) for t in topics}
        out: dict[str, str | None] = {t: "no answer from the broker" for t in topics}
        for name, future in futures.items():
            try:
                future.result()
                out[name] = None
            except Exception as exc:
                out[name] = _why(exc)[1]
        return out


def describe_broker(
    bootstrap: str, *, timeout_s: float = 15.0, security: Mapping[str, Any] | None = None
) -> dict[str, ActualTopic]:
    """Every topic on the broker at ``bootstrap`` (``host:port[,host:port]``), internal included."""
    with KafkaTopicAdmin(bootstrap, timeout_s=timeout_s, security=security) as admin:
        return admin.describe()
