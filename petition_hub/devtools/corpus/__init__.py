"""A deterministic corpus of upstream messages, valid and broken, for every intake channel.

``generate(channel, n, seed)`` returns ``n`` :class:`CorpusItem` for one channel
(``"hotline"``, ``"miniprogram"``, ``"province"``); ``generate_all(n_per_channel, seed)`` all three.
The same arguments give the same bytes on every machine (seeded ``random.Random``, no clock).

Valid messages are realistic: enterprise petitions built from templates (financing, tax, land,
permits, arrears, utilities, labour, subsidies, suggestions, praise), counties and their typed
variants from ``petition_hub/data/regions.yaml``, enterprises with valid unified social credit
codes (check character computed with python-stdnum), valid phones and ID numbers; 12345 edits
(same ``GDBH``, larger ``XGCS``) and repeat calls (``YGDBH``), GB18030 work orders with their
``charset`` header, both mini-program schema versions and both provincial schema ids. A few valid
messages carry a deliberately bad credit code or phone: they must be accepted, and flagged.

Every ``broken_every``-th item is broken, cycling through the channel's broken kinds in order
(:data:`BROKEN_KINDS`), so ``n >= broken_every * len(BROKEN_KINDS[channel])`` covers every kind.
Each item says what the intake must do with it (``expected``: a petition or a dead letter with
``expected_reason``) and, for a valid one, the petition id the hub must give it.

Item keys and ids are unique within one call; two calls with different seeds may share ids.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Final, Literal

import yaml
from stdnum.cn import ric, uscc

from petition_hub import schemas
from petition_hub.data import data_path
from petition_hub.domain.petition import petition_id_for

__all__ = [
    "BROKEN_KINDS",
    "CHANNELS",
    "SAMPLES_DIR",
    "TOPICS",
    "CorpusItem",
    "Sample",
    "by_kind",
    "generate",
    "generate_all",
    "load_samples",
]

Channel = Literal["hotline", "miniprogram", "province"]
CHANNELS: Final[tuple[Channel, ...]] = ("hotline", "miniprogram", "province")
TOPICS: Final[dict[str, str]] = {
    "hotline": "hotline12345.workorders",
    "miniprogram": "miniprogram.appeals",
    "province": "province.dispatch",
}

#: Broken kinds per channel, each with the dead-letter reason the intake must give it.
BROKEN_KINDS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "hotline": (
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
    ),
    "miniprogram": (
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
    ),
    "province": (
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
    ),
}


@dataclass(frozen=True)
class CorpusItem:
    """One Kafka message and what the intake must make of it."""

    channel: str
    kind: str
    """``valid``, ``edit``, ``repeat``, ``gb18030``, ``v1``, ``flagged_uscc``, … or broken."""
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    expected: Literal["petition", "deadletter"]
    expected_reason: str | None = None
    """The dead-letter reason code (``None`` for a petition)."""
    petition_id: str | None = None
    """The hub id the petition must get (``None`` for a dead letter)."""
    revision: int = 0
    expected_type: str | None = None
    """The hub petition type (Chinese value) the channel's category maps to, if any."""
    expected_flags: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:  # the 5 MB values make the default repr useless
        size = None if self.value is None else len(self.value)
        return (
            f"CorpusItem({self.channel}/{self.kind}, key={self.key!r}, {size} bytes, "
            f"expected={self.expected}:{self.expected_reason or self.petition_id})"
        )


# --- reference data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _County:
    code: str
    name: str
    variants: tuple[str, ...]
    functional_zone: bool


