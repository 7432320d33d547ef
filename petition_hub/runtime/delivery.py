"""Delivery of a stage's outputs: sending them, waiting for their acknowledgement, and dead
letters for records whose own outputs cannot be written (or that the processor cannot handle).

A delivery that fails for any other reason stops the worker before anything more is committed
(crash-only): the batch is read again by whoever owns its partitions next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from petition_hub.runtime.cloudevents import frame_output
from petition_hub.runtime.lease import LeaseLost
from petition_hub.runtime.marks import Marks
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.topics.partitioning import petition_partition

# the stage's logger, under its name from before the move into petition_hub.runtime
log = structlog.get_logger("petition_hub.stage")

#: Exit status of a worker that stopped because an output could not be delivered (EX_IOERR).
EXIT_DELIVERY_FAILED = 74

#: Errors about one record, not about the broker: the record that caused them becomes a dead
#: letter (``Stage(dead_letter=…)``) and the stage goes on; any other delivery error stops the
#: worker (crash-only).
RECORD_ERRORS: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    CorruptRecordException,
)

#: ``dead_letter(record, reason, message) -> Output``: a source record whose own output could not
#: be written, as a dead letter (the stage's owner seals it with the PII key).
DeadLetterer = Callable[[SourceRecord, str, str], Output]


class PartitionRuleError(RuntimeError):
    """An exactly-once output would land elsewhere than the hub's partitioning rule puts it: the
    topic's partition count does not divide the sources' (topics.yaml refuses that), or a source
    was not written with Kafka's default partitioner."""


def _die(reason: str, **fields: Any) -> None:
    log.critical(reason, **fields)
    logging.shutdown()
    os._exit(EXIT_DELIVERY_FAILED)


class Delivery:
    """The outputs of one stage, through its producer (set when the stage starts)."""

    def __init__(
        self,
        stage_name: str,
        marks: Marks | None,
        dead_letter: DeadLetterer | None,
        petition_keyed: Mapping[str, int] | None = None,
    ) -> None:
        self.stage_name = stage_name
        self.marks = marks
        self.dead_letter = dead_letter
        #: topics partitioned by the hub's rule for petition keys (name -> partitions)
        self.petition_keyed: dict[str, int] = dict(petition_keyed or {})
        self.producer: AIOKafkaProducer | None = None

    def partition_of(self, out: Output) -> int | None:
        """The partition the hub's rule chooses for ``out`` (None: the producer's choice)."""
        partitions = self.petition_keyed.get(out.topic)
        if partitions is None or out.key is None:
            return None
        return petition_partition(out.key, partitions)

    async def send(
        self, out: Output, src: SourceRecord | None = None, index: int | str = 0
    ) -> asyncio.Future[Any]:
        """Send ``out``, the ``index``-th output of ``src`` (None: of a timer), with its
        CloudEvents headers (:func:`.cloudevents.frame_output`)."""
        assert self.producer is not None
        value, headers = frame_output(out, self.stage_name, src, index)
        fut: asyncio.Future[Any] = await self.producer.send(
            out.topic, value, key=out.key, headers=headers, partition=self.partition_of(out)
        )
        return fut

    async def emit(
        self, out: Output, partition: int, src: SourceRecord | None = None, index: int = 0
    ) -> asyncio.Future[Any] | None:
        """Send ``out`` (the ``index``-th output of ``src``; None: of a timer) for source
        ``partition``; None when an exactly-once stage finds it was sent before the crash it
        recovers from."""
        if self.marks is None:
            return await self.send(out, src, index)
        if self.marks.suppressed(partition, out.event_id):
            return None
        tp = self.marks.out_tp(out.topic, partition)
        chosen = self.partition_of(out)
        if chosen is not None and chosen != tp.partition:
            raise PartitionRuleError(
                f"stage {self.stage_name}: an output of source partition {partition} to "
                f"{out.topic} belongs in partition {chosen} by the hub's rule, but exactly once "
                f"writes partition {tp.partition} (does its count divide the sources'?)"
            )
        value, headers = frame_output(out, self.stage_name, src, index)
        assert self.producer is not None
        fut: asyncio.Future[Any] = await self.producer.send(
            out.topic, value, key=out.key, headers=headers, partition=tp.partition
        )
        self.marks.track(partition, fut)
        return fut

    async def emit_for(
        self,
        out: Output,
        src: SourceRecord,
        futures: list[asyncio.Future[Any]],
        origin: dict[int, SourceRecord],
        index: int = 0,
    ) -> None:
        """Emit ``out``, the ``index``-th output of ``src``, remembering where it came from; a
        record the producer refuses before sending (too large) makes ``src`` a dead letter at
        once."""
        try:
            fut = await self.emit(out, src.partition, src, index)
        except RECORD_ERRORS as exc:
            if self.dead_letter is None:
                raise
            futures.append(await self.poison(src, exc))
            return
        if fut is not None:
            futures.append(fut)
            origin[id(fut)] = src

    async def settle(
        self,
        futures: list[asyncio.Future[Any]],
        origin: Mapping[int, SourceRecord] | None = None,
    ) -> None:
        """Wait until every future is acknowledged. A failure caused by the record itself (too
        large, refused as corrupt) makes its source record (``origin``: id of the future -> the
        record) a dead letter; any other failure stops the worker (crash-only)."""
        if not futures:
            return
        done, _ = await asyncio.wait(futures)
        poisoned: dict[str, tuple[SourceRecord, BaseException]] = {}
        for f in done:
            exc = f.exception()
            if exc is None:
                continue
            src = (origin or {}).get(id(f))
            if src is None or not isinstance(exc, RECORD_ERRORS) or self.dead_letter is None:
                _die(
                    "output not delivered; stopping before the batch is committed",
                    stage=self.stage_name,
                    error=repr(exc),
                )
            assert src is not None
            poisoned.setdefault(src.ref, (src, exc))
        if poisoned:
            await self.settle([await self.poison(src, exc) for src, exc in poisoned.values()])

    async def poison(
        self, src: SourceRecord, exc: BaseException, reason: str = "unwritable_output"
    ) -> asyncio.Future[Any]:
        """``src`` cannot be processed (``internal``) or its own output cannot be written
        (``unwritable_output``): ``src`` becomes a dead letter instead, and the stage goes on."""
        assert self.dead_letter is not None
        log.warning(
            "record made a dead letter", stage=self.stage_name, source=src.ref, reason=reason
        )
        what = "process" if reason == "internal" else "write an output of"
        message = f"the {self.stage_name} stage could not {what} this record: {type(exc).__name__}"
        # its id is the source's place and "dead": the same however often it is refused
        return await self.send(self.dead_letter(src, reason, message), src, "dead")

    def drop_queued(self, why: str) -> int:
        """Drop the outputs still waiting in the producer (not yet sent to the broker): they must
        not land after the lease ran out. Those already in flight cannot be called back; the
        lease's margin (half the session timeout) is what covers them. Uses aiokafka's message
        accumulator: it has no public way to discard queued records."""
        assert self.producer is not None
        acc = self.producer._message_accumulator
        dropped = 0
        lost = LeaseLost(why)
        for batches in acc._batches.values():
            for batch in batches:
                dropped += batch.record_count
                batch.failure(lost)
                with contextlib.suppress(BaseException):
                    batch.future.exception()  # retrieved: not an "unhandled" error
        acc._batches.clear()
        return dropped
