"""Mini-program connector: appeals (``miniprogram.appeals``) and evaluations
(``miniprogram.evaluations``), camelCase JSON in UTF-8, keyed by ``appealId``.

``schemaVersion`` 2 (current apps) has ``region{code,name}`` and a numeric ``category`` 1..6;
version 1 (old installs) has a flat ``regionCode`` and ``type``, the Chinese name of the hub type.
``account.type`` is ``enterprise`` (with ``uscc``) or ``individual`` (with ``idCardNo``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from petition_hub.domain.petition import (
    Attachment,
    Channel,
    Enterprise,
    Evaluation,
    Flag,
    GeoPoint,
    Petition,
    Petitioner,
    PetitionerKind,
    PetitionType,
    Urgency,
)
from petition_hub.domain.validation import DEFAULT_LIMITS, Limits

from .base import (
    DecodeError,
    Headers,
    Obj,
    Reason,
    check_key,
    json_message,
    never_raises_other,
    opt_bool,
    opt_list,
    opt_obj,
    opt_str,
    req_int,
    req_obj,
    req_str,
    wrong_type,
)
from .channel import ChannelSpec, EvaluationRequests, ProgressTopic
from .values import (
    check_text_limits,
    checked_id_number,
    checked_phone,
    checked_uscc,
    decode_json_evaluation,
    parse_iso,
    region_code,
)

__all__ = [
    "CATEGORIES",
    "CHANNEL",
    "EVALUATION_REQUESTS",
    "EVALUATION_TOPIC",
    "PROGRESS",
    "SCHEMA_VERSIONS",
    "TIME_FIELDS",
    "TOPIC",
    "decode",
    "decode_evaluation",
]

#: The topic of appeals.
TOPIC: Final = "miniprogram.appeals"
#: The topic of evaluations.
EVALUATION_TOPIC: Final = "miniprogram.evaluations"
#: The ``schemaVersion`` values this connector reads.
SCHEMA_VERSIONS: Final = (1, 2)
#: The petition's times (``Petition`` field → this channel's name), for messages about them.
TIME_FIELDS: Final[Mapping[str, str]] = {"received_at": "submittedAt"}
#: Where the hub asks the mini-program to invite a petitioner to rate a reply.
EVALUATION_REQUESTS: Final = EvaluationRequests("miniprogram.evaluation-requests", "appealId")
#: Where the hub tells the channel's petitioners how their petition progresses.
PROGRESS: Final = ProgressTopic("miniprogram.progress", "appealId")

#: v2 ``category`` → hub type.
CATEGORIES: Final[Mapping[int, PetitionType]] = {
    1: PetitionType.POLICY_CONSULTATION,
    2: PetitionType.SUGGESTION,
    3: PetitionType.LEGAL_RIGHTS,
    4: PetitionType.DIFFICULTY_ASSISTANCE,
    5: PetitionType.REPORT_COMPLAINT,
    6: PetitionType.OTHER,
}

_TYPE_NAMES: Final[Mapping[str, PetitionType]] = {t.value: t for t in PetitionType}
_ACCOUNT_KINDS: Final[Mapping[str, PetitionerKind]] = {k.value: k for k in PetitionerKind}


@never_raises_other
def decode(
    key: bytes | None,
    value: bytes | None,
    headers: Headers = (),
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Petition:
    """The petition of one ``miniprogram.appeals`` message, or :class:`DecodeError`.

    The value is UTF-8 whatever the headers say (the contract has no charset header here).
    """
    key_str, obj = json_message(key, value, headers, "appealId", limits, charset_header=False)

    version = req_int(obj, "schemaVersion")
    if version not in SCHEMA_VERSIONS:
        raise DecodeError(
            Reason.BAD_VALUE, "field `schemaVersion` must be 1 or 2 (the versions this hub reads)"
        )
    appeal_id = req_str(obj, "appealId")
    received_at = parse_iso(req_str(obj, "submittedAt"), "submittedAt")
    content = req_str(obj, "content")
    title = opt_str(obj, "title")
    check_text_limits(content, title, limits, "content", "title")

    flags: list[str] = []
    petition_type, channel_category, code, region_name = _type_and_region(obj, version, flags)
    petitioner, enterprise = _parties(obj, flags)

    check_key(key_str, appeal_id, "appealId")
    return Petition.trusted(
        channel=Channel.MINIPROGRAM,
        channel_ref=appeal_id,
        revision=0,
        received_at=received_at,
        petition_type=petition_type,
        channel_category=channel_category,
        urgency=Urgency.NORMAL,
        title=title,
        content=content,
        region_code=region_code(code, flags),
        region_name=region_name,
        location=_location(obj, flags),
        attachments=_attachments(obj),
        enterprise=enterprise,
        petitioner=petitioner,
        confidential=False,
        disclosure_authorized=opt_bool(obj, "authorizeDisclosure"),
        flags=tuple(flags),
    )


def _type_and_region(
    obj: Obj, version: int, flags: list[str]
) -> tuple[PetitionType | None, str | None, str | None, str | None]:
    """The hub type, the channel's category, the division code and the region name: v2's
    ``category`` and ``region{code,name}``, v1's ``type`` (a hub type's Chinese name) and
    ``regionCode``."""
    if version == 2:
        petition_type, channel_category = _category_v2(obj, flags)
        region = opt_obj(obj, "region")
        code = None if region is None else opt_str(region, "code", "region")
        region_name = None if region is None else opt_str(region, "name", "region")
    else:
        channel_category = opt_str(obj, "type")
        petition_type = None
        if channel_category is not None:
            petition_type = _TYPE_NAMES.get(channel_category)
            if petition_type is None:
                flags.append(Flag.CATEGORY_UNKNOWN)
        code = opt_str(obj, "regionCode")
        region_name = None
    return petition_type, channel_category, code, region_name


def _parties(obj: Obj, flags: list[str]) -> tuple[Petitioner, Enterprise | None]:
    """The petitioner (``account``) and the enterprise (``enterprise``, else the account's
    ``uscc``); a credit code that differs between the two is flagged ``uscc_mismatch``."""
    account = req_obj(obj, "account")
    kind_text = req_str(account, "type", "account")
    kind = _ACCOUNT_KINDS.get(kind_text)
    if kind is None:
        raise DecodeError(
            Reason.BAD_VALUE,
            "field `account.type` must be enterprise or individual",
        )
    phone = opt_str(account, "phone", "account")
    if phone is None:
        flags.append(Flag.PHONE_MISSING)
    id_number = opt_str(account, "idCardNo", "account")
    account_uscc = opt_str(account, "uscc", "account")

    ent = opt_obj(obj, "enterprise")
    ent_name = None if ent is None else opt_str(ent, "name", "enterprise")
    ent_uscc = None if ent is None else opt_str(ent, "uscc", "enterprise")
    uscc = ent_uscc or account_uscc
    if ent_uscc and account_uscc and ent_uscc.upper() != account_uscc.upper():
        flags.append(Flag.USCC_MISMATCH)
    if kind is PetitionerKind.ENTERPRISE and uscc is None:
        flags.append(Flag.USCC_MISSING)
    if kind is PetitionerKind.INDIVIDUAL and id_number is None:
        flags.append(Flag.ID_NUMBER_MISSING)
    enterprise = None
    if ent_name is not None or uscc is not None:
        enterprise = Enterprise.trusted(name=ent_name, uscc=checked_uscc(uscc, flags))

    petitioner = Petitioner.trusted(
        kind=kind,
        name=opt_str(account, "name", "account"),
        phone=checked_phone(phone, flags),
        id_number=checked_id_number(id_number, flags),
        openid=opt_str(obj, "openid"),
    )
    return petitioner, enterprise


def _category_v2(obj: Obj, flags: list[str]) -> tuple[PetitionType | None, str | None]:
    """v2 ``category``: an integer 1..6 (a digit string is tolerated). Another number is kept as
    ``channel_category`` and flagged ``category_unknown``."""
    value: Any = obj.get("category")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type("", "category", "an integer 1..6", value)
    petition_type = CATEGORIES.get(value)
    if petition_type is None:
        flags.append(Flag.CATEGORY_UNKNOWN)
    return petition_type, str(value)


def _number(obj: Obj, name: str, where: str) -> float:
    value = obj.get(name)
    if value is None:
        raise DecodeError(Reason.MISSING_FIELD, f"required field `{where}.{name}` is missing")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type(where, name, "a number", value)
    return float(value)


def _location(obj: Obj, flags: list[str]) -> GeoPoint | None:
    """``location{lat,lng}``; out of range → dropped and flagged ``location_invalid``."""
    loc = opt_obj(obj, "location")
    if loc is None:
        return None
    lat, lng = _number(loc, "lat", "location"), _number(loc, "lng", "location")
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        flags.append(Flag.LOCATION_INVALID)
        return None
    return GeoPoint.trusted(lat=lat, lng=lng)


def _attachments(obj: Obj) -> tuple[Attachment, ...]:
    """``attachments[]``: objects with ``url`` (required), ``name`` and ``sha256``."""
    result = []
    for i, item in enumerate(opt_list(obj, "attachments")):
        where = f"attachments[{i}]"
        if not isinstance(item, dict):
            raise wrong_type("", where, "an object", item)
        result.append(
            Attachment.trusted(
                name=opt_str(item, "name", where),
                url=req_str(item, "url", where),
                sha256=opt_str(item, "sha256", where),
            )
        )
    return tuple(result)


@never_raises_other
def decode_evaluation(
    key: bytes | None,
    value: bytes | None,
    headers: Headers = (),
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Evaluation:
    """The evaluation of one ``miniprogram.evaluations`` message, or :class:`DecodeError`."""
    return decode_json_evaluation(
        key, value, headers, Channel.MINIPROGRAM, "appealId", limits, charset_header=False
    )


#: The WeChat mini-program, as the hub's tables need it (:data:`petition_hub.connectors.CHANNELS`).
CHANNEL: Final = ChannelSpec(
    channel=Channel.MINIPROGRAM,
    topic=TOPIC,
    decode=decode,
    time_fields=TIME_FIELDS,
    requests=EVALUATION_REQUESTS,
    evaluation_topic=EVALUATION_TOPIC,
    decode_evaluation=decode_evaluation,
    progress=PROGRESS,
)
