"""Property tests: whatever bytes, JSON or headers come in, a connector returns a petition (or an
evaluation) or raises DecodeError with a reason other than ``internal``; nothing else escapes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from petition_hub import schemas
from petition_hub.connectors import hotline, miniprogram, province
from petition_hub.connectors.base import DecodeError, Reason
from petition_hub.data import load_samples
from petition_hub.domain.petition import Evaluation, Petition

SAMPLES = load_samples()
PROPERTY = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

Decode = Callable[..., Any]
DECODERS: dict[str, Decode] = {
    "hotline": hotline.decode,
    "hotline_callbacks": hotline.decode_evaluation,
    "miniprogram": miniprogram.decode,
    "miniprogram_evaluations": miniprogram.decode_evaluation,
    "province": province.decode,
}


def outcome(decode: Decode, key: bytes | None, value: bytes | None, headers: Any) -> Any:
    """Run ``decode``; assert it returned a model or raised a non-internal DecodeError."""
    try:
        result = decode(key, value, headers)
    except DecodeError as err:
        assert err.reason_code is not Reason.INTERNAL, repr(err.__cause__)
        assert err.message
        event(err.reason_code.value)  # --hypothesis-show-statistics: what was reached
        return err
    assert isinstance(result, Petition | Evaluation)
    # connectors build models without validation (Model.trusted): validating must change nothing
    assert type(result).model_validate(result.model_dump()) == result
    event("decoded")
    return result


# --- strategies ---------------------------------------------------------------------------------

header_names = st.one_of(
    st.sampled_from(["charset", "Charset", "CHARSET", b"charset", b"Charset", "x-trace", b"\xff"]),
    st.text(max_size=12),
    st.binary(max_size=12),
)
header_values = st.one_of(
    st.none(),
    st.sampled_from([b"GB18030", b"gb18030", b" GBK ", b"utf-8", b"UTF8", b"latin-1", b""]),
    st.binary(max_size=16),
)
headers_st = st.one_of(
    st.lists(st.tuples(header_names, header_values), max_size=4),
    st.dictionaries(st.text(max_size=10), header_values, max_size=3),
    st.none(),
)

odd_strings = st.sampled_from(
    ["", " ", "\ud800", "a\udfffb", "\x00", "１２３", "2026-11-16 09:42:10", "NaN", "9" * 30]
)
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=20),
    odd_strings,
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def dumps(obj: Any, ascii_only: bool) -> bytes:
    """JSON bytes (lone surrogates as escapes, or as CESU-8 bytes when not ASCII-only)."""
    return json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def mutated_objects(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with some fields replaced by any JSON value, deleted, or added."""
    obj = dict(base)
    for name in draw(st.lists(st.sampled_from(sorted(base)), max_size=4, unique=True)):
        if draw(st.booleans()):
            obj[name] = draw(json_values)
        else:
            del obj[name]
    obj.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2)))
    return obj


def sample_obj(name: str) -> dict[str, Any]:
    sample = SAMPLES[name]
    text = sample.value.decode("gb18030" if sample.headers else "utf-8")
    obj: dict[str, Any] = json.loads(text)
    return obj


HOTLINE_BASES = [sample_obj(n) for n in SAMPLES if n.startswith("hotline-")]
MP_BASES = [sample_obj(n) for n in SAMPLES if n.startswith("miniprogram-")]
EVALUATION_BASE = {
    "appealId": "MP2026112100017",
    "GDBH": "12345-410400-20261116-000871",
    "petitionRef": "PH-XXXXXXXXXXXXXXXXXXXX",
    "satisfaction": "满意",
    "comment": "好",
    "evaluatedAt": "2026-12-02T10:00:00+08:00",
    "revision": 0,
}


# --- any bytes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", sorted(DECODERS))
@PROPERTY
@given(
    key=st.none() | st.binary(max_size=40),
    value=st.none() | st.binary(max_size=300),
    headers=headers_st,
)
def test_any_bytes(channel: str, key: bytes | None, value: bytes | None, headers: Any) -> None:
    outcome(DECODERS[channel], key, value, headers)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@PROPERTY
@given(data=st.data())
def test_corrupted_samples(name: str, data: st.DataObject) -> None:
    """Flip, cut or extend a real message: the decoder still answers properly."""
    sample = SAMPLES[name]
    if name == "index.json" or name.endswith(".avro.json"):
        return
    decode = {"hotline": hotline.decode, "miniprogram": miniprogram.decode}.get(
        name.split("-")[0], province.decode
    )
    value = bytearray(sample.value)
    for _ in range(data.draw(st.integers(0, 4))):
        i = data.draw(st.integers(0, len(value) - 1))
        value[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(value)))
    tail = data.draw(st.binary(max_size=8))
    outcome(decode, sample.key, bytes(value[:cut]) + tail, sample.headers)


# --- any JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", sorted(DECODERS))
@PROPERTY
@given(obj=json_values, ascii_only=st.booleans(), headers=headers_st)
def test_any_json(channel: str, obj: Any, ascii_only: bool, headers: Any) -> None:
    outcome(DECODERS[channel], b"12345-410400-20261116-000871", dumps(obj, ascii_only), headers)


