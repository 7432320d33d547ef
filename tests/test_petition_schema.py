"""The canonical petition: the pydantic model and its Avro schema stay in step, the Avro round
trip is lossless, ids are deterministic, personal fields are marked and masked; the schema
registry and its wire format."""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from petition_hub import schemas
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.connectors.base import DecodeError
from petition_hub.devtools.corpus import generate_all
from petition_hub.domain.petition import (
    PERSONAL_FIELDS,
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
    Satisfaction,
    Urgency,
    mask_id_number,
    mask_name,
    mask_openid,
    mask_phone,
    personal_fields,
    petition_id_for,
)
from petition_hub.schemas import codec

SHANGHAI = timezone(timedelta(hours=8))


# --- the model and the schema in step -----------------------------------------------------------

_PRIMITIVES: dict[Any, set[str]] = {
    str: {"string"},
    int: {"int", "long"},
    bool: {"boolean"},
    float: {"double", "float"},
}


def _resolve(avro: Any, named: dict[str, Any]) -> Any:
    if isinstance(avro, str) and avro in named:
        return named[avro]
    return avro


def _collect_named(avro: Any, namespace: str, named: dict[str, Any]) -> None:
    """Index the named types of a raw schema by full name and short name."""
    if isinstance(avro, list):
        for branch in avro:
            _collect_named(branch, namespace, named)
    elif isinstance(avro, dict):
        if avro.get("type") in ("record", "enum", "fixed"):
            ns = avro.get("namespace", namespace)
            named[f"{ns}.{avro['name']}"] = named[avro["name"]] = avro
            namespace = ns
        for field in avro.get("fields", ()):
            _collect_named(field["type"], namespace, named)
        if avro.get("type") == "array":
            _collect_named(avro["items"], namespace, named)


def check_compatible(annotation: Any, avro: Any, named: dict[str, Any], where: str) -> None:
    """Assert that a pydantic annotation and an Avro type describe the same values."""
    avro = _resolve(avro, named)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        assert type(None) in typing.get_args(annotation), where
        assert isinstance(avro, list) and avro[0] == "null" and len(avro) == 2, where
        assert len(args) == 1, where
        check_compatible(args[0], avro[1], named, where)
        return
    assert not (isinstance(avro, list)), f"{where}: nullable in Avro but not in the model"
    if origin is tuple:
        item, ellipsis = typing.get_args(annotation)
        assert ellipsis is Ellipsis, where
        assert isinstance(avro, dict) and avro["type"] == "array", where
        check_compatible(item, avro["items"], named, f"{where}[]")
    elif annotation is datetime:
        assert avro == {"type": "long", "logicalType": "timestamp-millis"}, where
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        assert isinstance(avro, dict) and avro["type"] == "enum", where
        assert avro["symbols"] == [m.name for m in annotation], where
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        assert isinstance(avro, dict) and avro["type"] == "record", where
        check_record(annotation, avro, named, where)
    else:
        assert annotation in _PRIMITIVES, f"{where}: no Avro mapping for {annotation!r}"
        avro_type = avro if isinstance(avro, str) else avro.get("type")
        assert avro_type in _PRIMITIVES[annotation], f"{where}: {annotation} vs {avro}"


#: Fields the model computes when they are not given (no Avro default needed: always written).
COMPUTED = {"petition_id"}


def check_record(
    model: type[BaseModel], avro: dict[str, Any], named: dict[str, Any], where: str
) -> None:
    model_fields = model.model_fields
    avro_fields = {f["name"]: f for f in avro["fields"]}
    assert list(model_fields) == list(avro_fields), f"{where}: field names or order differ"
    for name, info in model_fields.items():
        field = avro_fields[name]
        path = f"{where}.{name}" if where else name
        check_compatible(info.annotation, field["type"], named, path)
        extra = info.json_schema_extra
        model_pii = bool(isinstance(extra, dict) and extra.get("pii"))
        assert bool(field.get("pii")) == model_pii, f"{path}: pii marks differ"
        if not info.is_required() and name not in COMPUTED:
            assert "default" in field, f"{path}: optional in the model, no Avro default"


@pytest.mark.parametrize(
    ("model", "name"),
    [(Petition, schemas.PETITION_V1), (Evaluation, schemas.EVALUATION_V1)],
)
def test_model_and_schema_in_step(model: type[BaseModel], name: str) -> None:
    raw = schemas.raw_schema(name)
    named: dict[str, Any] = {}
    for ref in schemas.REFERENCES.get(name, ()):
        _collect_named(schemas.raw_schema(ref), "", named)
    _collect_named(raw, "", named)
    check_record(model, raw, named, "")


