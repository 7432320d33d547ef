"""Provincial connector: Confluent wire format, Dispatch v1 (101) and v2 (102), dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hubtest import decode_error
from petition_hub import schemas
from petition_hub.connectors import province
from petition_hub.connectors.base import DecodeError, Reason
from petition_hub.data import load_samples
from petition_hub.domain.petition import (
    Channel,
    PetitionerKind,
    PetitionType,
    Urgency,
    petition_id_for,
)

SAMPLES = load_samples()
V1 = SAMPLES["province-v1-dispatch.avro.bin"]
V2 = SAMPLES["province-v2-deadline.avro.bin"]
OTHER_CITY = SAMPLES["province-other-city.avro.bin"]


def record(sample: Any = V2, **changes: Any) -> dict[str, Any]:
    """The decoded record of a sample, with ``changes``."""
    _, rec = schemas.decode(sample.value)
    rec.update(changes)
    return rec


def error_of(key: bytes | None, value: bytes | None) -> DecodeError:
    return decode_error(province.decode, key, value)


def test_samples_have_the_schema_ids_of_the_index() -> None:
    for sample in (V1, V2, OTHER_CITY):
        assert sample.value[0] == 0
        assert int.from_bytes(sample.value[1:5], "big") == sample.schema_id


def test_v1_dispatch_sample() -> None:
    p = province.decode(V1.key, V1.value, V1.headers)
    assert p.channel is Channel.PROVINCE
    assert p.channel_ref == "HA-20261119-004512"
    assert p.petition_id == petition_id_for("province", "HA-20261119-004512")
    assert p.received_at == datetime(2026, 11, 19, 2, 15, tzinfo=UTC)
    assert p.petition_type is PetitionType.LEGAL_RIGHTS
    assert p.channel_category == "LEGAL_RIGHTS"
    assert p.urgency is Urgency.NORMAL
    assert p.title == "合同纠纷执行难"
    assert p.content.startswith("我公司与外地某企业的货款纠纷已胜诉")
    assert p.region_code == "410411"
    assert p.target_city == "410400"
    assert p.origin_channel == "PROVINCE_WEB"
    assert p.provincial_deadline is None
    assert p.attachments == ()
    assert p.enterprise is not None
    assert p.enterprise.name == "平顶山市新城环保建材有限公司"
    assert p.enterprise.uscc == "91410411MA0055210F"
    assert p.petitioner.kind is PetitionerKind.ENTERPRISE
    assert p.petitioner.name is None  # the enterprise's name is not a person's
    assert p.petitioner.contact_name == "孙总"
    assert p.petitioner.phone == "13700375555"
    assert p.confidential is False and p.disclosure_authorized is False
    assert p.flags == ()


def test_v2_deadline_sample() -> None:
    p = province.decode(V2.key, V2.value, V2.headers)
    assert p.channel_ref == "HA-20261120-000077"
    assert p.received_at == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    assert p.provincial_deadline == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert p.origin_channel == "PROVINCE_HOTLINE"
    assert p.petition_type is PetitionType.DIFFICULTY_ASSISTANCE
    assert p.region_code == "410421"
    assert p.enterprise is not None and p.enterprise.uscc == "91410421MA00771006"
    assert p.petitioner.contact_name == "周经理"
    assert p.attachments == ()
    assert p.flags == ()


def test_other_city_sample() -> None:
    p = province.decode(OTHER_CITY.key, OTHER_CITY.value, OTHER_CITY.headers)
    assert p.region_code == "411002"  # 许昌市魏都区: routing returns or transfers it
    assert p.target_city == "410400"
    assert p.petition_type is PetitionType.POLICY_CONSULTATION
    assert p.enterprise is not None
    assert (p.enterprise.name, p.enterprise.uscc) == ("许昌某发制品有限公司", None)
    assert p.flags == ()


def test_samples_match_their_readable_form() -> None:
    for sample in (V1, V2, OTHER_CITY):
        assert sample.readable is not None
        p = province.decode(sample.key, sample.value, ())
        assert p.channel_ref == sample.readable["dispatchId"]
        assert p.received_at == datetime.fromisoformat(sample.readable["receivedAt"])
        assert p.content == sample.readable["content"]


def test_individual_confidential_v2_with_attachments() -> None:
    rec = record(
        petitioner={
            "kind": "INDIVIDUAL",
            "name": "张伟",
            "uscc": None,
            "idNumber": "410402199001011234",
            "contactName": None,
            "phone": "0375-2961234",
        },
        confidential=True,
        receivedAt=datetime(2026, 11, 20, 1, 0, 0, 123000, tzinfo=UTC),
        attachments=[
            {"name": "申请书.pdf", "url": "https://qy.example/a/1", "sha256": None},
            {"name": "照片.jpg", "url": "https://qy.example/a/2", "sha256": "cd" * 32},
        ],
        category="OTHER",
    )
    p = province.decode(V2.key, schemas.encode(102, rec), ())
    assert p.petitioner.kind is PetitionerKind.INDIVIDUAL
    assert p.petitioner.name == "张伟"
    assert p.enterprise is None
    assert p.confidential is True and p.identity_visible_to_unit is False
    assert p.received_at == datetime(2026, 11, 20, 1, 0, 0, 123000, tzinfo=UTC)
    assert [(a.name, a.sha256) for a in p.attachments] == [
        ("申请书.pdf", None),
        ("照片.jpg", "cd" * 32),
    ]
    assert p.petition_type is PetitionType.OTHER
    assert "id_number_invalid" in p.flags  # 410402199001011234 has a wrong check digit


def test_invalid_credit_code_is_accepted_and_flagged() -> None:
    rec = record(V1)
    rec["petitioner"] = rec["petitioner"] | {"uscc": "91410411MA0055210X"}
    p = province.decode(V1.key, schemas.encode(101, rec), ())
    assert p.enterprise is not None and p.enterprise.uscc == "91410411MA0055210X"
    assert p.flags == ("uscc_invalid",)


def test_value_flags() -> None:
    rec = record(V1, targetCity="4104", regionCode="4104xx")
    rec["petitioner"] = rec["petitioner"] | {"phone": "unknown"}
    p = province.decode(V1.key, schemas.encode(101, rec), ())
    assert p.region_code is None
    assert p.target_city == "4104"
    assert p.flags == ("phone_invalid", "region_code_invalid", "target_city_invalid")


def test_dispatch_for_another_city_is_still_a_petition() -> None:
    p = province.decode(V1.key, schemas.encode(101, record(V1, targetCity="410100")), ())
    assert p.target_city == "410100"  # routing returns it to the province


def _with_id(value: bytes, sid: int) -> bytes:
    return b"\x00" + sid.to_bytes(4, "big") + value[5:]


@pytest.mark.parametrize(
    ("key", "value", "reason", "words"),
    [
        (V1.key, None, Reason.EMPTY, "no value"),
        (V1.key, b"", Reason.EMPTY, "empty"),
        (None, V1.value, Reason.MISSING_KEY, "dispatchId"),
        (b"HA-20261119-004513", V1.value, Reason.KEY_MISMATCH, "dispatchId"),
        (V1.key, b"\x01" + V1.value[1:], Reason.BAD_MAGIC, "0x01"),
        (V1.key, b"\x00\x00\x00", Reason.BAD_MAGIC, "shorter"),
        (V1.key, b'{"dispatchId": "x"}', Reason.BAD_MAGIC, "0x7b"),
        (V1.key, _with_id(V1.value, 103), Reason.UNKNOWN_SCHEMA_ID, "103"),
        (V1.key, _with_id(V1.value, 201), Reason.UNKNOWN_SCHEMA_ID, "201"),
        (V1.key, V1.value[:5], Reason.BAD_AVRO, "schema 101"),
        (V1.key, V1.value[:-1], Reason.BAD_AVRO, "schema 101"),
        (V1.key, V1.value + b"\x00", Reason.BAD_AVRO, "left over"),
        (V2.key, _with_id(V2.value, 101), Reason.BAD_AVRO, "left over"),  # v2 body, v1 id
        (V1.key, _with_id(V1.value, 102), Reason.BAD_AVRO, "schema 102"),  # v1 body, v2 id
        (V1.key, V1.value[:5] + b"\xff" * 20, Reason.BAD_AVRO, "schema 101"),
        (V1.key, V1.value + b"\x00" * (1024 * 1024), Reason.TOO_LARGE, "bytes"),
    ],
)
def test_broken_messages(
    key: bytes | None, value: bytes | None, reason: Reason, words: str
) -> None:
    err = error_of(key, value)
    assert err.reason_code is reason
    assert words in err.message


@pytest.mark.parametrize(
    ("changes", "reason", "words"),
    [
        ({"content": "  "}, Reason.MISSING_FIELD, "`content`"),
        ({"subject": ""}, Reason.MISSING_FIELD, "`subject`"),
        ({"dispatchId": " "}, Reason.MISSING_FIELD, "`dispatchId`"),
        ({"content": "诉" * 10_001}, Reason.TOO_LARGE, "`content`"),
        ({"subject": "题" * 201}, Reason.TOO_LARGE, "`subject`"),
    ],
)
def test_broken_values(changes: dict[str, Any], reason: Reason, words: str) -> None:
    rec = record(V1, **changes)
    err = error_of(rec["dispatchId"].encode() or b"k", schemas.encode(101, rec))
    assert err.reason_code is reason
    assert words in err.message


def test_schemas_are_parsed_once() -> None:
    assert province._PARSED[101] is schemas.parsed_schema("cn.gov.ha.petition.Dispatch.v1")
    assert province._PARSED[102] is schemas.parsed_schema(102)
