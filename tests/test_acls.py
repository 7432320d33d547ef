"""Kafka ACLs (petition_hub.ops.acls, `petition-hub topics acls`): each unit reads its own
.petitions
and writes its own .status, nothing else; the hub and the channels get what they use."""

from __future__ import annotations

import json
import shlex
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from petition_hub.data import data_path
from petition_hub.ops.acls import (
    CONSOLE_PRINCIPAL,
    HUB_PRINCIPAL,
    SCHEMA_REGISTRY_PRINCIPAL,
    AclBinding,
    AclError,
    Operation,
    PatternType,
    ResourceType,
    channel_principal,
    format_json,
    format_kafka_acls,
    generate,
    unit_principal,
)
from petition_hub.ops.cli import main
from petition_hub.service.settings import PROJECT_ROOT
from petition_hub.topics import FIXED_TOPICS, expected_unit_topics, load_topics

TOPICS_FILE = PROJECT_ROOT / "topics.yaml"
DEPARTMENTS = data_path("departments.yaml")
REGIONS = data_path("regions.yaml")

R, W = Operation.READ, Operation.WRITE
TOPIC, GROUP = ResourceType.TOPIC, ResourceType.GROUP
LITERAL, PREFIXED = PatternType.LITERAL, PatternType.PREFIXED

Grants = dict[str, set[tuple[ResourceType, str, PatternType, Operation]]]


@pytest.fixture(scope="module")
def bindings() -> list[AclBinding]:
    return generate(load_topics(TOPICS_FILE), DEPARTMENTS, REGIONS)


@pytest.fixture(scope="module")
def grants(bindings: list[AclBinding]) -> Grants:
    out: Grants = defaultdict(set)
    for b in bindings:
        out[b.principal].add((b.resource_type, b.resource_name, b.pattern_type, b.operation))
    return dict(out)


def _units() -> list[tuple[str, str]]:
    """(kind, code) of every reference unit, from the topics the reference data calls for."""
    units: set[tuple[str, str]] = set()
    for name in expected_unit_topics(DEPARTMENTS, REGIONS):
        kind, code, _ = name.split(".")
        units.add((kind, code))
    return sorted(units)


def test_each_unit_only_its_own_pair(grants: Grants) -> None:
    units = _units()
    assert len(units) > 50  # departments and county-level units
    for kind, code in units:
        assert grants[unit_principal(code)] == {
            (TOPIC, f"{kind}.{code}.petitions", LITERAL, R),
            (TOPIC, f"{kind}.{code}.status", LITERAL, W),
            (GROUP, f"unit-{code}-", PREFIXED, R),
        }
    assert unit_principal("TAX") == "User:unit-TAX"
    assert unit_principal("410402") == "User:unit-410402"


def test_nobody_else_touches_a_units_topics(bindings: list[AclBinding]) -> None:
    for b in bindings:
        if b.resource_type is TOPIC and b.resource_name.startswith(("dept.", "county.")):
            code = b.resource_name.split(".")[1]
            # the hub, and the console (its clerks act as their unit: checked per user there)
            assert b.principal in (unit_principal(code), HUB_PRINCIPAL, CONSOLE_PRINCIPAL), b
        # no wildcard and no prefix that could reach several units' topics
        assert b.resource_name not in ("*", "", "dept.", "county."), b
        if b.resource_type is TOPIC and b.pattern_type is PREFIXED:
            assert b.principal == HUB_PRINCIPAL and b.resource_name == "petition-hub-", b


def test_unit_group_prefixes_do_not_overlap(grants: Grants) -> None:
    prefixes = [
        name
        for principal, granted in grants.items()
        if principal.startswith("User:unit-")
        for (kind, name, pattern, _) in granted
        if kind is GROUP
    ]
    for a in prefixes:
        assert a.endswith("-")
        assert [b for b in prefixes if b.startswith(a)] == [a]