def test_personal_fields_are_marked() -> None:
    assert PERSONAL_FIELDS == (
        "petitioner.name",
        "petitioner.phone",
        "petitioner.id_number",
        "petitioner.openid",
        "petitioner.contact_name",
    )
    assert personal_fields(Petitioner) == (
        "name",
        "phone",
        "id_number",
        "openid",
        "contact_name",
    )
    raw = schemas.raw_schema(schemas.PETITION_V1)
    petitioner = next(f for f in raw["fields"] if f["name"] == "petitioner")["type"]
    assert [f["name"] for f in petitioner["fields"] if f.get("pii")] == [
        p.split(".")[1] for p in PERSONAL_FIELDS
    ]


# --- round trips --------------------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8"), max_size=20)
opt_text = st.none() | text
aware = st.datetimes(
    min_value=datetime(1950, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, SHANGHAI, timezone(timedelta(hours=-5, minutes=-30))]),
)
petitioners = st.builds(
    Petitioner,
    kind=st.sampled_from(PetitionerKind),
    name=opt_text,
    phone=opt_text,
    id_number=opt_text,
    openid=opt_text,
    contact_name=opt_text,
)
petitions = st.builds(
    Petition,
    channel=st.sampled_from(Channel),
    channel_ref=text.filter(bool),
    revision=st.integers(0, 2**31 - 1),
    repeat_of_ref=opt_text,
    received_at=aware,
    petition_type=st.none() | st.sampled_from(PetitionType),
    channel_category=opt_text,
    urgency=st.sampled_from(Urgency),
    title=opt_text,
    content=text.filter(bool),
    region_code=st.none() | st.from_regex(r"\A[0-9]{6}\Z"),
    region_name=opt_text,
    target_city=opt_text,
    origin_channel=opt_text,
    location=st.none()
    | st.builds(
        GeoPoint,
        lat=st.floats(-90, 90, allow_nan=False),
        lng=st.floats(-180, 180, allow_nan=False),
    ),
    attachments=st.lists(
        st.builds(Attachment, name=opt_text, url=text, sha256=opt_text), max_size=3
    ).map(tuple),
    operator_note=opt_text,
    provincial_deadline=st.none() | aware,
    enterprise=st.none() | st.builds(Enterprise, name=opt_text, uscc=opt_text),
    petitioner=petitioners,
    confidential=st.booleans(),
    disclosure_authorized=st.booleans(),
    flags=st.lists(st.sampled_from([f.value for f in Flag]), max_size=4).map(tuple),
)


def avro_round_trip(p: Petition) -> Petition:
    data = schemas.encode(schemas.PETITION_V1, codec.petition_record(p))
    sid, record = schemas.decode(data)
    assert sid == 1001
    return codec.petition_of(record)


@settings(max_examples=300, deadline=2000)
@given(petitions)
def test_generated_petitions_round_trip(p: Petition) -> None:
    assert avro_round_trip(p) == p


def test_corpus_petitions_round_trip() -> None:
    n = 0
    for item in generate_all(120, seed=9, oversize_bytes=1):
        try:
            p = PETITION_DECODERS[item.topic](item.key, item.value, item.headers)
        except DecodeError:
            continue
        assert avro_round_trip(p) == p
        n += 1
    assert n > 250


@settings(max_examples=100, deadline=2000)
@given(
    channel=st.sampled_from([Channel.HOTLINE, Channel.MINIPROGRAM]),
    ref=text.filter(bool),
    petition_ref=opt_text,
    satisfaction=st.sampled_from(Satisfaction),
    comment=opt_text,
    at=aware,
    revision=st.integers(0, 1),
)
def test_evaluations_round_trip(
    channel: Channel,
    ref: str,
    petition_ref: str | None,
    satisfaction: Satisfaction,
    comment: str | None,
    at: datetime,
    revision: int,
) -> None:
    e = Evaluation(
        channel=channel,
        ref=ref,
        petition_ref=petition_ref,
        satisfaction=satisfaction,
        comment=comment,
        evaluated_at=at,
        revision=revision,
    )
    sid, record = schemas.decode(schemas.encode(schemas.EVALUATION_V1, codec.evaluation_record(e)))
    assert sid == 1002
    assert codec.evaluation_of(record) == e


# --- the model's own rules ----------------------------------------------------------------------


def minimal(**changes: Any) -> Petition:
    data: dict[str, Any] = {
        "channel": Channel.HOTLINE,
        "channel_ref": "12345-410400-20261116-000871",
        "received_at": datetime(2026, 11, 16, 9, 42, 10, 123456, tzinfo=SHANGHAI),
        "content": "诉求",
        "petitioner": Petitioner(kind=PetitionerKind.INDIVIDUAL),
    }
    data.update(changes)
    return Petition(**data)


