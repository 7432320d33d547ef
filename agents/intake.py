"""Intake: the three channel topics in, canonical petitions or dead letters out.

One batch stage (:class:`petition_hub.runtime.stage.Stage`) per channel topic
(``hotline12345.workorders``, ``miniprogram.appeals``, ``province.dispatch``), each running
:class:`IntakeProcessor` around the channel's pure connector.

- Consumes: the channel topic, raw bytes (key, value, headers as the upstream system sent them).
- Emits: ``hub.petitions`` (key: hub petition id; value: Avro ``Petition.v2``, wire format) for a
  new petition or an edit; ``hub.deadletter`` (key: the original key; value: Avro
  ``DeadLetter.v1`` with the original value and headers encrypted) for anything the connector
  cannot take in, with the reason, and for a petition whose times lie outside the hub's window
  (before 2000, received more than a day after the hub's clock: ``bad_value``). Every input
  record ends in exactly one of: a petition, a dead letter, or a recognised redelivery (counted,
  not emitted).
- Keeps: per source partition, hub petition id -> last revision emitted (changelog
  ``<app>-intake-<channel>-changelog``), so redeliveries and replays after a crash never duplicate
  a petition, and late older edits never overwrite newer ones. The petition id is a function of
  the record key, so a petition's entry always lives with its key's partition.

An exception must never skip a message: anything a connector (or encoding) raises becomes a dead
letter with reason ``internal``; only a delivery failure stops the worker (uncommitted, so the
batch is read again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import faust
import structlog

from petition_hub import schemas
from petition_hub.connectors import PETITION_DECODERS, TIME_FIELDS, DecodeError, Decoder, Reason
from petition_hub.domain.intake import Admission, admit
from petition_hub.domain.validation import TimeOutOfRange, check_petition_times
from petition_hub.runtime.deadletter import REDRIVE_HEADER, TRUNCATED_BYTES, seal, size_of
from petition_hub.runtime.processor import Processor
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec
from petition_hub.service import metrics
from petition_hub.service.app import stage_options
from petition_hub.service.clock import clock_from
from petition_hub.service.crypto import PiiCipher, cipher_for
from petition_hub.service.settings import Settings
from petition_hub.topics import names
from petition_hub.topics.spec import declared, stage_specs

log = structlog.get_logger(__name__)

PETITIONS_TOPIC = names.PETITIONS
DEADLETTER_TOPIC = names.DEADLETTER


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


class IntakeProcessor(Processor):
    """One channel's intake, record by record: decode, dedup, and say what to emit."""

    def __init__(
        self,
        channel: Channel,
        cipher: PiiCipher,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_bytes: int = 1_048_588,
    ) -> None:
        self.channel = channel
        self.cipher = cipher
        self.clock = clock
        self.max_bytes = max_bytes
        self._received = metrics.RECEIVED.labels(channel.name)
        self._admitted = {a: metrics.ACCEPTED.labels(channel.name, a.value) for a in Admission}

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        """Exactly one petition, one dead letter, or nothing for a recognised redelivery."""
        self._received.inc()
        size = size_of(src)
        if size > self.max_bytes:
            # not decoded, not kept whole: a dead letter of it must itself be writable
            return [
                self.dead_letter(
                    src,
                    Reason.TOO_LARGE.value,
                    "MessageTooLarge",
                    f"{size} bytes, over the hub's limit of {self.max_bytes} "
                    f"(HUB_MAX_MESSAGE_BYTES); the first {TRUNCATED_BYTES // 1024} KiB are kept "
                    f"here, the whole stays on {src.ref} until that topic's retention",
                    truncate=True,
                )
            ]
        try:
            petition = self.channel.decode(src.key, src.value, src.headers)
        except DecodeError as exc:
            return [self.dead_letter(src, exc.reason_code.value, type(exc).__name__, exc.message)]
        except Exception as exc:  # a connector bug: keep the message, say so
            log.exception("connector raised", source=src.ref, channel=self.channel.name)
            return [
                self.dead_letter(
                    src,
                    Reason.INTERNAL.value,
                    type(exc).__name__,
                    # never the exception's text: it may quote a field of the message
                    f"connector raised {type(exc).__name__} (a bug; see the worker's log)",
                )
            ]
        try:  # times the SLA clocks count from, against the hub's clock
            check_petition_times(petition, self.clock(), TIME_FIELDS.get(self.channel.topic))
        except TimeOutOfRange as exc:
            return [self.dead_letter(src, Reason.BAD_VALUE.value, type(exc).__name__, exc.message)]
        try:
            pid = petition.petition_id.encode()
            last = state.get(pid)
            admission = admit(petition.revision, None if last is None else int(last))
            self._admitted[admission].inc()
            if admission in (Admission.DUPLICATE, Admission.STALE):
                log.info(
                    "petition not re-emitted",
                    admission=admission.value,
                    petition_id=petition.petition_id,
                    revision=petition.revision,
                )
                return []
            value = schemas.encode(codec.PETITION, codec.petition_record(petition))
            state[pid] = str(petition.revision).encode()
            return [Output(PETITIONS_TOPIC, pid, value)]
        except Exception as exc:  # encoding bug: never skip the message
            log.exception("intake failed after decoding", source=src.ref)
            return [
                self.dead_letter(
                    src,
                    Reason.INTERNAL.value,
                    type(exc).__name__,
                    f"intake raised {type(exc).__name__} after decoding "
                    "(a bug; see the worker's log)",
                )
            ]

    def dead_letter(
        self, src: SourceRecord, reason: str, error: str, message: str, *, truncate: bool = False
    ) -> Output:
        """``src``, whole and encrypted, with the reason, for the dead-letter topic."""
        return dead_letter(
            src,
            self.channel.name,
            self.cipher,
            self.clock(),
            reason,
            error,
            message,
            truncate=truncate,
        )


