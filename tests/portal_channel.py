"""A small, real connector for the channel tests (``test_channels.py``): the provincial
government-service portal's cases (``portal.cases``, JSON keyed by ``caseNo``) and its ratings
(``portal.ratings``), shaped the way ``docs/architecture.md`` says a fourth channel is added.

The domain's ``Channel`` enum cannot grow while the tests run, so this connector speaks for the
provincial channel: the tests put it in a list of channels in place of ``connectors.province``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from petition_hub.connectors.base import Headers, check_key, json_message, never_raises_other
from petition_hub.connectors.base import req_str as _req_str
from petition_hub.connectors.channel import ChannelSpec, EvaluationRequests
from petition_hub.connectors.values import check_text_limits, decode_json_evaluation, parse_iso
from petition_hub.domain.petition import (
    Channel,
    Evaluation,
    Petition,
    Petitioner,
    PetitionerKind,
    Urgency,
)
from petition_hub.domain.validation import DEFAULT_LIMITS

TOPIC: Final = "portal.cases"
EVALUATION_TOPIC: Final = "portal.ratings"
TIME_FIELDS: Final[Mapping[str, str]] = {"received_at": "submittedAt"}
RATING_REQUESTS: Final = EvaluationRequests("portal.rating-requests", "caseNo")


@never_raises_other
def decode(key: bytes | None, value: bytes | None, headers: Headers = ()) -> Petition:
    """The petition of one ``portal.cases`` message, or ``DecodeError`` (default limits)."""
    limits = DEFAULT_LIMITS
    key_str, obj = json_message(key, value, headers, "caseNo", limits, charset_header=False)
    case_no = _req_str(obj, "caseNo")
    content = _req_str(obj, "content")
    check_text_limits(content, None, limits, "content", "title")
    check_key(key_str, case_no, "caseNo")
    return Petition.trusted(
        channel=Channel.PROVINCE,
        channel_ref=case_no,
        revision=0,
        received_at=parse_iso(_req_str(obj, "submittedAt"), "submittedAt"),
        urgency=Urgency.NORMAL,
        content=content,
        petitioner=Petitioner.trusted(kind=PetitionerKind.ENTERPRISE),
        confidential=False,
        disclosure_authorized=False,
    )


@never_raises_other
def decode_evaluation(key: bytes | None, value: bytes | None, headers: Headers = ()) -> Evaluation:
    """The evaluation of one ``portal.ratings`` message, or ``DecodeError``."""
    return decode_json_evaluation(key, value, headers, Channel.PROVINCE, "caseNo", DEFAULT_LIMITS)


CHANNEL: Final = ChannelSpec(
    channel=Channel.PROVINCE,
    topic=TOPIC,
    decode=decode,
    time_fields=TIME_FIELDS,
    requests=RATING_REQUESTS,
    evaluation_topic=EVALUATION_TOPIC,
    decode_evaluation=decode_evaluation,
)