@PROPERTY
@given(data=st.data(), ascii_only=st.booleans(), gb18030=st.booleans())
def test_mutated_work_orders(data: st.DataObject, ascii_only: bool, gb18030: bool) -> None:
    obj = data.draw(mutated_objects(data.draw(st.sampled_from(HOTLINE_BASES))))
    value = dumps(obj, ascii_only)
    headers: list[tuple[str, bytes]] = []
    if gb18030:
        text = json.dumps(obj, ensure_ascii=ascii_only)
        with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate stays UTF-8
            value, headers = text.encode("gb18030"), [("charset", b"GB18030")]
    key = str(obj.get("GDBH", "k")).encode("utf-8", "surrogatepass")
    result = outcome(hotline.decode, key, value, headers)
    if isinstance(result, Petition):
        assert result.channel_ref == obj["GDBH"].strip()


@PROPERTY
@given(data=st.data(), ascii_only=st.booleans())
def test_mutated_appeals(data: st.DataObject, ascii_only: bool) -> None:
    base = data.draw(st.sampled_from(MP_BASES))
    obj = data.draw(mutated_objects(base))
    for nested in ("account", "enterprise", "region", "location"):
        if isinstance(obj.get(nested), dict) and data.draw(st.booleans()):
            obj[nested] = data.draw(mutated_objects(obj[nested] or {"x": 1}))
    key = str(obj.get("appealId", "k")).encode("utf-8", "surrogatepass")
    result = outcome(miniprogram.decode, key, dumps(obj, ascii_only), ())
    if isinstance(result, Petition):
        assert result.channel_ref == obj["appealId"].strip()


@pytest.mark.parametrize("decode", [hotline.decode_evaluation, miniprogram.decode_evaluation])
@PROPERTY
@given(data=st.data(), ascii_only=st.booleans())
def test_mutated_evaluations(decode: Decode, data: st.DataObject, ascii_only: bool) -> None:
    obj = data.draw(mutated_objects(EVALUATION_BASE))
    ref = obj.get("GDBH" if decode is hotline.decode_evaluation else "appealId", "k")
    outcome(decode, str(ref).encode("utf-8", "surrogatepass"), dumps(obj, ascii_only), ())


# --- any Avro record ----------------------------------------------------------------------------

avro_text = st.one_of(st.text(max_size=30), st.sampled_from(["", " ", "410400", "4104", "\x00"]))


@st.composite
def dispatch_records(draw: st.DrawFn) -> tuple[int, dict[str, Any]]:
    """A Dispatch record that Avro accepts but whose values are anything."""
    sid = draw(st.sampled_from([101, 102]))
    millis = st.integers(min_value=-(2**62), max_value=2**62) | st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
    opt_text = st.none() | avro_text
    rec: dict[str, Any] = {
        "dispatchId": draw(avro_text),
        "originChannel": draw(
            st.sampled_from(
                ["PROVINCE_WEB", "PROVINCE_APP", "PROVINCE_HOTLINE", "TRANSFER_FROM_CITY"]
            )
        ),
        "receivedAt": draw(millis),
        "petitioner": {
            "kind": draw(st.sampled_from(["ENTERPRISE", "INDIVIDUAL"])),
            "name": draw(avro_text),
            "uscc": draw(opt_text | st.just("91410402MA0011870T")),
            "idNumber": draw(opt_text | st.just("410423198005122314")),
            "contactName": draw(opt_text),
            "phone": draw(avro_text | st.just("13800000000")),
        },
        "category": draw(
            st.sampled_from(
                [
                    "POLICY_CONSULTATION",
                    "SUGGESTION",
                    "LEGAL_RIGHTS",
                    "DIFFICULTY_ASSISTANCE",
                    "REPORT_COMPLAINT",
                    "OTHER",
                ]
            )
        ),
        "subject": draw(avro_text),
        "content": draw(avro_text),
        "regionCode": draw(avro_text),
        "targetCity": draw(avro_text),
        "confidential": draw(st.booleans()),
    }
    if sid == 102:
        rec["provincialDeadline"] = draw(st.none() | millis)
        rec["attachments"] = draw(
            st.lists(
                st.fixed_dictionaries({"name": avro_text, "url": avro_text, "sha256": opt_text}),
                max_size=3,
            )
        )
    return sid, rec


@PROPERTY
@given(dispatch=dispatch_records(), same_key=st.booleans())
def test_any_dispatch_record(dispatch: tuple[int, dict[str, Any]], same_key: bool) -> None:
    sid, rec = dispatch
    value = schemas.encode(sid, rec)
    key = rec["dispatchId"].encode() if same_key and rec["dispatchId"] else b"HA-1"
    result = outcome(province.decode, key, value, ())
    if isinstance(result, Petition):
        assert result.channel_ref == rec["dispatchId"].strip()


@PROPERTY
@given(sid=st.sampled_from([101, 102, 201, 202, 1001]), body=st.binary(max_size=200))
def test_any_avro_body(sid: int, body: bytes) -> None:
    outcome(province.decode, b"HA-1", b"\x00" + sid.to_bytes(4, "big") + body, ())
