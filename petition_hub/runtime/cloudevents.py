"""CloudEvents on every record the hub writes: the Kafka protocol binding's binary mode.

Each record carries ``ce_specversion`` (``1.0``), ``ce_id`` (the stable event id: an output
regenerated after a crash, or a source record delivered again, carries the same id), ``ce_type``
(what the record is: its Avro record name, with its ``hub-kind`` when it has one, e.g.
``cn.gov.pds.hub.LifecycleEvent.signed_for``), ``ce_source`` (who wrote it:
``/petition-hub/<stage>``), ``ce_time`` (when what it says happened) and ``content-type``
(``application/avro`` for the Confluent wire format, ``application/json``). The headers are made
by the ``cloudevents`` library (:func:`cloudevents.core.bindings.kafka.to_binary`), so they read
back with its ``from_binary``.

Nothing personal goes into a header: the id is made of topic names, offsets, petition ids and
kinds; the type of schema names; the source of the hub's component names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

from cloudevents.core.bindings.kafka import to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from petition_hub import schemas
from petition_hub.runtime.records import (
    EVENT_ID_HEADER,
    KIND_HEADER,
    Output,
    OutputHeader,
    SourceRecord,
)

SPECVERSION_HEADER: Final = "ce_specversion"
#: The header of a record's stable event id (what exactly-once stages compare on restore, what
#: readers deduplicate on).
ID_HEADER: Final = EVENT_ID_HEADER
TYPE_HEADER: Final = "ce_type"
SOURCE_HEADER: Final = "ce_source"
TIME_HEADER: Final = "ce_time"
CONTENT_TYPE_HEADER: Final = "content-type"
#: Every header the binding writes (a record written again by the hub gets fresh ones).
HEADERS: Final = (
    SPECVERSION_HEADER,
    ID_HEADER,
    TYPE_HEADER,
    SOURCE_HEADER,
    TIME_HEADER,
    CONTENT_TYPE_HEADER,
)

AVRO: Final = "application/avro"
JSON: Final = "application/json"
OCTETS: Final = "application/octet-stream"
#: The type of a record that is neither Avro the hub knows nor given a type by its writer.
OPAQUE_TYPE: Final = "cn.gov.pds.hub.Opaque"


def source_of(component: str) -> str:
    """``ce_source`` of what ``component`` (a stage's name, ``eraser``, ``ops/privacy``) writes."""
    return f"/petition-hub/{component}"


def content_type_of(value: bytes | None) -> str:
    """``application/avro`` for the Confluent wire format (magic byte 0 and a schema id),
    ``application/json`` for a JSON object or array, else ``application/octet-stream``."""
    if value is None:
        return OCTETS
    if len(value) >= 5 and value[0] == 0:
        return AVRO
    if value[:1] in (b"{", b"["):
        return JSON
    return OCTETS


def type_of(value: bytes | None, headers: Iterable[tuple[str, bytes | None]] = ()) -> str | None:
    """The record name of a Confluent-framed Avro value (``cn.gov.pds.hub.LifecycleEvent``), with
    the record's ``hub-kind`` after a dot when it has one; None when the value is not Avro of a
    known schema."""
    if content_type_of(value) != AVRO:
        return None
    assert value is not None
    try:
        sid, _ = schemas.split_header(value)
        name = schemas.record_name(sid)
    except (schemas.WireFormatError, schemas.UnknownSchemaError):
        return None
    kind = dict(headers).get(KIND_HEADER)
    return f"{name}.{kind.decode()}" if kind else name


def binary_headers(
    *,
    event_id: str,
    event_type: str,
    source: str,
    time: datetime,
    content_type: str,
) -> list[OutputHeader]:
    """The binary-mode headers of one event, as the ``cloudevents`` library writes them."""
    event = CloudEvent(
        {
            "id": event_id,
            "type": event_type,
            "source": source,
            "time": time if time.tzinfo is not None else time.replace(tzinfo=UTC),
            "datacontenttype": content_type,
        }
    )
    return list(to_binary(event, JSONFormat()).headers.items())


def stamp(
    headers: Iterable[OutputHeader],
    value: bytes | None,
    *,
    event_id: str,
    source: str,
    time: datetime,
    event_type: str | None = None,
) -> list[OutputHeader]:
    """``headers`` with the CloudEvents headers of the record (``value``) put in: any a relayed
    record carried before are replaced. ``event_type`` defaults to :func:`type_of`."""
    kept = [(k, v) for k, v in headers if k not in HEADERS]
    kind = event_type or type_of(value, kept) or OPAQUE_TYPE
    return kept + binary_headers(
        event_id=event_id,
        event_type=kind,
        source=source,
        time=time,
        content_type=content_type_of(value),
    )


def time_of(src: SourceRecord | None) -> datetime:
    """When an output of ``src`` happened: the source record's timestamp (the same on every
    delivery of it), or now for an output of a timer."""
    if src is not None and src.timestamp_ms is not None and src.timestamp_ms >= 0:
        return datetime.fromtimestamp(src.timestamp_ms / 1000, UTC)
    return datetime.now(UTC)


def frame_output(
    out: Output, stage: str, src: SourceRecord | None, index: int | str
) -> tuple[bytes | None, list[OutputHeader]]:
    """The value and headers to write ``out`` with: its own headers and its CloudEvents ones, and
    the value with the same id in its ``eventId`` when its schema has one first (the lifecycle's
    records: :func:`petition_hub.schemas.stamp_event_id`), so body and header never disagree.

    The id is the output's ``event_id`` when it has one (exactly-once outputs, timers); else it is
    made of the stage, the source record's place and ``index`` (the output's place among the
    source's), so a source delivered again makes the same id; a timer's output without an id gets
    a new one."""
    if out.event_id is not None:
        event_id = out.event_id
    elif src is not None:
        event_id = f"{stage}/{src.ref}/{index}"
    else:
        event_id = f"{stage}/{uuid.uuid4()}"
    value = out.value
    if value is not None and content_type_of(value) == AVRO:
        value = schemas.stamp_event_id(value, event_id)
    headers = stamp(
        out.headers,
        value,
        event_id=event_id,
        source=source_of(stage),
        time=out.time or time_of(src),
        event_type=out.ce_type,
    )
    return value, headers


def event_id_of(headers: Iterable[tuple[str, bytes | None]]) -> str | None:
    """The ``ce_id`` of a record's headers (None when it has none)."""
    value = dict(headers).get(ID_HEADER)
    return value.decode() if isinstance(value, bytes) else None
