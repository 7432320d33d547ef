"""Kafka ACLs for the hub's topics: each unit reads and writes only its own pair (interface.md).

Generated from ``topics.yaml`` and the reference units (``departments.yaml``, ``regions.yaml``),
pure: no broker is asked. ``petition-hub topics acls`` prints them as ``kafka-acls.sh`` command
lines (run with an admin's client config) or as JSON; deploy/kafka/README.md shows how to turn on
SASL/SCRAM and the authorizer.

Who gets what (principals are SASL/SCRAM user names):

- ``User:unit-<CODE>`` (``unit-TAX``, ``unit-410402``): READ on its ``<kind>.<CODE>.petitions``,
  WRITE on its ``<kind>.<CODE>.status``, READ on consumer groups named ``unit-<CODE>-…``. Nothing
  else: not another unit's topics, not the hub's.
- ``User:petition-hub`` (the workers and the ``petition-hub`` tools): READ on the channels' input
  topics and WRITE on them (``dlq redrive`` resends to the source topic); READ and WRITE on the
  hub's own topics; WRITE on every unit's ``.petitions``, READ on every unit's ``.status``; CREATE,
  ALTER and DESCRIBE_CONFIGS on every topic of topics.yaml (``topics apply`` / ``topics diff``);
  everything on its internal topics (``<app_id>-…``: the stages' changelogs, repartition and
  routed topics, declared in topics.yaml with ``{app}``, and faust's own) and its consumer groups
  (``<app_id>…``).
- the channels, ``User:hotline12345``, ``User:miniprogram``, ``User:province`` (the first part of
  their input topics' names): WRITE on their input topics, READ on the hub's topics back to them
  (``hotline12345.callback-requests``, ``miniprogram.evaluation-requests``, the ``.progress``
  topics, ``province.feedback``, ``province.transfers``) and on consumer groups named
  ``<channel>-…``.
- the supervisors, ``User:office`` (the joint-meeting office) and ``User:leadinggroup`` (the
  leading group), the first part of their ``<supervisor>.supervision`` topics' names: READ on
  that topic (督办, 挂牌督办) and on consumer groups named ``<supervisor>-…``; the office also
  READ on ``hub.triage`` and ``hub.lifecycle`` (extension requests, rating disputes) and WRITE
  on ``office.decisions`` (its triage routes, extension answers and dispute outcomes).
- ``User:console`` (``petition-hub console``, the workbench): READ on the events it projects
  into its database (``hub.lifecycle``, ``hub.sla``, ``hub.triage``, ``hub.rejects``,
  ``hub.privacy``, ``office.decisions``, the supervision and progress topics, every unit's
  ``.petitions`` and ``.status``) and on its consumer groups (``<app_id>-console…``); WRITE on
  every unit's ``.status`` (a clerk's action is the same record the unit's own system writes) and
  on ``office.decisions`` (the office's decisions).
- ``User:schema-registry``: its ``_schemas`` topic and its consumer group.

Kafka's DESCRIBE is implied by READ, WRITE and ALTER, and since Kafka 3.2 IDEMPOTENT_WRITE by
WRITE on any topic, so neither is listed.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import groupby
from pathlib import Path
from typing import Final

from petition_hub.topics import (
    FIXED_TOPICS,
    INPUT_TOPICS,
    LEADING_GROUP_SUPERVISION,
    OFFICE_SUPERVISION,
    TopicsFile,
    expected_unit_topics,
    is_internal_topic,
)
from petition_hub.topics.names import (
    DECISIONS,
    LIFECYCLE,
    PRIVACY,
    PROGRESS,
    REJECTS,
    SLA,
    TRIAGE,
)

__all__ = [
    "CONSOLE_PRINCIPAL",
    "HUB_PRINCIPAL",
    "SCHEMA_REGISTRY_PRINCIPAL",
    "AclBinding",
    "AclError",
    "Operation",
    "PatternType",
    "ResourceType",
    "channel_principal",
    "format_json",
    "format_kafka_acls",
    "generate",
    "unit_principal",
]

HUB_PRINCIPAL = "User:petition-hub"
CONSOLE_PRINCIPAL = "User:console"
SCHEMA_REGISTRY_PRINCIPAL = "User:schema-registry"
SCHEMA_REGISTRY_TOPIC = "_schemas"
SCHEMA_REGISTRY_GROUP = "schema-registry"

_UNIT_TOPIC = re.compile(r"(dept|county)\.([A-Za-z0-9_]+)\.(petitions|status)")


class AclError(ValueError):
    """topics.yaml and the reference units do not fit together (a unit without its topics)."""


class ResourceType(StrEnum):
    """Kafka resource types the hub's ACLs use (kafka-acls.sh option names)."""

    TOPIC = "topic"
    GROUP = "group"


