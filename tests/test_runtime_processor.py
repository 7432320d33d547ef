"""The processor base class without a broker: its hooks are no-ops, only a processor with timers
ticks, and a stage calls the hooks of its processor directly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from petition_hub.runtime.processor import Processor, as_processor
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState


class Plain(Processor):
    def __call__(self, src: SourceRecord, state: PartitionState, /) -> Sequence[Output]:
        return [Output("out", src.key, src.value)]


class Timed(Plain):
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def tick(self, partition: int, state: PartitionState, /) -> Sequence[Output]:
        self.calls.append(("tick", partition))
        return ()

    def revoked(self, partition: int, /) -> None:
        self.calls.append(("revoked", partition))


class SubTimed(Timed):
    pass


def test_only_a_processor_with_timers_ticks() -> None:
    assert not Plain().ticks
    assert Timed().ticks and SubTimed().ticks
    plain = Plain()  # the hooks it does not override are no-ops
    state = PartitionState()
    assert plain.tick(0, state) == ()
    plain.restored(0, state)
    plain.flushing(0, state)
    plain.revoked(0)
    assert not state.dirty


def test_processors_of_the_hub_subclass_processor() -> None:
    from petition_hub.agents.intake import IntakeProcessor
    from petition_hub.agents.lifecycle import LifecycleProcessor
    from petition_hub.agents.rekeyers import EvaluationRekeyer, StatusRekeyer
    from petition_hub.agents.routing import RoutingProcessor

    for cls in (IntakeProcessor, StatusRekeyer, EvaluationRekeyer):
        assert issubclass(cls, Processor) and cls.tick is Processor.tick
    for cls in (RoutingProcessor, LifecycleProcessor):  # their timers: SLA steps, erasure orders
        assert issubclass(cls, Processor) and cls.tick is not Processor.tick


def test_a_plain_callable_is_a_processor_without_hooks() -> None:
    def echo(src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        return [Output("out", src.key, src.value)]

    processor = as_processor(echo)
    assert not processor.ticks
    src = SourceRecord("in", 0, 1, b"k", b"v")
    assert processor(src, PartitionState()) == [Output("out", b"k", b"v")]
    timed = Timed()
    assert as_processor(timed) is timed


def test_a_callable_with_hooks_must_subclass_processor() -> None:
    """Its hooks would be ignored: the stage calls hooks of processors only."""

    class Duck:
        def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
            return ()

        def tick(self, partition: int, state: PartitionState) -> Sequence[Output]:
            return ()

    with pytest.raises(TypeError, match="tick"):
        as_processor(Duck())


def _stage(processor: Any) -> Stage:
    return Stage(
        name="t",
        sources=["t.in"],
        partitions=2,
        processor=processor,
        bootstrap="127.0.0.1:9",
        group="g",
        tansu=True,
    )


def test_a_stage_calls_the_hooks_of_its_processor() -> None:
    timed = Timed()
    stage = _stage(timed)
    assert stage.processor is timed
    stage.states[1] = PartitionState()
    stage._drop(1)
    assert timed.calls == [("revoked", 1)] and not stage.states


def test_a_stage_takes_a_plain_callable() -> None:
    stage = _stage(lambda src, state: [])
    assert not stage.processor.ticks
    stage.states[0] = PartitionState()
    stage._drop(0)  # no hooks: nothing else happens
    assert not stage.states
