"""The generated corpus (petition_hub/devtools/corpus) is deterministic, covers every kind, and
the connectors make of each item exactly what the item says: a petition with the expected id,
type and flags, or a dead letter with the expected reason."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from stdnum.cn import uscc

from petition_hub.connectors import PETITION_DECODERS
from petition_hub.connectors.base import DecodeError
from petition_hub.devtools.corpus import (
    BROKEN_KINDS,
    CHANNELS,
    CorpusItem,
    by_kind,
    generate,
    generate_all,
)
from petition_hub.domain.petition import Petition
from petition_hub.domain.validation import MAX_MESSAGE_BYTES, is_valid_id_number

N = 7 * 14 * 2  # every broken kind of every channel at least twice


@pytest.fixture(scope="module")
def items() -> list[CorpusItem]:
    return generate_all(N, seed=5, oversize_bytes=MAX_MESSAGE_BYTES + 10)


def decode(item: CorpusItem) -> Petition | DecodeError:
    try:
        return PETITION_DECODERS[item.topic](item.key, item.value, item.headers)
    except DecodeError as err:
        return err


def test_every_item_decodes_as_expected(items: list[CorpusItem]) -> None:
    wrong = []
    for item in items:
        result = decode(item)
        if item.expected == "petition":
            ok = (
                isinstance(result, Petition)
                and result.petition_id == item.petition_id
                and result.revision == item.revision
                and result.flags == item.expected_flags
                and (result.petition_type.value if result.petition_type else None)
                == item.expected_type
                and result.channel.value == item.channel
                # built without validation (Model.trusted): validating must change nothing
                and Petition.model_validate(result.model_dump()) == result
            )
        else:
            ok = isinstance(result, DecodeError) and result.reason_code == item.expected_reason
        if not ok:
            wrong.append((item, result))
    assert not wrong, wrong[:5]


def test_deterministic() -> None:
    for channel in CHANNELS:
        a = generate(channel, 60, seed=3, oversize_bytes=2_000_000)
        b = generate(channel, 60, seed=3, oversize_bytes=2_000_000)
        assert a == b
        c = generate(channel, 60, seed=4, oversize_bytes=2_000_000)
        assert [i.value for i in a] != [i.value for i in c]


def test_coverage(items: list[CorpusItem]) -> None:
    kinds = by_kind(items)
    for channel, broken in BROKEN_KINDS.items():
        for kind, _ in broken:
            assert f"{channel}/{kind}" in kinds, (channel, kind)
    for kind in (
        "hotline/valid",
        "hotline/edit",
        "hotline/repeat",
        "hotline/gb18030",
        "hotline/flagged_uscc",
        "hotline/flagged_phone",
        "miniprogram/v1",
        "miniprogram/v2",
        "province/schema101",
        "province/schema102",
    ):
        assert kind in kinds, kind
    assert any(k.endswith("_flagged_uscc") for k in kinds if k.startswith("miniprogram/"))
    assert any(k.endswith("_flagged_uscc") for k in kinds if k.startswith("province/"))
    types = Counter(i.expected_type for i in items if i.expected == "petition")
    assert len(types) == 7  # the six types and None (a 12345 order without SQLB)


def test_items_are_unique_and_sized(items: list[CorpusItem]) -> None:
    valid = [i for i in items if i.expected == "petition"]
    assert len({(i.petition_id, i.revision) for i in valid}) == len(valid)
    broken = [i for i in items if i.expected == "deadletter"]
    assert len(broken) == 3 * (N // 7)
    for item in items:
        if item.kind == "oversize_payload":
            assert item.value is not None and len(item.value) > MAX_MESSAGE_BYTES
        elif item.value is not None:
            assert len(item.value) < 64 * 1024


def test_default_oversize_is_five_megabytes() -> None:
    items = generate("province", 7 * 8, seed=1)
    big = [i for i in items if i.kind == "oversize_payload"]
    assert big and all(len(i.value or b"") > 5 * 1024 * 1024 for i in big)


def test_edits_and_repeats(items: list[CorpusItem]) -> None:
    hotline = [i for i in items if i.channel == "hotline" and i.expected == "petition"]
    first_seen: dict[str, int] = {}
    latest: dict[str, int] = {}
    for n, item in enumerate(hotline):
        assert item.petition_id is not None
        if item.kind == "edit":
            assert item.petition_id in first_seen  # edits follow their work order
            assert item.revision == latest[item.petition_id] + 1
        else:
            assert item.revision == 0
            first_seen[item.petition_id] = n
        latest[item.petition_id] = item.revision
        if item.kind == "repeat":
            result = decode(item)
            assert isinstance(result, Petition) and result.repeat_of in first_seen


def test_realistic_values(items: list[CorpusItem]) -> None:
    for item in items:
        if item.expected != "petition" or item.channel == "province":
            continue
        assert item.value is not None
        text = item.value.decode("gb18030" if item.headers else "utf-8")
        obj = json.loads(text)
        if item.channel == "hotline":
            if item.headers:
                name, value = item.headers[0]
                assert name == "charset" and value.strip().upper() == b"GB18030"
            code = obj.get("TYSHXYDM")
            assert code is None or uscc.is_valid(code) == (
                "uscc_invalid" not in item.expected_flags
            )
        else:
            account = obj["account"]
            if account["type"] == "individual":
                assert is_valid_id_number(account["idCardNo"])
            else:
                assert uscc.is_valid(account["uscc"]) == ("uscc_invalid" not in item.expected_flags)
