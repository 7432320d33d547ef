"""12345 hotline connector: the contract's samples, category and urgency, flags, dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hubtest import decode_error, sample_with
from petition_hub.connectors import hotline
from petition_hub.connectors.base import DecodeError, Reason
from petition_hub.data import load_samples
from petition_hub.domain.petition import (
    Channel,
    Flag,
    PetitionerKind,
    PetitionType,
    Satisfaction,
    Urgency,
    petition_id_for,
)

SAMPLES = load_samples()
FINANCING = SAMPLES["hotline-financing.json"]
GB18030 = SAMPLES["hotline-edit-gb18030.json"]
REPEAT = SAMPLES["hotline-repeat-confidential.json"]


def order(**changes: Any) -> dict[str, Any]:
    """The financing sample as a dict, with ``changes`` (a value of ``...`` deletes the field)."""
    return sample_with(FINANCING.value, **changes)


def encode(obj: Any) -> bytes:
    """UTF-8 JSON; a lone surrogate is written as a ``\\udxxx`` escape, as a JSON library would."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj).encode("ascii")


def decode_obj(obj: dict[str, Any], headers: Any = ()) -> Any:
    return hotline.decode(
        str(obj.get("GDBH", FINANCING.key.decode())).encode(), encode(obj), headers
    )


def reason_of(key: bytes | None, value: bytes | None, headers: Any = ()) -> DecodeError:
    return decode_error(hotline.decode, key, value, headers)


# --- samples -------------------------------------------------------------------------------------


def test_financing_sample() -> None:
    p = hotline.decode(FINANCING.key, FINANCING.value, FINANCING.headers)
    assert p.channel is Channel.HOTLINE
    assert p.channel_ref == "12345-410400-20261116-000871"
    assert p.petition_id == petition_id_for("hotline", "12345-410400-20261116-000871")
    assert p.petition_id.startswith("PH-") and len(p.petition_id) == 23
    assert p.revision == 0
    assert p.repeat_of_ref is None and p.repeat_of is None
    # SLSJ 09:42:10 Asia/Shanghai is 01:42:10 UTC
    assert p.received_at == datetime(2026, 11, 16, 1, 42, 10, tzinfo=UTC)
    assert p.received_at.utcoffset() is not None and p.received_at.utcoffset().total_seconds() == 0
    assert p.petition_type is PetitionType.DIFFICULTY_ASSISTANCE
    assert p.channel_category == "求助"
    assert p.urgency is Urgency.NORMAL
    assert p.title == "银行到期不续贷"
    assert p.content.startswith("我公司在某银行的500万元流动资金贷款")
    assert p.region_code == "410402"
    assert p.region_name == "新华区"
    assert p.enterprise is not None
    assert p.enterprise.name == "平顶山市鹰城精密机械有限公司"
    assert p.enterprise.uscc == "91410402MA0011870T"
    assert p.petitioner.kind is PetitionerKind.ENTERPRISE
    assert p.petitioner.name == "李明"
    assert p.petitioner.phone == "13937512345"
    assert p.attachments == ()
    assert p.confidential is False
    assert p.disclosure_authorized is False  # 12345 sends no such field
    # SFBM "0": no confidentiality asked, which on 12345 is consent (the hotline's practice)
    assert p.identity_visible_to_unit is True
    assert p.target_city is None and p.provincial_deadline is None
    assert p.flags == ()


def test_gb18030_sample_decodes_to_chinese_text() -> None:
    assert GB18030.headers == (("charset", b"GB18030"),)
    with pytest.raises(UnicodeDecodeError):
        GB18030.value.decode("utf-8")
    p = hotline.decode(GB18030.key, GB18030.value, GB18030.headers)
    assert p.content == (
        "反映县里某部门在办理食品经营许可时多次要求补充与审批无关的材料，拖着不办，已经两个月了。"
    )
    assert p.petitioner.name == "赵女士"
    assert p.petitioner.phone == "0375-2961234"  # a landline is a valid phone
    assert p.enterprise is not None and p.enterprise.name == "叶县盐都食品有限公司"
    assert p.enterprise.uscc is None
    assert p.region_name == "叶县" and p.region_code is None
    assert p.petition_type is PetitionType.REPORT_COMPLAINT
    assert p.revision == 1  # an operator edit
    assert p.received_at == datetime(2026, 11, 16, 2, 5, 33, tzinfo=UTC)
    assert p.flags == ()


