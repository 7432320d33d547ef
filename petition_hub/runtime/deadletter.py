"""Dead letters: what could not be taken in, kept whole and encrypted, with the reason.

Pure functions (no Kafka): :func:`seal` turns a refused source record into the record the hub
writes on ``hub.deadletter``; :func:`unseal` gives the original back, byte for byte. The record
key is the original key; the original value and headers travel encrypted (``HUB_PII_KEY``),
since they are as sensitive as the intake. Headers of the dead letter itself carry only what
operators filter on (reason, source), never personal data.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, cast

import fastavro

from petition_hub import schemas
from petition_hub.runtime.records import SourceRecord
from petition_hub.schemas import codec
from petition_hub.schemas import records as wire
from petition_hub.service.crypto import PiiCipher

#: The schema of the dead letters the hub writes.
DEADLETTER: Final = codec.DEADLETTER_V2
#: How much of an original over the size limit a dead letter keeps (the rest stays on its topic).
TRUNCATED_BYTES: Final = 64 * 1024
#: Header a redriven record carries: the id of the dead letter it was redriven from.
REDRIVE_HEADER: Final = "hub-redrive-of"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead letter opened with the key: its metadata and the original record."""

    id: str
    connector: str
    reason: str
    error_class: str
    message: str
    dead_lettered_at: datetime
    source: SourceRecord
    """The original as sealed: for a ``truncated`` letter, its first 64 KiB only."""
    redrive_of: str | None
    truncated: bool = False
    """The original was over the size limit; the whole is on the source topic (its retention)."""
    original_sha256: str | None = None
    value_size: int = -1


def _original_bytes(src: SourceRecord) -> bytes:
    buf = io.BytesIO()
    original: wire.Original = {
        "value": src.value,
        "headers": [{"key": k, "value": v} for k, v in src.headers],
    }
    fastavro.schemaless_writer(buf, schemas.parsed_schema(codec.ORIGINAL_V1), original)
    return buf.getvalue()


def size_of(src: SourceRecord) -> int:
    """Bytes of a record as a broker counts them, roughly: key, value and headers."""
    headers = sum(len(k) + len(v or b"") for k, v in src.headers)
    return len(src.key or b"") + len(src.value or b"") + headers


def seal(
    src: SourceRecord,
    connector: str,
    reason: str,
    error_class: str,
    message: str,
    cipher: PiiCipher,
    now: datetime,
    redrive_of: str | None = None,
    *,
    truncate: bool = False,
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """The (key, value, headers) to write on ``hub.deadletter`` for a refused ``src``. With
    ``truncate`` (an original over the size limit) only the first 64 KiB of the value are sealed,
    with the whole value's size and SHA-256: the dead letter stays small enough to be written."""
    kept = src
    if truncate and src.value is not None:
        kept = SourceRecord(
            src.topic,
            src.partition,
            src.offset,
            src.key[:TRUNCATED_BYTES] if src.key else src.key,
            src.value[:TRUNCATED_BYTES],
            tuple((k, (v or b"")[:1024]) for k, v in src.headers[:64]),
            src.timestamp_ms,
        )
    record: wire.DeadLetter = {
        "id": src.ref,
        "sourceTopic": src.topic,
        "sourcePartition": src.partition,
        "sourceOffset": src.offset,
        "sourceTimestamp": (
            datetime.fromtimestamp(src.timestamp_ms / 1000, UTC) if src.timestamp_ms else None
        ),
        "connector": connector,
        "reason": reason,
        "errorClass": error_class,
        "message": message,
        "deadLetteredAt": now,
        "valueSize": -1 if src.value is None else len(src.value),
        "sealed": cipher.encrypt(zlib.compress(_original_bytes(kept))),
        "redriveOf": redrive_of,
        "truncated": kept is not src,
        "originalSha256": (
            hashlib.sha256(src.value).hexdigest() if kept is not src and src.value else None
        ),
    }
    headers = [
        ("hub-reason", reason.encode()),
        ("hub-source", src.ref.encode()),
    ]
    return kept.key, schemas.encode(DEADLETTER, record), headers


def unseal(key: bytes | None, value: bytes, cipher: PiiCipher) -> DeadLetter:
    """Open a ``hub.deadletter`` record; raises
    :class:`petition_hub.service.crypto.InvalidToken` for a
    wrong key and :class:`petition_hub.schemas.WireFormatError` for a record that is not one."""
    sid, decoded = schemas.decode(value)
    if schemas.record_name(sid) != codec.DEADLETTER_RECORD:
        raise schemas.WireFormatError("unknown_schema_id", f"schema id {sid} is not a dead letter")
    record = codec.read_dead_letter(decoded)
    opened = fastavro.schemaless_reader(
        io.BytesIO(zlib.decompress(cipher.decrypt(record["sealed"]))),
        schemas.parsed_schema(codec.ORIGINAL_V1),
        None,
    )
    assert isinstance(opened, dict)
    original = cast(wire.Original, opened)
    stamp = record["sourceTimestamp"]
    headers = original["headers"]
    source = SourceRecord(
        topic=record["sourceTopic"],
        partition=record["sourcePartition"],
        offset=record["sourceOffset"],
        key=key,
        value=original["value"],
        headers=tuple((h["key"], h["value"]) for h in headers),
        timestamp_ms=int(stamp.timestamp() * 1000) if stamp is not None else None,
    )
    return DeadLetter(
        id=record["id"],
        connector=record["connector"],
        reason=record["reason"],
        error_class=record["errorClass"],
        message=record["message"],
        dead_lettered_at=record["deadLetteredAt"],
        source=source,
        redrive_of=record["redriveOf"],
        truncated=bool(record.get("truncated", False)),
        original_sha256=record.get("originalSha256"),
        value_size=record["valueSize"],
    )
