"""The hub's internal topics are topics.yaml's, and unit topics have one partitioning rule.

- every internal topic a stage makes (its changelog, the routed and repartition topics) is declared
  in topics.yaml with ``{app}`` and made as declared; nothing else is declared as internal;
- the partitioning the exactly-once outputs depend on is checked on loading, for the internal
  topics too (a changelog has its sources' count, a re-keyed topic that of its join partners);
- the two writers of a unit's ``.petitions`` topic (routing, the lifecycle) choose a petition's
  partition by one rule, and agree for every partition count topics.yaml lets through.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import faust
import pytest
from aiokafka.partitioner import DefaultPartitioner

from hubtest import TEST_PII_KEY
from petition_hub.agents import register
from petition_hub.domain.petition import Channel, petition_id_for
from petition_hub.runtime.admin import adhoc_topic
from petition_hub.runtime.delivery import Delivery, PartitionRuleError
from petition_hub.runtime.marks import Marks
from petition_hub.runtime.records import Output
from petition_hub.runtime.stage import Stage
from petition_hub.service.app import faust_settings
from petition_hub.service.settings import PROJECT_ROOT, Settings
from petition_hub.topics import TopicsFileError, is_internal_topic, load_topics
from petition_hub.topics.partitioning import petition_partition

TOPICS_YAML = PROJECT_ROOT / "topics.yaml"
BROKER = "tansu://127.0.0.1:9"  # never connected: the stages are only built
WEEK_MS = "604800000"


def _stages(app_id: str, cap: int | None = None) -> list[Stage]:
    settings = Settings(
        broker=BROKER, pii_key=TEST_PII_KEY, app_id=app_id, topics_replication_factor_cap=cap
    )
    app = faust.App(app_id, **faust_settings(settings, BROKER))
    return register(app, settings)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# The stages make exactly the internal topics of topics.yaml, as declared
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("app_id", ["petition-hub", "hub-x"])
def test_the_stages_make_the_declared_internal_topics(app_id: str) -> None:
    declared = {t.name: t for t in load_topics(TOPICS_YAML, app_id).topics}
    made = {}
    for stage in _stages(app_id):
        for name, spec in stage.creates.items():
            assert made.setdefault(name, spec) == spec, name  # two stages make it alike
            assert spec == declared.get(name), f"stage {stage.stage_name} makes {name} ad hoc"
    internal = {name for name in declared if is_internal_topic(name, app_id)}
    assert set(made) == internal
    assert all(name.startswith(f"{app_id}-") for name in internal)


def test_the_stages_cap_the_replication_as_topics_apply_does() -> None:
    for stage in _stages("petition-hub", cap=1):
        for spec in stage.creates.values():
            assert spec.replication_factor == 1, spec.name
            assert spec.config["min.insync.replicas"] == "1", spec.name


def test_the_internal_topics_configs() -> None:
    declared = load_topics(TOPICS_YAML).topics
    internal = [t for t in declared if is_internal_topic(t.name)]
    # 11, and the repeats' three: <app>-repeat-asks, <app>-repeat-links and the changelog of the
    # repeat-links stage
    assert len(internal) == 14, [t.name for t in internal]
    for topic in internal:
        assert topic.replication_factor == 3 and topic.config["min.insync.replicas"] == "2"
        if topic.name.endswith("-changelog"):
            assert topic.cleanup_policy == "compact" and not topic.schemas, topic.name
        else:
            assert topic.cleanup_policy == "delete", topic.name
            assert topic.config["retention.ms"] == WEEK_MS, topic.name
            assert topic.follows == "hub.petitions" and topic.schemas, topic.name


def test_a_stage_refuses_a_changelog_of_another_count() -> None:
    processor = lambda src, state: []  # noqa: E731 - never called: the stage is only built
    changelog = adhoc_topic("g-changelog", 6, compact=True)
    with pytest.raises(ValueError, match="changelog g-changelog has 6 partitions, the sources 12"):
        Stage(
            name="t",
            sources=["t"],
            partitions=12,
            processor=processor,
            group="g",
            tansu=True,
            bootstrap=BROKER,
            topics=[changelog],
        )


# --------------------------------------------------------------------------------------------------
# Loading: placeholders, follows, schemas
# --------------------------------------------------------------------------------------------------


def test_app_placeholders_resolve_on_loading() -> None:
    loaded = load_topics(TOPICS_YAML, "city-7")
    routed = loaded.get("city-7-routed")
    assert routed is not None and routed.schemas == ("cn.gov.pds.hub.Routed",)
    assert loaded.get("petition-hub-routed") is None
    assert not any("{app}" in name for name in loaded.names())
    changelog = loaded.get("city-7-unit-status-changelog")
    assert changelog is not None and changelog.follows == "*.status"
    text = TOPICS_YAML.read_text(encoding="utf-8").splitlines()
    assert '"{app}-routed"' in text[loaded.lines["city-7-routed"] - 1]


@pytest.mark.parametrize(
    ("name", "followed", "count"),
    [
        ("{app}-routing-changelog", "hub.petitions", 12),
        ("{app}-routed", "hub.petitions", 12),
        ("{app}-intake-province-changelog", "province.dispatch", 12),
    ],
)
def test_an_internal_topic_with_another_count_than_it_follows_is_refused(
    tmp_path: Path, name: str, followed: str, count: int
) -> None:
    text = TOPICS_YAML.read_text(encoding="utf-8")
    old = f'  - name: "{name}"\n'
    assert text.count(old) == 1
    path = _write(tmp_path, text.replace(old, old + "    partitions: 6\n"))
    with pytest.raises(TopicsFileError) as caught:
        load_topics(path, "hub-x")
    message = str(caught.value)
    resolved = name.replace("{app}", "hub-x")
    line = text.splitlines().index(old.rstrip("\n")) + 1
    assert message.startswith(
        f"{path}:{line}: topic {resolved!r}: 6 partitions, but it follows {followed!r} (line "
    ), message
    assert f"which has {count}: a stage's changelog has its sources' partition count" in message


def test_a_unit_status_topic_of_another_count_than_its_stages_changelog_is_refused(
    tmp_path: Path,
) -> None:
    text = TOPICS_YAML.read_text(encoding="utf-8")
    old = "{name: dept.TAX.status, partitions: 3,"
    assert text.count(old) == 1
    path = _write(tmp_path, text.replace(old, "{name: dept.TAX.status, partitions: 1,"))
    with pytest.raises(
        TopicsFileError, match=r"'petition-hub-unit-status-changelog': 3 partitions"
    ):
        load_topics(path)


def test_follows_must_name_a_topic(tmp_path: Path) -> None:
    text = "defaults: {partitions: 2, replication_factor: 1, config: {cleanup.policy: delete, "
    text += 'retention.ms: "1"}}\ntopics:\n'
    text += '  - {name: "{app}-x-changelog", description: x, follows: nowhere.*}\n'
    path = _write(tmp_path, text)
    with pytest.raises(TopicsFileError) as caught:
        load_topics(path)
    assert str(caught.value) == (
        f"{path}:3: topic 'petition-hub-x-changelog': follows 'nowhere.*', but no topic of the "
        "file is (or matches) it"
    )


@pytest.mark.parametrize(
    "schemas", ["[cn.gov.pds.hub.Routed.v1]", "[routed]", "[a.B, a.B]"], ids=str
)
def test_schemas_name_records(tmp_path: Path, schemas: str) -> None:
    text = "defaults: {partitions: 2, replication_factor: 1, config: {cleanup.policy: delete, "
    text += 'retention.ms: "1"}}\ntopics:\n'
    text += f"  - {{name: a.b, description: x, schemas: {schemas}}}\n"
    with pytest.raises(
        TopicsFileError,
        match=r":3: topic 'a\.b': schemas: ('[^']+' is not a record name|a record is listed twice)",
    ):
        load_topics(_write(tmp_path, text))


# --------------------------------------------------------------------------------------------------
# One partitioning rule for a unit topic's two writers
# --------------------------------------------------------------------------------------------------

PIDS = [petition_id_for(Channel.HOTLINE, f"L-{i}") for i in range(300)]


def test_the_rule_is_kafkas_default_partitioner() -> None:
    rng = random.Random(5)
    for _ in range(500):
        key = rng.randbytes(rng.randint(0, 40))
        n = rng.randint(1, 50)
        assert petition_partition(key, n) == DefaultPartitioner()(key, list(range(n)), [])
    with pytest.raises(ValueError, match="0 partitions"):
        petition_partition(b"x", 0)


def test_both_writers_of_the_unit_topics_use_the_rule() -> None:
    stages = {stage.stage_name: stage for stage in _stages("petition-hub")}
    routing, lifecycle = stages["routing"], stages["lifecycle"]
    units = {
        t.name: t.partitions
        for t in load_topics(TOPICS_YAML).topics
        if t.name.startswith(("dept.", "county.")) and t.name.endswith(".petitions")
    }
    assert routing.delivery.petition_keyed == lifecycle.delivery.petition_keyed == units
    assert routing.marks is None and lifecycle.marks is not None  # one plain, one exactly once


def _writers(sources: int, n: int) -> tuple[Delivery, Delivery]:
    """Routing's delivery (the producer sends where the rule says) and the lifecycle's (exactly
    once: source partition mod n), for a unit topic of ``n`` partitions."""
    keyed = {"dept.TAX.petitions": n}
    marks = Marks("lifecycle", keyed, BROKER, {})
    return Delivery("routing", None, None, keyed), Delivery("lifecycle", marks, None, keyed)


@pytest.mark.parametrize("sources", [1, 3, 12, 24, 36])
def test_both_writers_put_a_petitions_records_in_one_partition(sources: int) -> None:
    for n in range(1, sources + 1):
        if sources % n:
            continue  # refused by topics.yaml (see below)
        routing, lifecycle = _writers(sources, n)
        assert lifecycle.marks is not None
        for pid in PIDS:
            out = Output("dept.TAX.petitions", pid.encode(), b"")
            source_partition = petition_partition(pid.encode(), sources)
            by_routing = routing.partition_of(out)
            by_lifecycle = lifecycle.marks.out_tp(out.topic, source_partition).partition
            assert by_routing == by_lifecycle == lifecycle.partition_of(out), (sources, n, pid)


@pytest.mark.parametrize(("sources", "n"), [(12, 5), (12, 8), (24, 7), (3, 2)])
def test_a_count_that_does_not_divide_is_caught_before_a_record_is_misplaced(
    tmp_path: Path, sources: int, n: int
) -> None:
    routing, lifecycle = _writers(sources, n)
    assert lifecycle.marks is not None
    split = []
    for pid in PIDS:
        out = Output("dept.TAX.petitions", pid.encode(), b"")
        source_partition = petition_partition(pid.encode(), sources)
        if routing.partition_of(out) != lifecycle.marks.out_tp(out.topic, source_partition)[1]:
            split.append((out, source_partition))
    assert split  # the two rules would differ: one petition's records in two partitions
    out, source_partition = split[0]
    with pytest.raises(PartitionRuleError, match="belongs in partition"):
        asyncio.run(lifecycle.emit(out, source_partition))
    # and topics.yaml does not let such a count through
    text = TOPICS_YAML.read_text(encoding="utf-8")
    if sources == 12:
        old = "{name: dept.TAX.petitions, partitions: 3,"
        path = _write(tmp_path, text.replace(old, f"{{name: dept.TAX.petitions, partitions: {n},"))
        with pytest.raises(TopicsFileError, match=f"{n} partitions do not divide 12"):
            load_topics(path)