def test_gb18030_header_name_and_value_case_insensitive() -> None:
    for headers in (
        [(b"Charset", b"gb18030")],
        [("CHARSET", b" GB18030 ")],
        {"charset": b"GBK"},
        [("x-trace", b"\xff\xfe"), ("charset", b"utf-8"), ("charset", b"GB18030")],  # last wins
    ):
        p = hotline.decode(GB18030.key, GB18030.value, headers)
        assert p.petitioner.name == "赵女士"


def test_edit_gets_the_same_id_with_a_larger_revision() -> None:
    first = json.loads(GB18030.value.decode("gb18030"))
    first["XGCS"] = 0
    original = hotline.decode(GB18030.key, encode(first), ())
    edited = hotline.decode(GB18030.key, GB18030.value, GB18030.headers)
    assert original.petition_id == edited.petition_id
    assert (original.revision, edited.revision) == (0, 1)


def test_redelivery_gets_the_same_petition() -> None:
    a = hotline.decode(FINANCING.key, FINANCING.value, ())
    b = hotline.decode(FINANCING.key, FINANCING.value, ())
    assert a == b


def test_repeat_confidential_sample() -> None:
    p = hotline.decode(REPEAT.key, REPEAT.value, REPEAT.headers)
    assert p.repeat_of_ref == "12345-410400-20261102-000310"
    assert p.repeat_of == petition_id_for(Channel.HOTLINE, "12345-410400-20261102-000310")
    assert p.confidential is True
    assert p.identity_visible_to_unit is False
    assert p.urgency is Urgency.URGENT
    assert p.petition_type is PetitionType.REPORT_COMPLAINT  # 举报
    assert p.petitioner.kind is PetitionerKind.INDIVIDUAL  # no enterprise named
    assert p.petitioner.name is None
    assert p.enterprise is None
    assert p.title is None
    assert p.received_at == datetime(2026, 11, 18, 7, 20, tzinfo=UTC)


# --- mapping and flags --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sqlb", "expected"),
    [
        ("咨询", PetitionType.POLICY_CONSULTATION),
        ("建议", PetitionType.SUGGESTION),
        ("求助", PetitionType.DIFFICULTY_ASSISTANCE),
        ("投诉", PetitionType.REPORT_COMPLAINT),
        ("举报", PetitionType.REPORT_COMPLAINT),
        ("表扬", PetitionType.OTHER),
        ("其他", PetitionType.OTHER),
        (" 咨询 ", PetitionType.POLICY_CONSULTATION),
    ],
)
def test_categories(sqlb: str, expected: PetitionType) -> None:
    p = decode_obj(order(SQLB=sqlb))
    assert p.petition_type is expected
    assert p.flags == ()


@pytest.mark.parametrize("sqlb", [..., None, "", "  "])
def test_missing_category_is_left_to_enrichment(sqlb: Any) -> None:
    p = decode_obj(order(SQLB=sqlb))
    assert p.petition_type is None
    assert p.channel_category is None
    assert p.flags == ()


def test_unknown_category_is_flagged() -> None:
    p = decode_obj(order(SQLB="投拆"))
    assert p.petition_type is None
    assert p.channel_category == "投拆"
    assert p.flags == (Flag.CATEGORY_UNKNOWN,)


@pytest.mark.parametrize(
    ("jjcd", "expected"),
    [("一般", Urgency.NORMAL), ("紧急", Urgency.URGENT), ("特急", Urgency.VERY_URGENT)],
)
def test_urgency(jjcd: str, expected: Urgency) -> None:
    assert decode_obj(order(JJCD=jjcd)).urgency is expected


def test_invalid_credit_code_is_accepted_and_flagged() -> None:
    p = decode_obj(order(TYSHXYDM="91410402MA0011870X"))
    assert p.enterprise is not None
    assert p.enterprise.uscc == "91410402MA0011870X"  # kept as typed
    assert p.flags == ("uscc_invalid",)


def test_credit_code_is_compacted_when_valid() -> None:
    p = decode_obj(order(TYSHXYDM="91410402ma0011870t"))
    assert p.enterprise is not None and p.enterprise.uscc == "91410402MA0011870T"
    assert p.flags == ()


def test_enterprise_from_credit_code_alone() -> None:
    p = decode_obj(order(QYMC=...))
    assert p.enterprise is not None and p.enterprise.name is None
    assert p.petitioner.kind is PetitionerKind.ENTERPRISE


