"""What a stage runs: its processor's work on one record, and the hooks a stage looks for."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .records import Output, SourceRecord
from .state import PartitionState

#: ``process(record, state) -> outputs``: the stage's pure(ish) work on one record.
#:
#: A processor may also have ``tick(partition, state) -> outputs``, called every
#: ``tick_interval`` seconds for each partition held (timers: due SLA steps; a tick should do a
#: bounded slice of work: while ticks return outputs they are called again at once), and
#: ``restored(partition, state)``, called after a partition's state is restored (to rebuild an
#: index, such as due times, that is derived from the state and not stored),
#: ``flushing(partition, state)`` just before the partition's state changes are written (a
#: processor that keeps decoded objects writes them then, once per batch), and
#: ``revoked(partition)`` when the partition goes to another worker.
Processor = Callable[[SourceRecord, PartitionState], Sequence[Output]]