class PatternType(StrEnum):
    """How a resource name matches: exactly, or as a prefix."""

    LITERAL = "literal"
    PREFIXED = "prefixed"


class Operation(StrEnum):
    """Kafka ACL operations (kafka-acls.sh spelling)."""

    READ = "Read"
    WRITE = "Write"
    CREATE = "Create"
    ALTER = "Alter"
    DESCRIBE = "Describe"
    DESCRIBE_CONFIGS = "DescribeConfigs"


@dataclass(frozen=True, order=True)
class AclBinding:
    """One ALLOW rule: ``principal`` may do ``operation`` on the resource, from any host."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    pattern_type: PatternType
    operation: Operation
    host: str = "*"

    def to_json(self) -> dict[str, str]:
        """The binding as Kafka's AdminClient names the fields."""
        return {
            "principal": self.principal,
            "host": self.host,
            "operation": self.operation.value,
            "permissionType": "Allow",
            "resourceType": self.resource_type.value,
            "resourceName": self.resource_name,
            "patternType": self.pattern_type.value,
        }


def unit_principal(code: str) -> str:
    """The principal of a unit: ``User:unit-<CODE>`` (``unit-TAX``, ``unit-410402``)."""
    return f"User:unit-{code}"


def channel_principal(channel: str) -> str:
    """The principal of an upstream channel system: ``User:<channel>`` (``User:hotline12345``)."""
    return f"User:{channel}"


def _grant(
    principal: str,
    operations: Iterable[Operation],
    name: str,
    resource: ResourceType = ResourceType.TOPIC,
    pattern: PatternType = PatternType.LITERAL,
) -> list[AclBinding]:
    return [AclBinding(principal, resource, name, pattern, op) for op in operations]


def _units(topic_names: Sequence[str], departments: Path, regions: Path) -> list[str]:
    """The codes of the reference units, checked against topics.yaml (both topics declared)."""
    expected = expected_unit_topics(departments, regions)
    missing = [name for name in expected if name not in topic_names]
    if missing:
        raise AclError(
            f"topics.yaml lacks unit topics of the reference data: {', '.join(missing[:5])}"
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            + " (python -m petition_hub.topics prints the entries)"
        )
    codes: list[str] = []
    for name in expected:
        match = _UNIT_TOPIC.fullmatch(name)
        if match is None:
            raise AclError(f"unit topic {name!r} is not <dept|county>.<CODE>.<petitions|status>")
        if match.group(2) not in codes:
            codes.append(match.group(2))
    return codes


def _unit_acls(code: str, kind: str) -> list[AclBinding]:
    principal = unit_principal(code)
    return [
        *_grant(principal, [Operation.READ], f"{kind}.{code}.petitions"),
        *_grant(principal, [Operation.WRITE], f"{kind}.{code}.status"),
        *_grant(
            principal,
            [Operation.READ],
            f"unit-{code}-",
            ResourceType.GROUP,
            PatternType.PREFIXED,
        ),
    ]


def _channel_acls(topic_names: Sequence[str]) -> list[AclBinding]:
    out: list[AclBinding] = []
    channels = sorted({name.split(".", 1)[0] for name in INPUT_TOPICS})
    for channel in channels:
        principal = channel_principal(channel)
        for name in topic_names:
            if name.split(".", 1)[0] != channel:
                continue
            op = Operation.WRITE if name in INPUT_TOPICS else Operation.READ
            out += _grant(principal, [op], name)
        out += _grant(
            principal, [Operation.READ], f"{channel}-", ResourceType.GROUP, PatternType.PREFIXED
        )
    return out


