"""The reconciliation plan: what differs between ``topics.yaml`` and a broker's topics.

Pure: :func:`plan` compares the declared topics with the topics a broker reported
(:class:`ActualTopic`) and lists the differences (:class:`Change`). Doing something about them is
:mod:`.reconcile`'s job.

Tansu (the embedded broker) reports only the configs a topic was created with; a config the broker
did not report is "unknown", not drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from petition_hub.topics.names import DEFAULT_APP_ID, is_internal_topic
from petition_hub.topics.spec import INTEGER_CONFIGS, TopicsFile, TopicSpec, norm_policy


@dataclass(frozen=True)
class ActualTopic:
    """A topic as the broker reports it. ``config`` holds only the values the broker reported;
    a declared key missing here is unknown (Tansu), not drift."""

    name: str
    partitions: int
    replication_factor: int | None = None
    config: Mapping[str, str] = field(default_factory=dict)


class ChangeKind(StrEnum):
    CREATE = "create"
    PARTITIONS_INCREASE = "partitions_increase"
    #: More partitions on the broker than declared: Kafka cannot shrink a topic; report only.
    PARTITIONS_DECREASE_DRIFT = "partitions_decrease_drift"
    #: Replication factor differs: needs a partition reassignment by an operator; report only.
    REPLICATION_DRIFT = "replication_drift"
    #: Config values differ: report only (`kafka-configs --alter` by an operator).
    CONFIG_DRIFT = "config_drift"
    #: On the broker, not in topics.yaml (and not a faust/Kafka internal topic); report only.
    UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class ConfigDelta:
    key: str
    desired: str
    actual: str


@dataclass(frozen=True)
class Change:
    """One difference between topics.yaml and the broker."""

    kind: ChangeKind
    topic: str
    spec: TopicSpec | None = None
    actual: ActualTopic | None = None
    config: tuple[ConfigDelta, ...] = ()

    @property
    def applicable(self) -> bool:
        """True when :func:`apply` makes this change (deleting unexpected topics aside)."""
        return self.kind in (ChangeKind.CREATE, ChangeKind.PARTITIONS_INCREASE)


def _norm_config(key: str, value: str) -> str:
    value = value.strip()
    if key == "cleanup.policy":
        return norm_policy(value)
    if key in INTEGER_CONFIGS:
        try:
            return str(int(value))
        except ValueError:
            return value
    return value.lower() if value.lower() in {"true", "false"} else value


def _specs(spec: TopicsFile | Sequence[TopicSpec]) -> Sequence[TopicSpec]:
    return spec.topics if isinstance(spec, TopicsFile) else spec


def plan(
    spec: TopicsFile | Sequence[TopicSpec],
    actual: Mapping[str, ActualTopic],
    *,
    app_id: str = DEFAULT_APP_ID,
) -> list[Change]:
    """What differs between the declared topics and the broker's (``actual``: name → topic).

    Declared topics come first, in file order; then the unexpected ones, by name. Up-to-date topics
    yield no change. Config keys the broker did not report are not compared.
    """
    changes: list[Change] = []
    declared: set[str] = set()
    for want in _specs(spec):
        declared.add(want.name)
        have = actual.get(want.name)
        if have is None:
            changes.append(Change(ChangeKind.CREATE, want.name, spec=want))
            continue
        if have.partitions < want.partitions:
            changes.append(Change(ChangeKind.PARTITIONS_INCREASE, want.name, want, have))
        elif have.partitions > want.partitions:
            changes.append(Change(ChangeKind.PARTITIONS_DECREASE_DRIFT, want.name, want, have))
        if (
            have.replication_factor is not None
            and have.replication_factor != want.replication_factor
        ):
            changes.append(Change(ChangeKind.REPLICATION_DRIFT, want.name, want, have))
        deltas = tuple(
            ConfigDelta(key, value, have.config[key])
            for key, value in want.config.items()
            if key in have.config
            and _norm_config(key, have.config[key]) != _norm_config(key, value)
        )
        if deltas:
            changes.append(Change(ChangeKind.CONFIG_DRIFT, want.name, want, have, deltas))
    for name in sorted(set(actual) - declared):
        if not is_internal_topic(name, app_id):
            changes.append(Change(ChangeKind.UNEXPECTED, name, actual=actual[name]))
    return changes


def unknown_configs(
    spec: Sequence[TopicSpec], actual: Mapping[str, ActualTopic]
) -> dict[str, tuple[str, ...]]:
    """Per existing declared topic, the declared config keys the broker reported no value for."""
    out: dict[str, tuple[str, ...]] = {}
    for want in spec:
        have = actual.get(want.name)
        if have is None:
            continue
        missing = tuple(k for k in want.config if k not in have.config)
        if missing:
            out[want.name] = missing
    return out