def test_the_hub(grants: Grants) -> None:
    hub = grants[HUB_PRINCIPAL]
    for kind, code in _units():
        assert (TOPIC, f"{kind}.{code}.petitions", LITERAL, W) in hub
        assert (TOPIC, f"{kind}.{code}.petitions", LITERAL, R) not in hub
        assert (TOPIC, f"{kind}.{code}.status", LITERAL, R) in hub
        assert (TOPIC, f"{kind}.{code}.status", LITERAL, W) not in hub
    for name in FIXED_TOPICS:
        assert {(TOPIC, name, LITERAL, R), (TOPIC, name, LITERAL, W)} <= hub, name
    for name in load_topics(TOPICS_FILE).names():  # topics apply / topics diff
        for op in (Operation.CREATE, Operation.ALTER, Operation.DESCRIBE_CONFIGS):
            assert (TOPIC, name, LITERAL, op) in hub, (name, op)
    # faust's changelogs and the stages' own topics; the consumer groups
    assert (TOPIC, "petition-hub-", PREFIXED, R) in hub
    assert (TOPIC, "petition-hub-", PREFIXED, Operation.CREATE) in hub
    assert (GROUP, "petition-hub", PREFIXED, R) in hub


def test_the_channels(grants: Grants) -> None:
    assert grants[channel_principal("hotline12345")] == {
        (TOPIC, "hotline12345.workorders", LITERAL, W),
        (TOPIC, "hotline12345.callbacks", LITERAL, W),
        (TOPIC, "hotline12345.callback-requests", LITERAL, R),
        (TOPIC, "hotline12345.progress", LITERAL, R),
        (GROUP, "hotline12345-", PREFIXED, R),
    }
    assert grants[channel_principal("miniprogram")] == {
        (TOPIC, "miniprogram.appeals", LITERAL, W),
        (TOPIC, "miniprogram.evaluations", LITERAL, W),
        (TOPIC, "miniprogram.evaluation-requests", LITERAL, R),
        (TOPIC, "miniprogram.progress", LITERAL, R),
        (GROUP, "miniprogram-", PREFIXED, R),
    }
    assert grants[channel_principal("province")] == {
        (TOPIC, "province.dispatch", LITERAL, W),
        (TOPIC, "province.feedback", LITERAL, R),
        (TOPIC, "province.transfers", LITERAL, R),
        (GROUP, "province-", PREFIXED, R),
    }
    principals = set(grants)
    units = {unit_principal(code) for _, code in _units()}
    channels = {channel_principal(c) for c in ("hotline12345", "miniprogram", "province")}
    supervisors = {"User:office", "User:leadinggroup"}
    assert principals == units | channels | supervisors | {
        HUB_PRINCIPAL,
        CONSOLE_PRINCIPAL,
        SCHEMA_REGISTRY_PRINCIPAL,
    }


def test_the_supervisors_read_their_own_topic_and_nothing_else(grants: Grants) -> None:
    # the office also reads the triage queue and the lifecycle (extension requests, rating
    # disputes) and writes its decisions
    assert grants["User:office"] == {
        (TOPIC, "office.supervision", LITERAL, R),
        (GROUP, "office-", PREFIXED, R),
        (TOPIC, "hub.triage", LITERAL, R),
        (TOPIC, "hub.lifecycle", LITERAL, R),
        (TOPIC, "office.decisions", LITERAL, W),
    }
    assert grants["User:leadinggroup"] == {
        (TOPIC, "leadinggroup.supervision", LITERAL, R),
        (GROUP, "leadinggroup-", PREFIXED, R),
    }


def test_the_console_reads_what_it_projects_and_writes_only_statuses_and_decisions(
    grants: Grants,
) -> None:
    console = grants[CONSOLE_PRINCIPAL]
    writes = {name for _, name, _, op in console if op == W}
    status_topics = {f"{kind}.{code}.status" for kind, code in _units()}
    assert writes == status_topics | {"office.decisions"}, writes ^ (
        status_topics | {"office.decisions"}
    )
    reads = {name for kind, name, _, op in console if op == R and kind == TOPIC}
    petitions_topics = {f"{kind}.{code}.petitions" for kind, code in _units()}
    assert petitions_topics | status_topics <= reads
    assert {
        "hub.lifecycle",
        "hub.sla",
        "hub.triage",
        "hub.rejects",
        "hub.privacy",
        "office.decisions",
        "office.supervision",
        "leadinggroup.supervision",
        "miniprogram.progress",
        "hotline12345.progress",
    } <= reads
    # not the channels' input (personal data in the clear), not the hub's internals
    assert not {"hub.petitions", "hotline12345.workorders", "hub.deadletter"} & reads
    assert {(n, p) for kind, n, p, _ in console if kind == GROUP} == {
        ("petition-hub-console", PREFIXED)
    }


