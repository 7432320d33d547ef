"""The Schema Registry view (petition_hub/service/registry.py) is derived from topics.yaml: every
topic the hub writes has the schemas of what it writes there, and nothing else is a subject.

The writes are the real ones: the hub's stages as the worker registers them, run in-process over
the packaged samples, with the demo's units and petitioners answering (sign for, reply, rate) half
of the petitions; then 40 days pass for the other half (warnings, overdue, notices to units).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import faust
import pytest

from hubtest import TEST_PII_KEY, set_clock
from petition_hub import schemas
from petition_hub.agents import register
from petition_hub.connectors import EVALUATION_REQUEST_TOPICS
from petition_hub.data import load_samples
from petition_hub.devtools.dev import demo_reaction
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState
from petition_hub.service.app import faust_settings
from petition_hub.service.registry import NotFound, SchemaView, versions_of
from petition_hub.service.settings import PROJECT_ROOT, Settings
from petition_hub.topics import load_topics
from petition_hub.topics.names import is_unit_topic
from petition_hub.topics.partitioning import petition_partition

TOPICS_YAML = PROJECT_ROOT / "topics.yaml"
#: The hub's requests the demo's petitioners answer (with a rating).
ANSWERED = EVALUATION_REQUEST_TOPICS
BROKER = "tansu://127.0.0.1:9"  # never connected: the stages are only built


@pytest.fixture(scope="module")
def view() -> SchemaView:
    return SchemaView(load_topics(TOPICS_YAML).topics)


def _stages(app_id: str, clock_file: Path | None = None) -> list[Stage]:
    settings = Settings(broker=BROKER, pii_key=TEST_PII_KEY, app_id=app_id, clock_file=clock_file)
    app = faust.App(app_id, **faust_settings(settings, BROKER))
    return register(app, settings)


def _is_avro(value: bytes | None) -> bool:
    return value is not None and len(value) > 5 and value[0] == schemas.MAGIC


def _run_hub(stages: list[Stage], clock: Path, max_records: int = 5000) -> Iterator[Output]:
    """Every output of the stages over the samples, each fed on to the stages that read its
    topic, and to the demo's units and petitioners (whose answers are fed on too, for every other
    petition); then the outputs of the stages' ticks 40 days later."""
    now = set_clock(clock, datetime.now(UTC))
    readers: dict[str, list[Stage]] = {}
    for stage in stages:
        for topic in stage.sources:
            readers.setdefault(topic, []).append(stage)
    states: dict[tuple[str, int], PartitionState] = {}
    queue: deque[tuple[str, bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]] = deque(
        (s.topic, s.key, s.value, s.headers) for s in load_samples().values()
    )
    queue.append(("hotline12345.workorders", b"broken", b"{not json", ()))  # a dead letter
    rng = random.Random(3)
    offset = answered = 0
    while queue and offset < max_records:
        topic, key, value, headers = queue.popleft()
        offset += 1
        for stage in readers.get(topic, []):
            partition = 0 if key is None else petition_partition(key, stage.partitions)
            state = states.get((stage.stage_name, partition))
            if state is None:
                state = states[(stage.stage_name, partition)] = PartitionState()
                stage.processor.restored(partition, state)
            src = SourceRecord(topic, partition, offset, key, value, headers)
            for out in stage.processor(src, state):
                yield out
                queue.append((out.topic, out.key, out.value, tuple(out.headers)))
        if topic in ANSWERED or (is_unit_topic(topic) and topic.endswith(".petitions")):
            reactions = demo_reaction(topic, value, rng, 0.0, now)
            if reactions and topic not in ANSWERED:
                answered += 1
                if answered % 2 == 0:
                    continue  # this unit lets its petition wait
            for target, rkey, rvalue, _ in reactions:
                queue.append((target, rkey, rvalue, ()))
    set_clock(clock, now + timedelta(days=40))
    by_name = {stage.stage_name: stage for stage in stages}
    for (name, partition), state in states.items():
        if by_name[name].processor.ticks:
            yield from by_name[name].processor.tick(partition, state)