#: The supervisors' topics: each one's reader is ``User:<first part of its name>``.
SUPERVISION_TOPICS: Final = (OFFICE_SUPERVISION, LEADING_GROUP_SUPERVISION)


#: What the joint-meeting office uses besides its supervision topic: it reads the triage queue
#: and the lifecycle (extension requests, rating disputes) and writes its decisions (triage
#: routes, extension answers, dispute outcomes).
OFFICE_TOPICS: Final = {
    TRIAGE: Operation.READ,
    LIFECYCLE: Operation.READ,
    DECISIONS: Operation.WRITE,
}


def _supervisor_acls(topic_names: Sequence[str]) -> list[AclBinding]:
    """READ for each supervisor on its own supervision topic and its consumer groups."""
    out: list[AclBinding] = []
    for name in SUPERVISION_TOPICS:
        if name not in topic_names:
            raise AclError(f"topics.yaml lacks the supervision topic {name!r}")
        principal = f"User:{name.split('.', 1)[0]}"
        out += _grant(principal, [Operation.READ], name)
        if name == OFFICE_SUPERVISION:  # the office also decides (office.decisions) what it reads
            for topic, op in OFFICE_TOPICS.items():
                out += _grant(principal, [op], topic)
        prefix = f"{name.split('.', 1)[0]}-"
        out += _grant(principal, [Operation.READ], prefix, ResourceType.GROUP, PatternType.PREFIXED)
    return out


#: The hub's own topics the console projects (besides every unit's pair).
CONSOLE_READS: Final = (
    LIFECYCLE,
    SLA,
    TRIAGE,
    REJECTS,
    PRIVACY,
    DECISIONS,
    *SUPERVISION_TOPICS,
    *PROGRESS,
)


def _console_acls(topic_names: Sequence[str], app_id: str) -> list[AclBinding]:
    """The console reads what it projects and writes what its users decide and do."""
    out: list[AclBinding] = []
    for name in topic_names:
        match = _UNIT_TOPIC.fullmatch(name)
        if match is not None:
            ops = (
                [Operation.READ]
                if match.group(3) == "petitions"
                else [Operation.READ, Operation.WRITE]
            )
            out += _grant(CONSOLE_PRINCIPAL, ops, name)
        elif name in CONSOLE_READS:
            ops = [Operation.READ, Operation.WRITE] if name == DECISIONS else [Operation.READ]
            out += _grant(CONSOLE_PRINCIPAL, ops, name)
    out += _grant(
        CONSOLE_PRINCIPAL,
        [Operation.READ],
        f"{app_id}-console",
        ResourceType.GROUP,
        PatternType.PREFIXED,
    )
    return out


def _hub_acls(topic_names: Sequence[str], app_id: str) -> list[AclBinding]:
    hub = HUB_PRINCIPAL
    admin = [Operation.CREATE, Operation.ALTER, Operation.DESCRIBE_CONFIGS]
    out: list[AclBinding] = []
    for name in topic_names:
        match = _UNIT_TOPIC.fullmatch(name)
        if match is not None:
            data = Operation.WRITE if match.group(3) == "petitions" else Operation.READ
            out += _grant(hub, [data, *admin], name)
        elif name in FIXED_TOPICS or is_internal_topic(name, app_id):
            # the internal topics declared in topics.yaml (``{app}-…``) by name too: `topics
            # apply` makes them, as it makes the others
            out += _grant(hub, [Operation.READ, Operation.WRITE, *admin], name)
        else:
            raise AclError(
                f"topics.yaml declares {name!r}: neither a channel's, the hub's nor a unit's "
                f"topic (interface.md); say who may use it in petition_hub/ops/acls.py"
            )
    internal = [Operation.READ, Operation.WRITE, *admin]
    out += _grant(hub, internal, f"{app_id}-", ResourceType.TOPIC, PatternType.PREFIXED)
    out += _grant(hub, [Operation.READ], app_id, ResourceType.GROUP, PatternType.PREFIXED)
    return out


