"""topics.yaml and petition_hub.topics: the file, line-numbered errors, plan(), apply/diff logic.

No broker here: apply and diff run over a fake admin (test_topics_broker.py uses the real one).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from petition_hub.data import data_path
from petition_hub.service.settings import PROJECT_ROOT
from petition_hub.topics import (
    CO_PARTITIONED_TOPICS,
    FIXED_TOPICS,
    HUB_TOPICS,
    INPUT_TOPICS,
    LATER_HUB_TOPICS,
    ActualTopic,
    ChangeKind,
    Outcome,
    TopicsFile,
    TopicsFileError,
    TopicSpec,
    apply_with,
    diff_with,
    expected_unit_topics,
    format_report,
    is_internal_topic,
    load_topics,
    plan,
    render_unit_topics,
    run_apply,
    run_diff,
)

TOPICS_YAML = PROJECT_ROOT / "topics.yaml"
DEPARTMENTS = data_path("departments.yaml")
REGIONS = data_path("regions.yaml")
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def repo_topics() -> TopicsFile:
    return load_topics(TOPICS_YAML)


# --------------------------------------------------------------------------------------------------
# The repository's topics.yaml
# --------------------------------------------------------------------------------------------------


def test_interface_md_topic_lists() -> None:
    assert len(INPUT_TOPICS) == 5 and len(HUB_TOPICS) == 11
    assert set(CO_PARTITIONED_TOPICS) <= set(HUB_TOPICS) | set(LATER_HUB_TOPICS)


def test_topics_yaml_lists_exactly_the_interface_topics(repo_topics: TopicsFile) -> None:
    units = expected_unit_topics(DEPARTMENTS, REGIONS)
    declared = repo_topics.names()
    missing = [n for n in (*FIXED_TOPICS, *units) if n not in declared]
    # the stages' internal topics are checked against the stages (tests/test_topics_internal.py)
    internal = [n for n in declared if is_internal_topic(n)]
    extra = sorted(set(declared) - set(FIXED_TOPICS) - set(units) - set(internal))
    hint = ""
    if missing:
        lines = render_unit_topics(DEPARTMENTS, REGIONS).splitlines()
        hint = "\nentries to add:\n" + "\n".join(
            line for line in lines if any(f"name: {m}," in line for m in missing)
        )
    assert not missing and not extra, f"missing {missing}, not in interface.md {extra}{hint}"
    assert len(declared) == len(FIXED_TOPICS) + len(units) + len(internal)


def test_unit_topics_follow_the_reference_data() -> None:
    units = expected_unit_topics(DEPARTMENTS, REGIONS)
    departments = yaml.safe_load(DEPARTMENTS.read_text(encoding="utf-8"))["departments"]
    counties = yaml.safe_load(REGIONS.read_text(encoding="utf-8"))["county_units"]
    real = [d["code"] for d in departments if d["kind"] != "pseudo"]
    assert "dept.COUNTY.petitions" not in units and "dept.COUNTY.status" not in units
    assert "dept.UFWD.petitions" in units and "dept.JOINT_OFFICE.status" in units
    assert "county.410402.petitions" in units and "county.410482.status" in units
    assert len(units) == 2 * (len(real) + len(counties)) == len(set(units))
    assert all(n.split(".")[1].isdigit() for n in units if n.startswith("county."))


def test_rendered_unit_entries_are_valid_topics_yaml(tmp_path: Path) -> None:
    text = "defaults: {partitions: 12, replication_factor: 3, config: {cleanup.policy: delete, "
    text += 'retention.ms: "1"}}\ntopics:\n' + render_unit_topics(DEPARTMENTS, REGIONS)
    path = tmp_path / "units.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_topics(path)
    assert loaded.names() == expected_unit_topics(DEPARTMENTS, REGIONS)
    assert {t.partitions for t in loaded.topics} == {3}


def test_co_partitioned_topics_share_one_partition_count(repo_topics: TopicsFile) -> None:
    counts = {t.name: t.partitions for t in repo_topics.topics if t.name in CO_PARTITIONED_TOPICS}
    assert set(counts) == set(CO_PARTITIONED_TOPICS)
    assert len(set(counts.values())) == 1, counts


def test_partition_counts(repo_topics: TopicsFile) -> None:
    units = set(expected_unit_topics(DEPARTMENTS, REGIONS))
    units.add("petition-hub-unit-status-changelog")  # the state of the unit topics' stage
    for topic in repo_topics.topics:
        assert topic.partitions == (3 if topic.name in units else 12), topic.name
        assert topic.replication_factor == 3, topic.name


def test_cleanup_and_retention(repo_topics: TopicsFile) -> None:
    def get(name: str) -> TopicSpec:
        spec = repo_topics.get(name)
        assert spec is not None
        return spec

    assert get("hub.petitions").cleanup_policy == "compact"
    for name in ("hub.lifecycle", "hub.sla", "office.decisions"):
        assert get(name).cleanup_policy == "delete"
        assert int(get(name).config["retention.ms"]) >= 365 * DAY_MS, name
    assert get("hub.deadletter").cleanup_policy == "delete"
    assert int(get("hub.deadletter").config["retention.ms"]) == 90 * DAY_MS
    for topic in repo_topics.topics:
        assert topic.description.strip(), topic.name
        assert topic.config["min.insync.replicas"] == "2"  # with replication 3


def test_lines_point_at_the_entries(repo_topics: TopicsFile) -> None:
    text = TOPICS_YAML.read_text(encoding="utf-8").splitlines()
    for name in ("hub.petitions", "dept.UFWD.status", "county.410472.status"):
        assert name in text[repo_topics.lines[name] - 1]


# --------------------------------------------------------------------------------------------------
# Loading: defaults, capping, line-numbered errors
# --------------------------------------------------------------------------------------------------

BASE = """\
defaults:
  partitions: 12
  replication_factor: 3
  config:
    cleanup.policy: delete
    retention.ms: "2592000000"
    min.insync.replicas: "2"
