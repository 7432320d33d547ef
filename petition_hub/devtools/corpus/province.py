"""Provincial dispatches (``province.dispatch``): Avro records in the Confluent wire format under
both schema ids (101, and 102 with a provincial deadline and attachments), regions of the city,
of other Henan cities and of other provinces, dispatches with a bad credit code (accepted,
flagged), and the channel's broken kinds."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from petition_hub import schemas
from petition_hub.devtools.corpus.common import (
    BrokenKind,
    ChannelCorpus,
    CorpusItem,
    Generation,
    broken_kind,
    dead_item,
    framing_broken,
    oversize_text,
    valid_item,
)
from petition_hub.devtools.corpus.values import OTHER_HENAN, OUTSIDE_HENAN

#: This channel's broken kinds, each with the dead-letter reason the intake must give it.
BROKEN_KINDS: Final[tuple[BrokenKind, ...]] = (
    ("wrong_magic_byte", "bad_magic"),
    ("unknown_schema_id", "unknown_schema_id"),
    ("feedback_schema_id", "unknown_schema_id"),
    ("truncated_avro", "bad_avro"),
    ("v2_body_labelled_v1", "bad_avro"),
    ("shorter_than_header", "bad_magic"),
    ("blank_content", "missing_field"),
    ("oversize_payload", "too_large"),
    ("empty_value", "empty"),
    ("null_key", "missing_key"),
    ("key_mismatch", "key_mismatch"),
    ("json_instead_of_avro", "bad_magic"),
)

_PROVINCE_TYPES: Final = {
    "POLICY_CONSULTATION": "政策咨询",
    "SUGGESTION": "意见建议",
    "LEGAL_RIGHTS": "法律维权",
    "DIFFICULTY_ASSISTANCE": "困难求助",
    "REPORT_COMPLAINT": "举报投诉",
    "OTHER": "其他诉求",
}


def generate(
    n: int, seed: int, broken_every: int, oversize: int, ending: datetime | None = None
) -> list[CorpusItem]:
    """``n`` dispatches for :func:`petition_hub.devtools.corpus.generate`."""
    province = _Province(seed, n, ending)
    rng, gen = province.rng, province.gen
    items: list[CorpusItem] = []
    for i in range(n):
        at = province.day0 + timedelta(minutes=13 * i, milliseconds=rng.randrange(13 * 60_000))
        sid = 102 if rng.random() < 0.5 else 101
        record, flags, ptype = province.new_dispatch(at, sid)
        broken = broken_kind(BROKEN_KINDS, i, broken_every)
        if broken is not None:
            items.append(_province_broken(broken, record, rng, oversize))
            continue
        kind = f"schema{sid}"
        if rng.random() < 0.05 and record["petitioner"]["uscc"] is not None:
            record["petitioner"]["uscc"] = gen.bad_uscc(gen.county(registered=True))
            flags.append("uscc_invalid")
            kind += "_flagged_uscc"
        items.append(
            valid_item(
                "province",
                kind,
                record["dispatchId"],
                schemas.encode(sid, record),
                petition_type=ptype,
                flags=flags,
            )
        )
    return items


class _Province(Generation):
    """One call's generation: its seeded choices and the dispatch sequence."""

    def __init__(self, seed: int, n: int = 0, ending: datetime | None = None) -> None:
        # its times are aware UTC; one item every 13 minutes at most
        local = None if ending is None else ending.astimezone(UTC)
        span = timedelta(minutes=13 * (n + 1))
        super().__init__("province", seed, datetime(2026, 1, 5, 0, 0, tzinfo=UTC), local, span)

    def new_dispatch(self, at: datetime, sid: int) -> tuple[dict[str, Any], list[str], str]:
        rng, gen = self.rng, self.gen
        self.seq += 1
        seq = self.seq
        county = gen.county()
        theme = gen.theme()
        title, content = gen.text(theme, county)
        flags: list[str] = []
        r = rng.random()
        region = county.code
        if r < 0.1:
            region, _ = rng.choice(OTHER_HENAN)
        elif r < 0.14:
            region, _ = rng.choice(OUTSIDE_HENAN)
        petitioner = self._petitioner()
        record: dict[str, Any] = {
            "dispatchId": f"HA-{at:%Y%m%d}-{seq:06d}",
            "originChannel": rng.choice(
                ("PROVINCE_WEB", "PROVINCE_APP", "PROVINCE_HOTLINE", "TRANSFER_FROM_CITY")
            ),
            "receivedAt": at,
            "petitioner": petitioner,
            "category": theme.province_category,
            "subject": title,
            "content": content,
            "regionCode": region,
            "targetCity": "410400" if rng.random() < 0.95 else "410100",
            "confidential": rng.random() < 0.1,
        }
        if sid == 102:
            record["provincialDeadline"] = (
                at + timedelta(days=rng.randrange(3, 16)) if rng.random() < 0.7 else None
            )
            record["attachments"] = [
                {
                    "name": rng.choice(("申请书.pdf", "现场照片.jpg", "合同.pdf")),
                    "url": f"https://qy.henan.gov.cn/att/{seq:06d}-{j}",
                    "sha256": f"{rng.getrandbits(256):064x}" if rng.random() < 0.5 else None,
                }
                for j in range(rng.randrange(0, 3))
            ]
        return record, flags, _PROVINCE_TYPES[theme.province_category]

    def _petitioner(self) -> dict[str, Any]:
        """An enterprise (most) or an individual, with the fields of both schema ids."""
        rng, gen = self.rng, self.gen
        if rng.random() < 0.8:
            reg = gen.county(registered=True)
            return {
                "kind": "ENTERPRISE",
                "name": gen.enterprise(reg),
                "uscc": gen.uscc(reg) if rng.random() < 0.9 else None,
                "idNumber": None,
                "contactName": gen.person() if rng.random() < 0.8 else None,
                "phone": gen.phone(),
            }
        home = gen.county(registered=True)
        return {
            "kind": "INDIVIDUAL",
            "name": gen.person(),
            "uscc": None,
            "idNumber": gen.id_number(home),
            "contactName": None,
            "phone": gen.mobile(),
        }


