"""Avro schemas of the hub and of the provincial platform, and their Confluent wire format.

Every ``*.avsc`` of this folder is a schema named by its file name without ``.avsc``
(``cn.gov.ha.petition.Dispatch.v1``). Each is parsed once, on first use, with its own set of named
types, so two versions of one record (``Dispatch`` v1 and v2) live side by side. A schema that uses
named types of another (``Transfer.v1`` uses ``Category`` and ``Petitioner`` of ``Dispatch.v1``,
as the provincial contract says) lists it in :data:`REFERENCES`, like a schema-registry reference.

Schema ids are :mod:`.ids`'s, the one table of them: fixed (:data:`SCHEMA_IDS`: the provincial
ones are the contract's, the hub's own start at 1001) unless the hub registered its schemas with a
Schema Registry, whose ids it then writes and reads. The schema names, and the typed record,
builder and reader of each record, are the codec's (:mod:`.codec`, :mod:`.records`). The wire
format is Confluent's: byte 0 is ``0x00``, bytes 1-4 the big-endian schema id, then the
schemaless Avro body.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import fastavro

from . import ids
from .codec import (
    DISPATCH_V1,
    EVALUATION_V1,
    EVALUATION_V2,
    PETITION,
    PETITION_V1,
    PETITION_V2,
    TRANSFER_V1,
)

__all__ = [
    "EVALUATION_V1",
    "EVALUATION_V2",
    "MAGIC",
    "PETITION",
    "PETITION_V1",
    "PETITION_V2",
    "REFERENCES",
    "SCHEMA_IDS",
    "EncodeError",
    "UnknownSchemaError",
    "WireFormatError",
    "decode",
    "decode_body",
    "encode",
    "names",
    "parsed_schema",
    "raw_schema",
    "record_ids",
    "record_name",
    "schema_id",
    "schema_name",
    "split_header",
    "stamp_event_id",
]

#: Byte 0 of the Confluent wire format.
MAGIC: Final = 0
_HEADER: Final = struct.Struct(">bI")

# The schema names are :mod:`.codec`'s (``PETITION_V1``, ``PETITION_V2``, ``PETITION``,
# ``EVALUATION_V1`` and ``EVALUATION_V2`` re-exported here).

#: Fixed schema ids (:mod:`.ids`): the ids without a Schema Registry.
SCHEMA_IDS: Final[Mapping[str, int]] = ids.FIXED_IDS

#: Schemas whose named types another schema uses (parsed first, their types made available).
REFERENCES: Final[Mapping[str, tuple[str, ...]]] = {
    TRANSFER_V1: (DISPATCH_V1,),
    EVALUATION_V1: (PETITION_V1,),
    EVALUATION_V2: (PETITION_V1,),  # its channel's enum branch is Petition.v1's Channel
}

_FOLDER: Final = Path(__file__).resolve().parent


class UnknownSchemaError(KeyError):
    """No schema of that name or id."""


class EncodeError(ValueError):
    """A record does not fit its schema."""


class WireFormatError(ValueError):
    """Bytes that are not a decodable Confluent wire-format Avro message.

    ``reason`` is ``bad_magic`` (too short, or byte 0 is not 0), ``unknown_schema_id`` or
    ``bad_avro`` (the body does not decode, or bytes are left over after the record).
    """

    def __init__(
        self, reason: Literal["bad_magic", "unknown_schema_id", "bad_avro"], message: str
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _Registry:
    """The parsed schemas of the folder (built once by :func:`_registry`)."""

    def __init__(self, folder: Path) -> None:
        self.raw: dict[str, dict[str, Any]] = {}
        for path in sorted(folder.glob("*.avsc")):
            with path.open(encoding="utf-8") as f:
                self.raw[path.name[: -len(".avsc")]] = json.load(f)
        self.named: dict[str, dict[str, Any]] = {}
        self.parsed: dict[str, Any] = {}
        for name in self.raw:
            self._parse(name, ())

    def _parse(self, name: str, stack: tuple[str, ...]) -> None:
        if name in self.parsed:
            return
        if name in stack:
            raise ValueError(f"schema references form a cycle: {' -> '.join((*stack, name))}")
        named: dict[str, Any] = {}
        for ref in REFERENCES.get(name, ()):
            if ref not in self.raw:
                raise ValueError(f"schema {name} references {ref}, which is not in {_FOLDER}")
            self._parse(ref, (*stack, name))
            named.update(self.named[ref])
        self.parsed[name] = fastavro.parse_schema(self.raw[name], named_schemas=named)
        self.named[name] = named


@lru_cache(maxsize=1)
def _registry() -> _Registry:
    return _Registry(_FOLDER)


def names() -> tuple[str, ...]:
    """Names of all schemas in the folder, sorted."""
    return tuple(sorted(_registry().raw))


def schema_name(name_or_id: str | int) -> str:
    """The schema name for a name or a schema id; raises :class:`UnknownSchemaError`."""
    reg = _registry()
    if isinstance(name_or_id, int):
        try:
            return ids.current().by_id[name_or_id]
        except KeyError:
            raise UnknownSchemaError(f"no schema with id {name_or_id}") from None
    if name_or_id not in reg.raw:
        raise UnknownSchemaError(f"no schema named {name_or_id!r}")
    return name_or_id


def schema_id(name_or_id: str | int) -> int:
    """The id the hub writes a schema with (the registry's, else the fixed one: :mod:`.ids`);
    raises :class:`UnknownSchemaError`."""
    name = schema_name(name_or_id)
    table = ids.current()
    try:
        return table.by_name[name]
    except KeyError:
        raise UnknownSchemaError(f"schema {name!r} has no id ({table.source})") from None


def record_name(name_or_id: str | int) -> str:
    """The record a schema is a version of: ``cn.gov.pds.hub.SlaEvent`` for ``….SlaEvent.v2``
    (versions of one record are backward compatible: a reader of one reads them all)."""
    return schema_name(name_or_id).rsplit(".v", 1)[0]


def record_ids(record: str) -> frozenset[int]:
    """The schema ids of every version of ``record`` (``cn.gov.pds.hub.SlaEvent``)."""
    table = ids.current().by_name
    return frozenset(i for n, i in table.items() if n.rsplit(".v", 1)[0] == record)


def raw_schema(name_or_id: str | int) -> dict[str, Any]:
    """The schema as written in its file (with custom attributes such as ``"pii": true``)."""
    return _registry().raw[schema_name(name_or_id)]


def parsed_schema(name_or_id: str | int) -> Any:
    """The fastavro-parsed schema (parsed once), for ``schemaless_reader``/``writer``."""
    return _registry().parsed[schema_name(name_or_id)]


def encode(name_or_id: str | int, record: Mapping[str, Any]) -> bytes:
    """``record`` in the Confluent wire format of the schema (magic, 4-byte id, Avro body).

    The hub's own writers pass the typed records of :mod:`.records` (built by :mod:`.codec`), so
    strict typing checks their fields; a plain mapping (tests, the demo's province) is accepted.

    Raises :class:`UnknownSchemaError` or :class:`EncodeError` (a field missing without default,
    a field the schema does not have, a value of the wrong type).
    """
    sid = schema_id(name_or_id)
    schema = parsed_schema(sid)
    buf = io.BytesIO()
    buf.write(_HEADER.pack(MAGIC, sid))
    try:
        fastavro.schemaless_writer(buf, schema, record, strict_allow_default=True)
    except Exception as exc:
        raise EncodeError(f"record does not fit {schema_name(sid)}: {exc}") from exc
    return buf.getvalue()


@cache
def _leads_with_event_id(name: str) -> bool:
    """Whether the schema's first field is the string ``eventId`` (the lifecycle's records)."""
    fields = raw_schema(name).get("fields") or [{}]
    return bool(fields[0].get("name") == "eventId" and fields[0].get("type") == "string")


def stamp_event_id(data: bytes, event_id: str) -> bytes:
    """``data`` (a wire-format record whose schema leads with ``eventId``, written empty) with its
    ``eventId`` set to ``event_id``; any other record is returned as it is.

    The id of an output is known only once the stage has numbered what one input produced, after
    the record was built; rather than encode it twice, the empty string (one zero byte in Avro)
    is replaced by the id's length (a zig-zag varint) and its UTF-8 bytes: exactly what encoding
    the record with the id gives (tests/test_codec.py checks it for every such schema).
    """
    if len(data) <= _HEADER.size or data[_HEADER.size] != 0:
        return data
    sid = _HEADER.unpack_from(data)[1]
    try:
        if not _leads_with_event_id(schema_name(sid)):
            return data
    except UnknownSchemaError:
        return data
    raw = event_id.encode("utf-8")
    n = len(raw) << 1  # zig-zag of a non-negative length
    varint = bytearray()
    while n > 0x7F:
        varint.append((n & 0x7F) | 0x80)
        n >>= 7
    varint.append(n)
    return data[: _HEADER.size] + bytes(varint) + raw + data[_HEADER.size + 1 :]


def split_header(data: bytes) -> tuple[int, memoryview]:
    """The schema id and the body of a wire-format message; raises :class:`WireFormatError`
    (``bad_magic``) when ``data`` is shorter than 5 bytes or byte 0 is not 0."""
    if len(data) < _HEADER.size:
        raise WireFormatError(
            "bad_magic",
            f"value is {len(data)} bytes long, shorter than the 5-byte wire-format header",
        )
    magic, sid = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise WireFormatError(
            "bad_magic", f"byte 0 is 0x{data[0]:02x}, not the wire-format magic byte 0x00"
        )
    return sid, memoryview(data)[_HEADER.size :]


def decode_body(sid: int, body: bytes | memoryview) -> dict[str, Any]:
    """The record of an Avro body written with schema ``sid``; raises :class:`WireFormatError`
    (``unknown_schema_id`` or ``bad_avro``). Bytes left over after the record are an error: they
    mean the body was written with another schema."""
    try:
        schema = parsed_schema(sid)
    except UnknownSchemaError:
        raise WireFormatError("unknown_schema_id", f"schema id {sid} is not known") from None
    return _read(schema, schema_name(sid), body)


def _read(schema: Any, label: str, body: bytes | memoryview) -> dict[str, Any]:
    """Read one record of ``schema`` from ``body``, exactly (see :func:`decode_body`)."""
    stream = io.BytesIO(body)
    try:
        record = fastavro.schemaless_reader(stream, schema, None)
    except Exception as exc:
        raise WireFormatError(
            "bad_avro", f"Avro body does not decode as {label}: {type(exc).__name__}: {exc}"
        ) from None
    left = len(body) - stream.tell()
    if left:
        raise WireFormatError(
            "bad_avro",
            f"{left} bytes left over after a {label} record (written with another schema?)",
        )
    if not isinstance(record, dict):
        raise WireFormatError("bad_avro", f"{label} body is not a record")
    return record


def decode(data: bytes) -> tuple[int, dict[str, Any]]:
    """The schema id and the record of a wire-format message; raises :class:`WireFormatError`."""
    sid, body = split_header(data)
    return sid, decode_body(sid, body)
