"""Classification: petition type (channel, the 12345 legal-rights rule, inference from content),
themes by themes.yaml's matching algorithm and its pitfalls, the evidence kept, and speed."""

from __future__ import annotations

import pytest

from petition_hub.domain.classify import Classification, classify, classify_text
from petition_hub.domain.petition import Channel, PetitionType
from petition_hub.domain.rules import Matcher, RuleSet, default_rules, longest_only, normalize_text

T = PetitionType


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return default_rules()


def theme(text: str, rules: RuleSet, ptype: PetitionType | None = None) -> str:
    return classify_text(text, rules, petition_type=ptype).theme


# --- petition type ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "cue"),
    [
        ("请问小微企业所得税减免政策如何申报？", T.POLICY_CONSULTATION, "请问"),
        ("咨询一下稳岗返还的条件。", T.POLICY_CONSULTATION, "咨询"),
        ("增值税留抵退税怎么办理？", T.POLICY_CONSULTATION, "怎么"),
        ("建议简化企业开办流程。", T.SUGGESTION, "建议"),
        ("举报某局工作人员吃拿卡要。", T.REPORT_COMPLAINT, "举报"),
        ("投诉供电公司频繁停电。", T.REPORT_COMPLAINT, "投诉"),
        ("企业资金周转困难，请求协调银行续贷。", T.DIFFICULTY_ASSISTANCE, "困难"),
        ("法院判决后对方拒不执行，执行款一直不到位。", T.LEGAL_RIGHTS, "判决"),
        ("竞争对手侵权仿冒我公司产品。", T.LEGAL_RIGHTS, "侵权"),
        ("表扬政务大厅窗口工作人员。", T.OTHER, "表扬"),
    ],
)
def test_type_inferred_from_content(
    text: str, expected: PetitionType, cue: str, rules: RuleSet
) -> None:
    c = classify_text(text, rules)
    assert c.petition_type is expected
    assert c.type_source == "inferred" and cue in c.type_cues


def test_type_default_when_no_cue(rules: RuleSet) -> None:
    c = classify_text("情况见附件。", rules)
    assert c.petition_type is T.OTHER and c.type_source == "default"


def test_the_channel_type_is_kept(rules: RuleSet) -> None:
    c = classify_text(
        "建议……", rules, petition_type=T.REPORT_COMPLAINT, channel=Channel.MINIPROGRAM
    )
    assert c.petition_type is T.REPORT_COMPLAINT and c.type_source == "channel"


@pytest.mark.parametrize("sqlb", ["求助", "投诉"])
def test_12345_help_or_complaint_on_a_legal_matter_becomes_legal_rights(
    sqlb: str, rules: RuleSet
) -> None:
    text = "我公司与对方的买卖合同纠纷已经法院判决，对方拒不执行。"
    given = T.DIFFICULTY_ASSISTANCE if sqlb == "求助" else T.REPORT_COMPLAINT
    c = classify_text(
        text, rules, petition_type=given, channel=Channel.HOTLINE, channel_category=sqlb
    )
    assert c.petition_type is T.LEGAL_RIGHTS and c.type_source == "legal_rights_rule"
    assert {"判决", "纠纷"} <= set(c.type_cues)
    assert c.channel_type is given


def test_legal_rights_rule_is_for_12345_help_and_complaints_only(rules: RuleSet) -> None:
    text = "法院判决后对方拒不履行。"
    for channel, category, given in [
        (Channel.HOTLINE, "举报", T.REPORT_COMPLAINT),
        (Channel.HOTLINE, "咨询", T.POLICY_CONSULTATION),
        (Channel.MINIPROGRAM, "4", T.DIFFICULTY_ASSISTANCE),
    ]:
        c = classify_text(
            text, rules, petition_type=given, channel=channel, channel_category=category
        )
        assert c.petition_type is given, (channel, category)
    plain = classify_text(
        "银行抽贷，资金困难。",
        rules,
        petition_type=T.DIFFICULTY_ASSISTANCE,
        channel=Channel.HOTLINE,
        channel_category="求助",
    )
    assert plain.petition_type is T.DIFFICULTY_ASSISTANCE  # 执行政策 etc. are not legal cues