topics:
  - name: a.events
    description: first
  - name: b.state
    description: second
    partitions: 3
    config:
      cleanup.policy: compact
      retention.ms: -1
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_merged_key_by_key(tmp_path: Path) -> None:
    loaded = load_topics(_write(tmp_path, BASE))
    a, b = loaded.topics
    assert (a.partitions, a.replication_factor) == (12, 3)
    assert a.config == {
        "cleanup.policy": "delete",
        "retention.ms": "2592000000",
        "min.insync.replicas": "2",
    }
    assert (b.partitions, b.replication_factor) == (3, 3)
    assert b.config == {
        "cleanup.policy": "compact",
        "retention.ms": "-1",
        "min.insync.replicas": "2",
    }
    assert loaded.lines == {"a.events": 9, "b.state": 11}


def test_capping_the_replication_factor(tmp_path: Path) -> None:
    capped = load_topics(_write(tmp_path, BASE)).capped(1)
    assert {t.replication_factor for t in capped.topics} == {1}
    assert {t.config["min.insync.replicas"] for t in capped.topics} == {"1"}
    assert load_topics(_write(tmp_path, BASE)).capped(None).topics[0].replication_factor == 3


def _replace(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


INVALID = [
    pytest.param(BASE + "  - name: [oops\n", 18, "YAML syntax", id="yaml-syntax"),
    pytest.param(_replace("  - name: b.state", "\t- name: b.state"), 11, "YAML syntax", id="tab"),
    pytest.param(BASE + "---\ntopics: []\n", 17, "single document", id="two-documents"),
    pytest.param("", 1, "empty file", id="empty"),
    pytest.param("- a\n- b\n", 1, "expected a mapping", id="not-a-mapping"),
    pytest.param(BASE + "version: 2\n", 17, "unknown key 'version'", id="unknown-top-key"),
    pytest.param(BASE.split("topics:")[0], 1, "missing top-level `topics:`", id="no-topics"),
    pytest.param(
        BASE.split("topics:")[0] + "topics: {a: 1}\n", 8, "must be a list", id="topics-not-list"
    ),
    pytest.param(
        _replace("partitions: 3", "partitions: three"), 13, "valid integer", id="wrong-type"
    ),
    pytest.param(_replace("partitions: 3", "partitions: true"), 13, "valid integer", id="bool"),
    pytest.param(_replace("partitions: 3", "partitions: 0"), 13, "greater than or equal", id="0"),
    pytest.param(
        _replace("    partitions: 3", "    partitons: 3"), 13, "partitons: unknown key", id="typo"
    ),
    pytest.param(
        _replace("    partitions: 3", "    partitions: 3\n    partitions: 4"),
        14,
        "duplicate key 'partitions' (first on line 13)",
        id="duplicate-key",
    ),
    pytest.param(
        BASE + "  - name: a.events\n    description: again\n",
        17,
        "duplicate topic 'a.events' (first declared on line 9)",
        id="duplicate-topic",
    ),
    pytest.param(
        BASE + "  - name: a_events\n    description: clash\n",
        17,
        "collides with 'a.events'",
        id="dot-underscore-collision",
    ),
    pytest.param(
        _replace("name: b.state", "name: b state!"), 11, "not legal in Kafka", id="bad-name"
    ),
    pytest.param(
        _replace("name: b.state", "name: " + "x" * 250), 11, "not legal in Kafka", id="long-name"
    ),
    pytest.param(
        _replace("    description: second\n", ""), 11, "description: missing", id="no-description"
    ),
    pytest.param(BASE + "  - just-a-name\n", 17, "expected a mapping", id="entry-not-mapping"),
    pytest.param(
        _replace("cleanup.policy: compact", "cleanup.polcy: compact"),
        15,
        "cleanup.polcy: not a Kafka topic config",
        id="config-typo",
    ),
    pytest.param(
        _replace("cleanup.policy: compact", "cleanup.policy: keep"),
        15,
        "'keep' is not delete, compact",
        id="config-bad-policy",
    ),
    pytest.param(
        _replace("retention.ms: -1", "retention.ms: forever"),
        16,
        "'forever' is not an integer",
        id="config-bad-number",
    ),
    pytest.param(
        _replace("retention.ms: -1", "retention.ms: [1, 2]"),
        16,
        "valid string",
        id="config-list",
    ),
    pytest.param(
        _replace('    retention.ms: "2592000000"\n', ""),
        8,  # the first entry (now on line 8) gets no retention.ms
        "retention.ms: missing",
        id="required-config-missing",
    ),
    pytest.param(
        _replace("replication_factor: 3", "replication_factor: -1"),
        3,
        "defaults: replication_factor",
        id="bad-default",
    ),
    pytest.param(
        _replace("    partitions: 3\n", "    partitions: 3\n    replication_factor: 1\n"),
        11,
        "min.insync.replicas: 2 exceeds replication_factor 1",
        id="min-isr-above-replication",
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), INVALID)
def test_invalid_files_name_file_and_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(TopicsFileError) as caught:
        load_topics(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message, message
    assert caught.value.line == line


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(TopicsFileError, match=r"nope\.yaml: cannot read"):
        load_topics(missing)


def test_yaml_anchors_and_numbers_are_fine(tmp_path: Path) -> None:
    text = BASE + (
        "  - &unit {name: c.one, description: one, partitions: 3, config: {retention.ms: 5}}\n"
        "  - {<<: *unit, name: c.two}\n"
    )
    loaded = load_topics(_write(tmp_path, text))
    assert loaded.names()[-2:] == ["c.one", "c.two"]
    assert loaded.topics[-1].config["retention.ms"] == "5"
    assert loaded.topics[-1].partitions == 3


# The partitioning the hub depends on: one count for the co-partitioned topics, unit topics' counts
# dividing it.

JOINED = """\
defaults:
  partitions: 12
  replication_factor: 1
  config: {cleanup.policy: delete, retention.ms: "1000"}
topics:
  - {name: hub.petitions, description: petitions}
  - {name: hub.lifecycle, description: lifecycle}
  - {name: dept.TAX.petitions, description: to the unit, partitions: 3}
  - {name: county.410402.status, description: from the unit, partitions: 3}
  - {name: a.events, description: not joined, partitions: 5}
"""


def _joined(old: str, new: str) -> str:
    assert old in JOINED
    return JOINED.replace(old, new, 1)


def test_partitioning_as_the_hub_needs_it_loads(tmp_path: Path) -> None:
    loaded = load_topics(_write(tmp_path, JOINED))
    assert [t.partitions for t in loaded.topics] == [12, 12, 3, 3, 5]
    for count in ("1", "2", "4", "6", "12"):  # every divisor of 12 will do
        text = _joined("to the unit, partitions: 3", f"to the unit, partitions: {count}")
        assert load_topics(_write(tmp_path, text)).topics[2].partitions == int(count)


def test_co_partitioned_topics_with_another_count_are_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, _joined("description: lifecycle}", "description: x, partitions: 6}"))
    with pytest.raises(TopicsFileError) as caught:
        load_topics(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:7: topic 'hub.lifecycle': 6 partitions, "), message
    assert "but 'hub.petitions' (line 6) has 12" in message, message
    assert "co-partitioned" in message and "one partition count" in message, message
    assert caught.value.line == 7


@pytest.mark.parametrize(
    ("old", "new", "line", "name", "count"),
    [
        ("to the unit, partitions: 3", "to the unit, partitions: 5", 8, "dept.TAX.petitions", 5),
        (
            "from the unit, partitions: 3",
            "from the unit, partitions: 24",
            9,
            "county.410402.status",
            24,
        ),
    ],
    ids=["dept-petitions", "county-status"],
)
def test_unit_topic_count_that_does_not_divide_is_an_error(
    tmp_path: Path, old: str, new: str, line: int, name: str, count: int
) -> None:
    path = _write(tmp_path, _joined(old, new))
    with pytest.raises(TopicsFileError) as caught:
        load_topics(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: topic {name!r}: {count} partitions do not "), message
    assert "divide 12, the partition count of the co-partitioned topics" in message, message
    assert "'hub.petitions' (line 6)" in message, message


def test_unit_topics_without_co_partitioned_topics_are_not_related(tmp_path: Path) -> None:
    text = "\n".join(line for line in JOINED.splitlines() if "hub." not in line) + "\n"
    text = text.replace("partitions: 3", "partitions: 5")
    assert [t.partitions for t in load_topics(_write(tmp_path, text)).topics] == [5, 5, 5]


def test_the_repository_file_with_one_co_partitioned_topic_changed_is_refused(
    tmp_path: Path,
) -> None:
    text = TOPICS_YAML.read_text(encoding="utf-8")
    old = "  - name: hub.sla\n"
    assert text.count(old) == 1
    path = _write(tmp_path, text.replace(old, old + "    partitions: 24\n"))
    with pytest.raises(TopicsFileError, match=r"topic 'hub\.sla': 24 partitions, but 'hub\.pet"):
        load_topics(path)


# --------------------------------------------------------------------------------------------------
# plan()
# --------------------------------------------------------------------------------------------------


def spec(
    name: str, partitions: int = 12, rf: int = 1, policy: str = "delete", retention: str = "1000"
) -> TopicSpec:
    return TopicSpec(
        name=name,
        partitions=partitions,
        replication_factor=rf,
        config={"cleanup.policy": policy, "retention.ms": retention},
        description=name,
    )


def actual(name: str, partitions: int = 12, rf: int | None = 1, **config: str) -> ActualTopic:
    return ActualTopic(name, partitions, rf, {k.replace("_", "."): v for k, v in config.items()})


def test_plan_up_to_date_means_no_change() -> None:
    want = [spec("a"), spec("b", 3, policy="compact")]
    have = {
        "a": actual("a", cleanup_policy="delete", retention_ms="1000"),
        "b": actual("b", 3, cleanup_policy="compact", retention_ms="01000"),
    }
    assert plan(want, have) == []


def test_plan_kinds() -> None:
    want = [spec("new"), spec("grow", 12), spec("shrink", 3), spec("rf", rf=3), spec("cfg")]
    have = {
        "grow": actual("grow", 6),
        "shrink": actual("shrink", 12),
        "rf": actual("rf", rf=1),
        "cfg": actual("cfg", cleanup_policy="compact", retention_ms="1000"),
        "legacy.orders": actual("legacy.orders", 3),
    }
    changes = plan(want, have)
    assert [(c.kind, c.topic) for c in changes] == [
        (ChangeKind.CREATE, "new"),
        (ChangeKind.PARTITIONS_INCREASE, "grow"),
        (ChangeKind.PARTITIONS_DECREASE_DRIFT, "shrink"),
        (ChangeKind.REPLICATION_DRIFT, "rf"),
        (ChangeKind.CONFIG_DRIFT, "cfg"),
        (ChangeKind.UNEXPECTED, "legacy.orders"),
    ]
    cfg = changes[4]
    assert [(d.key, d.desired, d.actual) for d in cfg.config] == [
        ("cleanup.policy", "delete", "compact")
    ]
    assert [c.applicable for c in changes] == [True, True, False, False, False, False]


def test_plan_treats_unreported_configs_and_replication_as_unknown() -> None:
    assert plan([spec("a", rf=3)], {"a": actual("a", rf=None)}) == []


def test_plan_normalises_cleanup_policy_lists() -> None:
    want = [spec("a", policy="compact,delete")]
    assert plan(want, {"a": actual("a", cleanup_policy="delete, compact")}) == []


@pytest.mark.parametrize(
    "name",
    [
        "__consumer_offsets",
        "__transaction_state",
        "_schemas",
        "petition-hub-petitions_by_id-changelog",
        "petition-hub-__assignor-__leader",
        "hub-test-1234abcd-sla_timers-changelog",
        "hub-test-1234abcd-__assignor-__leader",
        "hub-test-1234abcd-hub.status-petition_id-repartition",
    ],
)
def test_internal_topics_are_not_unexpected(name: str) -> None:
    assert is_internal_topic(name)
    assert plan([], {name: actual(name)}) == []


def test_other_app_id_prefix() -> None:
    assert not is_internal_topic("hub-test-1-events")
    assert is_internal_topic("hub-test-1-events", app_id="hub-test-1")
    assert plan([], {"legacy": actual("legacy")}, app_id="hub-test-1")[0].topic == "legacy"


# --------------------------------------------------------------------------------------------------
# apply / diff over a fake broker
# --------------------------------------------------------------------------------------------------


class FakeAdmin:
    """An in-memory broker. ``growable=False`` behaves like Tansu (no CreatePartitions)."""

    def __init__(self, topics: dict[str, ActualTopic] | None = None, growable: bool = True):
        self.topics = dict(topics or {})
        self.growable = growable
        self.calls: list[str] = []
        self.fail_create: set[str] = set()

    def describe(self) -> dict[str, ActualTopic]:
        return dict(self.topics)

    def create(self, topics: Sequence[TopicSpec]) -> dict[str, str | None]:
        self.calls += [f"create {t.name}" for t in topics]
        out: dict[str, str | None] = {}
        for t in topics:
            if t.name in self.fail_create:
                out[t.name] = "INVALID_REPLICATION_FACTOR"
                continue
            self.topics[t.name] = ActualTopic(t.name, t.partitions, t.replication_factor, t.config)
            out[t.name] = None
        return out

    def can_add_partitions(self) -> bool | None:
        return self.growable

    def add_partitions(self, topic: str, total: int) -> str | None:
        self.calls.append(f"grow {topic} {total}")
        if not self.growable:
            return "unsupported"
        old = self.topics[topic]
        self.topics[topic] = ActualTopic(topic, total, old.replication_factor, old.config)
        return None

    def delete(self, topics: Sequence[str]) -> dict[str, str | None]:
        self.calls += [f"delete {t}" for t in topics]
        for t in topics:
            del self.topics[t]
        return dict.fromkeys(topics)


def small_file(*topics: TopicSpec) -> TopicsFile:
    from petition_hub.topics import TopicDefaults

    return TopicsFile(
        defaults=TopicDefaults(partitions=12, replication_factor=3), topics=tuple(topics)
    )


def test_apply_creates_then_changes_nothing() -> None:
    file = small_file(spec("a", rf=3), spec("b", 3, rf=3))
    admin = FakeAdmin({"__consumer_offsets": actual("__consumer_offsets", 50)})
    first = apply_with(file, admin, replication_factor_cap=1)
    assert [r.outcome for r in first.results] == [Outcome.APPLIED, Outcome.APPLIED]
    assert first.changed and first.exit_code == 0
    assert admin.topics["a"].replication_factor == 1  # capped
    calls = list(admin.calls)
    second = apply_with(file, admin, replication_factor_cap=1)
    assert second.results == () and not second.changed and second.exit_code == 0
    assert second.up_to_date == ("a", "b")
    assert admin.calls == calls
    assert format_report(second).splitlines()[-1] == "= 2 topics up to date"


def test_apply_grows_partitions_where_the_broker_can() -> None:
    admin = FakeAdmin({"a": actual("a", 6)})
    report = apply_with(small_file(spec("a", 12)), admin)
    assert admin.topics["a"].partitions == 12
    assert report.results[0].outcome is Outcome.APPLIED and report.exit_code == 0
    assert "^ partitions a: 6 -> 12" in format_report(report)


def test_partition_increase_on_a_broker_that_cannot_is_drift_not_a_crash() -> None:
    admin = FakeAdmin({"a": actual("a", 6)}, growable=False)
    report = apply_with(small_file(spec("a", 12)), admin)
    assert admin.calls == []  # not even tried
    assert report.results[0].outcome is Outcome.REPORTED and report.exit_code == 1
    text = format_report(report)
    assert "! drift a: 6 partitions on broker, topics.yaml says 12" in text
    assert "CreatePartitions" in text and "operator" in text


def test_failed_create_is_reported() -> None:
    admin = FakeAdmin()
    admin.fail_create = {"b"}
    report = apply_with(small_file(spec("a"), spec("b")), admin)
    assert [r.outcome for r in report.results] == [Outcome.APPLIED, Outcome.FAILED]
    assert report.exit_code == 1
    assert "x failed to create b (12 partitions, delete, " in format_report(report)


def test_nothing_is_deleted_without_the_flag() -> None:
    admin = FakeAdmin(
        {
            "a": actual("a"),
            "legacy.orders": actual("legacy.orders", 3),
            "petition-hub-x-changelog": actual("petition-hub-x-changelog"),
        }
    )
    report = apply_with(small_file(spec("a")), admin)
    assert set(admin.topics) == {"a", "legacy.orders", "petition-hub-x-changelog"}
    assert report.exit_code == 0  # unexpected topics are informational
    assert "? unexpected legacy.orders (3 partitions): not in topics.yaml, kept" in (
        format_report(report)
    )
    report = apply_with(small_file(spec("a")), admin, delete_unexpected=True)
    assert set(admin.topics) == {"a", "petition-hub-x-changelog"}
    assert admin.calls == ["delete legacy.orders"]
    assert "- delete legacy.orders (3 partitions): not in topics.yaml" in format_report(report)


def test_diff_changes_nothing_and_reports() -> None:
    admin = FakeAdmin(
        {
            "grow": actual("grow", 6),
            "shrink": actual("shrink", 24),
            "cfg": actual("cfg", retention_ms="5"),
        }
    )
    file = small_file(spec("new"), spec("grow"), spec("shrink"), spec("cfg"), spec("ok", 3))
    admin.topics["ok"] = actual("ok", 3)
    report = diff_with(file, admin, bootstrap="127.0.0.1:9092", replication_factor_cap=1)
    assert admin.calls == [] and report.exit_code == 1 and report.dry_run
    assert [r.outcome for r in report.results] == [
        Outcome.PENDING,
        Outcome.PENDING,
        Outcome.REPORTED,
        Outcome.REPORTED,
    ]
    assert report.configs_unknown == {
        "grow": ("cleanup.policy", "retention.ms"),
        "shrink": ("cleanup.policy", "retention.ms"),
        "cfg": ("cleanup.policy",),
        "ok": ("cleanup.policy", "retention.ms"),
    }
    assert format_report(report).splitlines() == [
        "topics diff against 127.0.0.1:9092 (replication factor capped at 1)",
        "+ would create new (12 partitions, delete, retention 1000 ms)",
        "! drift grow: 6 partitions on broker, topics.yaml says 12 (apply adds 6)",
        "! drift shrink: 24 partitions on broker, topics.yaml says 12 (cannot shrink)",
        "! drift cfg: retention.ms is 5 on broker, topics.yaml says 1000 "
        "(alter with kafka-configs)",
        "= 1 topic up to date",
        "  (the broker reported no cleanup.policy, retention.ms for cfg, grow, ok, shrink: "
        "not compared)",
        "2 change(s) pending: run `petition-hub topics apply`",
        "2 difference(s) need an operator",
    ]


def test_diff_without_drift_exits_0() -> None:
    admin = FakeAdmin({"a": actual("a", cleanup_policy="delete", retention_ms="1000")})
    admin.topics["legacy"] = actual("legacy")
    report = diff_with(small_file(spec("a")), admin)
    assert report.exit_code == 0
    assert [r.change.kind for r in report.results] == [ChangeKind.UNEXPECTED]


def test_create_line_format() -> None:
    admin = FakeAdmin()
    file = small_file(spec("hub.petitions", policy="compact", retention="-1"), spec("x", rf=3))
    text = format_report(apply_with(file, admin))
    assert "+ create hub.petitions (12 partitions, compact)" in text.splitlines()
    assert "+ create x (12 partitions, delete, retention 1000 ms, replication 3)" in text


def test_run_functions_report_an_invalid_file_with_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, _replace("partitions: 3", "partitions: 0"))
    for text, code in (
        run_diff("127.0.0.1:1", True, path),
        run_apply("127.0.0.1:1", True, path, False),
    ):
        assert code == 2
        assert text.startswith(f"error: {path}:13: "), text


def test_run_diff_reports_an_unreachable_broker_with_exit_2() -> None:
    from petition_hub.broker.embedded import free_port

    text, code = run_diff(f"127.0.0.1:{free_port()}", True, TOPICS_YAML, timeout_s=1.0)
    assert code == 2 and "unreachable" in text
