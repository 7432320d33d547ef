"""Personal data stays inside its envelope (issue 11, defect 5), without a broker.

- :mod:`petition_hub.domain.privacy`: the masking of a withheld petitioner's data in free text
  (Chinese text, names of two to four characters, full-width digits, phones with spaces and
  dashes), which never touches an enterprise's name or credit code;
- ``unit_record``: what a unit reads of a petition whose petitioner's identity is withheld;
- the reasons of dead letters (``DecodeError.message``, the intake's messages): which field and
  why, never what it held;
- the log processors: tracebacks are scrubbed too.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from hubtest import strings_of
from petition_hub import schemas
from petition_hub.agents.routing_records import unit_record
from petition_hub.connectors import DecodeError, hotline, miniprogram, province
from petition_hub.data import load_samples
from petition_hub.domain.petition import Channel, Petition
from petition_hub.domain.privacy import (
    ID_NUMBER_MASK,
    NAME_MASK,
    OPENID_MASK,
    PHONE_MASK,
    REDACTED_FLAG,
    Personal,
    mask_text,
    redact,
    text_masker,
)
from petition_hub.domain.routing import route
from petition_hub.domain.rules import default_rules
from petition_hub.schemas import codec

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)

NAME4 = "欧阳春花"
NAME3 = "韦建华"
NAME2 = "韦娜"
MOBILE = "13903751234"
LANDLINE = "0375-2987654"
ID_NUMBER = "41040219850317123X"
OPENID = "o6_PlantedOpenid0123456789xyz"
ENTERPRISE = "平顶山市欧阳春花商贸有限公司"  # the petitioner's name inside the enterprise's
USCC = "91410402MA9XXXXXX1"


def full_width(text: str) -> str:
    return "".join(chr(ord(c) - ord("0") + ord("０")) if c.isdigit() else c for c in text)


# --- the masking function ---------------------------------------------------------------------

KNOWN = Personal(
    names=(NAME4, NAME2),
    phones=(MOBILE, LANDLINE),
    id_numbers=(ID_NUMBER,),
    openids=(OPENID,),
    keep=(ENTERPRISE, USCC),
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"我是{NAME4}，请回电。", f"我是{NAME_MASK}，请回电。"),
        (f"联系人{NAME2}女士", f"联系人{NAME_MASK}女士"),
        ("联系人韦 娜女士", f"联系人{NAME_MASK}女士"),  # a space typed between the characters
        (f"手机{MOBILE}。", f"手机{PHONE_MASK}。"),
        ("手机139 0375 1234。", f"手机{PHONE_MASK}。"),
        ("手机139-0375-1234。", f"手机{PHONE_MASK}。"),
        ("手机+86 13903751234。", f"手机{PHONE_MASK}。"),
        (f"手机{full_width(MOBILE)}。", f"手机{PHONE_MASK}。"),
        ("座机0375-2987654", f"座机{PHONE_MASK}"),
        ("座机（0375）2987654", f"座机{PHONE_MASK}"),
        ("打2987654找我", f"打{PHONE_MASK}找我"),  # a known landline's local number alone
        (f"身份证号{ID_NUMBER}", f"身份证号{ID_NUMBER_MASK}"),
        ("身份证号41040219850317123x", f"身份证号{ID_NUMBER_MASK}"),
        (f"身份证号{full_width(ID_NUMBER[:-1])}Ｘ", f"身份证号{ID_NUMBER_MASK}"),
        ("身份证号 410402 1985 0317 123X", f"身份证号 {ID_NUMBER_MASK}"),
        (f"微信{OPENID}。", f"微信{OPENID_MASK}。"),
        # whoever's they are: any mobile, landline or ID number shape
        ("另一位股东电话15037598765", f"另一位股东电话{PHONE_MASK}"),
        ("办公室0375-3456789转8", f"办公室{PHONE_MASK}转8"),
        ("法人身份证410422199108084566", f"法人身份证{ID_NUMBER_MASK}"),
        ("法人身份证410422199108084567", f"法人身份证{ID_NUMBER_MASK}"),  # a typo is still his
        ("另一个微信o6_bmjrPTlm6_2sgVt7hMZOPfL2M。", f"另一个微信{OPENID_MASK}。"),
    ],
)
def test_masks_the_petitioners_data_and_shapes(text: str, masked: str) -> None:
    assert text_masker(KNOWN)(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        f"{ENTERPRISE}反映：厂房租金上涨。",  # an enterprise's name is not personal
        f"统一社会信用代码{USCC}",
        "统一社会信用代码91410400MA44NGRG5K，另一家91410423MA9F6Q0Y1Y",
        "工单12345-410400-20261121-000123，省平台HA-20261121-000123，PH-5U64JHHYVGDNOLJS3RAF",
        "2026-11-21 09:15:32申请贷款1380万元，年产值5000000元，员工120人",
        "政策文号豫政〔2020〕13号，联系12345热线",
        "",
    ],
)
def test_leaves_what_is_not_personal(text: str) -> None:
    assert text_masker(KNOWN)(text) == text


def test_the_petitioners_name_is_masked_outside_the_enterprise_name_only() -> None:
    text = f"{ENTERPRISE}法人{NAME4}，电话{MOBILE}"
    assert text_masker(KNOWN)(text) == f"{ENTERPRISE}法人{NAME_MASK}，电话{PHONE_MASK}"


def test_names_of_two_to_four_characters_and_single_characters() -> None:
    mask = text_masker(Personal(names=("李", "王芳", NAME3, NAME4)))
    assert mask(f"王芳、{NAME3}和{NAME4}") == f"{NAME_MASK}、{NAME_MASK}和{NAME_MASK}"
    assert mask("李") == "李"  # one character would mask half of any text


def test_without_known_values_the_shapes_are_masked() -> None:
    assert mask_text("请拨打１５８ ３７５１ ２２２２") == f"请拨打{PHONE_MASK}"
    assert mask_text("一个18位数字123456789012345678不是身份证") == (
        "一个18位数字123456789012345678不是身份证"
    )


def test_personal_of_a_petition() -> None:
    sample = load_samples()["miniprogram-v1-individual.json"]
    p = miniprogram.decode(sample.key, sample.value, ())
    personal = Personal.of(p)
    assert personal.names == ("陈某",)
    assert personal.phones == ("15837512222",)
    assert personal.id_numbers == ("410423198005122319",)
    assert personal.openids == ("o6_928d7b367464917659f43bea5",)
    assert personal.keep == ()


# --- what a unit reads --------------------------------------------------------------------------

PLANTED = (NAME4, NAME3, MOBILE, LANDLINE, "2987654", ID_NUMBER, OPENID)


def _leaks(record: dict[str, Any], planted: tuple[str, ...] = PLANTED) -> list[str]:
    # an enterprise's name is not personal, even with a person's name in it
    text = "\n".join(strings_of(record)).replace(ENTERPRISE, "")
    return [p for p in planted if p in text or full_width(p) in text]


def _dispatch(confidential: bool) -> Petition:
    sample = load_samples()["province-v2-deadline.avro.bin"]
    _, rec = schemas.decode(sample.value)
    rec["petitioner"].update(
        kind="INDIVIDUAL", name=NAME4, uscc=None, idNumber=ID_NUMBER, contactName=NAME3
    )
    rec["petitioner"]["phone"] = MOBILE
    rec["confidential"] = confidential
    rec["subject"] = f"{NAME4}反映用电增容"
    rec["content"] = (
        f"本人{NAME4}（身份证{ID_NUMBER}），联系人{NAME3}，手机139 0375 1234，"
        f"座机{LANDLINE}，微信{OPENID}。企业扩建项目用电需求增加，申请增容的变压器安装已拖延。"
    )
    rec["attachments"] = [
        {"name": f"{NAME4}身份证.jpg", "url": "https://qy.henan.gov.cn/att/1", "sha256": None}
    ]
    return province.decode(sample.key, schemas.encode(102, rec), ())


def _appeal(authorize: bool) -> Petition:
    sample = load_samples()["miniprogram-v2-enterprise.json"]
    appeal = json.loads(sample.value)
    appeal["openid"] = OPENID
    appeal["account"].update(name=NAME3, phone=MOBILE)
    appeal["enterprise"]["name"] = ENTERPRISE
    appeal["authorizeDisclosure"] = authorize
    appeal["title"] = f"{NAME3}：续贷被银行压降"
    appeal["content"] = (
        f"{ENTERPRISE}法人{NAME3}，电话{full_width(MOBILE)}，openid {OPENID}。续贷被银行压降。"
    )
    appeal["attachments"] = [{"name": f"{NAME3}的合同.pdf", "url": "https://zt.pds.gov.cn/f/1"}]
    return miniprogram.decode(sample.key, json.dumps(appeal, ensure_ascii=False).encode(), ())


def _call(sfbm: str, content: str = "企业招工难，请求帮助组织一场招聘会。") -> Petition:
    """A 12345 work order from caller NAME3 (MOBILE) about ENTERPRISE, ``SFBM`` as given."""
    sample = load_samples()["hotline-financing.json"]
    order = json.loads(sample.value)
    order.update(
        SFBM=sfbm,
        LDRXM=NAME3,
        LDHM=MOBILE,
        QYMC=ENTERPRISE,
        TYSHXYDM=USCC,
        SQBT=f"{NAME3}反映招工难",
        SQNR=f"{ENTERPRISE}的{NAME3}来电，电话{MOBILE}。{content}",
        FJ=["https://rx.pds.gov.cn/f/1"],
    )
    return hotline.decode(sample.key, json.dumps(order, ensure_ascii=False).encode(), ())


def _unit_view(petition: Petition) -> dict[str, Any]:
    decision = route(petition, default_rules())
    record = unit_record(petition, decision, "LEAD", NOW)
    schemas.encode(codec.UNIT_PETITION_V3, record)  # still a valid record
    return record


@pytest.mark.parametrize(
    "petition",
    [_dispatch(confidential=True), _appeal(authorize=False), _call("1")],
    ids=["province-confidential", "miniprogram-not-authorized", "hotline-sfbm-1"],
)
def test_a_withheld_identity_is_masked_in_every_text_a_unit_reads(petition: Petition) -> None:
    view = _unit_view(petition)
    assert view["identityWithheld"] is True
    assert view["contactName"] is None and view["contactPhone"] is None
    assert not _leaks(view), view
    # the enterprise is no personal data: it travels though the person is withheld
    if petition.enterprise is not None:
        assert view["enterpriseName"] == petition.enterprise.name
        assert view["enterpriseUscc"] == petition.enterprise.uscc
    assert NAME_MASK in view["content"] and PHONE_MASK in view["content"]
    # 12345 attachments are bare URLs (FJ): no names to mask there
    named = petition.channel is not Channel.HOTLINE
    assert all(NAME_MASK in a["name"] for a in view["attachments"] if named or a["name"])
    assert view["attachments"][0]["url"].startswith("https://")  # URLs are links: kept
    if petition.enterprise is not None and petition.enterprise.name == ENTERPRISE:
        assert ENTERPRISE in view["content"]  # an enterprise's name is never masked


def test_a_visible_identity_is_sent_as_the_petitioner_wrote_it() -> None:
    petition = _appeal(authorize=True)
    view = _unit_view(petition)
    assert view["identityWithheld"] is False
    assert view["contactPhone"] == MOBILE
    assert view["content"] == petition.content and view["title"] == petition.title
    assert view["attachments"][0]["name"] == f"{NAME3}的合同.pdf"


def test_a_12345_caller_who_asked_no_confidentiality_is_shown_with_the_enterprise() -> None:
    view = _unit_view(_call("0"))
    assert view["identityWithheld"] is False
    assert (view["contactName"], view["contactPhone"]) == (NAME3, MOBILE)
    assert (view["enterpriseName"], view["enterpriseUscc"]) == (ENTERPRISE, USCC)
    assert NAME3 in view["content"] and MOBILE in view["content"]


def test_a_sensitive_12345_call_withholds_caller_and_enterprise_whatever_sfbm_says() -> None:
    for sfbm in ("0", "1"):
        petition = _call(sfbm, "叶县市场监管局执法人员多次吃拿卡要，不给好处就刁难。")
        decision = route(petition, default_rules())
        assert decision.sensitive and "county.410422.petitions" not in decision.topics
        view = _unit_view(petition)
        assert view["identityWithheld"] is True and view["sensitive"] is True
        assert view["contactName"] is None and view["contactPhone"] is None
        assert view["enterpriseName"] is None and view["enterpriseUscc"] is None
        assert not _leaks(view), view


# --- dead-letter reasons: which field and why, never what it held -----------------------------

PHONE_INT = int(MOBILE)


def _hotline(**changes: Any) -> bytes:
    order = json.loads(load_samples()["hotline-financing.json"].value)
    order.update(changes)
    return json.dumps(order, ensure_ascii=False).encode()


def _appeal_value(**changes: Any) -> bytes:
    appeal = json.loads(load_samples()["miniprogram-v2-enterprise.json"].value)
    for name, value in changes.items():
        if "." in name:
            outer, inner = name.split(".")
            appeal[outer][inner] = value
        else:
            appeal[name] = value
    return json.dumps(appeal, ensure_ascii=False).encode()


def _evaluation(**changes: Any) -> bytes:
    rating = {
        "appealId": "MP2026111700231",
        "petitionRef": "PH-X",
        "satisfaction": "满意",
        "evaluatedAt": "2026-12-02T10:00:00+08:00",
        "revision": 0,
    }
    rating.update(changes)
    return json.dumps(rating, ensure_ascii=False).encode()


HOTLINE_KEY = b"12345-410400-20261116-000871"
APPEAL_KEY = b"MP2026111700231"
BROKEN: list[tuple[str, Any, bytes | None, bytes, Any]] = [
    ("JJCD holds a name", hotline.decode, HOTLINE_KEY, _hotline(JJCD=NAME4), ()),
    ("SFBM holds a phone", hotline.decode, HOTLINE_KEY, _hotline(SFBM=MOBILE), ()),
    ("SLSJ holds a phone", hotline.decode, HOTLINE_KEY, _hotline(SLSJ=MOBILE), ()),
    ("SLSJ holds a name", hotline.decode, HOTLINE_KEY, _hotline(SLSJ=f"{NAME4} 10:00:00"), ()),
    ("XGCS holds a phone", hotline.decode, HOTLINE_KEY, _hotline(XGCS=PHONE_INT), ()),
    ("GDBH holds an ID", hotline.decode, HOTLINE_KEY, _hotline(GDBH=ID_NUMBER), ()),
    ("the key is a phone", hotline.decode, MOBILE.encode(), _hotline(), ()),
    (
        "charset holds a phone",
        hotline.decode,
        HOTLINE_KEY,
        _hotline(),
        [("charset", b"13903751234")],
    ),
    (
        "a JSON key is a name",
        hotline.decode,
        HOTLINE_KEY,
        _hotline()[:-1] + f', "{NAME4}": "\\ud800"}}'.encode(),
        (),
    ),
    (
        "account.type holds a name",
        miniprogram.decode,
        APPEAL_KEY,
        _appeal_value(**{"account.type": NAME4}),
        (),
    ),
    (
        "submittedAt holds an openid",
        miniprogram.decode,
        APPEAL_KEY,
        _appeal_value(submittedAt=OPENID),
        (),
    ),
    (
        "submittedAt holds an ID",
        miniprogram.decode,
        APPEAL_KEY,
        _appeal_value(submittedAt=ID_NUMBER),
        (),
    ),
    (
        "submittedAt without offset",
        miniprogram.decode,
        APPEAL_KEY,
        _appeal_value(submittedAt="2026-11-17T20:11:05"),
        (),
    ),
    (
        "schemaVersion holds a phone",
        miniprogram.decode,
        APPEAL_KEY,
        _appeal_value(schemaVersion=PHONE_INT),
        (),
    ),
    (
        "appealId holds an openid",
        miniprogram.decode,
        APPEAL_KEY,
        _appeal_value(appealId=OPENID),
        (),
    ),
    (
        "satisfaction holds a name",
        miniprogram.decode_evaluation,
        APPEAL_KEY,
        _evaluation(satisfaction=NAME4),
        (),
    ),
    (
        "revision holds a phone",
        miniprogram.decode_evaluation,
        APPEAL_KEY,
        _evaluation(revision=PHONE_INT),
        (),
    ),
    (
        "evaluatedAt holds a phone",
        hotline.decode_evaluation,
        APPEAL_KEY,
        _evaluation(GDBH="MP2026111700231", evaluatedAt=MOBILE),
        (),
    ),
    (
        "dispatchId key is an ID",
        province.decode,
        ID_NUMBER.encode(),
        load_samples()["province-v1-dispatch.avro.bin"].value,
        (),
    ),
]


@pytest.mark.parametrize(
    ("decode", "key", "value", "headers"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_decode_errors_never_quote_a_value(
    decode: Any, key: bytes, value: bytes, headers: Any
) -> None:
    with pytest.raises(DecodeError) as info:
        decode(key, value, headers)
    err = info.value
    assert err.message
    said = f"{err.message} {err}"
    for planted in (NAME4, MOBILE, ID_NUMBER, OPENID, "10:00:00", "2026-11-17T20:11:05"):
        assert planted not in said, (planted, said)


def test_every_broken_corpus_message_says_which_field_not_what_it_held() -> None:
    """Over the whole generated corpus: no dead letter's reason repeats a string of the message
    (three characters or more) nor its key."""
    from petition_hub.connectors import PETITION_DECODERS
    from petition_hub.devtools.corpus import generate_all

    for item in generate_all(200, seed=5, oversize_bytes=1024 * 1024 + 10):
        if item.expected != "deadletter" or item.value is None:
            continue
        with pytest.raises(DecodeError) as info:
            PETITION_DECODERS[item.topic](item.key, item.value, item.headers)
        message = info.value.message
        values: list[str] = []
        if item.key:
            values.append(item.key.decode(errors="replace"))
        with contextlib.suppress(ValueError):
            values += list(strings_of(json.loads(item.value)))
        quoted = [v for v in values if len(v) >= 3 and v in message]
        assert not quoted, (item, message, quoted)


# --- logs (imported in each test: the processors are what is tested) ---------------------------


def test_a_traceback_is_scrubbed_like_any_log_value() -> None:
    from petition_hub.service.logs import render_exception, scrub_pii

    try:
        raise ValueError(f"{NAME4!r} (type str) do not match; phone {MOBILE}, id {ID_NUMBER}")
    except ValueError:
        event = render_exception(None, "error", {"event": "intake failed", "exc_info": True})
        event = scrub_pii(None, "error", event)
    text = event["exception"]
    assert "ValueError" in text and "Traceback" in text
    for planted in (NAME4, MOBILE, ID_NUMBER):
        assert planted not in text


def test_foreign_exception_info_is_scrubbed_too() -> None:
    from petition_hub.service.logs import render_exception

    try:
        raise KeyError(NAME3)
    except KeyError:
        event = render_exception(None, "error", {"event": "x", "exc_info": sys.exc_info()})
    assert NAME3 not in event["exception"] and "KeyError" in event["exception"]


@pytest.mark.parametrize(
    "text",
    [MOBILE, "139 0375 1234", "139-0375-1234", "+86 13903751234", full_width(MOBILE), LANDLINE],
)
def test_log_scrubbing_finds_phones_as_people_write_them(text: str) -> None:
    from petition_hub.service.logs import scrub_text

    assert scrub_text(f"电话{text}。") == "电话[phone]。"


def test_log_scrubbing_leaves_the_hubs_own_numbers() -> None:
    from petition_hub.service.logs import scrub_text

    line = (
        "2026-12-02T07:49:50.123456Z dead letter source=hotline12345.workorders:5:13903 "
        "ref=12345-410400-20261121-000123 HA-20261119-004513 1048588 bytes 127.0.0.1:9108"
    )
    assert scrub_text(line) == line


def test_pydantic_input_values_are_withheld_in_tracebacks() -> None:
    from petition_hub.service.logs import scrub_exception_text

    text = (
        "pydantic_core.ValidationError: 1 validation error for Petition\n"
        f"  Input should be a valid string [type=string_type, input_value='{NAME4}', "
        "input_type=str]\n"
        "    input_value=12345, input_type=int]"
    )
    scrubbed = scrub_exception_text(text)
    assert NAME4 not in scrubbed and "12345" not in scrubbed
    assert "input_value=[withheld]" in scrubbed


@pytest.mark.parametrize(
    "petition",
    [_dispatch(confidential=False), _appeal(authorize=True)],
    ids=["province", "miniprogram"],
)
def test_a_redacted_revision_keeps_nothing_personal_and_what_reports_need(
    petition: Petition,
) -> None:
    """Erasure (retention after closure, a petitioner's request): the personal fields go, the
    texts are masked, the map point and file addresses go; ids, times, type, region and the
    enterprise stay; the revision is flagged; a second redaction changes nothing."""
    done = redact(petition)
    record = codec.petition_record(done.petition)
    schemas.encode(schemas.PETITION_V1, record)  # still a valid hub.petitions record
    assert _leaks(record) == []
    assert all(a["url"] == "" for a in record["attachments"])
    assert record["location"] is None and REDACTED_FLAG in record["flags"]
    kept = ("petition_id", "channel", "channel_ref", "revision", "received_at", "petition_type")
    assert {k: record[k] for k in kept} == {k: codec.petition_record(petition)[k] for k in kept}
    assert done.petition.enterprise == petition.enterprise
    assert {"petitioner.phone", "content", "attachments"} <= set(done.fields)
    again = redact(codec.petition_of(record))
    assert again.petition == done.petition
    assert not set(again.fields) & {"petitioner.phone", "petitioner.name", "content"}