# --- themes and pitfalls ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 抵押: registration (T03) versus loan collateral (T12)
        ("以厂房办理抵押登记，不动产登记中心要求补充材料。", "T03"),
        ("银行续贷时要求追加房产抵押，贷款被压降。", "T12"),
        # 城镇土地使用税 is a tax, 土地证 a certificate, 土地 alone land
        ("我公司缴纳城镇土地使用税，能否申请减免？", "T16"),
        ("补缴土地使用税和滞纳金。", "T16"),
        ("工业园区地块至今没有土地证。", "T03"),
        ("扩建项目需要新增工业用地。", "T07"),
        # compounds of 税
        ("企业开办时涉税办理环节材料太多。", "T02"),
        ("建议扩大银税互动范围，获得信用贷款。", "T12"),
        # 执行: court enforcement, not policy implementation
        ("执行政策不到位，惠企政策落实不了。", "T01"),
        ("胜诉后申请强制执行一年没有结果。", "T22"),
        # 挂牌: listing only with capital-market words
        ("环保问题被挂牌督办，整改后没有销号。", "T00"),
        ("参加土地挂牌出让，出让底价过高。", "T07"),
        ("计划在新三板挂牌，股份制改造有奖励吗？", "T13"),
        # 标准 in longer words
        ("请问涉企收费的收费标准在哪里公示？", "T17"),
        ("新项目能否按标准地方式拿地？", "T07"),
        ("申报市长质量奖的评审标准是什么？", "T29"),
        # 排放: vehicle testing, sewage capacity, environmental enforcement
        ("货车年审、年检、尾气排放检验要跑三个地方。", "T11"),
        ("污水处理厂满负荷，生产污水无法排入管网。", "T10"),
        ("生态环境分局检测我公司排放超标，要求关停。", "T19"),
        # 承诺: the investment commitment system versus a government promise
        ("企业投资项目承诺制，承诺后还要补齐全部审批手续。", "T05"),
        ("招商引资时政府承诺的奖励一直没有兑现。", "T18"),
        # 施工许可证 contains 许可; 转供电 contains 转供; 变相审批 contains 审批
        ("厂房施工许可证一直办不下来。", "T06"),
        ("租用厂房属于转供电，物业加价。", "T08"),
        ("县发改委要求内部意见，属于变相审批。", "T25"),
        # 拆迁补偿 owed is T18; 截留 of funds is T25
        ("拆迁补偿款至今只支付了一半。", "T18"),
        ("惠企补贴资金被乡镇截留。", "T25"),
        # 应收账款: financing (T12) versus a debtor not paying (T18)
        ("能否通过应收账款质押向银行融资？", "T12"),
        ("国企拖欠我公司应收账款600万元，银行贷款也要到期。", "T18"),
        # 商标: infringement (T21) versus brand building (T29)
        ("注册商标被外地企业假冒。", "T21"),
        ("想申请驰名商标认定，做大自有品牌。", "T29"),
        # 一刀切: environmental (T19) or enforcement (T24)
        ("环保一刀切，所有铸造企业一律关停。", "T19"),
        ("为迎接检查要求商户一律停业，完全是一刀切。", "T24"),
        # 培训: skills (T15) versus entrepreneurs (T32)
        ("职业技能培训补贴申请后半年没有拨付。", "T15"),
        ("企业家学院的培训课程什么时候开班？", "T32"),
    ],
)
def test_pitfalls(text: str, expected: str, rules: RuleSet) -> None:
    c = classify_text(text, rules)
    assert c.theme == expected, (c.decided_by, c.hits)


def test_longest_match_drops_inner_hits(rules: RuleSet) -> None:
    c = classify_text("我公司缴纳城镇土地使用税。", rules)
    assert c.hits == {"T16": ("城镇土地使用税",)}  # neither 土地 (T07) nor 税
    c = classify_text("请尽快协调解决。", rules)
    assert c.hits == {}  # 协调解决 is no 调解 (a mask phrase)


def test_a_mask_hides_a_keyword_that_crosses_it(rules: RuleSet) -> None:
    c = classify_text(
        "政府项目限定合作企业注册资本不低于5亿元，设置不合理条件，排斥民营企业。", rules
    )
    assert "T02" not in c.hits  # 企业注册资本 is not 企业注册
    assert c.theme in ("T04", "T05")


def test_one_ambiguous_keyword_is_not_enough(rules: RuleSet) -> None:
    c = classify_text("小微企业发展不容易。", rules)
    assert c.theme == "T00" and c.matched == ()
    assert c.near_misses == ("T30",)
    two = classify_text("个体工商户的经营场所租金太高。", rules)
    assert two.theme == "T30" and "two ambiguous keywords" in two.candidates[0].reason


