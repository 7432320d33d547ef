"""Exactly-once outputs: the marks, the suppression of outputs already on the broker, and the
reconciliation after a restore (see :mod:`petition_hub.runtime`).

Each output of source partition ``p`` goes to partition ``p mod n`` of its topic; the state of
``p`` records, with each flush, where those outputs ended (the *marks*, one state key, JSON).
Restoring ``p`` reads every output partition from its mark to its end: those records were
written after the last state flush, and an output regenerated with the same ``event_id`` is
suppressed.

The marks of a restored partition whose outputs were found stay where they were until the
partition has been replayed past what its last owner processed: until then those outputs are not
all regenerated yet, and a mark moved past them (by a flush, or by a refresh) would let a second
crash in the replay emit them again, unrecognised (seen: two kills in quick succession started
clocks twice). Replayed means: its committed source offsets reached the source ends seen at the
restore, and, for a stage with timers, a round of ticks found nothing more to do.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from petition_hub.broker.offsets import end_offsets
from petition_hub.broker.reading import event_ids_since
from petition_hub.runtime.state import PartitionState

#: State key of the output marks (exactly-once stages); processors skip keys starting with NUL.
MARKS_KEY = b"\x00stage:marks"
#: How often an exactly-once stage moves its marks to the current ends (bounds the reading on
#: restore to what others wrote since), in seconds.
MARKS_REFRESH = 30.0


def read_marks(state: PartitionState) -> dict[TopicPartition, int]:
    """The marks a partition's state holds (none before its first flush)."""
    raw = state.get(MARKS_KEY)
    if raw is None:
        return {}
    marks = json.loads(raw)
    return {TopicPartition(t, int(q)): int(o) for t, q, o in marks}


def write_marks(state: PartitionState, marks: Mapping[TopicPartition, int]) -> None:
    """Move the marks of ``state`` forward to ``marks`` (never back); unchanged, nothing is
    written."""
    old = read_marks(state)
    merged = {**old, **{tp: max(o, old.get(tp, 0)) for tp, o in marks.items()}}
    if merged != old:
        state[MARKS_KEY] = json.dumps(
            sorted([tp.topic, tp.partition, o] for tp, o in merged.items())
        ).encode()


@dataclass
class Replay:
    """What a restored partition must still redo before its marks may move."""

    #: source partitions -> the end the last owner may have reached (seen at the restore)
    ends: dict[TopicPartition, int]
    #: whether a round of the stage's timers has run dry since the restore
    ticked: bool

    def done(self) -> bool:
        return self.ticked and not self.ends