def test_every_record_the_hub_writes_has_its_schema_in_the_registry_view(
    view: SchemaView, tmp_path: Path
) -> None:
    declared = {t.name: t for t in load_topics(TOPICS_YAML).topics}
    written: dict[str, set[str]] = {}
    clock = tmp_path / "clock"
    for out in _run_hub(_stages("petition-hub", clock), clock):
        assert out.topic in declared, f"{out.topic} is written but not in topics.yaml"
        if not _is_avro(out.value):  # JSON (the channels' evaluation requests)
            assert not declared[out.topic].schemas, out.topic
            written.setdefault(out.topic, set())
            continue
        assert out.value is not None
        name = schemas.schema_name(schemas.split_header(out.value)[0])
        written.setdefault(out.topic, set()).add(name)
        # TopicRecordNameStrategy: the subject is the topic and the record's Avro full name
        raw = schemas.raw_schema(name)
        subject = f"{out.topic}-{raw['namespace']}.{raw['name']}"
        assert name in view.subject_versions(subject), (out.topic, name)
        if len(declared[out.topic].schemas) == 1:  # and the default strategy's, one record only
            assert name in view.subject_versions(f"{out.topic}-value"), (out.topic, name)
    # the run reached what the registry had drifted from (and the routed and re-keyed topics)
    for topic, name in [
        ("hub.lifecycle", "cn.gov.pds.hub.LifecycleEvent.v5"),
        ("hub.sla", "cn.gov.pds.hub.SlaEvent.v2"),
        ("petition-hub-routed", "cn.gov.pds.hub.Routed.v5"),
        ("petition-hub-unit-status-repartition", "cn.gov.pds.hub.UnitStatus.v3"),
        ("petition-hub-evaluations-repartition", "cn.gov.pds.hub.Evaluation.v2"),
        ("hub.deadletter", "cn.gov.pds.hub.DeadLetter.v2"),
    ]:
        assert name in written.get(topic, set()), (topic, sorted(written))
    unit_writes = {n for t, names in written.items() if t.startswith("dept.") for n in names}
    assert {"cn.gov.pds.hub.UnitPetition.v3", "cn.gov.pds.hub.UnitNotice.v3"} <= unit_writes


def test_the_view_is_the_files_schemas_column(view: SchemaView) -> None:
    topics = load_topics(TOPICS_YAML).topics
    expected: list[str] = []
    for t in topics:
        expected += [f"{t.name}-value"] if len(t.schemas) == 1 else []
        expected += [f"{t.name}-{record}" for record in t.schemas]
    assert view.subjects() == expected
    for topic in topics:
        if len(topic.schemas) != 1:  # JSON, changelogs, or several records: no <topic>-value
            with pytest.raises(NotFound) as missing:
                view.subject_versions(f"{topic.name}-value")
            assert missing.value.code == 40401
        else:
            assert view.subject_versions(f"{topic.name}-value") == versions_of(topic.schemas[0])
        for record in topic.schemas:
            names = view.subject_versions(f"{topic.name}-{record}")
            assert names == versions_of(record), topic.name
    # a unit's topic carries two records: one subject each, so each stays backward compatible
    with pytest.raises(NotFound):
        view.subject_versions("dept.TAX.petitions-value")
    unit = view.subject_versions("dept.TAX.petitions-cn.gov.pds.hub.UnitPetition")
    assert unit == (
        "cn.gov.pds.hub.UnitPetition.v1",
        "cn.gov.pds.hub.UnitPetition.v2",
        "cn.gov.pds.hub.UnitPetition.v3",
    )
    notice = view.subject_versions("dept.TAX.petitions-cn.gov.pds.hub.UnitNotice")
    assert notice == (
        "cn.gov.pds.hub.UnitNotice.v1",
        "cn.gov.pds.hub.UnitNotice.v2",
        "cn.gov.pds.hub.UnitNotice.v3",
    )
    version = view.version("dept.TAX.petitions-cn.gov.pds.hub.UnitPetition", "2")
    assert version["id"] == schemas.schema_id(unit[1])
    assert view.version("dept.TAX.petitions-cn.gov.pds.hub.UnitNotice", "latest")["version"] == 3
    assert [n for n in view.subjects() if "lifecycle" in n or "sla" in n] == [
        "hub.lifecycle-value",
        "hub.lifecycle-cn.gov.pds.hub.LifecycleEvent",
        "hub.sla-value",
        "hub.sla-cn.gov.pds.hub.SlaEvent",
    ]


def test_every_schema_named_in_topics_yaml_exists(view: SchemaView) -> None:
    for topic in load_topics(TOPICS_YAML).topics:
        for record in topic.schemas:
            assert versions_of(record), (topic.name, record)
    with pytest.raises(LookupError, match=r"cn\.gov\.pds\.hub\.Nothing"):
        versions_of("cn.gov.pds.hub.Nothing")


def test_the_internal_subjects_follow_the_app_id(tmp_path: Path) -> None:
    other = SchemaView(load_topics(TOPICS_YAML, "hub-x").topics)
    assert other.subject_versions("hub-x-routed-value") == (
        "cn.gov.pds.hub.Routed.v1",
        "cn.gov.pds.hub.Routed.v2",
        "cn.gov.pds.hub.Routed.v3",
        "cn.gov.pds.hub.Routed.v4",
        "cn.gov.pds.hub.Routed.v5",
    )
    assert other.subject_versions("hub-x-routed-cn.gov.pds.hub.Routed") == (
        "cn.gov.pds.hub.Routed.v1",
        "cn.gov.pds.hub.Routed.v2",
        "cn.gov.pds.hub.Routed.v3",
        "cn.gov.pds.hub.Routed.v4",
        "cn.gov.pds.hub.Routed.v5",
    )
    with pytest.raises(NotFound):
        other.subject_versions("petition-hub-routed-value")