def dead_letter(
    src: SourceRecord,
    connector: str,
    cipher: PiiCipher,
    at: datetime,
    reason: str,
    error: str,
    message: str,
    *,
    truncate: bool = False,
) -> Output:
    """``src``, whole and encrypted, with the reason, for the dead-letter topic (``connector``:
    which connector refused it, for ``dlq redrive --via connector``); ``truncate``: an original
    over the size limit keeps its first 64 KiB."""
    metrics.DEAD_LETTERS.labels(connector, reason).inc()
    log.warning("dead letter", source=src.ref, channel=connector, reason=reason, error=message)
    redrive_of = dict(src.headers).get(REDRIVE_HEADER)
    key, value, headers = seal(
        src,
        connector,
        reason,
        error,
        message,
        cipher,
        at,
        redrive_of=redrive_of.decode(errors="replace") if redrive_of else None,
        truncate=truncate,
    )
    return Output(DEADLETTER_TOPIC, key, value, headers)


def register(
    app: faust.App, settings: Settings, channel_list: list[Channel] | None = None
) -> list[Stage]:
    """The intake stages for ``channel_list`` (default: every channel of :func:`channels`)."""
    spec = stage_specs(
        settings.topics_file, settings.app_id, settings.topics_replication_factor_cap
    )
    cipher = cipher_for(settings)
    return [
        Stage(
            name=f"intake-{channel.name}",
            sources=(channel.topic,),
            partitions=spec[channel.topic].partitions,
            processor=IntakeProcessor(
                channel,
                cipher,
                clock=clock_from(settings.clock_file),
                max_bytes=settings.max_message_bytes,
            ),
            group=(group := names.stage_group(settings.app_id, f"intake-{channel.name}")),
            topics=declared(spec, (names.changelog_topic(group),), f"intake-{channel.name}"),
            **stage_options(app, settings),
        )
        for channel in channel_list or channels()
    ]
