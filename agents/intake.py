"""Intake: the three channel topics in, canonical petitions or dead letters out.

One agent per channel topic (``hotline12345.workorders``, ``miniprogram.appeals``,
``province.dispatch``), each a thin shell around the channel's pure connector.

- Consumes: the channel topic, raw bytes (key, value, headers as the upstream system sent them).
- Emits: ``hub.petitions`` (key: hub petition id; value: Avro ``Petition.v1``, wire format) for a
  new petition or an edit; ``hub.deadletter`` (key: the original key; value: Avro
  ``DeadLetter.v1`` with the original value and headers encrypted) for anything the connector
  cannot take in, with the reason. Every input record ends in exactly one of: a petition, a dead
  letter, or a recognised redelivery (counted, not emitted).
- Keeps: table ``intake-<channel>-revisions``: hub petition id -> last revision emitted, so
  redeliveries and replays after a crash never duplicate a petition, and late older edits never
  overwrite newer ones. The table is co-partitioned with its channel topic: the petition id is a
  function of the record key, so a petition's entry always lives in its key's partition.

An exception in an agent must never skip a message (faust acks a message whose agent raised):
the per-record guard turns anything unexpected into a dead letter with reason ``internal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
import structlog

from petition_hub import metrics, schemas
from petition_hub.connectors import PETITION_DECODERS, DecodeError, Decoder, Reason
from petition_hub.crypto import PiiCipher, cipher_for
from petition_hub.deadletter import SourceRecord, seal
from petition_hub.domain.intake import Admission, admit
from petition_hub.domain.petition import Petition, petition_to_avro
from petition_hub.settings import Settings
from petition_hub.topics import load_topics

from .outbox import Outbox

log = structlog.get_logger(__name__)

PETITIONS_TOPIC = "hub.petitions"
DEADLETTER_TOPIC = "hub.deadletter"
#: Header a redriven record carries: the id of the dead letter it was redriven from.
REDRIVE_HEADER = "hub-redrive-of"


@dataclass(frozen=True)
class Channel:
    """What intake needs to know about one channel topic."""

    name: str
    topic: str
    decode: Decoder


def channels() -> list[Channel]:
    """The channel topics intake reads, with their connectors."""
    return [
        Channel(name=decode.__module__.rsplit(".", 1)[-1], topic=topic, decode=decode)
        for topic, decode in PETITION_DECODERS.items()
    ]


def source_record(message: Any) -> SourceRecord:
    """A faust message as a plain :class:`SourceRecord`."""
    headers = message.headers or ()
    if isinstance(headers, Mapping):
        headers = headers.items()
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=tuple((str(k), v) for k, v in headers),
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )


class Intake:
    """The I/O shell of one channel: decode, dedup, emit."""

    def __init__(self, channel: Channel, revisions: Any, outbox: Outbox, cipher: PiiCipher) -> None:
        self.channel = channel
        self.revisions = revisions
        self.outbox = outbox
        self.cipher = cipher
        self._received = metrics.RECEIVED.labels(channel.name)
        self._accepted = {a: metrics.ACCEPTED.labels(channel.name, a.value) for a in Admission}

    async def handle(self, src: SourceRecord) -> None:
        """Take one record in: exactly one petition, dead letter or recognised redelivery."""
        self._received.inc()
        try:
            petition = self.channel.decode(src.key, src.value, src.headers)
        except DecodeError as exc:
            await self.dead_letter(src, exc.reason_code.value, type(exc).__name__, exc.message)
            return
        except Exception as exc:  # a connector bug: keep the message, say so
            log.exception("connector raised", source=src.ref, channel=self.channel.name)
            await self.dead_letter(
                src, Reason.INTERNAL.value, type(exc).__name__, f"connector raised {exc!r}"[:500]
            )
            return
        try:
            await self.emit(petition)
        except Exception as exc:  # encoding or table bug: never skip the message
            log.exception("intake failed after decoding", source=src.ref)
            await self.dead_letter(
                src, Reason.INTERNAL.value, type(exc).__name__, f"intake raised {exc!r}"[:500]
            )

    async def emit(self, petition: Petition) -> None:
        """Emit ``petition`` unless the hub already emitted this revision (or a later one)."""
        pid = petition.petition_id
        admission = admit(petition.revision, self.revisions.get(pid))
        self._accepted[admission].inc()
        if admission in (Admission.DUPLICATE, Admission.STALE):
            log.info(
                "petition not re-emitted",
                admission=admission.value,
                petition_id=pid,
                revision=petition.revision,
            )
            return
        value = schemas.encode(schemas.PETITION_V1, petition_to_avro(petition))
        await self.outbox.send(PETITIONS_TOPIC, pid.encode(), value)
        self.revisions[pid] = petition.revision

    async def dead_letter(self, src: SourceRecord, reason: str, error: str, message: str) -> None:
        """Send ``src`` to the dead-letter topic, whole and encrypted, with the reason."""
        metrics.DEAD_LETTERS.labels(self.channel.name, reason).inc()
        log.warning(
            "dead letter", source=src.ref, channel=self.channel.name, reason=reason, error=message
        )
        redrive_of = dict(src.headers).get(REDRIVE_HEADER)
        key, value, headers = seal(
            src,
            self.channel.name,
            reason,
            error,
            message,
            self.cipher,
            datetime.now(UTC),
            redrive_of=redrive_of.decode(errors="replace") if redrive_of else None,
        )
        await self.outbox.send(DEADLETTER_TOPIC, key, value, headers)


def register(app: faust.App, settings: Settings, channel_list: list[Channel] | None = None) -> None:
    """Declare the intake agents and their dedup tables on ``app`` (for ``channel_list``, by
    default every channel of :func:`channels`)."""
    spec = {t.name: t for t in load_topics(settings.topics_file).topics}
    cipher = cipher_for(settings)
    outbox = Outbox(app)
    for channel in channel_list or channels():
        source = app.topic(
            channel.topic,
            key_serializer="raw",
            value_serializer="raw",
            partitions=spec[channel.topic].partitions,
        )
        revisions = app.Table(
            f"intake-{channel.name}-revisions",
            partitions=spec[channel.topic].partitions,
            key_type=str,
            value_type=int,
        )
        intake = Intake(channel, revisions, outbox, cipher)

        async def agent(stream: faust.StreamT[bytes], intake: Intake = intake) -> None:
            # one event at a time: faust's table writes go to the current event's partition
            async for event in stream.events():
                await intake.handle(source_record(event.message))

        agent.__name__ = agent.__qualname__ = f"intake_{channel.name}"
        app.agent(source, name=f"intake-{channel.name}", concurrency=1)(agent)
