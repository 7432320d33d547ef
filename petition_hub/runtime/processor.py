"""What a stage runs: a processor, its work on one record, and the hooks the stage calls."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.state import PartitionState

#: ``process(record, state) -> outputs``: a processor without hooks, as a plain callable.
ProcessFn = Callable[[SourceRecord, PartitionState], Sequence[Output]]

#: The hooks a stage calls besides ``__call__`` (a callable that has any of them must subclass
#: :class:`Processor`, or the stage would never call them).
HOOKS = ("tick", "restored", "flushing", "revoked")


class Processor(ABC):
    """``process(record, state) -> outputs``: the stage's pure(ish) work on one record.

    The hooks are no-ops here; a processor overrides those it needs. ``tick(partition, state) ->
    outputs`` is called every ``tick_interval`` seconds for each partition held (timers: due SLA
    steps; a tick should do a bounded slice of work: while ticks return outputs they are called
    again at once); only a processor that overrides it gets a ticker (:attr:`ticks`).
    ``restored(partition, state)`` is called after a partition's state is restored (to rebuild an
    index, such as due times, that is derived from the state and not stored),
    ``flushing(partition, state)`` just before the partition's state changes are written (a
    processor that keeps decoded objects writes them then, once per batch), and
    ``revoked(partition)`` when the partition goes to another worker.
    """

    @abstractmethod
    def __call__(self, src: SourceRecord, state: PartitionState, /) -> Sequence[Output]:
        """The outputs of ``src``; changes to the partition's ``state`` are written after them."""

    def tick(self, partition: int, state: PartitionState, /) -> Sequence[Output]:
        """Timers due in ``partition``: their outputs (none: the ticker waits a full interval)."""
        return ()

    def restored(self, partition: int, state: PartitionState, /) -> None:  # noqa: B027 (a no-op hook)
        """``partition``'s state was restored from the changelog."""

    def flushing(self, partition: int, state: PartitionState, /) -> None:  # noqa: B027 (a no-op hook)
        """``partition``'s state changes are about to be written."""

    def revoked(self, partition: int, /) -> None:  # noqa: B027 (a no-op hook)
        """``partition`` went to another worker (its state is dropped)."""

    def outputs_found(self, partition: int, event_ids: frozenset[str], /) -> None:  # noqa: B027
        """Exactly-once stages, after restoring ``partition``: the ids of the outputs on the
        broker written after its last state flush (regenerated, they are not sent again; a
        processor whose decision may differ on a replay can stand by what was sent)."""

    @property
    def ticks(self) -> bool:
        """Whether this processor has timers (overrides :meth:`tick`): the stage runs a ticker
        only for those, so no idle ticker takes the lock every interval for the others."""
        return type(self).tick is not Processor.tick


class _Plain(Processor):
    """A plain ``process`` callable as a processor without hooks."""

    def __init__(self, process: ProcessFn) -> None:
        self.process = process

    def __call__(self, src: SourceRecord, state: PartitionState, /) -> Sequence[Output]:
        return self.process(src, state)

    def __repr__(self) -> str:
        return f"Processor({self.process!r})"


def as_processor(processor: Processor | ProcessFn) -> Processor:
    """``processor`` itself, or a plain callable wrapped as a processor without hooks. A callable
    that has hooks but is no :class:`Processor` is refused (its hooks would be ignored)."""
    if isinstance(processor, Processor):
        return processor
    hooks = [name for name in HOOKS if hasattr(processor, name)]
    if hooks:
        raise TypeError(
            f"{processor!r} has {', '.join(hooks)} but is no Processor: subclass "
            "petition_hub.runtime.processor.Processor so that the stage calls them"
        )
    return _Plain(processor)
