"""``topics.yaml``: its models, and loading and validating it.

``topics.yaml`` (repository root, ``HUB_TOPICS_FILE``) declares every topic of the hub, its
interface and its internal topics (``{app}-…``, the app id filled in on loading), with partitions,
replication factor, topic configs and the value schemas each carries. :func:`load_topics` reads
and validates it, down to the partitioning the hub's agents depend on
(:mod:`.partitioning`: the co-partitioned topics share a count, unit topics' counts divide it, an
internal topic has the count of the topics it follows); any error names the file and the line of
the offending entry (:class:`TopicsFileError`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

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
from petition_hub.topics.names import DEFAULT_APP_ID, is_unit_topic, resolve
from petition_hub.topics.partitioning import check_partitioning

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
#: Configs whose values are integers (compared as numbers: ``"0100"`` is ``"100"``).
INTEGER_CONFIGS = frozenset(
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
#: A record name of schemas/ (``cn.gov.pds.hub.UnitPetition``): every version of it is carried.
_RECORD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_VERSION_SUFFIX = re.compile(r"\.v[0-9]+")
_MAX_TOPIC_NAME = 249


def norm_policy(value: str) -> str:
    """A ``cleanup.policy`` value in one spelling: ``delete,compact`` is ``compact,delete``."""
    return ",".join(sorted(p.strip() for p in value.split(",") if p.strip()))


# --------------------------------------------------------------------------------------------------
# The models
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
        if key == "cleanup.policy" and norm_policy(value) not in _CLEANUP_POLICIES:
            raise _config_error(key, f"{value!r} is not delete, compact or compact,delete")
        if key in INTEGER_CONFIGS:
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
    schemas: list[str] = Field(default_factory=list)
    follows: str | None = Field(default=None, min_length=1)


class TopicSpec(_Model):
    """One topic as the broker should have it (defaults applied, ``{app}`` resolved)."""

    name: str
    partitions: int = Field(ge=1)
    replication_factor: int = Field(ge=1)
    config: ConfigMap
    description: str = Field(min_length=1)
    #: The records (``cn.gov.pds.hub.UnitPetition``) whose versions its values are, in the order
    #: the Schema Registry view lists them; none for JSON topics and the stages' changelogs.
    schemas: tuple[str, ...] = ()
    #: The topic (or ``fnmatch`` pattern of topics) whose partition count this one must have.
    follows: str | None = None

    @field_validator("name")
    @classmethod
    def _legal_name(cls, name: str) -> str:
        if name in {".", ".."} or len(name) > _MAX_TOPIC_NAME or not _TOPIC_NAME.fullmatch(name):
            raise ValueError(
                f"topic name {name!r} is not legal in Kafka "
                f"(1-{_MAX_TOPIC_NAME} of A-Z a-z 0-9 . _ -, not '.' or '..')"
            )
        return name

    @field_validator("schemas")
    @classmethod
    def _record_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if not _RECORD_NAME.fullmatch(name) or _VERSION_SUFFIX.search(name):
                raise ValueError(
                    f"{name!r} is not a record name such as cn.gov.pds.hub.UnitPetition "
                    "(name the record; its versions are those in schemas/)"
                )
        if len(set(names)) != len(names):
            raise ValueError("a record is listed twice")
        return names

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


# --------------------------------------------------------------------------------------------------
# Loading: YAML with line numbers, then the models
# --------------------------------------------------------------------------------------------------

_TOP_LEVEL_KEYS = ("defaults", "topics")


def load_topics(path: Path | str, app_id: str = DEFAULT_APP_ID) -> TopicsFile:
    """Read and validate topics.yaml; ``{app}`` in a topic's name (and ``follows``) is ``app_id``.

    Raises :class:`TopicsFileError` (``<file>:<line>: <what>``) on any problem: unreadable file,
    YAML syntax, duplicate keys, unknown keys, wrong types or values, illegal or duplicate names,
    and partition counts the hub's agents cannot work with (co-partitioned topics that differ, a
    unit topic whose count does not divide theirs, an internal topic without the count of the
    topics it follows).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopicsFileError(path, None, f"cannot read: {exc}") from exc
    return _parse(text, path, app_id)


