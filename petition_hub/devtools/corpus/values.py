"""Realistic values for the generated messages, all drawn from one seeded ``random.Random``:
counties (``petition_hub/data/regions.yaml``) and other divisions, people, enterprises, phones,
unified social credit codes and ID numbers, and the petitions' themes and texts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final

import yaml
from stdnum.cn import ric, uscc

from petition_hub.data import data_path


@dataclass(frozen=True)
class County:
    """A county unit of ``regions.yaml``: its code, name and the names it goes by."""

    code: str
    name: str
    variants: tuple[str, ...]
    functional_zone: bool


@lru_cache(maxsize=1)
def counties() -> tuple[County, ...]:
    """The city's county units (read once)."""
    with data_path("regions.yaml").open(encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return tuple(
        County(
            code=str(u["code"]),
            name=str(u["name"]),
            variants=(str(u["name"]), *map(str, u.get("aliases") or ())),
            functional_zone=bool(u.get("functional_zone")),
        )
        for u in doc["county_units"]
    )


#: Districts of other Henan cities and of other provinces (real division codes).
OTHER_HENAN: Final = (
    ("410102", "郑州市中原区"),
    ("410302", "洛阳市老城区"),
    ("411002", "许昌市魏都区"),
    ("411102", "漯河市源汇区"),
    ("411302", "南阳市宛城区"),
)
OUTSIDE_HENAN: Final = (
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
class Theme:
    """A petition template: categories on each channel, title and content templates."""

    sqlb: str
    mp_category: int
    province_category: str
    title: str
    content: str


# (SQLB, mini-program category, province category): a legal-rights matter is 投诉/求助 on 12345.
_THEMES: Final = (
    Theme(
        "求助",
        4,
        "DIFFICULTY_ASSISTANCE",
        "银行到期不续贷",
        "我公司在{bank}的{amount}万元流动资金贷款{when}到期，银行通知到期后不再续贷，要求全额归还，"
        "企业订单正常，资金周转困难，希望协调银行予以续贷或无还本续贷。",
    ),
    Theme(
        "求助",
        4,
        "DIFFICULTY_ASSISTANCE",
        "申请创业担保贷款",
        "企业新招用了{people}名员工，想申请创业担保贷款{amount}万元，提交材料后{months}个月没有回音，"
        "请帮助了解办理进度。",
    ),
    Theme(
        "咨询",
        1,
        "POLICY_CONSULTATION",
        "研发费用加计扣除",
        "请问今年研发费用加计扣除的比例是多少？我公司属于{industry}行业，去年研发投入{amount}万元，"
        "汇算清缴时应该怎么申报？",
    ),
    Theme(
        "咨询",
        1,
        "POLICY_CONSULTATION",
        "留抵退税办理",
        "我公司是小微企业，想咨询增值税增量留抵退税的条件和办理流程，需要准备哪些材料，多长时间能到账？",
    ),
    Theme(
        "求助",
        4,
        "DIFFICULTY_ASSISTANCE",
        "项目用地手续办不下来",
        "我公司在{county}的扩建项目已签约{months}个月，土地摘牌手续一直办不下来，设备已到厂无法安装，"
        "请求协调自然资源部门加快办理。",
    ),
    Theme(
        "投诉",
        5,
        "REPORT_COMPLAINT",
        "审批拖延",
        "反映{county}某部门在办理{permit}时多次要求补充与审批无关的材料，拖着不办，已经{months}个月了。",
    ),
    Theme(
        "投诉",
        3,
        "LEGAL_RIGHTS",
        "工程款被拖欠",
        "我公司承建的{county}某单位办公楼改造工程已竣工验收{months}个月，工程款{amount}万元至今未付，"
        "工人工资发不出来，请求依法督促支付。",
    ),
    Theme(
        "求助",
        3,
        "LEGAL_RIGHTS",
        "合同纠纷执行难",
        "我公司与外地某企业的货款纠纷已胜诉，判决生效{months}个月仍未执行到位，涉及金额{amount}万元，"
        "请求协调法院加快强制执行。",
    ),
    Theme(
        "求助",
        4,
        "DIFFICULTY_ASSISTANCE",
        "用电增容迟迟不装",
        "企业扩建项目用电需求增加，申请增容的变压器安装已拖延{months}个月，影响投产，请求供电部门尽快办理。",
    ),
    Theme(
        "求助",
        4,
        "DIFFICULTY_ASSISTANCE",
        "招工难",
        "我公司{industry}生产线扩产，急需招聘{people}名技术工人，多次在网上发布招聘信息效果不好，"
        "希望人社部门帮助对接职业院校。",
    ),
    Theme(
        "咨询",
        1,
        "POLICY_CONSULTATION",
        "专精特新申报",
        "请问今年省级专精特新中小企业申报的条件和截止时间是什么？研发费用占比怎么计算？",
    ),
    Theme(
        "咨询",
        1,
        "POLICY_CONSULTATION",
        "稳岗补贴何时发放",
        "我公司去年没有裁员，按政策可以申请稳岗返还，已在网上提交{months}个月，想了解什么时候能发放。",
    ),
    Theme(
        "建议",
        2,
        "SUGGESTION",
        "建议增设公交线路",
        "建议在{county}工业园区增设公交线路，园区内{people}多名员工上下班通勤不便，企业招工也受影响。",
    ),
    Theme(
        "建议",
        2,
        "SUGGESTION",
        "建议简化报销流程",
        "建议简化企业申领{permit}相关补贴的流程，实现网上一次提交，减少企业来回跑。",
    ),
    Theme(
        "举报",
        5,
        "REPORT_COMPLAINT",
        "违规收费",
        "举报{county}某单位在办理{permit}时收取所谓服务费{amount0}元，没有开具任何票据。",
    ),
    Theme(
        "表扬",
        6,
        "OTHER",
        "表扬办事人员",
        "{county}政务服务中心工作人员帮助我公司一天办完了{permit}，服务热情周到，特此表扬。",
    ),
    Theme(
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


class Gen:
    """Random choices of realistic values, from one seeded ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def county(self, *, registered: bool = False) -> County:
        units = [c for c in counties() if not (registered and c.functional_zone)]
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

    def uscc(self, county: County) -> str:
        org = "MA" + "".join(self.rng.choice(_USCC_ORG_ALPHABET) for _ in range(7))
        body = "91" + county.code + org
        return body + uscc.calc_check_digit(body)

    def bad_uscc(self, county: County) -> str:
        good = self.uscc(county)
        wrong = [c for c in _USCC_ORG_ALPHABET if c != good[-1]]
        return good[:-1] + self.rng.choice(wrong)

    def id_number(self, county: County) -> str:
        born = datetime(1960, 1, 1) + timedelta(days=self.rng.randrange(40 * 365))
        body = f"{county.code}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
        return body + ric.calc_check_digit(body + "0")

    def enterprise(self, county: County) -> str:
        prefix = self.rng.choice(("平顶山市", county.name, ""))
        return (
            prefix
            + self.rng.choice(_BRANDS)
            + self.rng.choice(_INDUSTRIES)
            + self.rng.choice(_SUFFIXES)
        )

    def theme(self) -> Theme:
        return self.rng.choice(_THEMES)

    def text(self, theme: Theme, county: County) -> tuple[str, str]:
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
