"""Personal data has an end: erasure after retention, or at a petitioner's request.

``hub.petitions`` is compacted: the latest record of a petition id is what stays. Erasing a
petition's personal data is writing a redacted revision (:func:`petition_hub.domain.privacy.redact`)
under the same key; once compaction has run (``min.compaction.lag.ms``: a day), the earlier
revisions with the data are gone from the broker. The routing stage's changelog, the other
compacted topic holding a petition, drops the petition at closure and holds the redacted copy
after an erasure request. The topics with a time retention (unit topics, dead letters, rejects,
evaluation requests) expire with it.

Three kinds of record on ``hub.privacy`` (key: petition id, Avro ``PrivacyEvent.v1``, header
``hub-kind``), none of them with a value of the data:

- ``erasure_requested``: an operator's ``petition-hub privacy erase PETITION_ID`` (reason
  ``REQUEST``, with the request's reference; :mod:`petition_hub.ops.privacy` writes it);
- ``erasure_due``: the routing stage's order, at a request or when a closed petition's retention
  (``HUB_RETENTION_AFTER_CLOSURE_DAYS``) has run out, with where the latest revision of the
  petition is on ``hub.petitions`` (routing knows it: it read it);
- ``erased``: the :class:`Eraser`'s record that the redacted revision is written, with the names
  of the fields that held personal data.

The eraser is at least once, which is exactly enough here: erasing twice writes the same redacted
revision again (compaction keeps one) and the same ``erased`` record, with the same event id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from mode import Service

from petition_hub import schemas
from petition_hub.broker.offsets import end_offsets
from petition_hub.domain.privacy import redact
from petition_hub.runtime import clients
from petition_hub.runtime.cloudevents import source_of, stamp
from petition_hub.runtime.records import KIND_HEADER, kind_of
from petition_hub.schemas import codec
from petition_hub.schemas import records as wire
from petition_hub.service import metrics
from petition_hub.topics.names import PETITIONS, PRIVACY

log = structlog.get_logger(__name__)

REQUESTED: Final = "erasure_requested"
DUE: Final = "erasure_due"
ERASED: Final = "erased"
#: Header of a redacted revision on hub.petitions.
REDACTED_HEADER: Final = (KIND_HEADER, b"redacted")
#: ``ce_source`` of what the eraser writes.
SOURCE: Final = source_of("eraser")


def privacy_event(record: wire.PrivacyEvent) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of a hub.privacy record
    (:func:`petition_hub.schemas.codec.privacy_event_record`; the header says its kind:
    :data:`REQUESTED`, :data:`DUE` or :data:`ERASED`)."""
    value = schemas.encode(codec.PRIVACY_EVENT_V1, record)
    kind = record["kind"].lower()
    return record["petitionId"].encode(), value, [(KIND_HEADER, kind.encode())]


