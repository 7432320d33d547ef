"""Broker access for reconciling: the :class:`TopicAdmin` protocol and its Kafka adapter.

:class:`KafkaTopicAdmin` speaks to Apache Kafka or Tansu through kafka-python's admin client;
tests pass a fake :class:`TopicAdmin` instead.

Tansu (the embedded broker) does not support CreatePartitions: adding partitions there fails, and
is reported as drift, not as a crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

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


class KafkaTopicAdmin:
    """:class:`TopicAdmin` over kafka-python's ``KafkaAdminClient`` (kafka-python 3.x API).

    ``security``: the client's SASL and TLS settings
    (:func:`petition_hub.service.security.kafka_python_options`; none: PLAINTEXT)."""

    def __init__(
        self,
        bootstrap: str,
        *,
        timeout_s: float = 15.0,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        options: dict[str, Any] = {
            "bootstrap_servers": bootstrap.split(","),
            "client_id": "petition-hub-topics",
            "request_timeout_ms": int(timeout_s * 1000),
            **(security or {}),
        }
        if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG:
            options["bootstrap_timeout_ms"] = int(timeout_s * 1000)
        self.bootstrap = bootstrap
        self._partitions_unsupported: str | None = None
        try:
            self._admin = KafkaAdminClient(**options)
        except KafkaError as exc:
            raise TopicsBrokerError(f"broker {bootstrap} unreachable: {exc}") from exc

    def close(self) -> None:
        self._admin.close()

    def __enter__(self) -> KafkaTopicAdmin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def describe(self) -> dict[str, ActualTopic]:
        from kafka.admin import ConfigResource, ConfigResourceType
        from kafka.errors import KafkaError

        try:
            names = sorted(self._admin.list_topics())
            described = self._admin.describe_topics(names) if names else []
        except KafkaError as exc:
            raise TopicsBrokerError(f"cannot describe topics on {self.bootstrap}: {exc}") from exc
        configs: dict[str, dict[str, str]] = {}
        if names:
            resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
            try:
                result = self._admin.describe_configs(resources, config_filter="all")
            except KafkaError:
                result = {}  # configs unknown: no config drift can be told
            for name, entries in (result.get("topic") or {}).items():
                configs[name] = {
                    key: str(entry["value"])
                    for key, entry in (entries or {}).items()
                    if isinstance(entry, dict) and entry.get("value") is not None
                }
        topics: dict[str, ActualTopic] = {}
        for info in described:
            if info.get("error_code", 0) != 0:
                continue  # vanished (or being deleted) since list_topics
            partitions = info.get("partitions") or []
            first = partitions[0] if partitions else {}
            replicas = first.get("replica_nodes", first.get("replicas"))
            name = str(info["name"])
            topics[name] = ActualTopic(
                name=name,
                partitions=len(partitions),
                replication_factor=len(replicas) if replicas else None,
                config=configs.get(name, {}),
            )
        return topics

    def create(self, topics: Sequence[TopicSpec]) -> dict[str, str | None]:
        from kafka.errors import KafkaError, TopicAlreadyExistsError, for_code

        if not topics:
            return {}
        request = {
            t.name: {
                "num_partitions": t.partitions,
                "replication_factor": t.replication_factor,
                "configs": dict(t.config),
            }
            for t in topics
        }
        try:
            response = self._admin.create_topics(request, raise_errors=False)
        except KafkaError as exc:
            return {t.name: str(exc) for t in topics}
        out: dict[str, str | None] = {t.name: "no answer from the broker" for t in topics}
        for result in response.get("topics", []):
            code = int(result.get("error_code", 0))
            error = for_code(code)
            if code == 0 or error is TopicAlreadyExistsError:
                out[str(result["name"])] = None  # created meanwhile by someone else: fine
            else:
                out[str(result["name"])] = result.get("error_message") or error.__name__
        return out

    def can_add_partitions(self) -> bool | None:
        try:
            keys = self._admin.api_versions()
        except Exception:  # older kafka-python or no answer: find out by trying
            return None
        return any(getattr(key, "name", None) == "CreatePartitions" for key in keys)

    def add_partitions(self, topic: str, total: int) -> str | None:
        from kafka.errors import IncompatibleBrokerVersion, KafkaError, UnsupportedVersionError

        if self._partitions_unsupported is not None:
            return self._partitions_unsupported
        try:
            self._admin.create_partitions({topic: total})
        except (IncompatibleBrokerVersion, UnsupportedVersionError):
            self._partitions_unsupported = NO_CREATE_PARTITIONS
            return self._partitions_unsupported
        except KafkaError as exc:
            return str(exc)
        return None

    def delete(self, topics: Sequence[str]) -> dict[str, str | None]:
        from kafka.errors import KafkaError, for_code

        if not topics:
            return {}
        try:
            response = self._admin.delete_topics(list(topics), raise_errors=False)
        except KafkaError as exc:
            return {t: str(exc) for t in topics}
        out: dict[str, str | None] = {t: "no answer from the broker" for t in topics}
        for result in response.get("topics", []):
            code = int(result.get("error_code", 0))
            out[str(result["name"])] = (
                None if code == 0 else (result.get("error_message") or for_code(code).__name__)
            )
        return out


def describe_broker(
    bootstrap: str, *, timeout_s: float = 15.0, security: Mapping[str, Any] | None = None
) -> dict[str, ActualTopic]:
    """Every topic on the broker at ``bootstrap`` (``host:port[,host:port]``), internal included."""
    with KafkaTopicAdmin(bootstrap, timeout_s=timeout_s, security=security) as admin:
        return admin.describe()
