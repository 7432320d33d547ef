"""``petition-hub privacy erase``: the operator's side of an erasure request.

Writes ``erasure_requested`` on ``hub.privacy`` (reason ``REQUEST``, built by the codec:
:func:`petition_hub.schemas.codec.privacy_event_record`) and waits for the answer: the eraser's
``erased`` record on ``hub.privacy``, or the routing stage's refusal on ``hub.rejects`` (an
unknown petition id). The worker's side (routing's order, the eraser) is
:mod:`petition_hub.service.erasure`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import TopicPartition as ConfluentTP

from petition_hub import schemas
from petition_hub.broker import tools
from petition_hub.broker.reading import is_end
from petition_hub.runtime.cloudevents import source_of, stamp
from petition_hub.runtime.records import kind_of
from petition_hub.schemas import codec
from petition_hub.service.erasure import ERASED, REQUESTED, privacy_event
from petition_hub.topics.names import PRIVACY, REJECTS


@dataclass(frozen=True, slots=True)
class ErasureOutcome:
    """What became of an erasure request: ``erased`` (with the fields that held personal data),
    ``refused`` (with the hub's reason) or ``pending`` (no answer within the wait)."""

    outcome: str
    fields: tuple[str, ...] = ()
    reason: str | None = None


def request_erasure(
    bootstrap: str,
    pid: str,
    reference: str,
    requested_by: str | None,
    *,
    wait: float = 60.0,
    options: Mapping[str, Any] | None = None,
) -> ErasureOutcome:
    """Ask the hub to erase ``pid``'s personal data now (``erasure_requested`` on hub.privacy)
    and wait up to ``wait`` seconds for the outcome: the ``erased`` record on hub.privacy, or
    the refusal on hub.rejects (an unknown petition id)."""
    answers = [PRIVACY, REJECTS]
    consumer = tools.consumer(bootstrap, options, **{"enable.partition.eof": False})
    producer = tools.SendingProducer(bootstrap, options)
    try:
        # from the end, asked before the request is sent (on Tansu a little before it: the
        # timestamp filters); an OFFSET_END resolved later could miss a quick answer
        starts = []
        for topic in answers:
            for p in tools.partitions_of(consumer, topic):
                tp = ConfluentTP(topic, p)
                _, end = consumer.get_watermark_offsets(tp, timeout=15)
                starts.append(ConfluentTP(topic, p, max(end, 0)))
        consumer.assign(starts)
        sent_ms = int(time.time() * 1000) - 1000
        request = codec.privacy_event_record(
            pid,
            REQUESTED,
            "REQUEST",
            datetime.now(UTC),
            reference=reference,
            requested_by=requested_by,
        )
        key, value, headers = privacy_event(request)
        # a request is a new event each time it is made: its id is new
        headers = stamp(
            headers,
            value,
            event_id=f"{pid}@requested:{uuid.uuid4()}",
            source=source_of("ops/privacy"),
            time=request["at"],
        )
        producer.send(PRIVACY, key=key, value=value, headers=headers)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            for message in consumer.consume(num_messages=500, timeout=0.5):
                if not is_end(message):
                    rec = tools.record_of(message)
                    if rec.key != key or rec.timestamp < sent_ms:
                        continue
                    body = schemas.decode(rec.value or b"")[1]
                    if rec.topic == PRIVACY and kind_of(rec.headers) == ERASED:
                        erased = codec.read_privacy_event(body)
                        return ErasureOutcome("erased", tuple(erased["fields"]))
                    if rec.topic == REJECTS:
                        rejected = codec.read_rejection(body)
                        if rejected["sourceTopic"] == PRIVACY:
                            return ErasureOutcome("refused", reason=str(rejected["message"]))
        return ErasureOutcome("pending")
    finally:
        producer.close()
        consumer.close()
