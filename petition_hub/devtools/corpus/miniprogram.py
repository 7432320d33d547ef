"""Mini-program appeals (``miniprogram.appeals``): both schema versions (1: ``type`` and
``regionCode``; 2: ``category`` and ``region``), enterprise and individual accounts, appeals with a
bad credit code (accepted, flagged), and the channel's broken kinds."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

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
    ("gb18030_bytes", "bad_encoding"),
    ("missing_required_field", "missing_field"),
    ("wrong_type", "wrong_type"),
    ("unsupported_schema_version", "bad_value"),
    ("time_without_offset", "bad_value"),
    ("oversize_payload", "too_large"),
    ("content_too_long", "too_large"),
    ("empty_value", "empty"),
    ("null_key", "missing_key"),
    ("key_mismatch", "key_mismatch"),
    ("json_string", "not_an_object"),
)

_CST: Final = timezone(timedelta(hours=8))
_MP_TYPES: Final = {
    1: "政策咨询",
    2: "意见建议",
    3: "法律维权",
    4: "困难求助",
    5: "举报投诉",
    6: "其他诉求",
}


def _openid(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
    return "o6_" + "".join(rng.choice(alphabet) for _ in range(25))


def generate(
    n: int, seed: int, broken_every: int, oversize: int, ending: datetime | None = None
) -> list[CorpusItem]:
    """``n`` appeals for :func:`petition_hub.devtools.corpus.generate`."""
    mp = _MiniProgram(seed, n, ending)
    rng, gen = mp.rng, mp.gen
    items: list[CorpusItem] = []
    for i in range(n):
        at = mp.day0 + timedelta(minutes=11 * i + rng.randrange(11), seconds=rng.randrange(60))
        version = 2 if rng.random() < 0.7 else 1
        appeal, flags, ptype = mp.new_appeal(at, version)
        broken = broken_kind(BROKEN_KINDS, i, broken_every)
        if broken is not None:
            items.append(_miniprogram_broken(broken, appeal, rng, oversize))
            continue
        kind = f"v{version}"
        if rng.random() < 0.05 and appeal["account"]["type"] == "enterprise":
            bad = gen.bad_uscc(gen.county(registered=True))
            appeal["account"]["uscc"] = bad
            appeal["enterprise"]["uscc"] = bad
            flags.append("uscc_invalid")
            kind += "_flagged_uscc"
        items.append(
            valid_item(
                "miniprogram",
                kind,
                appeal["appealId"],
                json_bytes(appeal),
                petition_type=ptype,
                flags=flags,
            )
        )
    return items


class _MiniProgram(Generation):
    """One call's generation: its seeded choices and the appeal sequence."""

    def __init__(self, seed: int, n: int = 0, ending: datetime | None = None) -> None:
        # its naive times are UTC (written with +08:00); one item every 11 minutes at most
        local = None if ending is None else ending.astimezone(UTC).replace(tzinfo=None)
        span = timedelta(minutes=11 * (n + 1))
        super().__init__("miniprogram", seed, datetime(2026, 1, 5, 8, 0), local, span)

    def new_appeal(self, at: datetime, version: int) -> tuple[dict[str, Any], list[str], str]:
        rng, gen = self.rng, self.gen
        self.seq += 1
        seq = self.seq
        county = gen.county()
        theme = gen.theme()
        title, content = gen.text(theme, county)
        flags: list[str] = []
        appeal: dict[str, Any] = {
            "schemaVersion": version,
            "appealId": f"MP{at:%Y%m%d}{seq:05d}",
            "submittedAt": at.replace(tzinfo=UTC).astimezone(_CST).isoformat(),
            "openid": _openid(rng),
        }
        self._add_account(appeal)
        appeal["title"] = title
        appeal["content"] = content
        if version == 2:
            appeal["category"] = theme.mp_category
            appeal["region"] = {"code": county.code, "name": county.name}
        else:
            appeal["type"] = _MP_TYPES[theme.mp_category]
            appeal["regionCode"] = county.code
        if rng.random() < 0.4:
            appeal["location"] = {
                "lat": round(33.5 + rng.random() * 0.8, 6),
                "lng": round(112.8 + rng.random() * 0.9, 6),
            }
        if rng.random() < 0.25:
            appeal["attachments"] = [
                {
                    "name": rng.choice(("合同.pdf", "现场照片.jpg", "营业执照.jpg", "判决书.pdf")),
                    "url": f"https://zt.pds.gov.cn/files/{seq:05d}-{j}",
                    "sha256": f"{rng.getrandbits(256):064x}",
                }
                for j in range(rng.randrange(1, 3))
            ]
        appeal["authorizeDisclosure"] = rng.random() < 0.6
        return appeal, flags, _MP_TYPES[theme.mp_category]

    def _add_account(self, appeal: dict[str, Any]) -> None:
        """The submitter's account (an enterprise's also names the enterprise), in place: the
        keys' order is the message's."""
        gen = self.gen
        if self.rng.random() < 0.75:
            reg = gen.county(registered=True)
            code = gen.uscc(reg)
            appeal["account"] = {
                "type": "enterprise",
                "uscc": code,
                "phone": gen.mobile(),
                "name": gen.person(),
            }
            appeal["enterprise"] = {"name": gen.enterprise(reg), "uscc": code}
        else:
            home = gen.county(registered=True)
            appeal["account"] = {
                "type": "individual",
                "idCardNo": gen.id_number(home),
                "phone": gen.mobile(),
                "name": gen.person(),
            }


def _miniprogram_broken(
    broken: tuple[str, str], appeal: dict[str, Any], rng: random.Random, oversize: int
) -> CorpusItem:
    kind, reason = broken
    key = appeal["appealId"].encode()
    framed = framing_broken(kind, key, lambda: json_bytes(appeal), b"MP0000000000000")
    if framed is not None:
        return dead_item("miniprogram", kind, reason, *framed)
    value: bytes | None
    if kind == "truncated_json":
        full = json.dumps(appeal, ensure_ascii=False)
        value = full[: len(full) - rng.randrange(1, 20)].encode("utf-8")
    elif kind == "gb18030_bytes":
        value = json.dumps(appeal, ensure_ascii=False).encode("gb18030")
    elif kind == "missing_required_field":
        name = rng.choice(("content", "submittedAt", "account", "appealId"))
        del appeal[name]
        value = json_bytes(appeal)
    elif kind == "wrong_type":
        name, wrong = rng.choice(
            (("authorizeDisclosure", "yes"), ("schemaVersion", "2"), ("account", "enterprise"))
        )
        appeal[name] = wrong
        value = json_bytes(appeal)
    elif kind == "unsupported_schema_version":
        appeal["schemaVersion"] = 3
        value = json_bytes(appeal)
    elif kind == "time_without_offset":
        appeal["submittedAt"] = appeal["submittedAt"][:19]
        value = json_bytes(appeal)
    elif kind == "oversize_payload":
        appeal["content"] = oversize_text(oversize)
        value = json_bytes(appeal)
    elif kind == "content_too_long":
        appeal["content"] = "企业诉求" * 2600
        value = json_bytes(appeal)
    elif kind == "json_string":
        value = json_bytes(json.dumps(appeal, ensure_ascii=False))
    else:  # pragma: no cover
        raise AssertionError(kind)
    return dead_item("miniprogram", kind, reason, key, value)


#: This channel's generator, as :mod:`petition_hub.devtools.corpus` lists it.
CORPUS: Final = ChannelCorpus(channel="miniprogram", broken_kinds=BROKEN_KINDS, generate=generate)