def test_schema_registry(grants: Grants) -> None:
    registry = grants[SCHEMA_REGISTRY_PRINCIPAL]
    assert (TOPIC, "_schemas", LITERAL, R) in registry
    assert (TOPIC, "_schemas", LITERAL, W) in registry
    assert (GROUP, "schema-registry", PREFIXED, R) in registry
    assert all(
        name in ("_schemas", "__consumer_offsets", "schema-registry") for _, name, _, _ in registry
    )


def test_missing_unit_topic_is_an_error(tmp_path: Path) -> None:
    text = TOPICS_FILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if "name: dept.TAX.status," not in line]
    assert len(lines) == len(text.splitlines()) - 1
    broken = tmp_path / "topics.yaml"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(AclError, match=r"dept\.TAX\.status"):
        generate(load_topics(broken), DEPARTMENTS, REGIONS)


def test_unknown_topic_is_an_error(tmp_path: Path) -> None:
    text = TOPICS_FILE.read_text(encoding="utf-8")
    extra = tmp_path / "topics.yaml"
    extra.write_text(
        text + "  - {name: reports.monthly, description: nobody said who may use it}\n",
        encoding="utf-8",
    )
    with pytest.raises(AclError, match=r"reports\.monthly"):
        generate(load_topics(extra), DEPARTMENTS, REGIONS)


def test_kafka_acls_script_expands_to_the_bindings(bindings: list[AclBinding]) -> None:
    script = format_kafka_acls(bindings)
    assert script.startswith("#!/bin/sh\n")
    commands = [line for line in script.splitlines() if not line.startswith("#")]
    assert commands[:3] == [
        "set -eu",
        'BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"',
        'ADMIN_CONFIG="${ADMIN_CONFIG:-admin.properties}"',
    ]
    expanded: list[AclBinding] = []
    for line in commands[3:]:
        args = shlex.split(line)
        assert args[:6] == [
            "kafka-acls.sh",
            "--bootstrap-server",
            "$BOOTSTRAP",
            "--command-config",
            "$ADMIN_CONFIG",
            "--add",
        ]
        opts: dict[str, list[str]] = defaultdict(list)
        for flag, value in zip(args[6::2], args[7::2], strict=True):
            opts[flag].append(value)
        assert opts["--allow-host"] == ["*"]
        (principal,) = opts["--allow-principal"]
        (pattern,) = opts["--resource-pattern-type"]
        kinds = [k for k in ("--topic", "--group") if k in opts]
        assert len(kinds) == 1
        (name,) = opts[kinds[0]]
        for op in opts["--operation"]:
            expanded.append(
                AclBinding(
                    principal,
                    ResourceType(kinds[0][2:]),
                    name,
                    PatternType(pattern),
                    Operation(op),
                )
            )
    assert sorted(expanded) == sorted(bindings)
    assert len(expanded) == len(set(expanded))


def test_json_round_trip(bindings: list[AclBinding]) -> None:
    items = json.loads(format_json(bindings))
    assert len(items) == len(bindings)
    back = [
        AclBinding(
            i["principal"],
            ResourceType(i["resourceType"]),
            i["resourceName"],
            PatternType(i["patternType"]),
            Operation(i["operation"]),
            i["host"],
        )
        for i in items
    ]
    assert back == bindings
    assert {i["permissionType"] for i in items} == {"Allow"}


def test_quotes_cannot_escape() -> None:
    with pytest.raises(ValueError):
        format_kafka_acls([], bootstrap='kafka:9092"; rm -rf /; "')


def test_cli(monkeypatch: pytest.MonkeyPatch, bindings: list[AclBinding]) -> None:
    monkeypatch.delenv("HUB_BROKER", raising=False)  # no broker is needed
    runner = CliRunner()
    as_json = runner.invoke(main, ["topics", "acls", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert len(json.loads(as_json.output)) == len(bindings)
    script = runner.invoke(
        main,
        ["topics", "acls", "--bootstrap-server", "kafka-1:9092", "--command-config", "/a.conf"],
    )
    assert script.exit_code == 0, script.output
    assert 'BOOTSTRAP="kafka-1:9092"' in script.output
    assert 'ADMIN_CONFIG="/a.conf"' in script.output
    unit_line = "--allow-principal User:unit-TAX --allow-host '*' --operation Read --topic "
    assert unit_line + "dept.TAX.petitions " in script.output