@pytest.mark.parametrize("phone", ["12345", "1393751234", "0375 2961234", "１３９３７５１２３４５"])
def test_invalid_phone_is_accepted_and_flagged(phone: str) -> None:
    p = decode_obj(order(LDHM=phone))
    assert p.petitioner.phone == phone.strip()
    assert p.flags == ("phone_invalid",)


def test_region_codes() -> None:
    assert decode_obj(order(XZQHDM="410471")).region_code == "410471"  # functional zone
    unknown = decode_obj(order(XZQHDM="419999"))
    assert unknown.region_code == "419999"
    assert unknown.flags == ("region_code_unknown",)
    invalid = decode_obj(order(XZQHDM="41040"))
    assert invalid.region_code is None
    assert invalid.flags == ("region_code_invalid",)
    assert decode_obj(order(XZQHDM="")).region_code is None


def test_sfbm_and_attachments_and_note() -> None:
    p = decode_obj(
        order(SFBM=1, FJ=["https://a/1.jpg", "  ", "https://a/2.jpg"], ZXBZ="已核实企业名称")
    )
    assert p.confidential is True
    assert [a.url for a in p.attachments] == ["https://a/1.jpg", "https://a/2.jpg"]
    assert p.attachments[0].name is None
    assert p.operator_note == "已核实企业名称"


def test_utf8_bom_is_tolerated() -> None:
    p = hotline.decode(FINANCING.key, b"\xef\xbb\xbf" + FINANCING.value, ())
    assert p.channel_ref == "12345-410400-20261116-000871"


# --- dead letters -------------------------------------------------------------------------------

GOOD = FINANCING.value
KEY = FINANCING.key

BROKEN: list[tuple[str, bytes | None, bytes | None, Any, Reason, str]] = [
    ("null value", KEY, None, (), Reason.EMPTY, "no value"),
    ("empty value", KEY, b"", (), Reason.EMPTY, "empty"),
    ("null key", None, GOOD, (), Reason.MISSING_KEY, "GDBH"),
    ("empty key", b"", GOOD, (), Reason.MISSING_KEY, "GDBH"),
    ("key not UTF-8", b"\xff", GOOD, (), Reason.BAD_ENCODING, "key"),
    ("key mismatch", b"12345-410400-20261116-000999", GOOD, (), Reason.KEY_MISMATCH, "GDBH"),
    ("too large", KEY, GOOD + b" " * (1024 * 1024), (), Reason.TOO_LARGE, "bytes"),
    ("truncated", KEY, GOOD[:100], (), Reason.BAD_JSON, "not JSON"),
    ("not JSON", KEY, b"GDBH=1", (), Reason.BAD_JSON, "not JSON"),
    ("array", KEY, b"[1, 2]", (), Reason.NOT_AN_OBJECT, "an array"),
    ("string", KEY, b'"x"', (), Reason.NOT_AN_OBJECT, "a string"),
    (
        "GB18030 without header",
        GB18030.key,
        GB18030.value,
        (),
        Reason.BAD_ENCODING,
        "charset: GB18030",
    ),
    ("unsupported charset", KEY, GOOD, [("charset", b"Big5")], Reason.BAD_ENCODING, "charset"),
    ("NaN", KEY, GOOD[:-1] + b', "X": NaN}', (), Reason.BAD_JSON, "NaN"),
    ("deep nesting", KEY, b"[" * 100_000 + b"]" * 100_000, (), Reason.BAD_JSON, "JSON"),
    ("huge integer", KEY, b'{"XGCS": ' + b"9" * 5000 + b"}", (), Reason.BAD_JSON, "JSON"),
]


