"""Provincial platform connector: dispatches (``province.dispatch``), Avro in the Confluent wire
format, keyed by ``dispatchId``.

Schema ids 101 (``Dispatch.v1``) and 102 (``Dispatch.v2``: adds ``provincialDeadline`` and
``attachments``) are both live. The schemas are parsed once (by :mod:`petition_hub.schemas`) and
held here in a module-level table, so a message costs one dictionary look-up and one
``schemaless_reader`` call. A wrong magic byte, an unknown schema id or a body that does not decode
exactly is a :class:`DecodeError`; the intake keeps such a message, unchanged, as a dead letter.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import fastavro

from petition_hub import schemas
from petition_hub.domain.petition import (
    Attachment,
    Channel,
    Flag,
    Petition,
    Petitioner,
    PetitionerKind,
    PetitionType,
    Urgency,
)
from petition_hub.domain.validation import DEFAULT_LIMITS, Limits, is_region_code
from petition_hub.schemas import codec

from .base import (
    DecodeError,
    Headers,
    Reason,
    check_key,
    check_size,
    key_text,
    never_raises_other,
    opt_str,
    req_str,
)
from .channel import ChannelSpec
from .hotline import CALLBACK_REQUESTS
from .values import (
    check_text_limits,
    checked_id_number,
    checked_phone,
    enterprise_of,
    region_code,
)

__all__ = ["CATEGORIES", "CHANNEL", "SCHEMA_IDS", "TIME_FIELDS", "TOPIC", "decode", "decode_record"]

#: The topic of dispatches.
TOPIC: Final = "province.dispatch"
#: The petition's times (``Petition`` field → this channel's name), for messages about them.
TIME_FIELDS: Final[Mapping[str, str]] = {
    "received_at": "receivedAt",
    "provincial_deadline": "provincialDeadline",
}
#: Schema id → schema name, for the ids this topic carries.
SCHEMA_IDS: Final[Mapping[int, str]] = {
    101: codec.DISPATCH_V1,
    102: codec.DISPATCH_V2,
}

#: Province ``Category`` symbol → hub type.
CATEGORIES: Final[Mapping[str, PetitionType]] = {
    "POLICY_CONSULTATION": PetitionType.POLICY_CONSULTATION,
    "SUGGESTION": PetitionType.SUGGESTION,
    "LEGAL_RIGHTS": PetitionType.LEGAL_RIGHTS,
    "DIFFICULTY_ASSISTANCE": PetitionType.DIFFICULTY_ASSISTANCE,
    "REPORT_COMPLAINT": PetitionType.REPORT_COMPLAINT,
    "OTHER": PetitionType.OTHER,
}

#: Parsed schemas by id, built once at import.
_PARSED: Final[Mapping[int, Any]] = {
    sid: schemas.parsed_schema(name) for sid, name in SCHEMA_IDS.items()
}


@never_raises_other
def decode(
    key: bytes | None,
    value: bytes | None,
    headers: Headers = (),
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Petition:
    """The petition of one ``province.dispatch`` message, or :class:`DecodeError`."""
    data = check_size(value, limits)
    key_str = key_text(key, "dispatchId")
    if len(data) < 5:
        raise DecodeError(
            Reason.BAD_MAGIC,
            f"value is {len(data)} bytes long, shorter than the 5-byte wire-format header",
        )
    if data[0] != 0:
        raise DecodeError(
            Reason.BAD_MAGIC, f"byte 0 is 0x{data[0]:02x}, not the wire-format magic byte 0x00"
        )
    sid = int.from_bytes(data[1:5], "big")
    schema = _PARSED.get(sid)
    if schema is None:
        known = ", ".join(
            f"{i} ({n.rsplit('.', 2)[-2]}.{n.rsplit('.', 1)[-1]})" for i, n in SCHEMA_IDS.items()
        )
        raise DecodeError(
            Reason.UNKNOWN_SCHEMA_ID,
            f"schema id {sid} is not a dispatch schema of {TOPIC} (known: {known})",
        )
    stream = io.BytesIO(data)
    stream.seek(5)
    try:
        record = fastavro.schemaless_reader(stream, schema, None)
    except Exception as exc:  # its text may quote what the body held: the class only
        hint = " (the body ends early: truncated?)" if isinstance(exc, EOFError) else ""
        raise DecodeError(
            Reason.BAD_AVRO,
            f"body does not decode as schema {sid}: {type(exc).__name__}{hint}",
        ) from None
    left = len(data) - stream.tell()
    if left:
        raise DecodeError(
            Reason.BAD_AVRO,
            f"{left} bytes left over after a schema {sid} record (written with another schema?)",
        )
    if not isinstance(record, dict):
        raise DecodeError(Reason.BAD_AVRO, f"schema {sid} body is not a record")
    petition = decode_record(record, limits=limits)
    check_key(key_str, petition.channel_ref, "dispatchId")
    return petition


def decode_record(record: Mapping[str, Any], *, limits: Limits = DEFAULT_LIMITS) -> Petition:
    """The petition of a decoded ``Dispatch`` record (v1 or v2), or :class:`DecodeError`.

    The Avro types are already checked; what remains are the contract's rules on values.
    """
    rec = dict(record)
    dispatch_id = req_str(rec, "dispatchId")
    content = req_str(rec, "content")
    title = req_str(rec, "subject")
    check_text_limits(content, title, limits, "content", "subject")
    category = str(rec["category"])
    received_at: datetime = rec["receivedAt"]

    flags: list[str] = []
    target_city = opt_str(rec, "targetCity")
    if target_city is None or not is_region_code(target_city):
        flags.append(Flag.TARGET_CITY_INVALID)

    p = dict(rec["petitioner"])
    kind = PetitionerKind.ENTERPRISE if p["kind"] == "ENTERPRISE" else PetitionerKind.INDIVIDUAL
    name = opt_str(p, "name", "petitioner")
    uscc = opt_str(p, "uscc", "petitioner")
    id_number = opt_str(p, "idNumber", "petitioner")
    if kind is PetitionerKind.ENTERPRISE:
        enterprise = enterprise_of(name, uscc, flags)
        person_name = None
    else:
        enterprise = enterprise_of(None, uscc, flags)
        person_name = name
    petitioner = Petitioner.trusted(
        kind=kind,
        name=person_name,
        phone=checked_phone(opt_str(p, "phone", "petitioner"), flags),
        id_number=checked_id_number(id_number, flags),
        contact_name=opt_str(p, "contactName", "petitioner"),
    )
    if petitioner.phone is None:
        flags.append(Flag.PHONE_MISSING)

    attachments = tuple(
        Attachment.trusted(
            name=opt_str(a, "name", f"attachments[{i}]"),
            url=req_str(a, "url", f"attachments[{i}]"),
            sha256=opt_str(a, "sha256", f"attachments[{i}]"),
        )
        for i, a in enumerate(rec.get("attachments") or ())
    )
    return Petition.trusted(
        channel=Channel.PROVINCE,
        channel_ref=dispatch_id,
        revision=0,
        received_at=received_at,
        petition_type=CATEGORIES.get(category),
        channel_category=category,
        urgency=Urgency.NORMAL,
        title=title,
        content=content,
        region_code=region_code(str(rec["regionCode"]).strip(), flags),
        target_city=target_city,
        origin_channel=str(rec["originChannel"]),
        attachments=attachments,
        provincial_deadline=rec.get("provincialDeadline"),
        enterprise=enterprise,
        petitioner=petitioner,
        confidential=bool(rec.get("confidential", False)),
        disclosure_authorized=False,
        flags=tuple(flags),
    )


#: The provincial platform, as the hub's tables need it (:data:`petition_hub.connectors.CHANNELS`).
#: It has no rating topic: the city's 12345 calls its petitioners back (``GDBH`` = the dispatch
#: id; the result comes back on the hotline's call-backs with ``petitionRef`` = the hub's id).
CHANNEL: Final = ChannelSpec(
    channel=Channel.PROVINCE,
    topic=TOPIC,
    decode=decode,
    time_fields=TIME_FIELDS,
    requests=CALLBACK_REQUESTS,
)
