"""12345 hotline connector: work orders (``hotline12345.workorders``) and call-backs
(``hotline12345.callbacks``), JSON with the hotline's pinyin-initial field names.

UTF-8, unless the Kafka header ``charset: GB18030`` says otherwise (legacy county gateways). The
key is the work order number ``GDBH``. A re-published work order (operator edit) has the same
``GDBH`` and a larger ``XGCS``: it gets the same petition id and ``revision = XGCS``. ``SLSJ`` is
Asia/Shanghai wall-clock time and becomes UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from petition_hub.domain.petition import (
    MAX_REVISION,
    Attachment,
    Channel,
    Evaluation,
    Flag,
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
    Reason,
    check_key,
    json_message,
    never_raises_other,
    opt_list,
    opt_str,
    req_int,
    req_str,
    wrong_type,
)
from .channel import ChannelSpec, EvaluationRequests, ProgressTopic
from .values import (
    check_text_limits,
    checked_phone,
    decode_json_evaluation,
    enterprise_of,
    parse_local,
    region_code,
)

__all__ = [
    "CALLBACK_REQUESTS",
    "CATEGORIES",
    "CHANNEL",
    "EVALUATION_TOPIC",
    "PROGRESS",
    "TIME_FIELDS",
    "TOPIC",
    "decode",
    "decode_evaluation",
]

#: The topic of work orders.
TOPIC: Final = "hotline12345.workorders"
#: The topic of call-back results (evaluations).
EVALUATION_TOPIC: Final = "hotline12345.callbacks"
#: The petition's times (``Petition`` field → this channel's name), for messages about them. An
#: edit (larger ``XGCS``) carries its receipt time ``SLSJ`` again.
TIME_FIELDS: Final[Mapping[str, str]] = {"received_at": "SLSJ"}
#: Where the hub asks the hotline to call a petitioner back about a reply (keyed by ``GDBH``).
CALLBACK_REQUESTS: Final = EvaluationRequests("hotline12345.callback-requests", "GDBH")
#: Where the hub tells the channel's petitioners how their petition progresses.
PROGRESS: Final = ProgressTopic("hotline12345.progress", "GDBH")

#: ``SQLB`` → hub type (domain.md, Types). 表扬 and 其他 are 其他诉求; the rule that a legal
#: matter is 法律维权 whatever its SQLB is enrichment's.
CATEGORIES: Final[Mapping[str, PetitionType]] = {
    "咨询": PetitionType.POLICY_CONSULTATION,
    "建议": PetitionType.SUGGESTION,
    "求助": PetitionType.DIFFICULTY_ASSISTANCE,
    "投诉": PetitionType.REPORT_COMPLAINT,
    "举报": PetitionType.REPORT_COMPLAINT,
    "表扬": PetitionType.OTHER,
    "其他": PetitionType.OTHER,
}

_URGENCY: Final[Mapping[str, Urgency]] = {
    "一般": Urgency.NORMAL,
    "紧急": Urgency.URGENT,
    "特急": Urgency.VERY_URGENT,
}


@never_raises_other
def decode(
    key: bytes | None,
    value: bytes | None,
    headers: Headers = (),
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Petition:
    """The petition of one ``hotline12345.workorders`` message, or :class:`DecodeError`."""
    key_str, obj = json_message(key, value, headers, "GDBH", limits)

    gdbh = req_str(obj, "GDBH")
    xgcs = req_int(obj, "XGCS")
    if not 0 <= xgcs <= MAX_REVISION:
        raise DecodeError(
            Reason.BAD_VALUE, f"field `XGCS` must be an edit count from 0 to {MAX_REVISION}"
        )
    received_at = parse_local(req_str(obj, "SLSJ"), "SLSJ")
    phone = req_str(obj, "LDHM")
    content = req_str(obj, "SQNR")
    title = opt_str(obj, "SQBT")
    check_text_limits(content, title, limits, "SQNR", "SQBT")

    jjcd = req_str(obj, "JJCD")
    urgency = _URGENCY.get(jjcd)
    if urgency is None:
        raise DecodeError(Reason.BAD_VALUE, "field `JJCD` must be 一般, 紧急 or 特急")
    confidential = _sfbm(obj)

    flags: list[str] = []
    category = opt_str(obj, "SQLB")
    petition_type = None
    if category is not None:
        petition_type = CATEGORIES.get(category)
        if petition_type is None:
            flags.append(Flag.CATEGORY_UNKNOWN)

    enterprise = enterprise_of(opt_str(obj, "QYMC"), opt_str(obj, "TYSHXYDM"), flags)
    petitioner = Petitioner.trusted(
        kind=PetitionerKind.INDIVIDUAL if enterprise is None else PetitionerKind.ENTERPRISE,
        name=opt_str(obj, "LDRXM"),
        phone=checked_phone(phone, flags),
    )
    attachments = []
    for i, url in enumerate(opt_list(obj, "FJ")):
        if not isinstance(url, str):
            raise wrong_type("", f"FJ[{i}]", "a string (a URL)", url)
        if url.strip():
            attachments.append(Attachment.trusted(url=url.strip()))

    check_key(key_str, gdbh, "GDBH")
    return Petition.trusted(
        channel=Channel.HOTLINE,
        channel_ref=gdbh,
        revision=xgcs,
        repeat_of_ref=opt_str(obj, "YGDBH"),
        received_at=received_at,
        petition_type=petition_type,
        channel_category=category,
        urgency=urgency,
        title=title,
        content=content,
        region_code=region_code(opt_str(obj, "XZQHDM"), flags),
        region_name=opt_str(obj, "SSQX"),
        attachments=tuple(attachments),
        operator_note=opt_str(obj, "ZXBZ"),
        enterprise=enterprise,
        petitioner=petitioner,
        confidential=confidential,
        disclosure_authorized=False,
        flags=tuple(flags),
    )


def _sfbm(obj: dict[str, object]) -> bool:
    """``SFBM``: ``"0"`` or ``"1"`` (the integers 0 and 1 are tolerated)."""
    value = obj.get("SFBM")
    if value is None:
        raise DecodeError(Reason.MISSING_FIELD, "required field `SFBM` is missing")
    if isinstance(value, str):
        value = value.strip()
        if value in ("0", "1"):
            return value == "1"
    elif isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return value == 1
    else:
        raise wrong_type("", "SFBM", 'a string "0" or "1"', value)
    raise DecodeError(Reason.BAD_VALUE, 'field `SFBM` must be "0" or "1"')


@never_raises_other
def decode_evaluation(
    key: bytes | None,
    value: bytes | None,
    headers: Headers = (),
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Evaluation:
    """The evaluation of one ``hotline12345.callbacks`` message, or :class:`DecodeError`.

    Same fields as the mini-program's evaluations with ``GDBH`` for ``appealId``. An
    ``evaluatedAt`` without an offset is read as Asia/Shanghai time (the hotline's convention).
    """
    return decode_json_evaluation(key, value, headers, Channel.HOTLINE, "GDBH", limits)


#: The 12345 hotline, as the hub's tables need it (:data:`petition_hub.connectors.CHANNELS`).
CHANNEL: Final = ChannelSpec(
    channel=Channel.HOTLINE,
    topic=TOPIC,
    decode=decode,
    time_fields=TIME_FIELDS,
    requests=CALLBACK_REQUESTS,
    evaluation_topic=EVALUATION_TOPIC,
    decode_evaluation=decode_evaluation,
    progress=PROGRESS,
)
