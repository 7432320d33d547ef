"""The partitioning the hub's exactly-once outputs and joins depend on: the one rule that puts a
petition's records in a partition, and the check that ``topics.yaml`` lets it hold.

Every topic keyed by petition id is written with Kafka's default partitioner
(:func:`petition_partition`: ``murmur2(key) mod n``), so a petition's records are in one partition
of each topic, in order. Two stages write the unit topics: routing (``UnitPetition``, no exactly
once) and the lifecycle (``UnitNotice``, exactly once). Both choose the partition with
:func:`petition_partition`. The lifecycle's exactly-once bookkeeping
(:mod:`petition_hub.runtime.marks`) also needs all outputs of its source partition ``p`` in one
partition of each topic, ``p mod n``; the two agree, ``murmur2(key) mod N mod n = murmur2(key) mod
n``, exactly when ``n`` divides the source count ``N``: :func:`check_partitioning` refuses a file
where it does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from aiokafka.partitioner import murmur2

from petition_hub.topics.names import CO_PARTITIONED_TOPICS, is_unit_topic

if TYPE_CHECKING:  # spec imports this module; the models are only annotations here
    from petition_hub.topics.spec import TopicSpec

__all__ = ["check_partitioning", "petition_partition"]

#: Makes the error to raise: (file, line, what is wrong) -> the exception.
Raiser = Callable[[Path, int | None, str], Exception]


def petition_partition(key: bytes, partitions: int) -> int:
    """The partition of a topic of ``partitions`` partitions for a record keyed ``key`` (a
    petition id): Kafka's default partitioner (murmur2, as the Java client and aiokafka)."""
    if partitions < 1:
        raise ValueError(f"{partitions} partitions: a topic has at least one")
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


def check_partitioning(
    specs: Sequence[TopicSpec],
    lines: Mapping[str, int],
    path: Path,
    error: Raiser,
) -> None:
    """Refuse partition counts the hub's agents cannot work with (``error(path, line, what)``).

    - The co-partitioned topics (:data:`.names.CO_PARTITIONED_TOPICS`) are joined by petition id
      with each other and with the stages' state: partition ``p`` of each holds the same
      petitions, so they need one partition count ``N``.
    - A unit topic's count ``n`` must divide ``N``: the lifecycle writes partition ``p mod n`` of a
      unit's topic for co-partitioned partition ``p``, routing writes
      :func:`petition_partition`; they agree only when ``n`` divides ``N``. The rule is applied to
      every unit topic (``dept.*``, ``county.*``), its ``.status`` topic too, so that a unit's two
      topics are sized by one rule.
    - An internal topic that ``follows`` others (a stage's changelog follows its sources, a
      repartition topic the topics it is joined with) has their partition count: the state of
      source partition ``p`` is written to partition ``p`` of the changelog, and a re-keyed record
      must land in the partition its join partners are in.
    """
    _check_co_partitioned(specs, lines, path, error)
    _check_follows(specs, lines, path, error)


def _check_co_partitioned(
    specs: Sequence[TopicSpec], lines: Mapping[str, int], path: Path, error: Raiser
) -> None:
    joined = [spec for spec in specs if spec.name in CO_PARTITIONED_TOPICS]
    if not joined:
        return  # a file of other topics (tests, a unit's excerpt): nothing to relate
    first = joined[0]
    where = f"{first.name!r} (line {lines[first.name]})"
    for spec in joined[1:]:
        if spec.partitions != first.partitions:
            raise error(
                path,
                lines[spec.name],
                f"topic {spec.name!r}: {spec.partitions} partitions, but {where} has "
                f"{first.partitions}: the co-partitioned topics "
                f"({', '.join(CO_PARTITIONED_TOPICS)}) are joined by petition id and must have "
                "one partition count",
            )
    for spec in specs:
        if is_unit_topic(spec.name) and first.partitions % spec.partitions != 0:
            raise error(
                path,
                lines[spec.name],
                f"topic {spec.name!r}: {spec.partitions} partitions do not divide "
                f"{first.partitions}, the partition count of the co-partitioned topics ({where}): "
                "the lifecycle stage writes a unit's topics from co-partitioned partitions, "
                "so a unit topic's count must divide theirs",
            )


def _check_follows(
    specs: Sequence[TopicSpec], lines: Mapping[str, int], path: Path, error: Raiser
) -> None:
    for spec in specs:
        if spec.follows is None:
            continue
        followed = [
            other
            for other in specs
            if other.name != spec.name and fnmatchcase(other.name, spec.follows)
        ]
        if not followed:
            raise error(
                path,
                lines[spec.name],
                f"topic {spec.name!r}: follows {spec.follows!r}, but no topic of the file is "
                "(or matches) it",
            )
        for other in followed:
            if other.partitions != spec.partitions:
                raise error(
                    path,
                    lines[spec.name],
                    f"topic {spec.name!r}: {spec.partitions} partitions, but it follows "
                    f"{other.name!r} (line {lines[other.name]}), which has {other.partitions}: "
                    "a stage's changelog has its sources' partition count, and a re-keyed topic "
                    "the count of the topics it is joined with",
                )
