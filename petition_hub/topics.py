"""The hub's topics: ``topics.yaml`` and its reconciliation with a broker.

``topics.yaml`` (repository root, ``HUB_TOPICS_FILE``) declares every topic of the hub's interface
with its partitions, replication factor and topic configs. This module

- loads and validates it (:func:`load_topics`); any error names the file and the line of the
  offending entry (:class:`TopicsFileError`);
- derives the per-unit topics from the reference data (:func:`expected_unit_topics`,
  :func:`render_unit_topics`), so a test keeps the file in step with ``departments.yaml`` and
  ``regions.yaml``;
- compares the file with what a broker has (:func:`plan`, pure) and reconciles the broker
  (:func:`apply`, :func:`diff`), for ``petition-hub topics apply`` / ``topics diff``
  (:func:`run_apply`, :func:`run_diff`).

Reconciling is conservative: it creates missing topics and adds partitions where the broker can;
it never shrinks a topic, never changes configs or replication, and never deletes a topic unless
asked to (``delete_unexpected=True``). Everything it cannot or will not change is reported as drift.

Tansu (the embedded broker) does not support CreatePartitions and reports only the configs a topic
was created with; a missing config value is "unknown", not drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Protocol

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from petition_hub.domain.yamlpos import child, line_of, locate

__all__ = [
    "CO_PARTITIONED_TOPICS",
    "FIXED_TOPICS",
    "HUB_TOPICS",
    "INPUT_TOPICS",
    "ActualTopic",
    "ApplyReport",
    "Change",
    "ChangeKind",
    "ChangeResult",
    "ConfigDelta",
    "KafkaTopicAdmin",
    "Outcome",
    "TopicAdmin",
    "TopicDefaults",
    "TopicSpec",
    "TopicsBrokerError",
    "TopicsFile",
    "TopicsFileError",
    "apply",
    "apply_with",
    "describe_broker",
    "diff",
    "diff_with",
    "expected_unit_topics",
    "format_report",
    "is_internal_topic",
    "load_topics",
    "plan",
    "render_unit_topics",
    "run_apply",
    "run_diff",
]

#: The faust app id; faust's own topics start with it (``petition-hub-<table>-changelog``).
DEFAULT_APP_ID = "petition-hub"

#: Inputs owned by the upstream systems (interface.md).
INPUT_TOPICS: tuple[str, ...] = (
    "hotline12345.workorders",
    "hotline12345.callbacks",
    "miniprogram.appeals",
    "miniprogram.evaluations",
    "province.dispatch",
)

#: The hub's own topics (interface.md).
HUB_TOPICS: tuple[str, ...] = (
    "hub.petitions",
    "hub.lifecycle",
    "hub.sla",
    "hub.triage",
    "office.decisions",
    "hub.deadletter",
    "hub.rejects",
    "miniprogram.evaluation-requests",
    "hotline12345.callback-requests",
    "province.feedback",
    "province.transfers",
)

#: The hub's own topics that came after interface.md (issue 11: the record of erasures).
LATER_HUB_TOPICS: tuple[str, ...] = ("hub.privacy",)

#: Every topic that does not depend on the reference data.
FIXED_TOPICS: tuple[str, ...] = INPUT_TOPICS + HUB_TOPICS + LATER_HUB_TOPICS

#: Topics keyed by petition id that the hub's agents join with each other and with the petition
#: tables: they must have the same partition count (co-partitioning).
CO_PARTITIONED_TOPICS: tuple[str, ...] = (
    "hub.petitions",
    "hub.lifecycle",
    "hub.sla",
    "hub.rejects",
    "hub.triage",
    "office.decisions",
    "hub.privacy",
)

#: Topic-level configs of Apache Kafka 3.x/4.x (a typo in topics.yaml is an error, not a surprise
#: at create time).
KNOWN_TOPIC_CONFIGS: frozenset[str] = frozenset(
    {
        "cleanup.policy",
        "compression.gzip.level",
        "compression.lz4.level",
        "compression.type",
        "compression.zstd.level",
        "delete.retention.ms",
        "file.delete.delay.ms",
        "flush.messages",
        "flush.ms",
        "follower.replication.throttled.replicas",
        "index.interval.bytes",
        "leader.replication.throttled.replicas",
        "local.retention.bytes",
        "local.retention.ms",
        "max.compaction.lag.ms",
        "max.message.bytes",
        "message.downconversion.enable",
        "message.format.version",
        "message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms",
        "message.timestamp.difference.max.ms",
        "message.timestamp.type",
        "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms",
        "min.insync.replicas",
        "preallocate",
        "remote.log.copy.disable",
        "remote.log.delete.on.disable",
        "remote.storage.enable",
        "retention.bytes",
        "retention.ms",
        "segment.bytes",
        "segment.index.bytes",
        "segment.jitter.ms",
        "segment.ms",
        "unclean.leader.election.enable",
    }
)

#: Configs every resolved topic must have (from the topic or from ``defaults``).
REQUIRED_TOPIC_CONFIGS: tuple[str, ...] = ("cleanup.policy", "retention.ms")

_CLEANUP_POLICIES = frozenset({"delete", "compact", "compact,delete", "delete,compact"})
_INTEGER_CONFIGS = frozenset(
    {
        "retention.ms",
        "retention.bytes",
        "delete.retention.ms",
        "min.compaction.lag.ms",
        "max.compaction.lag.ms",
        "max.message.bytes",
        "min.insync.replicas",
        "segment.bytes",
        "segment.ms",
    }
)
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]+")
_MAX_TOPIC_NAME = 249
_DAY_MS = 86_400_000
_NO_CREATE_PARTITIONS = "the broker does not support adding partitions (CreatePartitions)"


# --------------------------------------------------------------------------------------------------
# The file: models, loading, line-numbered errors
# --------------------------------------------------------------------------------------------------


class TopicsFileError(ValueError):
    """topics.yaml is unreadable or invalid; the message is ``<file>:<line>: <what>``."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")


