"""``dlq show`` masks personal data whatever the dead letter's shape, and only personal data.

The dead letters are real: a hub worker takes the messages from the hotline's and the
mini-program's topics and dead-letters them; ``petition-hub dlq show`` then shows each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from hubtest import WorkerProcess, hub_cli, produce, read_topic
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.data import load_samples
from petition_hub.ops.masking import mask_free_text, mask_record


def _broken_hotline() -> tuple[bytes, bytes, str, str]:
    """A hotline work order cut short (not valid JSON) whose caller also names herself in the
    text: its key, its bytes, the caller's name and her phone."""
    sample = json.loads(load_samples()["hotline-financing.json"].value)
    sample["SQNR"] = f"我是{sample['LDRXM']}，" + sample["SQNR"]
    whole = json.dumps(sample, ensure_ascii=False)
    cut = whole[: whole.index('"SSQX"') + 12]  # "SSQX": "新华区 … and no end
    return sample["GDBH"].encode(), cut.encode(), sample["LDRXM"], sample["LDHM"]


def _invalid_miniprogram() -> tuple[bytes, bytes]:
    """A mini-program appeal that is valid JSON but no petition (its content is missing)."""
    sample = load_samples()["miniprogram-v2-enterprise.json"]
    appeal = json.loads(sample.value)
    del appeal["content"]
    return sample.key, json.dumps(appeal, ensure_ascii=False).encode()


@pytest.mark.broker
@pytest.mark.slow
@pytest.mark.ops
def test_show_masks_names_in_broken_and_valid_letters(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    key, broken, name, phone = _broken_hotline()
    mp_key, appeal = _invalid_miniprogram()
    start_worker(hub_topics)
    produce(hub_topics.bootstrap, "hotline12345.workorders", [(key, broken, ())])
    produce(hub_topics.bootstrap, "miniprogram.appeals", [(mp_key, appeal, ())])
    read_topic(hub_topics.bootstrap, "hub.deadletter", min_count=2, timeout=60)

    listing = hub_cli(hub_topics.url, tmp_path, "dlq", "list").splitlines()
    assert len(listing) == 2, listing
    ids = {c: line.split()[0] for line in listing for c in ("hotline", "miniprogram") if c in line}
    assert set(ids) == {"hotline", "miniprogram"}, listing

    # not valid JSON: the caller's name nowhere (field or text), nor her phone; places and the
    # enterprise stay readable
    shown = hub_cli(hub_topics.url, tmp_path, "dlq", "show", ids["hotline"])
    assert "bad_json" in shown
    assert name not in shown and phone not in shown, shown
    assert "平顶山市鹰城精密机械有限公司" in shown and "新华区" in shown
    assert shown.count("【姓名已隐去】") == 2  # the caller's field and her words

    # valid JSON: the account holder's name, phone and openid masked; the enterprise's name and
    # the region's name are not personal data and stay
    appeal_json = json.loads(appeal)
    shown = hub_cli(hub_topics.url, tmp_path, "dlq", "show", ids["miniprogram"])
    original = json.loads(shown[shown.index("(personal data masked):") + 23 :])
    assert original["account"]["name"] == "***" and original["account"]["phone"] == "***"
    assert original["openid"] == "***"
    assert original["enterprise"]["name"] == appeal_json["enterprise"]["name"]
    assert original["region"]["name"] == appeal_json["region"]["name"]
    assert appeal_json["account"]["name"] not in shown

    # --json: the same, as data
    listed = json.loads(hub_cli(hub_topics.url, tmp_path, "dlq", "list", "--json"))
    assert {e["id"] for e in listed} == set(ids.values())
    assert {e["connector"] for e in listed} == {"hotline", "miniprogram"}
    as_json = json.loads(hub_cli(hub_topics.url, tmp_path, "dlq", "show", ids["hotline"], "--json"))
    assert as_json["reason"] == "bad_json" and "新华区" in as_json["original"]
    assert name not in as_json["original"] and phone not in as_json["original"]


def test_masking_keeps_an_enterprise_that_contains_the_name() -> None:
    """An enterprise named after its owner keeps its name; the owner's own field does not."""
    record = {
        "LDRXM": "王建国",
        "LDHM": "13937512345",
        "QYMC": "平顶山市王建国商贸有限公司",
        "SQNR": "王建国反映：平顶山市王建国商贸有限公司的贷款",
    }
    masked = mask_record(record)
    assert masked["LDRXM"] == "***" and masked["LDHM"] == "***"
    assert masked["QYMC"] == record["QYMC"]
    assert masked["SQNR"] == "【姓名已隐去】反映：平顶山市王建国商贸有限公司的贷款"
    text = json.dumps(record, ensure_ascii=False)[:-2]  # cut: not JSON any more
    free = mask_free_text(text)
    assert "平顶山市王建国商贸有限公司" in free and "13937512345" not in free
    assert free.count("王建国") == 2  # both inside the enterprise's name


def test_a_province_enterprise_petitioner_keeps_its_name() -> None:
    readable = load_samples()["province-v1-dispatch.avro.bin"].readable
    assert readable is not None
    masked = mask_record(readable)
    assert masked["petitioner"]["name"] == readable["petitioner"]["name"]
    assert masked["petitioner"]["contactName"] == "***"
    assert masked["petitioner"]["phone"] == "***"
