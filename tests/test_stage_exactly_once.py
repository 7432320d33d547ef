"""An exactly-once stage does not emit again what reached the broker before a crash.

The crash is staged precisely: a stage processes inputs 0-4 and stops cleanly; then the broker
holds what a stage that died after its outputs were acknowledged, but before its state flush and
commit, leaves behind: the outputs of inputs 5-7 (with their event ids), inputs 5-9 uncommitted.
A new stage restores, reads back what was written after its marks, and emits only 8 and 9.

The second test crashes twice: the stage that restores dies before it commits anything, and the
one after it must still recognise outputs 5-7 (the restore must not move the marks past them).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from hubtest import read_topic
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.runtime.marks import read_marks
from petition_hub.runtime.records import EVENT_ID_HEADER, Output, SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState

pytestmark = [pytest.mark.broker]


class Echo:
    """Emits one output per input (event id: the input's place), counts inputs in its state."""

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        state[b"count"] = str(int(state.get(b"count", b"0")) + 1).encode()
        return [Output("eo.out", src.key, src.value, event_id=src.ref)]


class Crash:
    """Dies on the first input, before anything of its batch is written or committed."""

    def __init__(self) -> None:
        self.called = False

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        self.called = True
        raise RuntimeError("killed mid-replay")


def _stage(broker: EmbeddedBroker, processor: Echo | Crash | None = None) -> Stage:
    return Stage(
        name="echo",
        sources=("eo.in",),
        partitions=1,
        processor=processor or Echo(),
        bootstrap=broker.bootstrap,
        group="eo-echo",
        tansu=True,
        session_timeout=2.0,
        heartbeat_interval=0.4,
        creates={"eo.in": 1, "eo.out": 1},
        outputs={"eo.out": 1},
    )


async def _send(broker: EmbeddedBroker, topic: str, values: range, with_ids: bool) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for i in values:
            headers = [(EVENT_ID_HEADER, f"eo.in:0:{i}".encode())] if with_ids else []
            await producer.send_and_wait(
                topic, str(i).encode(), key=b"k", partition=0, headers=headers
            )
    finally:
        await producer.stop()


async def _until(predicate: object, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.2)


def _outputs(broker: EmbeddedBroker) -> list[str]:
    return [(r.value or b"").decode() for r in read_topic(broker.bootstrap, "eo.out", timeout=3)]


async def _crash_after_outputs(broker: EmbeddedBroker) -> None:
    """Inputs 0-4 done cleanly; then what a crash after the outputs' acknowledgement leaves:
    outputs 5-7 on the broker, inputs 5-9 uncommitted."""
    first = _stage(broker)
    await first.start()
    await _send(broker, "eo.in", range(5), with_ids=False)
    await _until(lambda: len(_outputs(broker)) == 5)
    await first.stop()
    await _send(broker, "eo.out", range(5, 8), with_ids=True)
    await _send(broker, "eo.in", range(5, 10), with_ids=False)


async def _each_once(broker: EmbeddedBroker, last: Stage) -> None:
    await _until(lambda: len(_outputs(broker)) >= 10)
    await asyncio.sleep(2)  # a repeat would show now
    got = Counter(_outputs(broker))
    assert got == Counter(str(i) for i in range(10)), f"each output once expected, found {got}"
    assert int(last.states[0][b"count"]) == 10  # and its state applied every input once
    ids = [
        dict(r.headers)[EVENT_ID_HEADER].decode()
        for r in read_topic(broker.bootstrap, "eo.out", timeout=3)
    ]
    assert ids == [f"eo.in:0:{i}" for i in range(10)]


async def test_outputs_on_the_broker_before_a_crash_are_not_emitted_again(
    fresh_broker: EmbeddedBroker,
) -> None:
    await _crash_after_outputs(fresh_broker)
    second = _stage(fresh_broker)
    await second.start()
    try:
        await _each_once(fresh_broker, second)
    finally:
        await second.stop()


async def test_a_second_crash_during_the_replay_repeats_nothing(
    fresh_broker: EmbeddedBroker,
) -> None:
    await _crash_after_outputs(fresh_broker)
    crash = Crash()
    second = _stage(fresh_broker, crash)
    await second.start()  # restores (finds outputs 5-7), then dies on input 5
    try:
        await _until(lambda: crash.called)
    finally:
        await second.stop()
    third = _stage(fresh_broker)
    await third.start()
    try:
        await _each_once(fresh_broker, third)
        # replayed: the marks move on again with the next outputs (a restore reads little)
        await _send(fresh_broker, "eo.in", range(10, 11), with_ids=False)
        await _until(lambda: len(_outputs(fresh_broker)) == 11)
        out = TopicPartition("eo.out", 0)
        await _until(lambda: read_marks(third.states[0]).get(out) == 11)
    finally:
        await third.stop()
