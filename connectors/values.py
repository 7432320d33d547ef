"""What the intake connectors share beyond framing and field readers (:mod:`.base`): times on the
wire, the normalisation of identifiers (division code, credit code, phone, ID number), the text
limits, and the fields of an evaluation.

Like :mod:`.base`, every refusal is a :class:`~.base.DecodeError` whose message names the field
and never repeats what it held; an identifier that is not valid is flagged, not refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from petition_hub.domain.petition import (
    Channel,
    Enterprise,
    Evaluation,
    Flag,
    Satisfaction,
)
from petition_hub.domain.validation import (
    Limits,
    compact_uscc,
    is_known_region_code,
    is_region_code,
    is_valid_id_number,
    is_valid_phone,
    is_valid_uscc,
)

from .base import (
    DecodeError,
    Headers,
    Obj,
    Reason,
    _label,
    check_key,
    json_message,
    opt_int,
    opt_str,
    req_str,
)

__all__ = [
    "SHANGHAI",
    "check_text_limits",
    "checked_id_number",
    "checked_phone",
    "checked_uscc",
    "decode_json_evaluation",
    "enterprise_of",
    "evaluation_fields",
    "parse_iso",
    "parse_local",
    "region_code",
]

#: Asia/Shanghai, the zone of "local" times on the wire.
SHANGHAI: Final = ZoneInfo("Asia/Shanghai")


# --- times ---------------------------------------------------------------------------------------

_LOCAL_TIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")


def parse_local(text: str, path: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` Asia/Shanghai wall-clock time (12345 ``SLSJ``) → aware UTC.

    A ``T`` between date and time is tolerated; anything else (an offset, fractions, another
    layout) is ``bad_value``.
    """
    if not text.isascii() or _LOCAL_TIME.fullmatch(text) is None:
        raise DecodeError(
            Reason.BAD_VALUE,
            f"{_label(path)} is not a local time `YYYY-MM-DD HH:MM:SS`",
        )
    try:
        local = datetime.fromisoformat(text)
        return local.replace(tzinfo=SHANGHAI).astimezone(UTC)
    except (ValueError, OverflowError):
        raise DecodeError(
            Reason.BAD_VALUE,
            f"{_label(path)} is not a real time (no such date or hour, or out of range)",
        ) from None


def parse_iso(text: str, path: str, *, naive_zone: ZoneInfo | None = None) -> datetime:
    """ISO-8601 with an offset (``2026-11-21T09:15:32+08:00``, ``…Z``) → aware UTC.

    A time without an offset is ``bad_value``, unless ``naive_zone`` says how to read it.
    """
    try:
        parsed = datetime.fromisoformat(text) if text.isascii() else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise DecodeError(Reason.BAD_VALUE, f"{_label(path)} is not an ISO-8601 time")
    if parsed.tzinfo is None:
        if naive_zone is None:
            raise DecodeError(
                Reason.BAD_VALUE, f"{_label(path)} has no UTC offset (`+08:00` or `Z`)"
            )
        parsed = parsed.replace(tzinfo=naive_zone)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise DecodeError(
            Reason.BAD_VALUE, f"{_label(path)} is out of range (a year before 1 or after 9999)"
        ) from None


# --- shared normalisation ------------------------------------------------------------------------


def region_code(code: str | None, flags: list[str]) -> str | None:
    """An explicit division code as the petition keeps it.

    Six digits: kept, flagged ``region_code_unknown`` when the hub does not know it. Anything else:
    dropped and flagged ``region_code_invalid`` (location then falls back to the county name).
    """
    if code is None:
        return None
    if not is_region_code(code):
        flags.append(Flag.REGION_CODE_INVALID)
        return None
    if not is_known_region_code(code):
        flags.append(Flag.REGION_CODE_UNKNOWN)
    return code


