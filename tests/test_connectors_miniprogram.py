"""Mini-program connector: schema versions 1 and 2, accounts, flags, dead letters, evaluations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from stdnum.cn import ric

from hubtest import decode_error, sample_with
from petition_hub.connectors import miniprogram
from petition_hub.connectors.base import DecodeError, Reason
from petition_hub.data import load_samples
from petition_hub.domain.petition import (
    Channel,
    GeoPoint,
    PetitionerKind,
    PetitionType,
    Satisfaction,
    Urgency,
    petition_id_for,
)

SAMPLES = load_samples()
V2 = SAMPLES["miniprogram-v2-enterprise.json"]
V1 = SAMPLES["miniprogram-v1-individual.json"]


def appeal(sample: Any = V2, **changes: Any) -> dict[str, Any]:
    """A sample as a dict with ``changes`` (``...`` deletes a field)."""
    return sample_with(sample.value, **changes)


def encode(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def decode_obj(obj: dict[str, Any]) -> Any:
    return miniprogram.decode(str(obj.get("appealId", "x")).encode(), encode(obj), ())


def error_of(obj: Any, key: bytes | None = V2.key) -> DecodeError:
    return decode_error(miniprogram.decode, key, encode(obj))


def test_v2_enterprise_sample() -> None:
    p = miniprogram.decode(V2.key, V2.value, V2.headers)
    assert p.channel is Channel.MINIPROGRAM
    assert p.channel_ref == "MP2026111700231"
    assert p.petition_id == petition_id_for("miniprogram", "MP2026111700231")
    assert p.revision == 0
    # 20:11:05+08:00 is 12:11:05 UTC
    assert p.received_at == datetime(2026, 11, 17, 12, 11, 5, tzinfo=UTC)
    assert p.petition_type is PetitionType.POLICY_CONSULTATION
    assert p.channel_category == "1"
    assert p.urgency is Urgency.NORMAL
    assert p.title == "专精特新申报"
    assert p.content.startswith("请问今年省级专精特新中小企业申报的条件")
    assert (p.region_code, p.region_name) == ("410481", "舞钢市")
    assert p.enterprise is not None
    assert p.enterprise.name == "舞钢市恒达特钢制品有限公司"
    assert p.enterprise.uscc == "91410481MA0033020K"
    assert p.petitioner.kind is PetitionerKind.ENTERPRISE
    assert p.petitioner.name == "王建国"
    assert p.petitioner.phone == "13603756789"
    assert p.petitioner.openid == "o6_681ab83d8914d76c4dbb4cfad"
    assert p.petitioner.id_number is None
    assert p.disclosure_authorized is True
    assert p.confidential is False
    assert p.identity_visible_to_unit is True
    assert p.location is None and p.attachments == ()
    assert p.flags == ()


def test_v1_individual_sample() -> None:
    p = miniprogram.decode(V1.key, V1.value, V1.headers)
    assert p.channel_ref == "MP2026111800012"
    assert p.received_at == datetime(2026, 11, 18, 0, 30, tzinfo=UTC)
    assert p.petition_type is PetitionType.SUGGESTION
    assert p.channel_category == "意见建议"
    assert p.region_code == "410423"
    assert p.region_name is None
    assert p.enterprise is None
    assert p.petitioner.kind is PetitionerKind.INDIVIDUAL
    assert p.petitioner.name == "陈某"
    assert p.petitioner.phone == "15837512222"
    assert p.disclosure_authorized is False
    assert p.identity_visible_to_unit is False
    # The sample's ID number has a wrong check digit (it should end in 4): kept, and flagged.
    assert p.petitioner.id_number == "410423198005122319"
    assert ric.calc_check_digit("410423198005122319") == "4"
    assert p.flags == ("id_number_invalid",)


def test_valid_id_number_is_not_flagged() -> None:
    account = appeal(V1)["account"] | {"idCardNo": "410423198005122314"}
    p = decode_obj(appeal(V1, account=account))
    assert p.petitioner.id_number == "410423198005122314"
    assert p.flags == ()


def test_id_number_born_before_the_county_code_existed_is_valid() -> None:
    """stdnum rejects 410423 (鲁山县, code from 1983) for someone born in 1980; the hub does not."""
    assert not ric.is_valid("410423198005122314")
    p = decode_obj(appeal(V1, account=appeal(V1)["account"] | {"idCardNo": "410423198005122314"}))
    assert "id_number_invalid" not in p.flags


@pytest.mark.parametrize(("category", "expected"), list(miniprogram.CATEGORIES.items()))
def test_v2_categories(category: int, expected: PetitionType) -> None:
    p = decode_obj(appeal(category=category))
    assert p.petition_type is expected
    assert p.channel_category == str(category)


@pytest.mark.parametrize("name", [t.value for t in PetitionType])
def test_v1_types(name: str) -> None:
    assert decode_obj(appeal(V1, type=name)).petition_type is PetitionType(name)


def test_unknown_or_missing_categories() -> None:
    seven = decode_obj(appeal(category=7))
    assert seven.petition_type is None
    assert (seven.channel_category, seven.flags) == ("7", ("category_unknown",))
    assert decode_obj(appeal(category="4")).petition_type is PetitionType.DIFFICULTY_ASSISTANCE
    missing = decode_obj(appeal(category=...))
    assert (missing.petition_type, missing.flags) == (None, ())
    v1 = decode_obj(appeal(V1, type="咨询"))
    assert v1.petition_type is None and "category_unknown" in v1.flags


def test_v2_ignores_v1_fields_and_v1_ignores_v2_fields() -> None:
    p = decode_obj(appeal(type="法律维权", regionCode="410402"))
    assert p.petition_type is PetitionType.POLICY_CONSULTATION
    assert p.region_code == "410481"
    q = decode_obj(appeal(V1, category=3, region={"code": "410402", "name": "新华区"}))
    assert q.petition_type is PetitionType.SUGGESTION
    assert q.region_code == "410423"


def test_location_and_attachments() -> None:
    p = decode_obj(
        appeal(
            location={"lat": 33.737, "lng": 113.3},
            attachments=[
                {"name": "合同.pdf", "url": "https://zt.example/f/1", "sha256": "ab" * 32},
                {"url": "https://zt.example/f/2"},
            ],
        )
    )
    assert p.location == GeoPoint(lat=33.737, lng=113.3)
    assert [(a.name, a.url, a.sha256) for a in p.attachments] == [
        ("合同.pdf", "https://zt.example/f/1", "ab" * 32),
        (None, "https://zt.example/f/2", None),
    ]


def test_location_out_of_range_is_dropped_and_flagged() -> None:
    p = decode_obj(appeal(location={"lat": 133.7, "lng": 113.3}))
    assert p.location is None
    assert p.flags == ("location_invalid",)


def test_enterprise_account_flags() -> None:
    account = appeal()["account"]
    no_code = decode_obj(
        appeal(account={k: v for k, v in account.items() if k != "uscc"}, enterprise={"name": "某"})
    )
    assert no_code.flags == ("uscc_missing",)
    mismatch = decode_obj(appeal(account=account | {"uscc": "91410402MA0011870T"}))
    assert mismatch.enterprise is not None
    assert mismatch.enterprise.uscc == "91410481MA0033020K"  # the enterprise's wins
    assert mismatch.flags == ("uscc_mismatch",)
    only_account = decode_obj(appeal(enterprise=...))
    assert only_account.enterprise is not None
    assert only_account.enterprise.uscc == "91410481MA0033020K"
    assert only_account.enterprise.name is None
    bad = decode_obj(
        appeal(
            account=account | {"uscc": "91410481MA0033020X"},
            enterprise={"name": "某公司", "uscc": "91410481MA0033020X"},
        )
    )
    assert bad.enterprise is not None and bad.enterprise.uscc == "91410481MA0033020X"
    assert bad.flags == ("uscc_invalid",)


def test_individual_without_id_number_and_phone() -> None:
    account = {"type": "individual", "name": "陈某"}
    p = decode_obj(appeal(V1, account=account))
    assert p.flags == ("id_number_missing", "phone_missing")


def test_times() -> None:
    z = decode_obj(appeal(submittedAt="2026-11-17T12:11:05.123456Z"))
    assert z.received_at == datetime(2026, 11, 17, 12, 11, 5, 123000, tzinfo=UTC)
    assert error_of(appeal(submittedAt="2026-11-17T20:11:05")).reason_code is Reason.BAD_VALUE
    assert error_of(appeal(submittedAt="17/11/2026")).reason_code is Reason.BAD_VALUE


def test_charset_header_is_not_honoured() -> None:
    """The mini-program always sends UTF-8: a GB18030 body is a dead letter, header or not."""
    value = json.dumps(appeal(), ensure_ascii=False).encode("gb18030")
    with pytest.raises(DecodeError) as info:
        miniprogram.decode(V2.key, value, [("charset", b"GB18030")])
    assert info.value.reason_code is Reason.BAD_ENCODING


@pytest.mark.parametrize(
    ("changes", "reason", "words"),
    [
        ({"schemaVersion": 3}, Reason.BAD_VALUE, "`schemaVersion` must be 1 or 2"),
        ({"schemaVersion": ...}, Reason.MISSING_FIELD, "`schemaVersion`"),
        ({"schemaVersion": "2"}, Reason.WRONG_TYPE, "`schemaVersion`"),
        ({"appealId": ...}, Reason.MISSING_FIELD, "`appealId`"),
        ({"content": ""}, Reason.MISSING_FIELD, "`content`"),
        ({"content": ["x"]}, Reason.WRONG_TYPE, "`content`"),
        ({"submittedAt": ...}, Reason.MISSING_FIELD, "`submittedAt`"),
        ({"account": ...}, Reason.MISSING_FIELD, "`account`"),
        ({"account": "enterprise"}, Reason.WRONG_TYPE, "`account`"),
        ({"account": {"type": "company"}}, Reason.BAD_VALUE, "`account.type`"),
        ({"account": {"phone": "13603756789"}}, Reason.MISSING_FIELD, "`account.type`"),
        ({"account": {"type": "individual", "phone": 1}}, Reason.WRONG_TYPE, "`account.phone`"),
        ({"authorizeDisclosure": "yes"}, Reason.WRONG_TYPE, "`authorizeDisclosure`"),
        ({"category": True}, Reason.WRONG_TYPE, "`category`"),
        ({"category": 1.5}, Reason.WRONG_TYPE, "`category`"),
        ({"region": "410481"}, Reason.WRONG_TYPE, "`region`"),
        ({"region": {"code": 410481}}, Reason.WRONG_TYPE, "`region.code`"),
        ({"location": {"lat": "33.7", "lng": 113}}, Reason.WRONG_TYPE, "`location.lat`"),
        ({"location": {"lat": 33.7}}, Reason.MISSING_FIELD, "`location.lng`"),
        ({"attachments": {"url": "x"}}, Reason.WRONG_TYPE, "`attachments`"),
        ({"attachments": [{"name": "a.pdf"}]}, Reason.MISSING_FIELD, "`attachments[0].url`"),
        ({"attachments": ["https://x"]}, Reason.WRONG_TYPE, "`attachments[0]`"),
        ({"content": "诉" * 10_001}, Reason.TOO_LARGE, "`content`"),
        ({"title": "题" * 201}, Reason.TOO_LARGE, "`title`"),
        ({"appealId": "MP0000"}, Reason.KEY_MISMATCH, "appealId"),
    ],
)
def test_broken_appeals(changes: dict[str, Any], reason: Reason, words: str) -> None:
    err = error_of(appeal(**changes))
    assert err.reason_code is reason
    assert words in err.message


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (V2.key, None, Reason.EMPTY),
        (V2.key, b"", Reason.EMPTY),
        (None, V2.value, Reason.MISSING_KEY),
        (V2.key, V2.value[:-3], Reason.BAD_JSON),
        (V2.key, b"[]", Reason.NOT_AN_OBJECT),
        (V2.key, b"null", Reason.NOT_AN_OBJECT),
        (V2.key, b"\xff\xfe{}", Reason.BAD_ENCODING),
        (V2.key, V2.value + b" " * (1024 * 1024), Reason.TOO_LARGE),
    ],
)
def test_broken_messages(key: bytes | None, value: bytes | None, reason: Reason) -> None:
    with pytest.raises(DecodeError) as info:
        miniprogram.decode(key, value, ())
    assert info.value.reason_code is reason


# --- evaluations --------------------------------------------------------------------------------

EVALUATION = {
    "appealId": "MP2026112100017",
    "petitionRef": petition_id_for("miniprogram", "MP2026112100017"),
    "satisfaction": "不满意",
    "comment": "问题没有解决，银行仍要求还款。",
    "evaluatedAt": "2026-12-02T10:00:00+08:00",
    "revision": 0,
}


def test_evaluation() -> None:
    e = miniprogram.decode_evaluation(b"MP2026112100017", encode(EVALUATION), ())
    assert e.channel is Channel.MINIPROGRAM
    assert e.ref == "MP2026112100017"
    assert e.petition_id == petition_id_for("miniprogram", "MP2026112100017")
    assert e.petition_ref == e.petition_id
    assert e.satisfaction is Satisfaction.DISSATISFIED
    assert e.comment == "问题没有解决，银行仍要求还款。"
    assert e.evaluated_at == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    assert e.revision == 0


def test_evaluation_change_without_petition_ref() -> None:
    obj = EVALUATION | {"satisfaction": "满意", "revision": 1}
    del obj["petitionRef"]
    e = miniprogram.decode_evaluation(b"MP2026112100017", encode(obj), ())
    assert e.petition_ref is None
    assert e.satisfaction is Satisfaction.SATISFIED
    assert e.revision == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"satisfaction": "一般"}, Reason.BAD_VALUE),
        ({"revision": 2}, Reason.BAD_VALUE),
        ({"evaluatedAt": "2026-12-02T10:00:00"}, Reason.BAD_VALUE),  # no offset on this channel
        ({"appealId": "MP1"}, Reason.KEY_MISMATCH),
        ({"comment": 5}, Reason.WRONG_TYPE),
    ],
)
def test_broken_evaluations(changes: dict[str, Any], reason: Reason) -> None:
    with pytest.raises(DecodeError) as info:
        miniprogram.decode_evaluation(b"MP2026112100017", encode(EVALUATION | changes), ())
    assert info.value.reason_code is reason