@lru_cache(maxsize=1)
def _counties() -> tuple[_County, ...]:
    with data_path("regions.yaml").open(encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return tuple(
        _County(
            code=str(u["code"]),
            name=str(u["name"]),
            variants=(str(u["name"]), *map(str, u.get("aliases") or ())),
            functional_zone=bool(u.get("functional_zone")),
        )
        for u in doc["county_units"]
    )


#: Districts of other Henan cities and of other provinces (real division codes).
_OTHER_HENAN: Final = (
    ("410102", "郑州市中原区"),
    ("410302", "洛阳市老城区"),
    ("411002", "许昌市魏都区"),
    ("411102", "漯河市源汇区"),
    ("411302", "南阳市宛城区"),
)
_OUTSIDE_HENAN: Final = (
    ("110105", "北京市朝阳区"),
    ("440305", "深圳市南山区"),
    ("320506", "苏州市吴中区"),
)

_SURNAMES: Final = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
_GIVEN: Final = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "华",
    "建国",
    "建华",
    "国强",
    "志刚",
    "海燕",
    "红梅",
    "晓东",
    "文斌",
)
_TITLES: Final = ("先生", "女士", "总", "经理")
_BRANDS: Final = (
    "鹰城",
    "中原",
    "宏达",
    "恒达",
    "鑫源",
    "华兴",
    "天瑞",
    "博远",
    "众信",
    "瑞丰",
    "金鼎",
    "德润",
    "新城",
    "盐都",
    "汇通",
    "立信",
    "长青",
    "昌盛",
    "富康",
    "嘉禾",
)
_INDUSTRIES: Final = (
    "精密机械",
    "新材料",
    "食品",
    "环保建材",
    "物流",
    "电子科技",
    "化工",
    "纺织",
    "农业发展",
    "建筑工程",
    "特钢制品",
    "陶瓷",
    "医药",
    "汽车配件",
    "光伏科技",
    "酒业",
    "服装",
    "印务",
)
_SUFFIXES: Final = ("有限公司", "有限责任公司", "股份有限公司")
_BANKS: Final = ("某国有银行", "某农商银行", "某股份制银行", "某城商银行")
_MOBILE_PREFIXES: Final = (
    "130",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "158",
    "159",
    "176",
    "177",
    "182",
    "183",
    "187",
    "188",
    "189",
    "199",
)

_USCC_ORG_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass(frozen=True)
class _Theme:
    """A petition template: categories on each channel, title and content templates."""

    sqlb: str
    mp_category: int
    province_category: str
    title: str
    content: str