def _parse(text: str, path: Path, app_id: str) -> TopicsFile:
    root, data = _read_yaml(text, path)
    _check_top_level(root, data, path)
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
    specs, lines = _parse_topics(topics_node, data["topics"], defaults, path, app_id)
    check_partitioning(specs, lines, path, TopicsFileError)
    return TopicsFile(defaults=defaults, topics=tuple(specs), path=path, lines=lines)


def _read_yaml(text: str, path: Path) -> tuple[yaml.Node, Any]:
    """The document's root node (for line numbers) and its data; YAML errors name the line."""
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
    return root, data


def _check_top_level(root: yaml.Node, data: Any, path: Path) -> None:
    """Raise unless the document is a mapping of exactly ``defaults:`` and ``topics:``."""
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


def _parse_topics(
    topics_node: yaml.SequenceNode,
    items: list[Any],
    defaults: TopicDefaults,
    path: Path,
    app_id: str,
) -> tuple[list[TopicSpec], dict[str, int]]:
    """The entries of ``topics:`` with the defaults applied, and the line of each; refuses
    duplicate names and names Kafka would confuse ('.' and '_')."""
    specs: list[TopicSpec] = []
    lines: dict[str, int] = {}
    seen_normalised: dict[str, str] = {}
    for item_node, item in zip(topics_node.value, items, strict=True):
        line = line_of(item_node)
        spec = _topic_spec(item_node, item, defaults, path, app_id)
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
    return specs, lines


def _topic_spec(
    item_node: yaml.Node, item: Any, defaults: TopicDefaults, path: Path, app_id: str
) -> TopicSpec:
    """One entry of ``topics:``, validated, with the defaults applied and ``{app}`` resolved."""
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
        return TopicSpec(
            name=resolve(entry.name, app_id),
            partitions=entry.partitions or defaults.partitions,
            replication_factor=entry.replication_factor or defaults.replication_factor,
            config={**defaults.config, **entry.config},
            description=entry.description,
            schemas=tuple(entry.schemas),
            follows=None if entry.follows is None else resolve(entry.follows, app_id),
        )
    except ValidationError as exc:
        err_line, what = _explain(exc, item_node)
        raise TopicsFileError(path, err_line, f"{label}: {what}") from exc


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
# What the stages take from the loaded file
# --------------------------------------------------------------------------------------------------


def declared(
    spec: Mapping[str, TopicSpec], names: Iterable[str], needed_by: str
) -> list[TopicSpec]:
    """The entries of ``names`` (resolved names) in ``spec``; a ``LookupError`` naming what is
    missing and who needs it when topics.yaml does not declare one."""
    missing = [name for name in names if name not in spec]
    if missing:
        raise LookupError(
            f"topics.yaml declares no {', '.join(missing)}, which {needed_by} needs "
            "(an internal topic is declared with {app} for the app id)"
        )
    return [spec[name] for name in names]


def unit_petition_topics(spec: Mapping[str, TopicSpec]) -> dict[str, int]:
    """The units' ``.petitions`` topics with their partition counts (written by two stages, each
    choosing the partition by one rule: :func:`.partitioning.petition_partition`)."""
    return {
        name: topic.partitions
        for name, topic in spec.items()
        if is_unit_topic(name) and name.endswith(".petitions")
    }


def stage_specs(
    path: Path | str, app_id: str, replication_factor_cap: int | None = None
) -> dict[str, TopicSpec]:
    """The loaded file as the stages use it: name -> spec, ``{app}`` resolved, replication capped
    as ``topics apply`` caps it (``HUB_TOPICS_REPLICATION_FACTOR_CAP``)."""
    return {t.name: t for t in load_topics(path, app_id).capped(replication_factor_cap).topics}