def test_petition_id_is_deterministic() -> None:
    pid = petition_id_for("hotline", "12345-410400-20261116-000871")
    assert pid == petition_id_for(Channel.HOTLINE, "12345-410400-20261116-000871")
    assert pid == "PH-BS4W6YKKDTLWHF7RTKSJ"  # stable across releases: ids are stored
    assert petition_id_for("miniprogram", "12345-410400-20261116-000871") != pid
    assert minimal().petition_id == pid
    with pytest.raises(ValueError):
        petition_id_for("fax", "x")


def test_ids_are_checked() -> None:
    with pytest.raises(ValidationError):
        minimal(petition_id="PH-AAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(ValidationError):
        minimal(repeat_of="PH-AAAAAAAAAAAAAAAAAAAA")
    p = minimal(repeat_of_ref="12345-410400-20261102-000310")
    assert p.repeat_of == petition_id_for("hotline", "12345-410400-20261102-000310")


def test_times_are_utc_milliseconds() -> None:
    p = minimal(provincial_deadline=datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI))
    assert p.received_at == datetime(2026, 11, 16, 1, 42, 10, 123000, tzinfo=UTC)
    assert p.received_at.tzinfo is UTC
    assert p.provincial_deadline == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    with pytest.raises(ValidationError):
        minimal(received_at=datetime(2026, 11, 16, 9, 42, 10))


def test_frozen_and_strict_shape() -> None:
    p = minimal()
    with pytest.raises(ValidationError):
        p.content = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        minimal(source_offset=5)
    with pytest.raises(ValidationError):
        minimal(region_code="41040")
    with pytest.raises(ValidationError):
        minimal(content="")
    assert minimal(flags=("uscc_invalid", "phone_invalid", "uscc_invalid")).flags == (
        "phone_invalid",
        "uscc_invalid",
    )
    assert hash(p) == hash(minimal())


def test_trusted_construction_matches_validation() -> None:
    p = Petition.trusted(
        channel=Channel.HOTLINE,
        channel_ref="12345-410400-20261116-000871",
        repeat_of_ref="12345-410400-20261102-000310",
        received_at=datetime(2026, 11, 16, 9, 42, 10, 123456, tzinfo=SHANGHAI),
        content="诉求",
        petitioner=Petitioner.trusted(kind=PetitionerKind.INDIVIDUAL, phone="13800000000"),
        flags=(Flag.PHONE_INVALID, "uscc_invalid", Flag.PHONE_INVALID),
    )
    assert p == minimal(
        repeat_of_ref="12345-410400-20261102-000310",
        petitioner=Petitioner(kind=PetitionerKind.INDIVIDUAL, phone="13800000000"),
        flags=("uscc_invalid", "phone_invalid"),
    )
    assert p.flags == ("phone_invalid", "uscc_invalid")
    assert all(type(f) is str for f in p.flags)
    assert Petition.model_validate(p.model_dump()) == p
    assert p.model_dump()["petitioner"]["phone"] == "13800000000"
    with pytest.raises(TypeError, match="unknown fields"):
        Petitioner.trusted(kind=PetitionerKind.INDIVIDUAL, telephone="1")


@pytest.mark.parametrize(
    ("channel", "authorized", "confidential", "visible"),
    [
        # 12345: not asking for confidentiality (SFBM "0") is the consent
        (Channel.HOTLINE, False, False, True),
        (Channel.HOTLINE, False, True, False),
        # the mini-program asks for it (authorizeDisclosure)
        (Channel.MINIPROGRAM, True, False, True),
        (Channel.MINIPROGRAM, True, True, False),
        (Channel.MINIPROGRAM, False, False, False),
        (Channel.MINIPROGRAM, False, True, False),
    ],
)
def test_identity_visible_to_unit(
    channel: Channel, authorized: bool, confidential: bool, visible: bool
) -> None:
    p = minimal(channel=channel, disclosure_authorized=authorized, confidential=confidential)
    assert p.identity_visible_to_unit is visible


def test_masking() -> None:
    assert mask_phone("13803750001") == "138****0001"
    assert mask_phone("0375-2961234") == "037*****1234"
    assert mask_phone("110") == "***"
    assert mask_name("王某") == "王*"
    assert mask_name("王建国") == "王**"
    assert mask_name("王") == "*"
    assert mask_id_number("410423198005122319") == "4104**********2319"
    assert mask_openid("o6_bmjrPTlm6_2sgVt7hMZOPfL2M") == "o6_b…"
    p = minimal(
        petitioner=Petitioner(
            kind=PetitionerKind.ENTERPRISE,
            name="王某",
            phone="13803750001",
            id_number="410423198005122319",
            openid="o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
            contact_name="孙总",
        ),
        enterprise=Enterprise(name="平顶山市某某机械制造有限公司", uscc="91410402MA0011870T"),
    )
    m = p.masked()
    assert m.petitioner == Petitioner(
        kind=PetitionerKind.ENTERPRISE,
        name="王*",
        phone="138****0001",
        id_number="4104**********2319",
        openid="o6_b…",
        contact_name="孙*",
    )
    assert m.enterprise == p.enterprise  # enterprise facts are public
    assert m.content == p.content and m.petition_id == p.petition_id
    dumped = m.model_dump_json()
    for secret in ("13803750001", "410423198005122319", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "王某"):
        assert secret not in dumped


