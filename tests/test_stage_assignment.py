"""A stage's co-partitioned sources are assigned by partition number, whatever the worker count."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from petition_hub.runtime.clients import ASSIGNORS

SOURCES = ("hub.petitions", "office.decisions", "hub.lifecycle")


@dataclass
class Cluster:
    partitions: int

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.partitions))


def _assign(assignor: type, workers: int) -> list[dict[str, set[int]]]:
    members = {
        f"worker-{i}": ConsumerProtocolMemberMetadata(0, list(SOURCES), b"") for i in range(workers)
    }
    result = assignor.assign(Cluster(12), members)
    out = []
    for assignment in result.values():
        out.append({topic: set(parts) for topic, parts in assignment.assignment})
    return out


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 5, 7, 12])
def test_every_worker_holds_the_same_partition_numbers_of_each_source(workers: int) -> None:
    (assignor,) = ASSIGNORS
    held = _assign(assignor, workers)
    for per_topic in held:
        numbers = {frozenset(per_topic.get(t, ())) for t in SOURCES}
        assert len(numbers) == 1, per_topic  # the same numbers of every source
    assert sorted(p for h in held for p in h.get(SOURCES[0], ())) == list(range(12))


def test_round_robin_would_split_them() -> None:
    """Why the stage sets the assignor: aiokafka's default breaks co-partitioning at 5 workers."""
    held = _assign(RoundRobinPartitionAssignor, 5)
    assert any(len({frozenset(h.get(t, ())) for t in SOURCES}) > 1 for h in held)
