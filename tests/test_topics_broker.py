"""``topics apply`` / ``topics diff`` against the real embedded broker (Tansu).

One broker for the module. Before anything is applied it gets ``hub.triage`` with fewer partitions
than topics.yaml says, a topic nobody declared and a faust changelog topic. The scenario (diff,
apply, apply again, diff) runs once in a fixture; the tests check its parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from hubtest import create_topics
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.service.settings import PROJECT_ROOT
from petition_hub.topics import (
    ActualTopic,
    ApplyReport,
    ChangeKind,
    Outcome,
    TopicsFile,
    apply,
    describe_broker,
    load_topics,
    run_apply,
    run_diff,
)

pytestmark = pytest.mark.broker

TOPICS_YAML = PROJECT_ROOT / "topics.yaml"
CHANGELOG = "petition-hub-petitions_by_id-changelog"


@dataclass
class Scenario:
    broker: EmbeddedBroker
    spec: TopicsFile
    diff_before: tuple[str, int]
    first: ApplyReport
    after_first: dict[str, ActualTopic]
    second: ApplyReport
    after_second: dict[str, ActualTopic]
    diff_after: tuple[str, int]


@pytest.fixture(scope="module")
def topics_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b


@pytest.fixture(scope="module")
def scenario(topics_broker: EmbeddedBroker) -> Scenario:
    broker = topics_broker
    create_topics(broker.bootstrap, {"hub.triage": 6, "legacy.orders": 3, CHANGELOG: 12})
    spec = load_topics(TOPICS_YAML)
    diff_before = run_diff(broker.bootstrap, True, TOPICS_YAML)
    first = apply(spec, broker.bootstrap, replication_factor_cap=1)
    after_first = describe_broker(broker.bootstrap)
    second = apply(spec, broker.bootstrap, replication_factor_cap=1)
    after_second = describe_broker(broker.bootstrap)
    diff_after = run_diff(broker.bootstrap, True, TOPICS_YAML)
    return Scenario(broker, spec, diff_before, first, after_first, second, after_second, diff_after)


def test_diff_before_apply_lists_what_is_missing(scenario: Scenario) -> None:
    text, code = scenario.diff_before
    assert code == 1
    creates = [line for line in text.splitlines() if line.startswith("+ would create ")]
    assert len(creates) == len(scenario.spec.topics) - 1  # all but hub.triage
    assert "+ would create hub.petitions (12 partitions, compact)" in text.splitlines()


def test_apply_creates_every_topic(scenario: Scenario) -> None:
    created = [r.change.topic for r in scenario.first.of_kind(ChangeKind.CREATE)]
    assert {r.outcome for r in scenario.first.of_kind(ChangeKind.CREATE)} == {Outcome.APPLIED}
    assert set(created) == set(scenario.spec.names()) - {"hub.triage"}
    broker = scenario.after_first
    for topic in scenario.spec.topics:
        assert topic.name in broker, topic.name
        if topic.name != "hub.triage":
            assert broker[topic.name].partitions == topic.partitions, topic.name
            assert broker[topic.name].replication_factor == 1, topic.name  # capped
    # Tansu reports the configs a topic was created with.
    assert broker["hub.petitions"].config.get("cleanup.policy") == "compact"
    assert broker["hub.deadletter"].config.get("retention.ms") == str(90 * 86_400_000)


def test_second_apply_changes_nothing(scenario: Scenario) -> None:
    second = scenario.second
    assert not second.changed
    assert second.of_kind(ChangeKind.CREATE) == []
    assert scenario.after_second == scenario.after_first
    assert len(second.up_to_date) == len(scenario.spec.topics) - 1
    assert (
        f"= {len(scenario.spec.topics) - 1} topics up to date"
        in (run_apply(scenario.broker.bootstrap, True, TOPICS_YAML, False)[0])
    )


def test_fewer_partitions_on_the_broker_is_drift(scenario: Scenario) -> None:
    # Tansu cannot add partitions: apply reports it for an operator and carries on.
    grow = scenario.first.of_kind(ChangeKind.PARTITIONS_INCREASE)
    assert [(r.change.topic, r.outcome) for r in grow] == [("hub.triage", Outcome.REPORTED)]
    assert "CreatePartitions" in grow[0].detail
    assert scenario.first.exit_code == 1
    assert scenario.after_second["hub.triage"].partitions == 6
    text, code = scenario.diff_after
    assert code == 1
    assert "! drift hub.triage: 6 partitions on broker, topics.yaml says 12" in text
    lines = [line for line in text.splitlines() if line[:1] in "+^-!x"]
    assert len(lines) == 1, text  # everything else is up to date


def test_nothing_is_deleted_without_the_flag(scenario: Scenario) -> None:
    for state in (scenario.after_first, scenario.after_second):
        assert "legacy.orders" in state and CHANGELOG in state
    unexpected = [r.change.topic for r in scenario.first.of_kind(ChangeKind.UNEXPECTED)]
    assert unexpected == ["legacy.orders"]  # the changelog is faust's, not unexpected
    assert "? unexpected legacy.orders (3 partitions)" in scenario.diff_after[0]
    assert scenario.diff_after[0].count("? unexpected") == 1


def test_delete_unexpected_deletes_only_undeclared_non_internal_topics(
    scenario: Scenario,
) -> None:
    bootstrap = scenario.broker.bootstrap
    text, _ = run_apply(bootstrap, True, TOPICS_YAML, delete_unexpected=True)
    assert "- delete legacy.orders (3 partitions): not in topics.yaml" in text
    state = describe_broker(bootstrap)
    assert "legacy.orders" not in state
    assert CHANGELOG in state
    assert set(scenario.spec.names()) <= set(state)


def test_fresh_broker_apply_then_diff_exit_0() -> None:
    with EmbeddedBroker() as fresh:
        text, code = run_apply(fresh.bootstrap, True, TOPICS_YAML, False)
        assert code == 0, text
        text, code = run_diff(fresh.bootstrap, True, TOPICS_YAML)
        assert code == 0, text
        assert text.splitlines()[1:] == [
            f"= {len(load_topics(TOPICS_YAML).topics)} topics up to date"
        ]
        # Not embedded (say a single-node Kafka): replication 3 is what topics.yaml asks for ...
        text, code = run_diff(fresh.bootstrap, False, TOPICS_YAML)
        assert code == 1
        assert "! drift hub.petitions: replication factor 1 on broker, topics.yaml says 3" in text
        # ... unless the caller caps it, as for the embedded broker.
        text, code = run_diff(fresh.bootstrap, False, TOPICS_YAML, replication_factor_cap=1)
        assert code == 0, text
