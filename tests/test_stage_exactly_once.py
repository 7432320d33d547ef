"""An exactly-once stage does not emit again what reached the broker before a crash.

The crash is staged precisely: a stage processes inputs 0-4 and stops cleanly; then the broker
holds what a stage that died after its outputs were acknowledged, but before its state flush and
commit, leaves behind: the outputs of inputs 5-7 (with their event ids), inputs 5-9 uncommitted.
A new stage restores, reads back what was written after its marks, and emits only 8 and 9.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaProducer

from hubtest import read_topic
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.runtime.records import EVENT_ID_HEADER, Output, SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState

pytestmark = [pytest.mark.broker]


class Echo:
    """Emits one output per input (event id: the input's place), counts inputs in its state."""

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        state[b"count"] = str(int(state.get(b"count", b"0")) + 1).encode()
        return [Output("eo.out", src.key, src.value, event_id=src.ref)]


def _stage(broker: EmbeddedBroker) -> Stage:
    return Stage(
        name="echo",
        sources=("eo.in",),
        partitions=1,
        processor=Echo(),
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


async def test_outputs_on_the_broker_before_a_crash_are_not_emitted_again(
    fresh_broker: EmbeddedBroker,
) -> None:
    def outputs() -> list[str]:
        return [
            (r.value or b"").decode()
            for r in read_topic(fresh_broker.bootstrap, "eo.out", timeout=3)
        ]

    first = _stage(fresh_broker)
    await first.start()
    await _send(fresh_broker, "eo.in", range(5), with_ids=False)
    await _until(lambda: len(outputs()) == 5)
    await first.stop()

    # what a crash after the outputs' acknowledgement leaves: outputs 5-7, inputs uncommitted
    await _send(fresh_broker, "eo.out", range(5, 8), with_ids=True)
    await _send(fresh_broker, "eo.in", range(5, 10), with_ids=False)

    second = _stage(fresh_broker)
    await second.start()
    try:
        await _until(lambda: len(outputs()) >= 10)
        await asyncio.sleep(2)  # a repeat would show now
        got = Counter(outputs())
        assert got == Counter(str(i) for i in range(10))  # each once
        assert int(second.states[0][b"count"]) == 10  # and its state applied every input once
        ids = [
            dict(r.headers)[EVENT_ID_HEADER].decode()
            for r in read_topic(fresh_broker.bootstrap, "eo.out", timeout=3)
        ]
        assert ids == [f"eo.in:0:{i}" for i in range(10)]
    finally:
        await second.stop()
