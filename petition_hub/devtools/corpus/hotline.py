"""12345 hotline work orders (``hotline12345.workorders``): new orders, operator edits (same
``GDBH``, larger ``XGCS``), repeat calls (``YGDBH``), GB18030 orders with their ``charset`` header,
orders with a bad credit code or phone (accepted, flagged), and the channel's broken kinds."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any, Final

from stdnum.cn import uscc

from petition_hub.connectors.values import SHANGHAI
from petition_hub.devtools.corpus.common import (
    BrokenKind,
    ChannelCorpus,
    CorpusItem,
    Generation,
    broken_kind,
    dead_item,
    framing_broken,
    json_bytes,
    oversize_text,
    valid_item,
)

#: This channel's broken kinds, each with the dead-letter reason the intake must give it.
BROKEN_KINDS: Final[tuple[BrokenKind, ...]] = (
    ("truncated_json", "bad_json"),
    ("gb18030_without_header", "bad_encoding"),
    ("missing_required_field", "missing_field"),
    ("wrong_type", "wrong_type"),
    ("bad_local_time", "bad_value"),
    ("unknown_urgency", "bad_value"),
    ("oversize_payload", "too_large"),
    ("empty_value", "empty"),
    ("null_value", "empty"),
    ("null_key", "missing_key"),
    ("key_mismatch", "key_mismatch"),
    ("json_array", "not_an_object"),
    ("unsupported_charset_header", "bad_encoding"),
)

_HOTLINE_TYPES: Final = {
    "咨询": "政策咨询",
    "建议": "意见建议",
    "求助": "困难求助",
    "投诉": "举报投诉",
    "举报": "举报投诉",
    "表扬": "其他诉求",
    "其他": "其他诉求",
}


def generate(
    n: int, seed: int, broken_every: int, oversize: int, ending: datetime | None = None
) -> list[CorpusItem]:
    """``n`` work orders for :func:`petition_hub.devtools.corpus.generate`."""
    hotline = _Hotline(seed, n, ending)
    rng = hotline.rng
    items: list[CorpusItem] = []
    for i in range(n):
        at = hotline.day0 + timedelta(minutes=7 * i + rng.randrange(7), seconds=rng.randrange(60))
        broken = broken_kind(BROKEN_KINDS, i, broken_every)
        if broken is not None:
            items.append(_hotline_broken(broken, hotline.new_order(at), rng, oversize))
            continue
        items.append(hotline.next_valid(at))
    return items


class _Hotline(Generation):
    """One call's generation: its seeded choices, the order sequence, and what was published (an
    edit or a repeat call refers to an earlier order)."""

    def __init__(self, seed: int, n: int = 0, ending: datetime | None = None) -> None:
        # SLSJ is Asia/Shanghai wall-clock time; one item every 7 minutes at most
        local = None if ending is None else ending.astimezone(SHANGHAI).replace(tzinfo=None)
        span = timedelta(minutes=7 * (n + 1))
        super().__init__("hotline", seed, datetime(2026, 1, 5, 8, 0), local, span)
        self.published: list[dict[str, Any]] = []
        self.latest: dict[str, dict[str, Any]] = {}  # GDBH -> its latest publication

    def new_order(self, at: datetime) -> dict[str, Any]:
        rng, gen = self.rng, self.gen
        self.seq += 1
        seq = self.seq
        county = gen.county()
        theme = gen.theme()
        title, content = gen.text(theme, county)
        order: dict[str, Any] = {
            "GDBH": f"12345-410400-{at:%Y%m%d}-{seq:06d}",
            "XGCS": 0,
            "SLSJ": f"{at:%Y-%m-%d %H:%M:%S}",
            "LDHM": gen.phone(),
        }
        if rng.random() < 0.8:
            order["LDRXM"] = gen.person()
        if rng.random() < 0.8:
            reg = gen.county(registered=True)
            order["QYMC"] = gen.enterprise(reg)
            if rng.random() < 0.7:
                order["TYSHXYDM"] = gen.uscc(reg)
        r = rng.random()
        order["SQLB"] = theme.sqlb if r < 0.9 else ("" if r < 0.95 else None)
        if order["SQLB"] is None:
            del order["SQLB"]
        if rng.random() < 0.7:
            order["SQBT"] = title
        order["SQNR"] = content
        if rng.random() < 0.85:
            order["SSQX"] = rng.choice(county.variants)
        if rng.random() < 0.5:
            order["XZQHDM"] = county.code
        order["JJCD"] = rng.choices(("一般", "紧急", "特急"), (90, 8, 2))[0]
        order["SFBM"] = "1" if rng.random() < 0.1 else "0"
        order["FJ"] = (
            [f"https://12345.pds.gov.cn/fj/{seq:06d}-{j}.jpg" for j in range(rng.randrange(1, 3))]
            if rng.random() < 0.2
            else []
        )
        return order

    def next_valid(self, at: datetime) -> CorpusItem:
        """The next valid publication (a new order, an edit, a repeat call, …), published."""
        order, kind = self._next_order(at)
        self.published.append(order)
        self.latest[order["GDBH"]] = order
        return self.valid(order, kind, gb18030=kind == "gb18030")

    def _next_order(self, at: datetime) -> tuple[dict[str, Any], str]:
        rng, gen, published = self.rng, self.gen, self.published
        r = rng.random()
        if published and r < 0.12:  # an operator edit: same GDBH, larger XGCS
            order = dict(self.latest[rng.choice(sorted(self.latest))])
            order["XGCS"] = order["XGCS"] + 1
            order["ZXBZ"] = rng.choice(
                (
                    "修改：补充企业联系人",
                    "修改：更正所属区县",
                    "修改：补充诉求内容",
                    "修改：调整紧急程度",
                )
            )
            return order, "edit"
        if published and r < 0.2:  # a repeat call about the same matter
            earlier = rng.choice(published)
            order = self.new_order(at)
            order["YGDBH"] = earlier["GDBH"]
            order["SQNR"] = "再次反映：" + earlier["SQNR"]
            return order, "repeat"
        if r < 0.3:
            return self.new_order(at), "gb18030"
        if r < 0.34:
            order = self.new_order(at)
            order["TYSHXYDM"] = gen.bad_uscc(gen.county(registered=True))
            order.setdefault("QYMC", gen.enterprise(gen.county()))
            return order, "flagged_uscc"
        if r < 0.37:
            order = self.new_order(at)
            order["LDHM"] = "9" + order["LDHM"][1:]
            return order, "flagged_phone"
        return self.new_order(at), "valid"

    def valid(self, order: dict[str, Any], kind: str, gb18030: bool = False) -> CorpusItem:
        flags: list[str] = []
        uscc_value = order.get("TYSHXYDM")
        if uscc_value is not None and not uscc.is_valid(uscc_value):
            flags.append("uscc_invalid")
        if "LDHM" in order and order["LDHM"].startswith("9"):
            flags.append("phone_invalid")
        headers: tuple[tuple[str, bytes], ...] = ()
        if gb18030:
            value = json.dumps(order, ensure_ascii=False).encode("gb18030")
            headers = (("charset", self.rng.choice((b"GB18030", b"gb18030", b" GB18030 "))),)
        else:
            value = json_bytes(order)
        sqlb = (order.get("SQLB") or "").strip()
        return valid_item(
            "hotline",
            kind,
            order["GDBH"],
            value,
            headers,
            revision=order["XGCS"],
            petition_type=_HOTLINE_TYPES.get(sqlb),
            flags=flags,
        )


def _hotline_broken(
    broken: tuple[str, str], order: dict[str, Any], rng: random.Random, oversize: int
) -> CorpusItem:
    kind, reason = broken
    key = order["GDBH"].encode()
    framed = framing_broken(kind, key, lambda: json_bytes(order), (order["GDBH"] + "-X").encode())
    if framed is not None:
        return dead_item("hotline", kind, reason, *framed)
    headers: tuple[tuple[str, bytes], ...] = ()
    value: bytes | None
    if kind == "truncated_json":  # cut between characters: a cut inside one is bad_encoding
        full = json.dumps(order, ensure_ascii=False)
        value = full[: len(full) // 2].encode("utf-8")
    elif kind == "gb18030_without_header":
        value = json.dumps(order, ensure_ascii=False).encode("gb18030")
    elif kind == "missing_required_field":
        del order[rng.choice(("SQNR", "LDHM", "SLSJ", "JJCD", "SFBM", "XGCS"))]
        value = json_bytes(order)
    elif kind == "wrong_type":
        field_name, wrong = rng.choice(
            (("XGCS", "1"), ("FJ", "https://x/1.jpg"), ("SQNR", 12345), ("LDHM", 13800000000))
        )
        order[field_name] = wrong
        value = json_bytes(order)
    elif kind == "bad_local_time":
        order["SLSJ"] = order["SLSJ"].replace("-", "/")
        value = json_bytes(order)
    elif kind == "unknown_urgency":
        order["JJCD"] = "加急"
        value = json_bytes(order)
    elif kind == "oversize_payload":
        order["SQNR"] = oversize_text(oversize)
        value = json_bytes(order)
    elif kind == "json_array":
        value = json_bytes([order])
    elif kind == "unsupported_charset_header":
        value, headers = json_bytes(order), (("charset", b"Big5"),)
    else:  # pragma: no cover - BROKEN_KINDS and this function move together
        raise AssertionError(kind)
    return dead_item("hotline", kind, reason, key, value, headers)


#: This channel's generator, as :mod:`petition_hub.devtools.corpus` lists it.
CORPUS: Final = ChannelCorpus(channel="hotline", broken_kinds=BROKEN_KINDS, generate=generate)