def _province_broken(
    broken: tuple[str, str], record: dict[str, Any], rng: random.Random, oversize: int
) -> CorpusItem:
    kind, reason = broken
    key = record["dispatchId"].encode()
    sid = 102 if "attachments" in record else 101
    good = schemas.encode(sid, record)
    framed = framing_broken(kind, key, lambda: good, b"HA-00000000-000000")
    if framed is not None:
        return dead_item("province", kind, reason, *framed)
    value: bytes | None
    if kind == "wrong_magic_byte":
        value = b"\x01" + good[1:]
    elif kind == "unknown_schema_id":
        value = b"\x00" + (rng.choice((103, 999, 100))).to_bytes(4, "big") + good[5:]
    elif kind == "feedback_schema_id":
        value = b"\x00" + (201).to_bytes(4, "big") + good[5:]
    elif kind == "truncated_avro":
        value = good[: len(good) - rng.randrange(1, 30)]
    elif kind == "v2_body_labelled_v1":
        record.setdefault("provincialDeadline", None)
        record.setdefault("attachments", [])
        value = b"\x00" + (101).to_bytes(4, "big") + schemas.encode(102, record)[5:]
    elif kind == "shorter_than_header":
        value = b"\x00\x00\x00"
    elif kind == "blank_content":
        record["content"] = "   "
        value = schemas.encode(sid, record)
    elif kind == "oversize_payload":
        record["content"] = oversize_text(oversize)
        value = schemas.encode(sid, record)
    elif kind == "json_instead_of_avro":
        value = json.dumps({"dispatchId": record["dispatchId"]}).encode()
    else:  # pragma: no cover
        raise AssertionError(kind)
    return dead_item("province", kind, reason, key, value)


#: This channel's generator, as :mod:`petition_hub.devtools.corpus` lists it.
CORPUS: Final = ChannelCorpus(channel="province", broken_kinds=BROKEN_KINDS, generate=generate)