def _config_error(key: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("topic_config", "{key}: " + message, {"key": key})


def _check_config(config: Mapping[str, str]) -> None:
    """Raise for the first unknown key or malformed value of a topic config mapping."""
    for key, value in config.items():
        if key not in KNOWN_TOPIC_CONFIGS:
            raise _config_error(key, "not a Kafka topic config (typo?)")
        if key == "cleanup.policy" and _norm_policy(value) not in _CLEANUP_POLICIES:
            raise _config_error(key, f"{value!r} is not delete, compact or compact,delete")
        if key in _INTEGER_CONFIGS:
            try:
                number = int(value)
            except ValueError:
                raise _config_error(key, f"{value!r} is not an integer") from None
            if number < -1:
                raise _config_error(key, f"{value!r} is below -1")


def _scalars_to_str(value: Any) -> Any:
    """Config values may be written as YAML numbers or booleans; Kafka wants strings."""
    if not isinstance(value, Mapping):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, int | float):
            out[key] = str(item)
        else:
            out[key] = item  # strings pass; lists, maps and nulls fail str validation
    return out


#: A topic config mapping; YAML numbers and booleans become the strings Kafka wants.
ConfigMap = Annotated[dict[str, str], BeforeValidator(_scalars_to_str)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TopicDefaults(_Model):
    """The ``defaults:`` section: values a topic entry does not set itself."""

    partitions: int = Field(ge=1)
    replication_factor: int = Field(ge=1)
    config: ConfigMap = Field(default_factory=dict)

    @field_validator("config")
    @classmethod
    def _known_configs(cls, config: dict[str, str]) -> dict[str, str]:
        _check_config(config)
        return config


class _TopicEntry(_Model):
    """One entry of ``topics:`` as written (before the defaults are applied)."""

    name: str
    description: str = Field(min_length=1)
    partitions: int | None = Field(default=None, ge=1)
    replication_factor: int | None = Field(default=None, ge=1)
    config: ConfigMap = Field(default_factory=dict)


class TopicSpec(_Model):
    """One topic as the broker should have it (defaults applied)."""

    name: str
    partitions: int = Field(ge=1)
    replication_factor: int = Field(ge=1)
    config: ConfigMap
    description: str = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _legal_name(cls, name: str) -> str:
        if name in {".", ".."} or len(name) > _MAX_TOPIC_NAME or not _TOPIC_NAME.fullmatch(name):
            raise ValueError(
                f"topic name {name!r} is not legal in Kafka "
                f"(1-{_MAX_TOPIC_NAME} of A-Z a-z 0-9 . _ -, not '.' or '..')"
            )
        return name

    @field_validator("config")
    @classmethod
    def _known_configs(cls, config: dict[str, str]) -> dict[str, str]:
        _check_config(config)
        for key in REQUIRED_TOPIC_CONFIGS:
            if key not in config:
                raise _config_error(key, "missing (set it on the topic or in defaults)")
        return config

    @model_validator(mode="after")
    def _min_isr_fits(self) -> TopicSpec:
        min_isr = self.config.get("min.insync.replicas")
        if min_isr is not None and int(min_isr) > self.replication_factor:
            raise _config_error(
                "min.insync.replicas",
                f"{min_isr} exceeds replication_factor {self.replication_factor} "
                "(producers with acks=all could never write)",
            )
        return self

    @property
    def cleanup_policy(self) -> str:
        return self.config["cleanup.policy"]

    def capped(self, replication_factor_cap: int | None) -> TopicSpec:
        """This topic with the replication factor (and min.insync.replicas) at most the cap."""
        if replication_factor_cap is None or self.replication_factor <= replication_factor_cap:
            return self
        rf = max(1, replication_factor_cap)
        config = dict(self.config)
        if "min.insync.replicas" in config:
            config["min.insync.replicas"] = str(min(int(config["min.insync.replicas"]), rf))
        return self.model_copy(update={"replication_factor": rf, "config": config})


class TopicsFile(_Model):
    """A validated topics.yaml."""

    defaults: TopicDefaults
    topics: tuple[TopicSpec, ...]
    path: Path | None = None
    #: Line (1-based) of each topic's entry in the file.
    lines: dict[str, int] = Field(default_factory=dict, repr=False)

    def names(self) -> list[str]:
        return [t.name for t in self.topics]

    def get(self, name: str) -> TopicSpec | None:
        for topic in self.topics:
            if topic.name == name:
                return topic
        return None

    def capped(self, replication_factor_cap: int | None) -> TopicsFile:
        """The file with every replication factor capped (single-node brokers)."""
        if replication_factor_cap is None:
            return self
        topics = tuple(t.capped(replication_factor_cap) for t in self.topics)
        return self.model_copy(update={"topics": topics})


_TOP_LEVEL_KEYS = ("defaults", "topics")


def load_topics(path: Path | str) -> TopicsFile:
    """Read and validate topics.yaml.

    Raises :class:`TopicsFileError` (``<file>:<line>: <what>``) on any problem: unreadable file,
    YAML syntax, duplicate keys, unknown keys, wrong types or values, illegal or duplicate names.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopicsFileError(path, None, f"cannot read: {exc}") from exc
    return _parse(text, path)


def _parse(text: str, path: Path) -> TopicsFile:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise TopicsFileError(path, 1, "empty file: expected `defaults:` and `topics:`")
        _reject_duplicate_keys(root, path)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        start = exc.context_mark
        if start is not None and mark is not None and start.line != mark.line:
            problem += f" (the construct starts on line {start.line + 1})"
        raise TopicsFileError(path, line, f"YAML syntax: {problem}") from exc
    except yaml.YAMLError as exc:
        raise TopicsFileError(path, None, f"YAML: {exc}") from exc
    finally:
        loader.dispose()

    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise TopicsFileError(
            path, line_of(root), "expected a mapping with `defaults:` and `topics:`"
        )
    for key_node, _ in root.value:
        if key_node.value not in _TOP_LEVEL_KEYS:
            raise TopicsFileError(
                path,
                line_of(key_node),
                f"unknown key {key_node.value!r} (expected one of {', '.join(_TOP_LEVEL_KEYS)})",
            )
    for key in _TOP_LEVEL_KEYS:
        if key not in data:
            raise TopicsFileError(path, 1, f"missing top-level `{key}:`")

    defaults_node = child(root, "defaults")
    assert defaults_node is not None
    try:
        defaults = TopicDefaults.model_validate(data["defaults"])
    except ValidationError as exc:
        line, what = _explain(exc, defaults_node)
        raise TopicsFileError(path, line, f"defaults: {what}") from exc

    topics_node = child(root, "topics")
    assert topics_node is not None
    if not isinstance(topics_node, yaml.SequenceNode) or not isinstance(data["topics"], list):
        raise TopicsFileError(path, line_of(topics_node), "`topics:` must be a list of topics")

    specs: list[TopicSpec] = []
    lines: dict[str, int] = {}
    seen_normalised: dict[str, str] = {}
    for item_node, item in zip(topics_node.value, data["topics"], strict=True):
        line = line_of(item_node)
        name = item.get("name") if isinstance(item, dict) else None
        label = f"topic {name!r}" if isinstance(name, str) else "topic entry"
        if not isinstance(item, dict):
            raise TopicsFileError(
                path, line, f"{label}: expected a mapping (name, description, partitions, ...)"
            )
        try:
            entry = _TopicEntry.model_validate(item)
        except ValidationError as exc:
            err_line, what = _explain(exc, item_node)
            raise TopicsFileError(path, err_line, f"{label}: {what}") from exc
        try:
            spec = TopicSpec(
                name=entry.name,
                partitions=entry.partitions or defaults.partitions,
                replication_factor=entry.replication_factor or defaults.replication_factor,
                config={**defaults.config, **entry.config},
                description=entry.description,
            )
        except ValidationError as exc:
            err_line, what = _explain(exc, item_node)
            raise TopicsFileError(path, err_line, f"{label}: {what}") from exc
        if spec.name in lines:
            raise TopicsFileError(
                path,
                line,
                f"duplicate topic {spec.name!r} (first declared on line {lines[spec.name]})",
            )
        normalised = spec.name.replace(".", "_")
        if normalised in seen_normalised:
            other = seen_normalised[normalised]
            raise TopicsFileError(
                path,
                line,
                f"topic {spec.name!r} collides with {other!r} (line {lines[other]}): Kafka treats "
                "'.' and '_' alike in metric names and refuses such pairs",
            )
        seen_normalised[normalised] = spec.name
        lines[spec.name] = line
        specs.append(spec)
    return TopicsFile(defaults=defaults, topics=tuple(specs), path=path, lines=lines)


def _explain(exc: ValidationError, node: yaml.Node) -> tuple[int, str]:
    """Line and text of the first error of a validation of ``node``'s contents."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc: list[str | int] = [p for p in first["loc"] if isinstance(p, str | int)]
    ctx = first.get("ctx") or {}
    if first["type"] == "topic_config" and "key" in ctx:
        loc = ["config", str(ctx["key"])]
    line = locate(node, loc)
    texts = []
    for error in errors:
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "missing"
        texts.append(f"{where}: {message}" if where else message)
    return line, "; ".join(texts)


def _reject_duplicate_keys(node: yaml.Node, path: Path) -> None:
    """YAML allows ``partitions: 3`` twice in one mapping (last wins); topics.yaml does not."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in current.value:
                if (
                    isinstance(key_node, yaml.ScalarNode)
                    and key_node.tag != "tag:yaml.org,2002:merge"
                ):
                    if key_node.value in seen:
                        raise TopicsFileError(
                            path,
                            line_of(key_node),
                            f"duplicate key {key_node.value!r} "
                            f"(first on line {seen[key_node.value]})",
                        )
                    seen[key_node.value] = line_of(key_node)
                stack.append(value_node)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


# --------------------------------------------------------------------------------------------------
# Unit topics from the reference data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    kind: str  # "dept" | "county"
    code: str
    name: str
    handler: str | None


def _units(departments_yaml: Path | str, regions_yaml: Path | str) -> list[_Unit]:
    departments = yaml.safe_load(Path(departments_yaml).read_text(encoding="utf-8"))
    regions = yaml.safe_load(Path(regions_yaml).read_text(encoding="utf-8"))
    units: list[_Unit] = []
    for dept in departments["departments"]:
        if dept.get("kind") == "pseudo":  # COUNTY: resolved to a county unit, no topic of its own
            continue
        units.append(_Unit("dept", str(dept["code"]), str(dept["name"]), None))
    for county in regions["county_units"]:
        code = str(county["code"])
        if not re.fullmatch(r"\d{6}", code):
            raise ValueError(f"{regions_yaml}: county unit code {code!r} is not 6 digits")
        units.append(_Unit("county", code, str(county["name"]), county.get("handler")))
    return units


def expected_unit_topics(departments_yaml: Path | str, regions_yaml: Path | str) -> list[str]:
    """The per-unit topics the reference data calls for, in reference-data order.

    ``dept.<CODE>.petitions`` / ``dept.<CODE>.status`` for every department except the ``COUNTY``
    placeholder (kind ``pseudo``), then ``county.<DIV>.petitions`` / ``county.<DIV>.status`` for
    every county-level unit.
    """
    names: list[str] = []
    for unit in _units(departments_yaml, regions_yaml):
        names += [f"{unit.kind}.{unit.code}.petitions", f"{unit.kind}.{unit.code}.status"]
    return names


def render_unit_topics(
    departments_yaml: Path | str, regions_yaml: Path | str, partitions: int = 3
) -> str:
    """The unit topics as topics.yaml entries (one line each), to paste when the data changes.

    ``python -m petition_hub.topics`` prints them for the packaged reference data.
    """
    lines: list[str] = []
    for unit in _units(departments_yaml, regions_yaml):
        who = f"{unit.code} {unit.name}" + (f" ({unit.handler})" if unit.handler else "")
        for suffix, text in (
            ("petitions", f"hub → {who}: petitions it leads or co-handles"),
            ("status", f"{who} → hub: what the unit did with its petitions"),
        ):
            description = json.dumps(text, ensure_ascii=False)
            lines.append(
                f"  - {{name: {unit.kind}.{unit.code}.{suffix}, partitions: {partitions}, "
                f"description: {description}}}"
            )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# Plan: desired vs actual (pure)
# --------------------------------------------------------------------------------------------------


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


def is_internal_topic(name: str, app_id: str = DEFAULT_APP_ID) -> bool:
    """Topics that are nobody's business in topics.yaml: faust's (anything of the app, changelogs,
    repartition and assignor topics) and Kafka's or the schema registry's (``__consumer_offsets``,
    ``_schemas``: a leading underscore). Never reported as unexpected, never deleted."""
    return (
        name.startswith("_")
        or name.startswith(f"{app_id}-")
        or "-changelog" in name
        or "__assignor" in name
        or name.endswith("-repartition")
    )


def _norm_policy(value: str) -> str:
    return ",".join(sorted(p.strip() for p in value.split(",") if p.strip()))


def _norm_config(key: str, value: str) -> str:
    value = value.strip()
    if key == "cleanup.policy":
        return _norm_policy(value)
    if key in _INTEGER_CONFIGS:
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


def _unknown_configs(
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


# --------------------------------------------------------------------------------------------------
# Broker access
# --------------------------------------------------------------------------------------------------


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
    (:func:`petition_hub.security.kafka_python_options`; none: PLAINTEXT)."""

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
            self._partitions_unsupported = _NO_CREATE_PARTITIONS
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


# --------------------------------------------------------------------------------------------------
# Apply / diff
# --------------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    APPLIED = "applied"
    #: diff only: apply would make this change.
    PENDING = "pending"
    #: Drift or an unexpected topic: reported, not changed.
    REPORTED = "reported"
    FAILED = "failed"


@dataclass(frozen=True)
class ChangeResult:
    change: Change
    outcome: Outcome
    detail: str = ""

    @property
    def needs_attention(self) -> bool:
        """Left the broker different from topics.yaml (unexpected topics that were only reported
        aside: they are informational)."""
        if self.outcome is Outcome.APPLIED:
            return False
        return self.change.kind is not ChangeKind.UNEXPECTED or self.outcome is Outcome.FAILED


@dataclass(frozen=True)
class ApplyReport:
    """What :func:`apply` did, or what :func:`diff` found."""

    bootstrap: str
    dry_run: bool
    results: tuple[ChangeResult, ...]
    #: Declared topics that needed nothing.
    up_to_date: tuple[str, ...]
    #: Per existing declared topic, the config keys the broker reported no value for.
    configs_unknown: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    replication_factor_cap: int | None = None

    @property
    def changed(self) -> bool:
        """Something was created, grown or deleted."""
        return any(r.outcome is Outcome.APPLIED for r in self.results)

    @property
    def drift(self) -> bool:
        """The broker is (still) not as topics.yaml says."""
        return any(r.needs_attention for r in self.results)

    @property
    def exit_code(self) -> int:
        return 1 if self.drift else 0

    def of_kind(self, kind: ChangeKind) -> list[ChangeResult]:
        return [r for r in self.results if r.change.kind is kind]


def diff_with(
    spec: TopicsFile,
    admin: TopicAdmin,
    *,
    bootstrap: str = "",
    replication_factor_cap: int | None = None,
    app_id: str = DEFAULT_APP_ID,
) -> ApplyReport:
    """:func:`diff` over a given admin."""
    return _reconcile(spec, admin, bootstrap, replication_factor_cap, False, True, app_id)


def apply_with(
    spec: TopicsFile,
    admin: TopicAdmin,
    *,
    bootstrap: str = "",
    replication_factor_cap: int | None = None,
    delete_unexpected: bool = False,
    app_id: str = DEFAULT_APP_ID,
) -> ApplyReport:
    """:func:`apply` over a given admin."""
    return _reconcile(
        spec, admin, bootstrap, replication_factor_cap, delete_unexpected, False, app_id
    )


def diff(
    spec: TopicsFile,
    bootstrap: str,
    replication_factor_cap: int | None = None,
    *,
    app_id: str = DEFAULT_APP_ID,
    timeout_s: float = 15.0,
    security: Mapping[str, Any] | None = None,
) -> ApplyReport:
    """Compare the broker with ``spec``; change nothing. ``security``: the admin client's SASL
    and TLS settings (:func:`petition_hub.security.kafka_python_options`)."""
    with KafkaTopicAdmin(bootstrap, timeout_s=timeout_s, security=security) as admin:
        return diff_with(
            spec,
            admin,
            bootstrap=bootstrap,
            replication_factor_cap=replication_factor_cap,
            app_id=app_id,
        )


def apply(
    spec: TopicsFile,
    bootstrap: str,
    replication_factor_cap: int | None,
    delete_unexpected: bool = False,
    *,
    app_id: str = DEFAULT_APP_ID,
    timeout_s: float = 15.0,
    security: Mapping[str, Any] | None = None,
) -> ApplyReport:
    """Make the broker have every topic of ``spec``: create missing ones (with their configs), add
    partitions where the broker supports it. Idempotent. Never shrinks, never alters configs or
    replication, and deletes topics that are not in ``spec`` only with ``delete_unexpected=True``
    (faust's and Kafka's internal topics never). ``replication_factor_cap=1`` for a single-node
    broker such as the embedded one. ``security``: as for :func:`diff`."""
    with KafkaTopicAdmin(bootstrap, timeout_s=timeout_s, security=security) as admin:
        return apply_with(
            spec,
            admin,
            bootstrap=bootstrap,
            replication_factor_cap=replication_factor_cap,
            delete_unexpected=delete_unexpected,
            app_id=app_id,
        )


def _reconcile(
    spec: TopicsFile,
    admin: TopicAdmin,
    bootstrap: str,
    replication_factor_cap: int | None,
    delete_unexpected: bool,
    dry_run: bool,
    app_id: str,
) -> ApplyReport:
    effective = spec.capped(replication_factor_cap)
    actual = admin.describe()
    changes = plan(effective, actual, app_id=app_id)
    touched = {c.topic for c in changes}
    up_to_date = tuple(t.name for t in effective.topics if t.name not in touched)
    unknown = _unknown_configs(effective.topics, actual)

    growable: bool | None = None
    if any(c.kind is ChangeKind.PARTITIONS_INCREASE for c in changes):
        growable = admin.can_add_partitions()

    if dry_run:
        out: list[ChangeResult] = []
        for change in changes:
            if change.kind is ChangeKind.PARTITIONS_INCREASE and growable is False:
                out.append(ChangeResult(change, Outcome.REPORTED, _NO_CREATE_PARTITIONS))
            elif change.applicable:
                out.append(ChangeResult(change, Outcome.PENDING))
            else:
                out.append(ChangeResult(change, Outcome.REPORTED))
        results = tuple(out)
    else:
        created = admin.create([c.spec for c in changes if c.kind is ChangeKind.CREATE and c.spec])
        doomed = [c.topic for c in changes if c.kind is ChangeKind.UNEXPECTED]
        deleted = admin.delete(doomed) if delete_unexpected else {}
        out = []
        for change in changes:
            if change.kind is ChangeKind.PARTITIONS_INCREASE and growable is False:
                out.append(ChangeResult(change, Outcome.REPORTED, _NO_CREATE_PARTITIONS))
                continue
            if change.kind is ChangeKind.CREATE:
                error = created.get(change.topic, "not created")
            elif change.kind is ChangeKind.PARTITIONS_INCREASE:
                assert change.spec is not None
                error = admin.add_partitions(change.topic, change.spec.partitions)
            elif change.kind is ChangeKind.UNEXPECTED and delete_unexpected:
                error = deleted.get(change.topic, "not deleted")
            else:
                out.append(ChangeResult(change, Outcome.REPORTED))
                continue
            if error is None:
                out.append(ChangeResult(change, Outcome.APPLIED))
            else:
                out.append(ChangeResult(change, Outcome.FAILED, error))
        results = tuple(out)
    return ApplyReport(
        bootstrap=bootstrap,
        dry_run=dry_run,
        results=results,
        up_to_date=up_to_date,
        configs_unknown=unknown,
        replication_factor_cap=replication_factor_cap,
    )


# --------------------------------------------------------------------------------------------------
# Report text and CLI entry points
# --------------------------------------------------------------------------------------------------


def _duration(ms: str) -> str:
    try:
        value = int(ms)
    except ValueError:
        return f"{ms} ms"
    if value < 0:
        return "forever"
    if value % _DAY_MS == 0:
        return f"{value // _DAY_MS}d"
    if value % 3_600_000 == 0:
        return f"{value // 3_600_000}h"
    return f"{value} ms"


def _summary(spec: TopicSpec) -> str:
    policy = _norm_policy(spec.cleanup_policy)
    parts = [f"{spec.partitions} partitions", policy]
    if "delete" in policy.split(","):
        parts.append(f"retention {_duration(spec.config['retention.ms'])}")
    if spec.replication_factor != 1:
        parts.append(f"replication {spec.replication_factor}")
    return ", ".join(parts)


def _line_for(result: ChangeResult, dry_run: bool) -> str:
    change, outcome = result.change, result.outcome
    spec, have = change.spec, change.actual
    name = change.topic
    if change.kind is ChangeKind.CREATE:
        assert spec is not None
        if outcome is Outcome.FAILED:
            return f"x failed to create {name} ({_summary(spec)}): {result.detail}"
        verb = "would create" if dry_run else "create"
        return f"+ {verb} {name} ({_summary(spec)})"
    if change.kind is ChangeKind.PARTITIONS_INCREASE:
        assert spec is not None and have is not None
        if outcome is Outcome.APPLIED:
            return f"^ partitions {name}: {have.partitions} -> {spec.partitions}"
        head = (
            f"! drift {name}: {have.partitions} partitions on broker, "
            f"topics.yaml says {spec.partitions}"
        )
        if outcome is Outcome.PENDING:
            return f"{head} (apply adds {spec.partitions - have.partitions})"
        why = result.detail or "not applied"
        return (
            f"{head} ({why}: an operator must add the partitions, or recreate the topic; "
            "keyed topics change their key -> partition mapping)"
        )
    if change.kind is ChangeKind.PARTITIONS_DECREASE_DRIFT:
        assert spec is not None and have is not None
        return (
            f"! drift {name}: {have.partitions} partitions on broker, "
            f"topics.yaml says {spec.partitions} (cannot shrink)"
        )
    if change.kind is ChangeKind.REPLICATION_DRIFT:
        assert spec is not None and have is not None
        return (
            f"! drift {name}: replication factor {have.replication_factor} on broker, "
            f"topics.yaml says {spec.replication_factor} (needs a partition reassignment)"
        )
    if change.kind is ChangeKind.CONFIG_DRIFT:
        deltas = "; ".join(
            f"{d.key} is {d.actual} on broker, topics.yaml says {d.desired}" for d in change.config
        )
        return f"! drift {name}: {deltas} (alter with kafka-configs)"
    # UNEXPECTED
    size = f" ({have.partitions} partitions)" if have is not None else ""
    if outcome is Outcome.APPLIED:
        return f"- delete {name}{size}: not in topics.yaml"
    if outcome is Outcome.FAILED:
        return f"x failed to delete {name}{size}: {result.detail}"
    return f"? unexpected {name}{size}: not in topics.yaml, kept (--delete-unexpected deletes it)"


def format_report(report: ApplyReport) -> str:
    """The report as lines for a terminal: ``+`` created, ``^`` grown, ``-`` deleted, ``!`` drift
    an operator must resolve, ``?`` unexpected topics, ``x`` failures, ``=`` the rest."""
    head = "topics diff" if report.dry_run else "topics apply"
    where = f" against {report.bootstrap}" if report.bootstrap else ""
    cap = report.replication_factor_cap
    capped = f" (replication factor capped at {cap})" if cap is not None else ""
    lines = [f"{head}{where}{capped}"]
    lines += [_line_for(r, report.dry_run) for r in report.results]
    n = len(report.up_to_date)
    lines.append(f"= {n} topic{'s' if n != 1 else ''} up to date")
    if report.configs_unknown:
        keys = sorted({k for ks in report.configs_unknown.values() for k in ks})
        topics = sorted(report.configs_unknown)
        which = ", ".join(topics) if len(topics) <= 5 else f"{len(topics)} topics"
        lines.append(f"  (the broker reported no {', '.join(keys)} for {which}: not compared)")
    pending = sum(r.outcome is Outcome.PENDING for r in report.results)
    attention = sum(r.needs_attention and r.outcome is not Outcome.PENDING for r in report.results)
    if report.dry_run and pending:
        lines.append(f"{pending} change(s) pending: run `petition-hub topics apply`")
    if attention:
        lines.append(f"{attention} difference(s) need an operator")
    return "\n".join(lines)


def _run(
    bootstrap: str,
    embedded: bool,
    topics_file: Path,
    delete_unexpected: bool,
    dry_run: bool,
    app_id: str,
    timeout_s: float,
    replication_factor_cap: int | None,
    security: Mapping[str, Any] | None,
) -> tuple[str, int]:
    cap = replication_factor_cap
    if embedded:  # Tansu: one node, whatever the file says
        cap = 1
    try:
        spec = load_topics(topics_file)
        if dry_run:
            report = diff(
                spec, bootstrap, cap, app_id=app_id, timeout_s=timeout_s, security=security
            )
        else:
            report = apply(
                spec,
                bootstrap,
                cap,
                delete_unexpected,
                app_id=app_id,
                timeout_s=timeout_s,
                security=security,
            )
    except (TopicsFileError, TopicsBrokerError) as exc:
        return f"error: {exc}", 2
    return format_report(report), report.exit_code


def run_apply(
    settings_like_bootstrap: str,
    embedded: bool,
    topics_file: Path,
    delete_unexpected: bool = False,
    *,
    app_id: str = DEFAULT_APP_ID,
    timeout_s: float = 15.0,
    replication_factor_cap: int | None = None,
    security: Mapping[str, Any] | None = None,
) -> tuple[str, int]:
    """``petition-hub topics apply``: (report text, exit code). Exit 0: the broker matches
    topics.yaml; 1: drift remains that needs an operator (or something failed); 2: invalid
    topics.yaml or unreachable broker. ``embedded`` caps the replication factor at 1;
    ``replication_factor_cap`` caps it on other brokers (a single-node Kafka: 1). ``security``:
    the admin client's SASL and TLS settings
    (:func:`petition_hub.security.kafka_python_options`)."""
    return _run(
        settings_like_bootstrap,
        embedded,
        topics_file,
        delete_unexpected,
        False,
        app_id,
        timeout_s,
        replication_factor_cap,
        security,
    )


def run_diff(
    settings_like_bootstrap: str,
    embedded: bool,
    topics_file: Path,
    *,
    app_id: str = DEFAULT_APP_ID,
    timeout_s: float = 15.0,
    replication_factor_cap: int | None = None,
    security: Mapping[str, Any] | None = None,
) -> tuple[str, int]:
    """``petition-hub topics diff``: (report text, exit code). Exit 0: no drift (unexpected topics
    are listed but do not count); 1: drift or missing topics; 2: invalid topics.yaml or unreachable
    broker. Pass the same cap and ``security`` as to :func:`run_apply`."""
    return _run(
        settings_like_bootstrap,
        embedded,
        topics_file,
        False,
        True,
        app_id,
        timeout_s,
        replication_factor_cap,
        security,
    )


if __name__ == "__main__":  # pragma: no cover - maintainers: print the unit topics to paste
    from petition_hub.data import data_path

    print(render_unit_topics(data_path("departments.yaml"), data_path("regions.yaml")), end="")
