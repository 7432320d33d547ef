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

from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaTP

from petition_hub import schemas
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
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **(options or {})
    )
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **(options or {}))
    try:
        tps = [
            KafkaTP(topic, p)
            for topic in answers
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(tps)
        consumer.seek_to_end(*tps)  # on Tansu a little before the end: the timestamp filters
        for tp in tps:
            consumer.position(tp)
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
        producer.send(PRIVACY, key=key, value=value, headers=headers).get(timeout=30)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
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