class Marks:
    """The exactly-once bookkeeping of one stage: where its outputs go, which it sent since the
    last flush, and which of them a restored partition must not emit again."""

    def __init__(
        self,
        stage_name: str,
        outputs: Mapping[str, int],
        bootstrap: str,
        options: Mapping[str, Any],
    ) -> None:
        self.stage_name = stage_name
        #: every topic the stage writes (name -> partitions)
        self.outputs = dict(outputs)
        self.bootstrap = bootstrap
        self.options = options
        self.suppress: dict[int, set[str]] = {}  # partition -> event ids already on the broker
        self.sent: dict[int, list[asyncio.Future[Any]]] = {}  # per source partition, unsettled
        #: restored partitions being replayed: their marks stay put (see the module doc)
        self.replays: dict[int, Replay] = {}
        self.at = time.monotonic()

    def out_tp(self, topic: str, source_partition: int) -> TopicPartition:
        """Where an exactly-once stage writes ``topic`` for ``source_partition``."""
        try:
            return TopicPartition(topic, source_partition % self.outputs[topic])
        except KeyError:
            raise ValueError(f"stage {self.stage_name} does not declare output {topic}") from None

    def suppressed(self, partition: int, event_id: str | None) -> bool:
        """Whether the output ``event_id`` of ``partition`` was sent before the crash it
        recovers from (then it is not sent again, and forgotten: a later one is new)."""
        if event_id is not None:
            seen = self.suppress.get(partition)
            if seen and event_id in seen:
                seen.discard(event_id)
                return True
        return False

    def track(self, partition: int, fut: asyncio.Future[Any]) -> None:
        """An output of ``partition`` was sent: its place counts for the next marks."""
        self.sent.setdefault(partition, []).append(fut)

    def forget(self, partition: int) -> None:
        """``partition`` is no longer held here."""
        self.suppress.pop(partition, None)
        self.replays.pop(partition, None)

    def hold(self, partition: int, ends: Mapping[TopicPartition, int], ticks: bool) -> None:
        """Keep the marks of restored ``partition`` until its sources are committed up to
        ``ends`` (only those not already there) and, when the stage has timers (``ticks``), a
        round of them has run dry."""
        self.replays[partition] = Replay(dict(ends), ticked=not ticks)

    def replayed(self, committed: Mapping[TopicPartition, int]) -> None:
        """The stage committed ``committed`` (source offsets, after the state that goes with
        them): partitions past their replay may move their marks again."""
        for p, replay in list(self.replays.items()):
            for tp in [tp for tp, end in replay.ends.items() if committed.get(tp, -1) >= end]:
                del replay.ends[tp]
            if replay.done():
                del self.replays[p]

    def ticked(self) -> None:
        """A round of the stage's timers found nothing more to do (and its state is flushed)."""
        for p, replay in list(self.replays.items()):
            replay.ticked = True
            if replay.done():
                del self.replays[p]

    def record(self, states: Mapping[int, PartitionState]) -> None:
        """After the outputs were acknowledged: where they ended, per source partition."""
        for p, futures in self.sent.items():
            if p not in states or p in self.replays:
                continue
            ends: dict[TopicPartition, int] = {}
            for fut in futures:
                if fut.exception() is not None:
                    continue  # refused: nothing written (its source became a dead letter)
                md = fut.result()
                tp = TopicPartition(md.topic, md.partition)
                ends[tp] = max(ends.get(tp, 0), md.offset + 1)
            write_marks(states[p], ends)
        self.sent.clear()

    def due(self) -> bool:
        """Whether the marks are to be moved to the current ends (see :data:`MARKS_REFRESH`)."""
        return time.monotonic() - self.at > MARKS_REFRESH

    async def current(self, partitions: Iterable[int]) -> dict[int, dict[TopicPartition, int]]:
        """The end offsets of every output partition of ``partitions`` now. Taken while none of
        their outputs is unflushed; plain ListOffsets, which on Tansu may say less than the true
        end: a mark may only ever be too early (more is read on restore), never too late."""
        want = {p: [self.out_tp(t, p) for t in self.outputs] for p in partitions}
        ends = await end_offsets(
            self.bootstrap,
            {tp for tps in want.values() for tp in tps},
            tansu=False,
            options=self.options,
        )
        return {p: {tp: ends[tp] for tp in tps} for p, tps in want.items()}

    async def refresh(self, states: Mapping[int, PartitionState]) -> None:
        """Move the marks of every held partition not being replayed to the current ends (bounds
        restore reads)."""
        moving = [p for p in states if p not in self.replays]
        if not moving:
            return
        current = await self.current(moving)
        for p, marks in current.items():
            write_marks(states[p], marks)
        self.at = time.monotonic()

    async def reconcile(
        self, states: Mapping[int, PartitionState], partitions: list[int]
    ) -> tuple[set[str], list[int]]:
        """After restoring ``partitions``: find the outputs written after their last state flush
        (to suppress them when regenerated). Where none were found, move the marks to the
        current ends (the stage writes them); where some were, they stay until the partition
        is replayed (:meth:`hold`). The event ids found, and the partitions never flushed."""
        starts: dict[TopicPartition, int] = {}
        fresh = []
        for p in partitions:
            marks = read_marks(states[p])
            if not marks:
                fresh.append(p)  # never flushed: nothing of it can be on the broker unrecorded
            for tp, offset in marks.items():
                starts[tp] = min(offset, starts.get(tp, offset))
        found = (
            await event_ids_since(self.bootstrap, starts, options=self.options) if starts else set()
        )
        for p in partitions:
            self.suppress[p] = found
        moving = [p for p in partitions if not found or p in fresh]
        current = await self.current(moving) if moving else {}
        for p in moving:
            write_marks(states[p], current[p])
        return found, fresh