def _schema_registry_acls() -> list[AclBinding]:
    sr = SCHEMA_REGISTRY_PRINCIPAL
    return [
        *_grant(
            sr,
            [Operation.READ, Operation.WRITE, Operation.CREATE, Operation.DESCRIBE_CONFIGS],
            SCHEMA_REGISTRY_TOPIC,
        ),
        *_grant(sr, [Operation.DESCRIBE], "__consumer_offsets"),
        *_grant(
            sr, [Operation.READ], SCHEMA_REGISTRY_GROUP, ResourceType.GROUP, PatternType.PREFIXED
        ),
    ]


def generate(
    topics: TopicsFile, departments: Path, regions: Path, app_id: str = "petition-hub"
) -> list[AclBinding]:
    """Every ACL of the hub's deployment, sorted and without duplicates (``topics`` loaded with
    ``app_id``, so that its internal topics are the app's).

    Raises :class:`AclError` when topics.yaml lacks a channel's input topic or a reference unit's
    topics, or declares a topic nobody is defined to use.
    """
    names = topics.names()
    absent = [name for name in INPUT_TOPICS if name not in names]
    if absent:
        raise AclError(f"topics.yaml lacks the channels' input topics: {', '.join(absent)}")
    bindings: list[AclBinding] = []
    codes = set(_units(names, departments, regions))
    for name in names:
        match = _UNIT_TOPIC.fullmatch(name)
        if match is not None and match.group(3) == "petitions":
            if match.group(2) not in codes:
                raise AclError(f"topics.yaml declares {name!r}, a unit not in the reference data")
            bindings += _unit_acls(match.group(2), match.group(1))
    bindings += _channel_acls(names)
    bindings += _supervisor_acls(names)
    bindings += _hub_acls(names, app_id)
    bindings += _console_acls(names, app_id)
    bindings += _schema_registry_acls()
    return sorted(set(bindings))


def _resource_key(binding: AclBinding) -> tuple[str, str, str, str]:
    return (
        binding.principal,
        binding.resource_type.value,
        binding.resource_name,
        binding.pattern_type.value,
    )


def format_kafka_acls(
    bindings: Sequence[AclBinding],
    bootstrap: str = "${BOOTSTRAP:-kafka:9092}",
    command_config: str = "${ADMIN_CONFIG:-admin.properties}",
) -> str:
    """A POSIX shell script of ``kafka-acls.sh --add`` commands, one per principal and resource
    (its operations together). ``bootstrap`` and ``command_config`` are inserted in double quotes,
    so the defaults let the caller set ``BOOTSTRAP`` and ``ADMIN_CONFIG`` in the environment.
    Raises ``ValueError`` for a value that would break out of the quotes."""
    for value in (bootstrap, command_config):
        if any(c in value for c in '"`\\\n'):
            raise ValueError(f"{value!r}: no double quote, backquote, backslash or newline, please")
    lines = [
        "#!/bin/sh",
        "# Kafka ACLs of the petition hub, from topics.yaml and the reference units",
        "# (`petition-hub topics acls`). Run as a Kafka admin (super user) principal; the client",
        "# config holds its SASL/SCRAM credentials (deploy/kafka/README.md).",
        "set -eu",
        f'BOOTSTRAP="{bootstrap}"',
        f'ADMIN_CONFIG="{command_config}"',
    ]
    ordered = sorted(bindings, key=lambda b: (_resource_key(b), b.operation.value))
    for (principal, resource, name, pattern), group in groupby(ordered, key=_resource_key):
        ops = " ".join(f"--operation {b.operation.value}" for b in group)
        lines.append(
            'kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" '
            f"--add --allow-principal {shlex.quote(principal)} --allow-host '*' {ops} "
            f"--{resource} {shlex.quote(name)} --resource-pattern-type {pattern}"
        )
    return "\n".join(lines) + "\n"


def format_json(bindings: Sequence[AclBinding]) -> str:
    """The bindings as a JSON array (AdminClient field names), one object per operation."""
    return json.dumps([b.to_json() for b in bindings], ensure_ascii=False, indent=2) + "\n"