# (SQLB, mini-program category, province category): a legal-rights matter is 投诉/求助 on 12345.
_THEMES: Final = (
    _Theme(
        "求助",
        4,
        "DIFFICULTY_ASSISTANCE",
        "银行到期不续贷",
        "我公司在{bank}的{amount}万元流动资金贷款{when}到期，银行通知到期后不再续贷，要求全额归还，"
        "企业订单正常，资金周转困难，希望协调银行予以续贷或无还本续贷。",
    ),
    _Theme(
        "求助",
        4,
        "DIFFICULTY_ASSISTANCE",
        "申请创业担保贷款",
        "企业新招用了{people}名员工，想申请创业担保贷款{amount}万元，提交材料后{months}个月没有回音，"
        "请帮助了解办理进度。",
    ),
    _Theme(
        "咨询",
        1,
        "POLICY_CONSULTATION",
        "研发费用加计扣除",
        "请问今年研发费用加计扣除的比例是多少？我公司属于{industry}行业，去年研发投入{amount}万元，"
        "汇算清缴时应该怎么申报？",
    ),
    _Theme(
        "咨询",
        1,
        "POLICY_CONSULTATION",
        "留抵退税办理",
        "我公司是小微企业，想咨询增值税增量留抵退税的条件和办理流程，需要准备哪些材料，多长时间能到账？",
    ),
    _Theme(
        "求助",
        4,
        "DIFFICULTY_ASSISTANCE",
        "项目用地手续办不下来",
        "我公司在{county}的扩建项目已签约{months}个月，土地摘牌手续一直办不下来，设备已到厂无法安装，"
        "请求协调自然资源部门加快办理。",
    ),
    _Theme(
        "投诉",
        5,
        "REPORT_COMPLAINT",
        "审批拖延",
        "反映{county}某部门在办理{permit}时多次要求补充与审批无关的材料，拖着不办，已经{months}个月了。",
    ),
    _Theme(
        "投诉",
        3,
        "LEGAL_RIGHTS",
        "工程款被拖欠",
        "我公司承建的{county}某单位办公楼改造工程已竣工验收{months}个月，工程款{amount}万元至今未付，"
        "工人工资发不出来，请求依法督促支付。",
    ),
    _Theme(
        "求助",
        3,
        "LEGAL_RIGHTS",
        "合同纠纷执行难",
        "我公司与外地某企业的货款纠纷已胜诉，判决生效{months}个月仍未执行到位，涉及金额{amount}万元，"
        "请求协调法院加快强制执行。",
    ),
    _Theme(
        "求助",
        4,
        "DIFFICULTY_ASSISTANCE",
        "用电增容迟迟不装",
        "企业扩建项目用电需求增加，申请增容的变压器安装已拖延{months}个月，影响投产，请求供电部门尽快办理。",
    ),
    _Theme(
        "求助",
        4,
        "DIFFICULTY_ASSISTANCE",
        "招工难",
        "我公司{industry}生产线扩产，急需招聘{people}名技术工人，多次在网上发布招聘信息效果不好，"
        "希望人社部门帮助对接职业院校。",
    ),
    _Theme(
        "咨询",
        1,
        "POLICY_CONSULTATION",
        "专精特新申报",
        "请问今年省级专精特新中小企业申报的条件和截止时间是什么？研发费用占比怎么计算？",
    ),
    _Theme(
        "咨询",
        1,
        "POLICY_CONSULTATION",
        "稳岗补贴何时发放",
        "我公司去年没有裁员，按政策可以申请稳岗返还，已在网上提交{months}个月，想了解什么时候能发放。",
    ),
    _Theme(
        "建议",
        2,
        "SUGGESTION",
        "建议增设公交线路",
        "建议在{county}工业园区增设公交线路，园区内{people}多名员工上下班通勤不便，企业招工也受影响。",
    ),
    _Theme(
        "建议",
        2,
        "SUGGESTION",
        "建议简化报销流程",
        "建议简化企业申领{permit}相关补贴的流程，实现网上一次提交，减少企业来回跑。",
    ),
    _Theme(
        "举报",
        5,
        "REPORT_COMPLAINT",
        "违规收费",
        "举报{county}某单位在办理{permit}时收取所谓服务费{amount0}元，没有开具任何票据。",
    ),
    _Theme(
        "表扬",
        6,
        "OTHER",
        "表扬办事人员",
        "{county}政务服务中心工作人员帮助我公司一天办完了{permit}，服务热情周到，特此表扬。",
    ),
    _Theme(
        "其他",
        6,
        "OTHER",
        "企业搬迁咨询",
        "我公司因城市规划需要搬迁，想了解搬迁补偿标准和新厂址的选址安排，不知道该找哪个部门。",
    ),
)
_PERMITS: Final = (
    "食品经营许可",
    "建设工程规划许可",
    "排污许可",
    "消防验收",
    "施工许可",
    "危险化学品经营许可",
    "道路运输经营许可",
    "不动产登记",
)