class Eraser(Service):
    """Writes the redacted revisions the routing stage orders.

    - Consumes: ``hub.privacy`` (consumer group ``<app>-eraser``), the ``erasure_due`` records
      (the others are skipped by their header).
    - Reads: ``hub.petitions`` at the ordered partition and offset (the latest revision of the
      petition as routing last read it; when compaction has removed it since, the newest record
      of the petition after it).
    - Emits: the redacted revision to ``hub.petitions`` (same key and revision, flag
      ``personal_data_erased``, header ``hub-kind: redacted``: routing does not route it again)
      and ``erased`` to ``hub.privacy``; both with the CloudEvents headers (``ce_id``
      ``<pid>@erased:<reason>:<offset>``, ``ce_source`` ``/petition-hub/eraser``).
    - Keeps: nothing but its committed offsets. At least once: an order read again after a crash
      is carried out again, with the same outputs.

    Its clients live as long as it does: the group consumer of ``hub.privacy``, the producer, and
    one reader of ``hub.petitions`` (no group), which also asks for the partition's end offset
    (on Tansu a short-lived probe corrects it, :mod:`petition_hub.broker.offsets`); each order
    assigns the reader to the partition it names, and leaves it without one afterwards.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        group: str,
        tansu: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        session: tuple[float, float] = (10.0, 1.0),
        client_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.session = session  # (session timeout, heartbeat interval), as the stages
        self.bootstrap = bootstrap
        self.group = group
        self.tansu = tansu
        self.clock = clock
        self.client_options = dict(client_options or {})
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.reader: AIOKafkaConsumer | None = None

    async def on_start(self) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            client_id=f"{self.group}-producer",
            **self.client_options,
        )
        await self.producer.start()
        self.reader = clients.reader(self.bootstrap, self.client_options)
        await self.reader.start()
        self.consumer = AIOKafkaConsumer(
            PRIVACY,
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            client_id=f"{self.group}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(self.session[0] * 1000),
            heartbeat_interval_ms=int(self.session[1] * 1000),
            **self.client_options,
        )
        await self.consumer.start()
        self.add_future(self._run())

    async def on_stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.reader is not None:
            await self.reader.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def _run(self) -> None:
        assert self.consumer is not None and self.producer is not None
        while not self.should_stop:
            batch = await self.consumer.getmany(timeout_ms=1000, max_records=100)
            if not batch:
                continue
            for records in batch.values():
                for rec in records:
                    if kind_of(rec.headers) == DUE:
                        await self.carry_out(rec.value or b"")
            await self.producer.flush()
            await self.consumer.commit()

    async def carry_out(self, value: bytes) -> None:
        """Carry out one ``erasure_due`` order (its Avro value)."""
        assert self.producer is not None
        order = codec.read_privacy_event(schemas.decode(value)[1])
        pid = str(order["petitionId"])
        reason = str(order["reason"])
        found = await self._latest(pid, order["petitionPartition"], order["petitionOffset"])
        if found is None:
            # nothing of it at or after the coordinates: retention or a topic reset removed it
            metrics.ERASURES.labels(reason.lower(), "not_found").inc()
            log.warning("nothing to erase", petition_id=pid, reason=reason)
            return
        offset, avro = found
        petition = codec.petition_of(schemas.decode(avro)[1])
        done = redact(petition)
        event_id = f"{pid}@erased:{reason}:{offset}"
        at = self.clock()
        redacted = schemas.encode(codec.PETITION, codec.petition_record(done.petition))
        await self.producer.send(
            PETITIONS,
            key=pid.encode(),
            value=redacted,
            headers=stamp([REDACTED_HEADER], redacted, event_id=event_id, source=SOURCE, time=at),
        )
        erased = codec.privacy_event_record(
            pid,
            ERASED,
            reason,
            at,
            reference=order["reference"],
            requested_by=order["requestedBy"],
            closed_at=order["closedAt"],
            revision=petition.revision,
            fields=done.fields,
        )
        key, record, kind = privacy_event(erased)
        headers = stamp(kind, record, event_id=event_id, source=SOURCE, time=at)
        await self.producer.send(PRIVACY, key=key, value=record, headers=headers)
        metrics.ERASURES.labels(reason.lower(), "erased").inc()
        log.info("personal data erased", petition_id=pid, reason=reason, fields=len(done.fields))

    async def _latest(
        self, pid: str, partition: int | None, offset: int | None
    ) -> tuple[int, bytes] | None:
        """The offset and value of the petition's record at ``offset``, or of its newest record
        after it (None when there is none), read with the eraser's reader up to the partition's
        end as it is when the order is carried out."""
        if partition is None or offset is None:
            return None
        assert self.reader is not None
        reader = self.reader
        tp = TopicPartition(PETITIONS, partition)
        ends = await end_offsets(
            self.bootstrap, [tp], self.tansu, self.client_options, consumer=reader
        )
        end = ends[tp]
        key = pid.encode()
        newest: tuple[int, bytes] | None = None
        try:
            reader.assign([tp])
            reader.seek(tp, offset)
            deadline = time.monotonic() + 60.0
            while await reader.position(tp) < end:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {tp.topic}:{partition} to {end}")
                batch = await reader.getmany(tp, timeout_ms=1000, max_records=1000)
                for rec in batch.get(tp, ()):
                    if rec.key != key or rec.value is None:
                        continue
                    newest = (rec.offset, rec.value)
                    if rec.offset == offset:
                        return newest  # the one routing read: nothing newer was routed
        finally:
            # no partition between orders: the reader fetches nothing while the eraser waits
            reader.unsubscribe()
        return newest