@pytest.mark.parametrize(
    ("key", "value", "headers", "reason", "words"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_messages(
    key: bytes | None, value: bytes | None, headers: Any, reason: Reason, words: str
) -> None:
    err = reason_of(key, value, headers)
    assert err.reason_code is reason
    assert words in err.message


@pytest.mark.parametrize("field", ["GDBH", "XGCS", "SLSJ", "LDHM", "SQNR", "JJCD", "SFBM"])
def test_missing_required_field(field: str) -> None:
    err = reason_of(KEY, encode(order(**{field: ...})), ())
    assert err.reason_code is Reason.MISSING_FIELD
    assert f"`{field}`" in err.message


@pytest.mark.parametrize("field", ["GDBH", "SQNR", "LDHM"])
def test_blank_required_field(field: str) -> None:
    err = reason_of(KEY, encode(order(**{field: "   "})), ())
    assert err.reason_code is Reason.MISSING_FIELD
    assert f"`{field}`" in err.message and "blank" in err.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("XGCS", "1"),
        ("XGCS", True),
        ("XGCS", 1.5),
        ("SQNR", 12345),
        ("LDHM", 13937512345),
        ("QYMC", {"name": "x"}),
        ("FJ", "https://a/1.jpg"),
        ("FJ", [1]),
        ("SFBM", True),
        ("GDBH", ["12345"]),
    ],
)
def test_wrong_types(field: str, value: Any) -> None:
    err = reason_of(KEY, encode(order(**{field: value})), ())
    assert err.reason_code is Reason.WRONG_TYPE
    assert f"`{field}" in err.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("XGCS", -1),
        ("XGCS", 2**31),
        ("SLSJ", "2026/11/16 09:42:10"),
        ("SLSJ", "2026-02-30 10:00:00"),
        ("SLSJ", "2026-11-16 09:42:10+08:00"),
        ("SLSJ", "2026-11-16"),
        ("JJCD", "加急"),
        ("SFBM", "2"),
        ("SFBM", "是"),
        ("SQNR", "bad \ud800 surrogate"),
    ],
)
def test_bad_values(field: str, value: Any) -> None:
    err = reason_of(KEY, encode(order(**{field: value})), ())
    assert err.reason_code is Reason.BAD_VALUE
    assert f"`{field}`" in err.message


def test_text_limits() -> None:
    assert reason_of(KEY, encode(order(SQNR="诉" * 10_001))).reason_code is Reason.TOO_LARGE
    assert reason_of(KEY, encode(order(SQBT="题" * 201))).reason_code is Reason.TOO_LARGE
    assert decode_obj(order(SQNR="诉" * 10_000, SQBT="题" * 200)).title == "题" * 200


def test_messages_do_not_repeat_personal_values() -> None:
    err = reason_of(KEY, encode(order(LDHM=13937512345)), ())
    assert "13937512345" not in str(err)
    err = reason_of(KEY, encode(order(SQNR=["李明 13937512345"])), ())
    assert "13937512345" not in str(err)


def test_decode_error_pickles() -> None:
    import pickle

    err = reason_of(KEY, b"", ())
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.reason_code, copy.message) == (err.reason_code, err.message)


# --- call-backs (evaluations) -------------------------------------------------------------------


def callback(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "GDBH": "12345-410400-20261116-000871",
        "petitionRef": petition_id_for("hotline", "12345-410400-20261116-000871"),
        "satisfaction": "基本满意",
        "comment": "问题已解决，但等待时间较长。",
        "evaluatedAt": "2026-12-02T10:00:00+08:00",
        "revision": 0,
    }
    obj.update(changes)
    return {k: v for k, v in obj.items() if v is not ...}


def test_callback() -> None:
    e = hotline.decode_evaluation(KEY, encode(callback()), ())
    assert e.channel is Channel.HOTLINE
    assert e.ref == "12345-410400-20261116-000871"
    assert e.petition_id == petition_id_for("hotline", e.ref) == e.petition_ref
    assert e.satisfaction is Satisfaction.BASICALLY_SATISFIED
    assert e.evaluated_at == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    assert e.revision == 0


def test_callback_local_time_and_gb18030() -> None:
    value = json.dumps(
        callback(evaluatedAt="2026-12-02 10:00:00", satisfaction="不满意", revision=1),
        ensure_ascii=False,
    ).encode("gb18030")
    e = hotline.decode_evaluation(KEY, value, [("charset", b"GB18030")])
    assert e.evaluated_at == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    assert e.satisfaction is Satisfaction.DISSATISFIED
    assert e.revision == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"satisfaction": "很满意"}, Reason.BAD_VALUE),
        ({"satisfaction": ...}, Reason.MISSING_FIELD),
        ({"revision": 2}, Reason.BAD_VALUE),
        ({"revision": "0"}, Reason.WRONG_TYPE),
        ({"evaluatedAt": "yesterday"}, Reason.BAD_VALUE),
        ({"GDBH": "12345-410400-20261116-000872"}, Reason.KEY_MISMATCH),
    ],
)
def test_broken_callbacks(changes: dict[str, Any], reason: Reason) -> None:
    with pytest.raises(DecodeError) as info:
        hotline.decode_evaluation(KEY, encode(callback(**changes)), ())
    assert info.value.reason_code is reason