def test_report_complaint_hint_one_ambiguous_t25_or_t24(rules: RuleSet) -> None:
    text = "工作人员说不归我管，让我们去找别的部门。"
    assert theme(text, rules, T.SUGGESTION) == "T00"
    assert theme(text, rules, T.REPORT_COMPLAINT) == "T25"
    assert theme("执法人员态度恶劣。", rules, T.REPORT_COMPLAINT) == "T24"
    assert theme("咨询时对方说我不知道，又说等等再看。", rules, T.POLICY_CONSULTATION) == "T25"


def test_policy_consultation_hint(rules: RuleSet) -> None:
    assert theme("想了解一下有什么说法。", rules, T.POLICY_CONSULTATION) == "T01"
    assert theme("想了解一下有什么说法。", rules, T.OTHER) == "T00"
    # only weak (ambiguous) T30/T31 evidence: a policy question
    c = classify_text("营商环境方面有哪些评议办法？", rules, petition_type=T.POLICY_CONSULTATION)
    assert c.theme == "T01" and "type hint" in c.decided_by
    # a specific T31 word: T31 stays
    c = classify_text("首席服务官多久联系一次企业？", rules, petition_type=T.POLICY_CONSULTATION)
    assert c.theme == "T31"


def test_finance_words_without_litigation_are_t12(rules: RuleSet) -> None:
    c = classify_text("企业有一笔不良贷款，银行要求债务重组。", rules)
    assert c.theme == "T12" and "T14" not in c.matched
    c = classify_text("不良贷款被银行起诉，法院进行资产保全，希望考虑债务重组。", rules)
    assert c.theme == "T14"


def test_priority_and_dominance(rules: RuleSet) -> None:
    c = classify_text("银行抽贷，国企拖欠。", rules)  # one specific keyword each
    assert c.matched[:2] == ("T12", "T18") and c.theme == "T12" and c.contested
    assert c.decided_by.startswith("priority")
    c = classify_text("政府拖欠工程款导致我公司无法偿还银行贷款，请协调支付欠款。", rules)
    assert c.theme == "T18" and c.decided_by.startswith("dominance")
    # a sensitive winner is never displaced
    c = classify_text("税务局工作人员办理退税、发票时吃拿卡要。", rules)
    assert c.theme == "T25"


def test_a_classification_carries_its_evidence(rules: RuleSet) -> None:
    c = classify_text("银行到期不续贷，要求归还贷款，企业资金周转困难。", rules)
    assert isinstance(c, Classification)
    assert c.theme == "T12" and c.keywords == ("银行", "续贷", "还贷", "贷款")  # 归还贷款
    assert c.candidates[0].ambiguous == ("银行",)
    assert c.decided_by == "only T12 matched"


def test_full_width_and_spaces_are_normalised(rules: RuleSet) -> None:
    assert normalize_text("ＰＰＰ 项目\u3000拖欠") == "PPP项目拖欠"
    assert theme("参与的ｐｐｐ项目可用性服务费拖欠。", rules) == "T18"
    assert theme("营业 执照办不下来", rules) == "T02"


def test_matcher_finds_every_occurrence() -> None:
    m = Matcher(["税", "涉税", "涉税办理", "办理", "PPP"])
    hits = m.scan(normalize_text("涉税办理和ppp税"))
    assert [(h.start, h.word) for h in hits] == [
        (0, "涉税办理"),
        (0, "涉税"),
        (1, "税"),
        (2, "办理"),
        (5, "PPP"),
        (8, "税"),
    ]
    assert [h.word for h in longest_only(hits)] == ["涉税办理", "PPP", "税"]


def test_classify_a_petition(rules: RuleSet) -> None:
    from datetime import UTC, datetime

    from petition_hub.domain.petition import Petition, Petitioner, PetitionerKind

    p = Petition(
        channel=Channel.HOTLINE,
        channel_ref="G-1",
        received_at=datetime(2026, 11, 20, tzinfo=UTC),
        title="银行到期不续贷",
        content="希望协调。",
        petitioner=Petitioner(kind=PetitionerKind.INDIVIDUAL),
    )
    c = classify(p, rules)
    assert c.theme == "T12"  # the title counts
    assert c.petition_type is T.DIFFICULTY_ASSISTANCE and c.type_source == "inferred"