def checked_uscc(code: str | None, flags: list[str]) -> str | None:
    """A credit code: compacted when valid; kept as typed and flagged ``uscc_invalid`` when not."""
    if code is None:
        return None
    if is_valid_uscc(code):
        return compact_uscc(code)
    flags.append(Flag.USCC_INVALID)
    return code


def checked_phone(phone: str | None, flags: list[str]) -> str | None:
    """A phone number; flagged ``phone_invalid`` (and kept) when neither mobile nor landline."""
    if phone is not None and not is_valid_phone(phone):
        flags.append(Flag.PHONE_INVALID)
    return phone


def checked_id_number(number: str | None, flags: list[str]) -> str | None:
    """A resident ID number, upper-cased (``x`` → ``X``); flagged ``id_number_invalid`` when not
    valid (kept as typed)."""
    if number is None:
        return None
    if is_valid_id_number(number):
        return number.upper()
    flags.append(Flag.ID_NUMBER_INVALID)
    return number


def enterprise_of(name: str | None, uscc: str | None, flags: list[str]) -> Enterprise | None:
    """The enterprise of a petition, or ``None`` when neither a name nor a code was sent."""
    if name is None and uscc is None:
        return None
    return Enterprise.trusted(name=name, uscc=checked_uscc(uscc, flags))


def check_text_limits(
    content: str, title: str | None, limits: Limits, content_field: str, title_field: str
) -> None:
    """``too_large`` when the content or the title is over its limit."""
    if len(content) > limits.max_content_chars:
        raise DecodeError(
            Reason.TOO_LARGE,
            f"{_label(content_field)} is {len(content)} characters, "
            f"over the limit of {limits.max_content_chars}",
        )
    if title is not None and len(title) > limits.max_title_chars:
        raise DecodeError(
            Reason.TOO_LARGE,
            f"{_label(title_field)} is {len(title)} characters, "
            f"over the limit of {limits.max_title_chars}",
        )


_SATISFACTION: Final[Mapping[str, Satisfaction]] = {s.value: s for s in Satisfaction}


def evaluation_fields(obj: Obj, channel: Channel, ref_field: str, limits: Limits) -> Evaluation:
    """The evaluation of a decoded JSON object (shared with the mini-program connector)."""
    ref = req_str(obj, ref_field)
    satisfaction_text = req_str(obj, "satisfaction")
    satisfaction = _SATISFACTION.get(satisfaction_text)
    if satisfaction is None:
        raise DecodeError(Reason.BAD_VALUE, "field `satisfaction` must be 满意, 基本满意 or 不满意")
    revision = opt_int(obj, "revision")
    if revision is None:
        revision = 0
    if revision not in (0, 1):
        raise DecodeError(Reason.BAD_VALUE, "field `revision` must be 0 or 1")
    comment = opt_str(obj, "comment")
    if comment is not None and len(comment) > limits.max_content_chars:
        raise DecodeError(
            Reason.TOO_LARGE,
            f"field `comment` is {len(comment)} characters, "
            f"over the limit of {limits.max_content_chars}",
        )
    naive_zone = SHANGHAI if channel is Channel.HOTLINE else None
    return Evaluation(
        channel=channel,
        ref=ref,
        petition_ref=opt_str(obj, "petitionRef"),
        satisfaction=satisfaction,
        comment=comment,
        evaluated_at=parse_iso(req_str(obj, "evaluatedAt"), "evaluatedAt", naive_zone=naive_zone),
        revision=revision,
    )


def decode_json_evaluation(
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    channel: Channel,
    ref_field: str,
    limits: Limits,
    *,
    charset_header: bool = True,
) -> Evaluation:
    """The evaluation of one JSON rating message keyed by ``ref_field`` (the hotline's
    call-backs, the mini-program's evaluations), or :class:`~.base.DecodeError`."""
    key_str, obj = json_message(
        key, value, headers, ref_field, limits, charset_header=charset_header
    )
    evaluation = evaluation_fields(obj, channel, ref_field, limits)
    check_key(key_str, evaluation.ref, ref_field)
    return evaluation