class _Gen:
    """Random choices of realistic values, from one seeded ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def county(self, *, registered: bool = False) -> _County:
        units = [c for c in _counties() if not (registered and c.functional_zone)]
        return self.rng.choice(units)

    def person(self) -> str:
        given = self.rng.choice(_GIVEN)
        if self.rng.random() < 0.2:
            given = self.rng.choice(_TITLES)
        return self.rng.choice(_SURNAMES) + given

    def mobile(self) -> str:
        return self.rng.choice(_MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def landline(self) -> str:
        return f"0375-{self.rng.randrange(2, 9)}{self.rng.randrange(10**6):06d}"

    def phone(self) -> str:
        return self.landline() if self.rng.random() < 0.2 else self.mobile()

    def uscc(self, county: _County) -> str:
        org = "MA" + "".join(self.rng.choice(_USCC_ORG_ALPHABET) for _ in range(7))
        body = "91" + county.code + org
        return body + uscc.calc_check_digit(body)

    def bad_uscc(self, county: _County) -> str:
        good = self.uscc(county)
        wrong = [c for c in _USCC_ORG_ALPHABET if c != good[-1]]
        return good[:-1] + self.rng.choice(wrong)

    def id_number(self, county: _County) -> str:
        born = datetime(1960, 1, 1) + timedelta(days=self.rng.randrange(40 * 365))
        body = f"{county.code}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
        return body + ric.calc_check_digit(body + "0")

    def enterprise(self, county: _County) -> str:
        prefix = self.rng.choice(("平顶山市", county.name, ""))
        return (
            prefix
            + self.rng.choice(_BRANDS)
            + self.rng.choice(_INDUSTRIES)
            + self.rng.choice(_SUFFIXES)
        )

    def theme(self) -> _Theme:
        return self.rng.choice(_THEMES)

    def text(self, theme: _Theme, county: _County) -> tuple[str, str]:
        values = {
            "bank": self.rng.choice(_BANKS),
            "amount": self.rng.choice((30, 50, 80, 120, 180, 200, 300, 500, 800, 1200)),
            "amount0": self.rng.choice((800, 1500, 2000, 3000, 5000)),
            "when": self.rng.choice(("下月", "本月底", "下周", "三个月后")),
            "months": self.rng.randrange(1, 13),
            "people": self.rng.choice((5, 10, 20, 30, 50, 80, 100, 200)),
            "industry": self.rng.choice(_INDUSTRIES),
            "county": county.name,
            "permit": self.rng.choice(_PERMITS),
        }
        return theme.title, theme.content.format(**values)


def _pid(channel: str, ref: str) -> str:
    return petition_id_for(channel, ref)


def _valid_item(
    channel: str,
    kind: str,
    ref: str,
    value: bytes,
    headers: tuple[tuple[str, bytes], ...] = (),
    *,
    revision: int = 0,
    petition_type: str | None = None,
    flags: Sequence[str] = (),
) -> CorpusItem:
    """A message that must become the petition ``petition_id_for(channel, ref)``."""
    return CorpusItem(
        channel=channel,
        kind=kind,
        topic=TOPICS[channel],
        key=ref.encode(),
        value=value,
        headers=headers,
        expected="petition",
        petition_id=_pid(channel, ref),
        revision=revision,
        expected_type=petition_type,
        expected_flags=tuple(sorted(flags)),
    )


def _dead_item(
    channel: str,
    kind: str,
    reason: str,
    key: bytes | None,
    value: bytes | None,
    headers: tuple[tuple[str, bytes], ...] = (),
) -> CorpusItem:
    """A broken message that must become one dead letter with ``reason``."""
    return CorpusItem(
        channel=channel,
        kind=kind,
        topic=TOPICS[channel],
        key=key,
        value=value,
        headers=headers,
        expected="deadletter",
        expected_reason=reason,
    )


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _broken_kind(channel: str, i: int, broken_every: int) -> tuple[str, str] | None:
    if broken_every <= 0 or i % broken_every != broken_every - 1:
        return None
    kinds = BROKEN_KINDS[channel]
    return kinds[(i // broken_every) % len(kinds)]


def _oversize_text(size: int) -> str:
    unit = "企业反映的问题需要协调解决。"
    return unit * (size // len(unit.encode("utf-8")) + 1)


# --- 12345 hotline -------------------------------------------------------------------------------

_HOTLINE_TYPES: Final = {
    "咨询": "政策咨询",
    "建议": "意见建议",
    "求助": "困难求助",
    "投诉": "举报投诉",
    "举报": "举报投诉",
    "表扬": "其他诉求",
    "其他": "其他诉求",
}


def _hotline(n: int, seed: int, broken_every: int, oversize: int) -> list[CorpusItem]:
    rng = random.Random(f"hotline:{seed}")
    gen = _Gen(rng)
    day0 = datetime(2026, 1, 5, 8, 0) + timedelta(days=rng.randrange(300))
    published: list[dict[str, Any]] = []
    latest: dict[str, dict[str, Any]] = {}  # GDBH -> its latest publication
    items: list[CorpusItem] = []
    seq = rng.randrange(1000)

    def new_order(at: datetime) -> dict[str, Any]:
        nonlocal seq
        seq += 1
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

    def valid(order: dict[str, Any], kind: str, gb18030: bool = False) -> CorpusItem:
        flags: list[str] = []
        uscc_value = order.get("TYSHXYDM")
        if uscc_value is not None and not uscc.is_valid(uscc_value):
            flags.append("uscc_invalid")
        if "LDHM" in order and order["LDHM"].startswith("9"):
            flags.append("phone_invalid")
        headers: tuple[tuple[str, bytes], ...] = ()
        if gb18030:
            value = json.dumps(order, ensure_ascii=False).encode("gb18030")
            headers = (("charset", rng.choice((b"GB18030", b"gb18030", b" GB18030 "))),)
        else:
            value = _json(order)
        sqlb = (order.get("SQLB") or "").strip()
        return _valid_item(
            "hotline",
            kind,
            order["GDBH"],
            value,
            headers,
            revision=order["XGCS"],
            petition_type=_HOTLINE_TYPES.get(sqlb),
            flags=flags,
        )

    for i in range(n):
        at = day0 + timedelta(minutes=7 * i + rng.randrange(7), seconds=rng.randrange(60))
        broken = _broken_kind("hotline", i, broken_every)
        if broken is not None:
            items.append(_hotline_broken(broken, new_order(at), rng, oversize))
            continue
        r = rng.random()
        if published and r < 0.12:  # an operator edit: same GDBH, larger XGCS
            order = dict(latest[rng.choice(sorted(latest))])
            order["XGCS"] = order["XGCS"] + 1
            order["ZXBZ"] = rng.choice(
                (
                    "修改：补充企业联系人",
                    "修改：更正所属区县",
                    "修改：补充诉求内容",
                    "修改：调整紧急程度",
                )
            )
            published.append(order)
            latest[order["GDBH"]] = order
            items.append(valid(order, "edit"))
        elif published and r < 0.2:  # a repeat call about the same matter
            earlier = rng.choice(published)
            order = new_order(at)
            order["YGDBH"] = earlier["GDBH"]
            order["SQNR"] = "再次反映：" + earlier["SQNR"]
            published.append(order)
            latest[order["GDBH"]] = order
            items.append(valid(order, "repeat"))
        elif r < 0.3:
            order = new_order(at)
            published.append(order)
            latest[order["GDBH"]] = order
            items.append(valid(order, "gb18030", gb18030=True))
        elif r < 0.34:
            order = new_order(at)
            order["TYSHXYDM"] = gen.bad_uscc(gen.county(registered=True))
            order.setdefault("QYMC", gen.enterprise(gen.county()))
            published.append(order)
            latest[order["GDBH"]] = order
            items.append(valid(order, "flagged_uscc"))
        elif r < 0.37:
            order = new_order(at)
            order["LDHM"] = "9" + order["LDHM"][1:]
            published.append(order)
            latest[order["GDBH"]] = order
            items.append(valid(order, "flagged_phone"))
        else:
            order = new_order(at)
            published.append(order)
            latest[order["GDBH"]] = order
            items.append(valid(order, "valid"))
    return items


def _hotline_broken(
    broken: tuple[str, str], order: dict[str, Any], rng: random.Random, oversize: int
) -> CorpusItem:
    kind, reason = broken
    key: bytes | None = order["GDBH"].encode()
    headers: tuple[tuple[str, bytes], ...] = ()
    value: bytes | None
    if kind == "truncated_json":  # cut between characters: a cut inside one is bad_encoding
        full = json.dumps(order, ensure_ascii=False)
        value = full[: len(full) // 2].encode("utf-8")
    elif kind == "gb18030_without_header":
        value = json.dumps(order, ensure_ascii=False).encode("gb18030")
    elif kind == "missing_required_field":
        del order[rng.choice(("SQNR", "LDHM", "SLSJ", "JJCD", "SFBM", "XGCS"))]
        value = _json(order)
    elif kind == "wrong_type":
        field_name, wrong = rng.choice(
            (("XGCS", "1"), ("FJ", "https://x/1.jpg"), ("SQNR", 12345), ("LDHM", 13800000000))
        )
        order[field_name] = wrong
        value = _json(order)
    elif kind == "bad_local_time":
        order["SLSJ"] = order["SLSJ"].replace("-", "/")
        value = _json(order)
    elif kind == "unknown_urgency":
        order["JJCD"] = "加急"
        value = _json(order)
    elif kind == "oversize_payload":
        order["SQNR"] = _oversize_text(oversize)
        value = _json(order)
    elif kind == "empty_value":
        value = b""
    elif kind == "null_value":
        value = None
    elif kind == "null_key":
        key, value = None, _json(order)
    elif kind == "key_mismatch":
        key, value = (order["GDBH"] + "-X").encode(), _json(order)
    elif kind == "json_array":
        value = _json([order])
    elif kind == "unsupported_charset_header":
        value, headers = _json(order), (("charset", b"Big5"),)
    else:  # pragma: no cover - BROKEN_KINDS and this function move together
        raise AssertionError(kind)
    return _dead_item("hotline", kind, reason, key, value, headers)


# --- mini-program --------------------------------------------------------------------------------

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


def _miniprogram(n: int, seed: int, broken_every: int, oversize: int) -> list[CorpusItem]:
    rng = random.Random(f"miniprogram:{seed}")
    gen = _Gen(rng)
    day0 = datetime(2026, 1, 5, 8, 0) + timedelta(days=rng.randrange(300))
    seq = rng.randrange(1000)
    items: list[CorpusItem] = []

    def new_appeal(at: datetime, version: int) -> tuple[dict[str, Any], list[str], str]:
        nonlocal seq
        seq += 1
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
        if rng.random() < 0.75:
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

    for i in range(n):
        at = day0 + timedelta(minutes=11 * i + rng.randrange(11), seconds=rng.randrange(60))
        version = 2 if rng.random() < 0.7 else 1
        appeal, flags, ptype = new_appeal(at, version)
        broken = _broken_kind("miniprogram", i, broken_every)
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
            _valid_item(
                "miniprogram",
                kind,
                appeal["appealId"],
                _json(appeal),
                petition_type=ptype,
                flags=flags,
            )
        )
    return items


def _miniprogram_broken(
    broken: tuple[str, str], appeal: dict[str, Any], rng: random.Random, oversize: int
) -> CorpusItem:
    kind, reason = broken
    key: bytes | None = appeal["appealId"].encode()
    value: bytes | None
    if kind == "truncated_json":
        full = json.dumps(appeal, ensure_ascii=False)
        value = full[: len(full) - rng.randrange(1, 20)].encode("utf-8")
    elif kind == "gb18030_bytes":
        value = json.dumps(appeal, ensure_ascii=False).encode("gb18030")
    elif kind == "missing_required_field":
        name = rng.choice(("content", "submittedAt", "account", "appealId"))
        del appeal[name]
        value = _json(appeal)
    elif kind == "wrong_type":
        name, wrong = rng.choice(
            (("authorizeDisclosure", "yes"), ("schemaVersion", "2"), ("account", "enterprise"))
        )
        appeal[name] = wrong
        value = _json(appeal)
    elif kind == "unsupported_schema_version":
        appeal["schemaVersion"] = 3
        value = _json(appeal)
    elif kind == "time_without_offset":
        appeal["submittedAt"] = appeal["submittedAt"][:19]
        value = _json(appeal)
    elif kind == "oversize_payload":
        appeal["content"] = _oversize_text(oversize)
        value = _json(appeal)
    elif kind == "content_too_long":
        appeal["content"] = "企业诉求" * 2600
        value = _json(appeal)
    elif kind == "empty_value":
        value = b""
    elif kind == "null_key":
        key, value = None, _json(appeal)
    elif kind == "key_mismatch":
        key, value = b"MP0000000000000", _json(appeal)
    elif kind == "json_string":
        value = _json(json.dumps(appeal, ensure_ascii=False))
    else:  # pragma: no cover
        raise AssertionError(kind)
    return _dead_item("miniprogram", kind, reason, key, value)


# --- province ------------------------------------------------------------------------------------

_PROVINCE_TYPES: Final = {
    "POLICY_CONSULTATION": "政策咨询",
    "SUGGESTION": "意见建议",
    "LEGAL_RIGHTS": "法律维权",
    "DIFFICULTY_ASSISTANCE": "困难求助",
    "REPORT_COMPLAINT": "举报投诉",
    "OTHER": "其他诉求",
}


def _province(n: int, seed: int, broken_every: int, oversize: int) -> list[CorpusItem]:
    rng = random.Random(f"province:{seed}")
    gen = _Gen(rng)
    t0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC) + timedelta(days=rng.randrange(300))
    seq = rng.randrange(1000)
    items: list[CorpusItem] = []

    def new_dispatch(at: datetime, sid: int) -> tuple[dict[str, Any], list[str], str]:
        nonlocal seq
        seq += 1
        county = gen.county()
        theme = gen.theme()
        title, content = gen.text(theme, county)
        flags: list[str] = []
        r = rng.random()
        region = county.code
        if r < 0.1:
            region, _ = rng.choice(_OTHER_HENAN)
        elif r < 0.14:
            region, _ = rng.choice(_OUTSIDE_HENAN)
        if rng.random() < 0.8:
            reg = gen.county(registered=True)
            petitioner = {
                "kind": "ENTERPRISE",
                "name": gen.enterprise(reg),
                "uscc": gen.uscc(reg) if rng.random() < 0.9 else None,
                "idNumber": None,
                "contactName": gen.person() if rng.random() < 0.8 else None,
                "phone": gen.phone(),
            }
        else:
            home = gen.county(registered=True)
            petitioner = {
                "kind": "INDIVIDUAL",
                "name": gen.person(),
                "uscc": None,
                "idNumber": gen.id_number(home),
                "contactName": None,
                "phone": gen.mobile(),
            }
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

    for i in range(n):
        at = t0 + timedelta(minutes=13 * i, milliseconds=rng.randrange(13 * 60_000))
        sid = 102 if rng.random() < 0.5 else 101
        record, flags, ptype = new_dispatch(at, sid)
        broken = _broken_kind("province", i, broken_every)
        if broken is not None:
            items.append(_province_broken(broken, record, rng, oversize))
            continue
        kind = f"schema{sid}"
        if rng.random() < 0.05 and record["petitioner"]["uscc"] is not None:
            record["petitioner"]["uscc"] = gen.bad_uscc(gen.county(registered=True))
            flags.append("uscc_invalid")
            kind += "_flagged_uscc"
        items.append(
            _valid_item(
                "province",
                kind,
                record["dispatchId"],
                schemas.encode(sid, record),
                petition_type=ptype,
                flags=flags,
            )
        )
    return items


def _province_broken(
    broken: tuple[str, str], record: dict[str, Any], rng: random.Random, oversize: int
) -> CorpusItem:
    kind, reason = broken
    key: bytes | None = record["dispatchId"].encode()
    sid = 102 if "attachments" in record else 101
    good = schemas.encode(sid, record)
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
        record["content"] = _oversize_text(oversize)
        value = schemas.encode(sid, record)
    elif kind == "empty_value":
        value = b""
    elif kind == "null_key":
        key, value = None, good
    elif kind == "key_mismatch":
        key, value = b"HA-00000000-000000", good
    elif kind == "json_instead_of_avro":
        value = json.dumps({"dispatchId": record["dispatchId"]}).encode()
    else:  # pragma: no cover
        raise AssertionError(kind)
    return _dead_item("province", kind, reason, key, value)


# --- entry points --------------------------------------------------------------------------------

_GENERATORS: Final = {"hotline": _hotline, "miniprogram": _miniprogram, "province": _province}


def generate(
    channel: str,
    n: int,
    seed: int = 0,
    *,
    broken_every: int = 7,
    oversize_bytes: int = 5 * 1024 * 1024,
) -> list[CorpusItem]:
    """``n`` messages of ``channel`` (``hotline``, ``miniprogram`` or ``province``), in publishing
    order (an edit comes after the work order it edits).

    ``broken_every``: every so many items one is broken (0: none). ``oversize_bytes``: the size of
    the ``oversize_payload`` items (a broker may refuse 5 MB messages; pass a value just over the
    hub's 1 MiB limit if yours does).
    """
    try:
        make = _GENERATORS[channel]
    except KeyError:
        raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})") from None
    return make(n, seed, broken_every, oversize_bytes)


def generate_all(
    n_per_channel: int,
    seed: int = 0,
    *,
    broken_every: int = 7,
    oversize_bytes: int = 5 * 1024 * 1024,
) -> list[CorpusItem]:
    """``generate`` for every channel, concatenated (hotline, mini-program, province)."""
    items: list[CorpusItem] = []
    for channel in CHANNELS:
        items.extend(
            generate(
                channel,
                n_per_channel,
                seed,
                broken_every=broken_every,
                oversize_bytes=oversize_bytes,
            )
        )
    return items


def by_kind(items: Sequence[CorpusItem]) -> dict[str, list[CorpusItem]]:
    """Items grouped by ``channel/kind`` (for tests and reports)."""
    groups: dict[str, list[CorpusItem]] = {}
    for item in items:
        groups.setdefault(f"{item.channel}/{item.kind}", []).append(item)
    return groups


# --- the contract's samples ----------------------------------------------------------------------

#: Copies of the contract's samples (``contracts/samples``), with their ``index.json``.
SAMPLES_DIR: Final = data_path("samples")


@dataclass(frozen=True)
class Sample:
    """One message of the contract's samples, as the broker would deliver it."""

    file: str
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    schema_id: int | None
    readable: dict[str, Any] | None
    """For an Avro sample: the record as JSON (times as text)."""


def load_samples() -> dict[str, Sample]:
    """The samples by file name (``"hotline-financing.json"``, …)."""
    index = json.loads((SAMPLES_DIR / "index.json").read_text(encoding="utf-8"))
    result: dict[str, Sample] = {}
    for entry in index:
        readable = entry.get("readable")
        result[entry["file"]] = Sample(
            file=entry["file"],
            topic=entry["topic"],
            key=entry["key"].encode("utf-8"),
            value=(SAMPLES_DIR / entry["file"]).read_bytes(),
            headers=tuple((k, v.encode("ascii")) for k, v in entry["headers"].items()),
            schema_id=entry.get("schema_id"),
            readable=(
                None
                if readable is None
                else json.loads((SAMPLES_DIR / readable).read_text(encoding="utf-8"))
            ),
        )
    return result
