"""Operating on dead letters: list, show (personal data masked), redrive.

A redrive sends the original record again, byte for byte, either to its source topic (the worker
takes it in with the connector it runs now) or through the current connector straight to
``hub.petitions``, for when the hub may not write to the upstream topic. Every redrive is
recorded on ``hub.deadletter`` itself (a ``DeadLetterRedrive`` record), so ``dlq list`` shows
what was redriven, when and where.

A record that cannot be opened (sealed under a key ``HUB_PII_KEY`` no longer holds, or not a dead
letter at all) is listed with what is wrong, never fatal: the others are listed, shown and
redriven as usual. A dead letter of an original over the size limit keeps only its first 64 KiB
(``truncated``): its redrive reads the whole original from its source topic, while that topic's
retention keeps it, and sends it only when its SHA-256 is the one the letter recorded.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from confluent_kafka import KafkaException
from confluent_kafka import TopicPartition as ConfluentTP

from petition_hub import schemas
from petition_hub.broker import tools
from petition_hub.broker.reading import is_end, read_all
from petition_hub.broker.tools import Record
from petition_hub.connectors import PETITION_DECODERS, TIME_FIELDS, DecodeError
from petition_hub.domain.validation import TimeOutOfRange, check_petition_times
from petition_hub.ops.masking import mask_free_text, mask_record
from petition_hub.runtime.cloudevents import source_of, stamp
from petition_hub.runtime.deadletter import REDRIVE_HEADER, DeadLetter, unseal
from petition_hub.runtime.records import SourceRecord
from petition_hub.schemas import codec
from petition_hub.schemas import records as wire
from petition_hub.schemas.codec import REDRIVE_V1
from petition_hub.service.crypto import InvalidToken, PiiCipher
from petition_hub.service.logs import scrub_text
from petition_hub.topics.names import DEADLETTER as DEADLETTER_TOPIC
from petition_hub.topics.names import PETITIONS as PETITIONS_TOPIC

#: What ``dlq`` says of a dead letter sealed under a key ``HUB_PII_KEY`` does not hold.
UNDECRYPTABLE: Final = "cannot be decrypted with HUB_PII_KEY (wrong or rotated-out key)"
#: The largest record a redrive reads back from a source topic (its whole original).
_FETCH_BYTES: Final = 64 * 1024 * 1024
#: ``ce_source`` of what a redrive writes to the hub's topics.
REDRIVE_SOURCE: Final = source_of("ops/dlq")


@dataclass
class Entry:
    """A record of ``hub.deadletter`` as listed: the dead letter (``None`` when it cannot be
    opened, and then ``problem`` says why), where it lies, and its redrives so far.

    ``id`` is the dead letter's id (its source record), or, for a record that is not a dead
    letter at all, its own position (``hub.deadletter:partition:offset``).
    """

    id: str
    partition: int
    offset: int
    letter: DeadLetter | None = None
    problem: str | None = None
    envelope: Mapping[str, Any] = field(default_factory=dict)
    """What the record says in the clear (all but the sealed original); empty for bad bytes."""
    redrives: list[dict[str, Any]] = field(default_factory=list)

    @property
    def position(self) -> str:
        """Where the record lies: ``hub.deadletter:partition:offset``."""
        return f"{DEADLETTER_TOPIC}:{self.partition}:{self.offset}"

    @property
    def reason(self) -> str | None:
        return self.letter.reason if self.letter else self.envelope.get("reason")

    @property
    def connector(self) -> str | None:
        return self.letter.connector if self.letter else self.envelope.get("connector")

    @property
    def dead_lettered_at(self) -> datetime | None:
        return self.letter.dead_lettered_at if self.letter else self.envelope.get("deadLetteredAt")


def _open(key: bytes | None, value: bytes | None, cipher: PiiCipher) -> Entry | dict[str, Any]:
    """One record of ``hub.deadletter``: a redrive marker (its record), or an :class:`Entry`
    (with ``id``, ``partition`` and ``offset`` still to fill in), readable or not."""
    try:
        sid, record = schemas.decode(value or b"")
    except schemas.WireFormatError as exc:
        problem = f"not a dead letter ({exc.reason}: {scrub_text(exc.message)[:100]})"
        return Entry("", -1, -1, problem=problem)
    if sid == schemas.schema_id(REDRIVE_V1):
        return record
    if schemas.record_name(sid) != codec.DEADLETTER_RECORD:
        return Entry("", -1, -1, problem=f"not a dead letter (a {schemas.schema_name(sid)})")
    envelope = {k: v for k, v in record.items() if k != "sealed"}
    try:
        letter = unseal(key, value or b"", cipher)
    except InvalidToken:
        return Entry(record["id"], -1, -1, problem=UNDECRYPTABLE, envelope=envelope)
    except Exception as exc:  # decrypted (so not forged) but damaged: anything may be raised
        problem = f"not a dead letter (its sealed original does not open: {type(exc).__name__})"
        return Entry(record["id"], -1, -1, problem=problem, envelope=envelope)
    return Entry(letter.id, -1, -1, letter=letter, envelope=envelope)


def entries(
    bootstrap: str, cipher: PiiCipher, options: Mapping[str, Any] | None = None
) -> list[Entry]:
    """Every dead letter on the topic, oldest first, with its redrives; records that cannot be
    opened among them (``letter`` None, ``problem`` why), after them those with no time."""
    found: dict[str, Entry] = {}
    redrives: list[dict[str, Any]] = []
    for rec in read_all(bootstrap, DEADLETTER_TOPIC, options=options):  # options: SASL, TLS
        opened = _open(rec.key, rec.value, cipher)
        if isinstance(opened, dict):
            redrives.append(opened)
            continue
        opened.partition, opened.offset = rec.partition, rec.offset
        opened.id = opened.id or opened.position
        before = found.get(opened.id)
        # a letter written twice (a worker repeating a batch after a crash) is listed once; one
        # that opens wins over a copy that does not
        if before is None or opened.letter is not None or before.letter is None:
            found[opened.id] = opened
    for redrive in redrives:
        if redrive["deadLetterId"] in found:
            found[redrive["deadLetterId"]].redrives.append(redrive)
    never = datetime.max.replace(tzinfo=UTC)
    return sorted(
        found.values(), key=lambda e: (e.dead_lettered_at or never, e.partition, e.offset)
    )


def find(items: Iterable[Entry], wanted: str) -> Entry | None:
    """The entry with id (or position) ``wanted``, if any."""
    return next((e for e in items if wanted in (e.id, e.position)), None)


def format_list(items: Sequence[Entry]) -> str:
    """One line per dead letter; no personal data (reasons never repeat field values). A record
    that cannot be opened gets a line saying why, with what its envelope says in the clear."""
    if not items:
        return "no dead letters"
    lines = []
    for e in items:
        at = e.dead_lettered_at
        when = f"{at:%Y-%m-%d %H:%M:%S}Z" if at else "-"
        done = f"  [redriven {len(e.redrives)}x]" if e.redrives else ""
        d = e.letter
        if d is None:
            size = e.envelope.get("valueSize")
            lines.append(
                f"{e.id}  {when:<20}  {e.connector or '-':<11} {e.reason or '-':<17} "
                f"{'?' if size is None else 'null' if size < 0 else f'{size}B':>9}  "
                f"{e.problem}{done}"
            )
            continue
        if d.source.value is None:
            size = "null"
        else:
            size = f"{d.value_size if d.truncated else len(d.source.value)}B"
        cut = "  [truncated]" if d.truncated else ""
        lines.append(
            f"{d.id}  {when}  {d.connector:<11} {d.reason:<17} "
            f"{size:>9}  {scrub_text(d.message)[:120]}{cut}{done}"
        )
    return "\n".join(lines)


def masked_original(letter: DeadLetter, limit: int = 2000) -> str:
    """The original value, readable and with personal data masked, cut to ``limit`` characters.

    JSON and wire-format Avro are parsed and their personal fields masked, and only those
    (:func:`petition_hub.ops.masking.mask_record`); anything else (which is why it is a dead
    letter) is shown as text with the personal values it spells out and every phone, ID number
    or openid masked (:func:`petition_hub.ops.masking.mask_free_text`), or as the length and
    first bytes in hex when it is not text.
    """
    value = letter.source.value
    if value is None:
        return "(null value)"
    charset = dict(letter.source.headers).get("charset")
    said = charset.decode(errors="replace").lower() if charset else ""
    # a hotline message in GB18030 without its charset header must not show as hex: hex is
    # the name still, for anyone who decodes it
    encodings = ("gb18030",) if said == "gb18030" else ("utf-8", "gb18030")
    text = None
    for encoding in encodings:
        try:
            text = value.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is not None:
        try:
            shown = json.dumps(mask_record(json.loads(text)), ensure_ascii=False, indent=2)
            return shown[:limit]
        except (ValueError, RecursionError):
            pass
    try:
        sid, record = schemas.decode(value)
        return (
            f"(Avro, schema id {sid})\n"
            + json.dumps(mask_record(record), ensure_ascii=False, indent=2)[:limit]
        )
    except (ValueError, KeyError):
        pass
    if text is None:
        return f"({len(value)} bytes, not text) {value[:48].hex(' ')}…"
    # masked whole, then cut: a value spelled out after the cut may recur before it
    shown = mask_free_text(text)[:limit]
    return shown + (f"… ({len(text) - limit} more characters)" if len(text) > limit else "")


def format_show(entry: Entry) -> str:
    """A dead letter for an operator: metadata, redrives, and the masked original; for a record
    that cannot be opened, one line saying why."""
    d = entry.letter
    if d is None:
        return f"{entry.id}: {entry.problem}"
    lines = [
        f"id            {d.id}",
        f"dead-lettered {d.dead_lettered_at.isoformat()}",
        f"connector     {d.connector}",
        f"reason        {d.reason} ({d.error_class})",
        f"message       {scrub_text(d.message)}",
        f"key           {scrub_text((d.source.key or b'').decode(errors='replace')) or '(none)'}",
        f"headers       {', '.join(k for k, _ in d.source.headers) or '(none)'}",
        f"size          {'null' if d.source.value is None else len(d.source.value)} bytes",
    ]
    if d.truncated:
        lines[-1] = f"size          {d.value_size} bytes, of which the letter keeps the first "
        lines[-1] += f"{len(d.source.value or b'')}"
        lines += [
            f"truncated     yes: the whole original (SHA-256 {d.original_sha256}) is record "
            f"{d.source.offset} of {d.source.topic} partition {d.source.partition}, while that "
            "topic's retention keeps it; `dlq redrive` reads and verifies it",
        ]
    if d.redrive_of:
        lines.append(f"redrive of    {d.redrive_of}")
    for r in entry.redrives:
        lines.append(f"redriven      {r['redrivenAt'].isoformat()} via {r['via']}: {r['outcome']}")
    kept = f", its first {len(d.source.value or b'')} bytes only," if d.truncated else ""
    lines += [f"original{kept} (personal data masked):", masked_original(d)]
    return "\n".join(lines)


@dataclass(frozen=True)
class RedriveResult:
    """What a redrive did with one dead letter (``redriven`` False: nothing was sent)."""

    id: str
    via: str
    outcome: str
    redriven: bool = True


def fetch_record(
    bootstrap: str,
    topic: str,
    partition: int,
    offset: int,
    timeout: float = 30.0,
    options: Mapping[str, Any] | None = None,
) -> Record | None:
    """The record at ``offset`` of ``topic``/``partition``, or None when it is not there (any
    more: retention deleted it, compaction removed it, or the topic is not the one it was)."""
    consumer = tools.consumer(
        bootstrap,
        options,
        # an offset before the log start: read from there, and see
        **{
            "auto.offset.reset": "earliest",
            "max.partition.fetch.bytes": _FETCH_BYTES,
            "fetch.max.bytes": _FETCH_BYTES,
        },
    )
    try:
        if partition not in tools.partitions_of(consumer, topic):
            return None
        tp = ConfluentTP(topic, partition, offset)
        consumer.assign([tp])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = consumer.consume(num_messages=500, timeout=0.3)
            # past the end: the high watermark of the fetch responses (right on Tansu too)
            _, high = consumer.get_watermark_offsets(tp, cached=True)
            if not batch and 0 <= high <= offset:
                return None
            for message in batch:
                # the end of the partition (the fetch high watermark: right on Tansu too)
                if is_end(message):
                    return None
                rec = tools.record_of(message)
                if rec.offset == offset:
                    return rec
                if rec.offset > offset:
                    return None  # deleted or compacted away
        raise TimeoutError(f"could not read {topic}:{partition} at {offset} in {timeout:g}s")
    finally:
        consumer.close()


def whole_original(
    bootstrap: str, letter: DeadLetter, options: Mapping[str, Any] | None = None
) -> tuple[SourceRecord | None, str]:
    """The whole original of a ``truncated`` letter, read from its source coordinates and checked
    against the size and SHA-256 the letter recorded; or None and why not."""
    src = letter.source
    where = f"{src.topic} partition {src.partition} offset {src.offset}"
    try:
        rec = fetch_record(bootstrap, src.topic, src.partition, src.offset, options=options)
    except (KafkaException, TimeoutError) as exc:
        return None, f"truncated, and its whole original at {where} could not be read ({exc})"
    if rec is None:
        return None, (
            f"truncated, and its whole original ({letter.value_size} bytes) is no longer on "
            f"{where} (past the topic's retention?); the letter keeps only its first "
            f"{len(src.value or b'')} bytes"
        )
    value: bytes | None = rec.value
    digest = hashlib.sha256(value).hexdigest() if value is not None else None
    same = (
        value is not None
        and len(value) == letter.value_size
        and value.startswith(src.value or b"")
        and (letter.original_sha256 is None or digest == letter.original_sha256)
    )
    if not same:
        return None, (
            f"truncated, and the record at {where} is not its original "
            f"({'null' if value is None else len(value)} bytes, SHA-256 {digest}; the letter "
            f"recorded {letter.value_size} bytes, SHA-256 {letter.original_sha256})"
        )
    whole = SourceRecord(
        src.topic,
        src.partition,
        src.offset,
        rec.key,
        value,
        tuple((k, v) for k, v in rec.headers or ()),
        rec.timestamp,
    )
    return whole, f"{len(value or b'')} bytes read from {where}, SHA-256 verified"


def redrive(
    bootstrap: str,
    selected: Iterable[Entry],
    via: str,
    dry_run: bool = False,
    options: Mapping[str, Any] | None = None,
) -> list[RedriveResult]:
    """Send the selected dead letters again, ``via`` ``source`` or ``connector``; record each.

    One that cannot be opened is reported and left. A ``truncated`` one is sent whole, as read
    back from its source topic (see :func:`whole_original`), or reported and left when it is not
    there any more or is not the original.
    """
    if via not in ("source", "connector"):
        raise ValueError("via must be 'source' or 'connector'")
    results: list[RedriveResult] = []
    producer = (
        None
        if dry_run
        else tools.SendingProducer(bootstrap, options, **{"message.max.bytes": _FETCH_BYTES})
    )
    try:
        for entry in selected:
            results.append(_redrive_one(bootstrap, entry, via, producer, options))
    finally:
        if producer is not None:
            producer.close()
    return results


@dataclass(frozen=True)
class _Send:
    """What a redrive sends: a record for ``target``, and what to say it did."""

    target: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    outcome: str


def _redrive_one(
    bootstrap: str,
    entry: Entry,
    via: str,
    producer: tools.SendingProducer | None,
    options: Mapping[str, Any] | None,
) -> RedriveResult:
    """Redrive one dead letter (``producer`` None: a dry run, nothing sent)."""
    d = entry.letter
    if d is None:
        return RedriveResult(entry.id, via, f"not redriven: {entry.problem}", False)
    src = d.source
    whole = ""
    if d.truncated:
        found, why = whole_original(bootstrap, d, options)
        if found is None:
            return RedriveResult(d.id, via, f"not redriven: {why}", False)
        src, whole = found, f" (whole original: {why})"
    send = _to_source(d, src) if via == "source" else _through_connector(d, src, via)
    if isinstance(send, RedriveResult):
        return send
    if producer is not None:
        producer.send(send.target, key=send.key, value=send.value, headers=send.headers)
        at = datetime.now(UTC)
        marker: wire.DeadLetterRedrive = {
            "deadLetterId": d.id,
            "redrivenAt": at,
            "via": via,
            "target": send.target,
            "outcome": send.outcome,
        }
        value = schemas.encode(REDRIVE_V1, marker)
        # each redrive is an event of its own: its id says when
        event_id = f"{d.id}@redriven:{at.isoformat()}"
        headers = [(REDRIVE_HEADER, d.id.encode())]
        headers = stamp(headers, value, event_id=event_id, source=REDRIVE_SOURCE, time=at)
        producer.send(DEADLETTER_TOPIC, key=d.source.key, value=value, headers=headers)
    outcome = send.outcome if producer is not None else f"would be {send.outcome}"
    return RedriveResult(d.id, via, outcome + whole)


def _to_source(d: DeadLetter, src: SourceRecord) -> _Send:
    """The original, byte for byte, back to its source topic, marked as a redrive of ``d``."""
    headers = [(k, v) for k, v in src.headers if k != REDRIVE_HEADER and v is not None]
    headers.append((REDRIVE_HEADER, d.id.encode()))
    return _Send(src.topic, src.key, src.value, headers, f"resent to {src.topic}")


def _through_connector(d: DeadLetter, src: SourceRecord, via: str) -> _Send | RedriveResult:
    """The petition the current connector makes of the original, for ``hub.petitions``; or the
    result of a redrive that sends nothing (no connector, or refused again)."""
    decode = PETITION_DECODERS.get(src.topic)
    if decode is None:
        return RedriveResult(d.id, via, f"no connector for {src.topic}", False)
    try:
        petition = decode(src.key, src.value, src.headers)
    except DecodeError as exc:
        return RedriveResult(d.id, via, f"still refused: {exc.reason_code}", False)
    try:  # the same time window as intake's, against now
        check_petition_times(petition, datetime.now(UTC), TIME_FIELDS.get(src.topic))
    except TimeOutOfRange as exc:
        return RedriveResult(d.id, via, f"still refused: {exc.message}", False)
    value = schemas.encode(codec.PETITION, codec.petition_record(petition))
    outcome = f"petition {petition.petition_id} to {PETITIONS_TOPIC}"
    # a hub record: the CloudEvents headers, its id the letter's (a second redrive repeats it)
    headers = stamp(
        [], value, event_id=f"{d.id}@redrive:{via}", source=REDRIVE_SOURCE, time=datetime.now(UTC)
    )
    return _Send(PETITIONS_TOPIC, petition.petition_id.encode(), value, headers, outcome)