# --- the registry -------------------------------------------------------------------------------


def test_registry_names_and_ids() -> None:
    names = schemas.names()
    for name, sid in {
        "cn.gov.ha.petition.Dispatch.v1": 101,
        "cn.gov.ha.petition.Dispatch.v2": 102,
        "cn.gov.ha.petition.Feedback.v1": 201,
        "cn.gov.ha.petition.Transfer.v1": 202,
        "cn.gov.pds.hub.Petition.v1": 1001,
        "cn.gov.pds.hub.Evaluation.v1": 1002,
    }.items():
        assert name in names
        assert schemas.schema_id(name) == sid == schemas.schema_id(sid)
        assert schemas.schema_name(sid) == name
        assert schemas.parsed_schema(name) is schemas.parsed_schema(sid)  # parsed once
    with pytest.raises(schemas.UnknownSchemaError):
        schemas.schema_id(999)
    with pytest.raises(schemas.UnknownSchemaError):
        schemas.parsed_schema("cn.gov.ha.petition.Dispatch.v3")


def test_file_names_are_full_names() -> None:
    for name in schemas.names():
        raw = schemas.raw_schema(name)
        assert name.rsplit(".", 1)[0] == f"{raw['namespace']}.{raw['name']}"


def test_transfer_uses_dispatch_v1_named_types() -> None:
    record = {
        "transferId": petition_id_for("hotline", "12345-410400-20261116-000871"),
        "fromCity": "410400",
        "regionCode": "411002",
        "reason": "事项属许昌市魏都区",
        "receivedAt": datetime(2026, 11, 16, 1, 42, 10, tzinfo=UTC),
        "category": "POLICY_CONSULTATION",
        "subject": "咨询出口信用保险补贴",
        "content": "咨询许昌市对外贸企业出口信用保险保费补贴的申请流程。",
        "petitioner": {
            "kind": "ENTERPRISE",
            "name": "许昌某发制品有限公司",
            "uscc": None,
            "idNumber": None,
            "contactName": "刘先生",
            "phone": "13838000000",
        },
    }
    data = schemas.encode("cn.gov.ha.petition.Transfer.v1", record)
    assert data[:5] == b"\x00\x00\x00\x00\xca"
    assert schemas.decode(data) == (202, record)


def test_feedback_round_trip() -> None:
    record = {
        "dispatchId": "HA-20261120-000077",
        "cityCode": "410400",
        "status": "RETURNED",
        "handlingUnit": None,
        "message": "事项不属本市，退回省平台。",
        "deadline": None,
        "satisfaction": None,
        "updatedAt": datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
    }
    assert schemas.decode(schemas.encode(201, record)) == (201, record)


def test_wire_format_errors() -> None:
    good = schemas.encode(201, {"dispatchId": "x", "cityCode": "410400", "status": "RECEIVED",
                                "updatedAt": datetime(2026, 1, 1, tzinfo=UTC)})  # fmt: skip
    for data, reason in [
        (b"", "bad_magic"),
        (b"\x00\x00", "bad_magic"),
        (b"\x01" + good[1:], "bad_magic"),
        (b"\x00\x00\x00\x03\xe7" + good[5:], "unknown_schema_id"),
        (good[:-1], "bad_avro"),
        (good + b"\x00", "bad_avro"),
    ]:
        with pytest.raises(schemas.WireFormatError) as info:
            schemas.decode(data)
        assert info.value.reason == reason


def test_encode_errors() -> None:
    p = codec.petition_record(minimal())
    with pytest.raises(schemas.EncodeError):
        schemas.encode(schemas.PETITION_V1, p | {"unexpected": 1})
    with pytest.raises(schemas.EncodeError):
        schemas.encode(schemas.PETITION_V1, p | {"revision": "one"})
    with pytest.raises(schemas.EncodeError):
        schemas.encode(schemas.PETITION_V1, {k: v for k, v in p.items() if k != "content"})
    # a field with a default may be left out
    assert schemas.encode(schemas.PETITION_V1, {k: v for k, v in p.items() if k != "flags"})
