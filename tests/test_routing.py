"""Routing: the labelled corpus (agreement and hard rules), the rules as data, decisions and their
records, returns, triage decisions, and the never-dropped guarantee (property test)."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from petition_hub.connectors.hotline import CATEGORIES
from petition_hub.data import data_path
from petition_hub.domain import routing as routing_mod
from petition_hub.domain.petition import (
    Channel,
    Enterprise,
    Petition,
    Petitioner,
    PetitionerKind,
    PetitionType,
)
from petition_hub.domain.routing import (
    PROVINCE_FEEDBACK_TOPIC,
    PROVINCE_TRANSFERS_TOPIC,
    TRIAGE_TOPIC,
    RoutingDecision,
    UnitRef,
    apply_triage_decision,
    county_topic,
    dept_topic,
    dry_run,
    route,
    unit_topic,
)
from petition_hub.domain.rules import (
    DEFAULT_FILES,
    RulesError,
    RuleSet,
    default_rules,
    load_rules,
    load_rules_from_dir,
    parse_rules,
)

CORPUS = Path(__file__).parent / "data" / "routing_corpus.yaml"
RECEIVED = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)

#: 12345 SQLB → hub type (domain.md, Types): the connector's own table (pinned, entry by entry,
#: by test_connectors_hotline.test_categories).
SQLB = CATEGORIES


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return default_rules()


def _corpus() -> list[dict[str, Any]]:
    doc = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    entries: list[dict[str, Any]] = doc["entries"]
    return entries


def _type(entry: dict[str, Any]) -> PetitionType | None:
    category = entry.get("category")
    if category is None:
        return None
    channel = entry.get("channel", "hotline")
    if channel == "hotline":
        return SQLB.get(category)
    if channel == "miniprogram":
        return PetitionType(category)
    return PetitionType[category]


def petition_of(entry: dict[str, Any]) -> Petition:
    """The canonical petition a connector would make of a corpus entry."""
    uscc = entry.get("uscc")
    return Petition(
        channel=Channel(entry.get("channel", "hotline")),
        channel_ref=entry["id"],
        received_at=RECEIVED,
        petition_type=_type(entry),
        channel_category=entry.get("category"),
        title=entry.get("title"),
        content=entry["content"],
        region_code=entry.get("region_code"),
        region_name=entry.get("region_name"),
        target_city=entry.get("target_city"),
        enterprise=Enterprise(uscc=uscc) if uscc else None,
        petitioner=Petitioner(
            kind=PetitionerKind.ENTERPRISE if uscc else PetitionerKind.INDIVIDUAL,
            name="王某",
            phone="13803750001",
        ),
        confidential=entry.get("confidential", False),
        disclosure_authorized=entry.get("authorized", False),
    )


def _lead_topic(d: RoutingDecision) -> str:
    return d.lead.topic if d.kind == "units" and d.lead is not None else d.topic


def _decide(entry: dict[str, Any], rules: RuleSet) -> tuple[Petition, RoutingDecision]:
    p = petition_of(entry)
    return p, route(p, rules, exclude=frozenset(entry.get("exclude", ())))


# --- the corpus ---------------------------------------------------------------------------------


def test_corpus_covers_the_domain(rules: RuleSet) -> None:
    entries = _corpus()
    assert len(entries) >= 300
    assert len({e["id"] for e in entries}) == len(entries)
    themes = Counter(e["expect"].get("theme") for e in entries)
    missing = [t.id for t in rules.themes if themes[t.id] == 0]
    assert not missing, f"themes without an entry: {missing}"
    leads = {e["expect"]["lead"] for e in entries}
    located = {e.get("region_code") for e in entries}
    for unit in rules.county_units:
        assert county_topic(unit.code) in leads, unit.name
        assert unit.code in located, unit.name
    typed = {e.get("region_name") for e in entries}
    for unit in rules.county_units:
        assert set(unit.short_forms) & typed, f"no short form of {unit.name} typed"
    kinds = Counter(e["expect"].get("kind", "units") for e in entries)
    assert kinds["province_transfer"] >= 10 and kinds["province_return"] >= 5
    assert kinds["triage"] >= 8
    assert sum(1 for e in entries if e["expect"].get("not_to")) >= 15
    assert sum(1 for e in entries if e.get("confidential")) >= 3
    assert sum(1 for e in entries if "uscc" in e and not e.get("region_code")) >= 10
    assert sum(1 for e in entries if e.get("exclude")) >= 5
    channels = Counter(e.get("channel", "hotline") for e in entries)
    assert channels["miniprogram"] >= 30 and channels["province"] >= 15


def test_corpus_lead_agreement(rules: RuleSet, capsys: pytest.CaptureFixture[str]) -> None:
    """At least 97 % of the hand-labelled petitions get the lead unit the label names."""
    entries = _corpus()
    misses = []
    theme_agree = 0
    for e in entries:
        _, d = _decide(e, rules)
        if _lead_topic(d) != e["expect"]["lead"]:
            misses.append(f"{e['id']}: expected {e['expect']['lead']}, got {_lead_topic(d)}")
        theme_agree += d.record.theme == e["expect"].get("theme")
    agreement = 1 - len(misses) / len(entries)
    with capsys.disabled():
        print(
            f"\nrouting corpus: lead agreement {len(entries) - len(misses)}/{len(entries)} "
            f"= {agreement:.1%}; theme agreement {theme_agree}/{len(entries)}"
        )
        for m in misses:
            print("  ", m)
    assert agreement >= 0.97, "\n".join(misses)


def test_corpus_hard_rules(rules: RuleSet) -> None:
    """100 %: sensitive never to the accused and identity withheld, no contact details unless
    authorised and not confidential, cross-city / out-of-province / province returns, nothing
    dropped."""
    failures = []
    for e in _corpus():
        p, d = _decide(e, rules)
        x = e["expect"]
        problems = []
        if not isinstance(d, RoutingDecision) or not d.topics:
            problems.append("dropped")
        if "kind" in x and d.kind != x["kind"]:
            problems.append(f"kind {d.kind}, expected {x['kind']}")
        if "identity_withheld" in x and d.identity_withheld != x["identity_withheld"]:
            problems.append(f"identity_withheld {d.identity_withheld}")
        for topic in x.get("not_to", ()):
            if topic in d.topics:
                problems.append(f"sent to {topic}")
        if d.contact_visible and not p.identity_visible_to_unit:
            problems.append("contact details visible without authorisation")
        if d.sensitive and (d.contact_visible or not d.identity_withheld or d.enterprise_visible):
            problems.append("sensitive but identity shown")
        if x["lead"] == PROVINCE_TRANSFERS_TOPIC and d.kind != "province_transfer":
            problems.append("not transferred to the province")
        if x["lead"] == PROVINCE_FEEDBACK_TOPIC and d.kind != "province_return":
            problems.append("not returned to the province")
        for key in d.record.excluded:
            assert d.record.excluded
            if any(u.key == key for u in d.units):
                problems.append(f"sent to excluded {key}")
        if problems:
            failures.append(f"{e['id']}: {', '.join(problems)}")
    assert not failures, "\n".join(failures)


# --- decisions and records ----------------------------------------------------------------------


def _petition(content: str, **kw: Any) -> Petition:
    kw.setdefault("channel", Channel.HOTLINE)
    return Petition(
        channel_ref=kw.pop("ref", "T-1"),
        received_at=RECEIVED,
        content=content,
        petitioner=Petitioner(kind=PetitionerKind.ENTERPRISE, name="李明", phone="13937512345"),
        **kw,
    )


def test_financing_sample_decision_and_record(rules: RuleSet) -> None:
    p = _petition(
        "我公司在某银行的500万元流动资金贷款下月到期，银行通知到期后不再续贷，希望协调银行予以续贷。",
        ref="12345-410400-20261116-000871",
        petition_type=PetitionType.DIFFICULTY_ASSISTANCE,
        channel_category="求助",
        region_code="410402",
        region_name="新华区",
    )
    d = route(p, rules)
    assert d.kind == "units"
    assert d.topic == dept_topic("FINOFFICE") == "dept.FINOFFICE.petitions"
    assert [u.key for u in d.co] == ["dept.PBOC", "dept.FINREG", "dept.MIIT", "dept.FIC"]
    assert d.topics[0] == d.topic and len(d.topics) == 5
    # SFBM "0" (the default here): the caller did not ask for confidentiality, which on 12345 is
    # consent to be contacted by the handling unit; the enterprise travels anyway
    assert d.contact_visible and not d.identity_withheld and d.enterprise_visible
    r = d.record
    assert r.rules_version == rules.version and r.rules_digest.startswith("sha256:")
    assert r.theme == "T12" and "续贷" in r.keywords["T12"]
    assert r.location is not None and r.location.source == "region_code"
    assert r.channel == "hotline" and r.channel_ref == "12345-410400-20261116-000871"
    text = d.explain()
    for needle in ("平顶山市金融工作局", "dept.FINOFFICE", "T12", "续贷", "新华区", "region_code"):
        assert needle in text
    assert rules.version in text
    as_dict = r.as_dict()
    assert as_dict["theme"] == "T12" and as_dict["location"]["code"] == "410402"
    assert "13937512345" not in str(as_dict) and "李明" not in text


def test_level_local_goes_to_the_county_and_city_lead_otherwise(rules: RuleSet) -> None:
    text = "我公司扩建项目需要新增工业用地30亩，一直没有用地指标。"
    county = route(_petition(text, region_code="410422"), rules)
    assert county.lead == UnitRef("county", "410422")
    assert county.topic == "county.410422.petitions"
    city = route(_petition(text), rules)
    assert city.lead == UnitRef("dept", "NRP")


def test_county_lead_falls_back_and_counterparts(rules: RuleSet) -> None:
    text = "园区污水处理厂满负荷，生产污水无法排入管网。"
    d = route(_petition(text), rules)
    assert d.lead == UnitRef("dept", "HUD")  # T10: COUNTY lead, fallback_lead HUD
    assert UnitRef("dept", "ECO") in d.co  # sub_route: 污水 → ECO
    d = route(_petition(text, region_code="410423"), rules)
    assert d.lead == UnitRef("county", "410423")
    # HUD is the county's own counterpart (through the county topic); ECO is vertical
    assert d.co == (UnitRef("dept", "ECO"),)
    assert any("counterpart" in s for s in d.record.steps)


def test_level_city_ignores_the_county_and_copies_county_co(rules: RuleSet) -> None:
    d = route(_petition("环评审批拖了半年，环评报告改了四次。", region_code="410481"), rules)
    assert d.lead == UnitRef("dept", "ECO")
    assert UnitRef("county", "410481") in d.co  # T19: COUNTY in co
    d = route(_petition("环评审批拖了半年，环评报告改了四次。"), rules)
    assert all(u.kind == "dept" for u in d.units)


def test_sub_routes(rules: RuleSet) -> None:
    court = route(_petition("法院判决对方付款，申请强制执行一年没有结果。"), rules)
    assert court.lead == UnitRef("dept", "COURT") and UnitRef("dept", "PLAC") in court.co
    mediation = route(_petition("与合作方发生合同纠纷，希望调解解决。"), rules)
    assert mediation.lead == UnitRef("dept", "JUSTICE")
    quality = route(_petition("我公司申报市长质量奖，评审标准是什么？"), rules)
    assert quality.lead == UnitRef("dept", "SAMR")


def test_sensitive_never_to_the_accused(rules: RuleSet) -> None:
    p = _petition(
        "叶县市场监管局执法人员多次吃拿卡要，不给好处就刁难。",
        region_code="410422",
        channel=Channel.MINIPROGRAM,
        disclosure_authorized=True,
    )
    d = route(p, rules)
    assert d.lead == UnitRef("dept", "CDI") and d.sensitive
    assert d.identity_withheld and not d.contact_visible  # consent does not matter here
    assert "county.410422" in d.record.accused
    assert "county.410422.petitions" not in d.topics
    # a vertical department's county bureau is the city unit
    d = route(_petition("鲁山县税务局工作人员吃拿卡要。", region_code="410423"), rules)
    assert "dept.TAX" in d.record.accused and "county.410423" not in d.record.accused


def test_bare_two_character_aliases_name_a_unit_only_in_context(rules: RuleSet) -> None:
    d = route(_petition("某局工作人员吃拿卡要，扣着电子商务项目的财政资金不拨。"), rules)
    assert d.sensitive and d.record.accused == ()
    d = route(_petition("税务人员吃拿卡要。"), rules)
    assert d.record.accused == ("dept.TAX",)


def test_accused_lead_hands_over_to_a_co_handler_or_triage(rules: RuleSet) -> None:
    d = route(_petition("厂区多次被盗，派出所立案后一直没有进展。"), rules)
    assert d.lead == UnitRef("dept", "PLAC") and "dept.PSB" in d.record.accused
    d = route(_petition("市纪委某工作人员吃拿卡要，收受企业红包。"), rules)
    # CDI is a supervision body: named, but not treated as the accused
    assert d.lead == UnitRef("dept", "CDI")
    d = route(_petition("司法局执法人员简单粗暴，一罚了事。"), rules)
    assert d.kind == "triage" and d.identity_withheld  # T24's only lead is JUSTICE
    assert "dept.JUSTICE" in d.record.accused


def test_contact_details_only_with_consent_and_no_confidentiality(rules: RuleSet) -> None:
    text = "企业招工难，请求帮助组织招聘会。"
    kw: dict[str, Any] = {"channel": Channel.MINIPROGRAM, "region_code": "410423"}
    assert route(_petition(text, disclosure_authorized=True, **kw), rules).contact_visible
    assert not route(_petition(text, disclosure_authorized=False, **kw), rules).contact_visible
    d = route(_petition(text, disclosure_authorized=True, confidential=True, **kw), rules)
    assert not d.contact_visible and d.identity_withheld


def test_12345_identity_by_the_hotlines_own_practice(rules: RuleSet) -> None:
    """SFBM "0": the caller's contact and the enterprise travel; "1": the enterprise only; a
    sensitive theme: neither, whatever SFBM says, and never to the accused."""
    ent = Enterprise(name="平顶山市鹰城精密机械有限公司", uscc="91410402MA0011870T")
    text = "企业招工难，请求帮助组织招聘会。"
    kw: dict[str, Any] = {"region_code": "410423", "enterprise": ent}
    d = route(_petition(text, confidential=False, **kw), rules)
    assert d.kind == "units" and d.contact_visible and d.enterprise_visible
    d = route(_petition(text, confidential=True, **kw), rules)
    assert d.kind == "units" and not d.contact_visible and d.identity_withheld
    assert d.enterprise_visible
    accusing = "叶县市场监管局执法人员多次吃拿卡要，不给好处就刁难。"
    for confidential in (False, True):
        d = route(_petition(accusing, confidential=confidential, **kw), rules)
        assert d.sensitive and d.identity_withheld and not d.contact_visible
        assert not d.enterprise_visible
        assert "county.410422.petitions" not in d.topics


def test_cross_city_and_out_of_province(rules: RuleSet) -> None:
    d = route(_petition("许昌某单位拖欠工程款。", region_code="411002"), rules)
    assert d.kind == "province_transfer" and d.topic == PROVINCE_TRANSFERS_TOPIC
    assert d.lead is None and "许昌市" in (d.reason or "")
    d = route(_petition("甲方拖欠工程款。", region_code="320583"), rules)
    assert d.kind == "province_transfer" and "江苏省" in (d.reason or "")
    assert d.record.location is not None and d.record.location.kind == "outside_henan"


def test_province_returns(rules: RuleSet) -> None:
    other = _petition("企业反映银行抽贷。", channel=Channel.PROVINCE, target_city="410300")
    d = route(other, rules)
    assert d.kind == "province_return" and d.topic == PROVINCE_FEEDBACK_TOPIC
    assert "洛阳市" in (d.reason or "") and "410300" in (d.reason or "")
    ours_but_elsewhere = _petition(
        "咨询出口信用保险保费补贴。",
        channel=Channel.PROVINCE,
        target_city="410400",
        region_code="411002",
    )
    assert route(ours_but_elsewhere, rules).kind == "province_return"
    ours = _petition(
        "企业反映招工难。", channel=Channel.PROVINCE, target_city="410400", region_code="410423"
    )
    assert route(ours, rules).topic == "county.410423.petitions"


def test_triage_when_nothing_matches(rules: RuleSet) -> None:
    d = route(_petition("有些情况想当面向领导反映。"), rules)
    assert d.kind == "triage" and d.topic == TRIAGE_TOPIC
    assert d.record.theme == "T00" and "no theme matched" in (d.reason or "")


def test_returned_units_are_excluded(rules: RuleSet) -> None:
    text = "企业招工难，请求帮助组织招聘会。"
    p = _petition(text, region_code="410422")
    assert route(p, rules).lead == UnitRef("county", "410422")
    for form in ("410422", "county.410422", "county.410422.petitions"):
        d = route(p, rules, exclude=frozenset({form}))
        assert d.lead == UnitRef("dept", "HRSS"), form
        assert d.record.excluded == ("county.410422",)
    d = route(p, rules, exclude=frozenset({"410422", "HRSS"}))
    assert d.kind == "triage" and "county.410422" in d.explain()
    d = route(p, rules, exclude=frozenset({"nonsense"}))
    assert d.lead == UnitRef("county", "410422")
    assert any("ignored" in s for s in d.record.steps)


def test_apply_triage_decision(rules: RuleSet) -> None:
    p = _petition("有些情况想当面反映。", region_code="410421")
    d = apply_triage_decision(p, "MIIT", ["COUNTY", "dept.FINANCE", "MIIT"], rules)
    assert d.kind == "units" and d.lead == UnitRef("dept", "MIIT")
    assert d.co == (UnitRef("county", "410421"), UnitRef("dept", "FINANCE"))
    assert "joint-meeting office" in d.record.rule
    d = apply_triage_decision(p, "county.410421.petitions", [], rules, note="属地")
    assert d.topic == "county.410421.petitions"
    with pytest.raises(ValueError, match="not a department code"):
        apply_triage_decision(p, "NOPE", [], rules)
    with pytest.raises(ValueError, match="not a county-level unit"):
        apply_triage_decision(p, "410999", [], rules)
    with pytest.raises(ValueError, match="not located"):
        apply_triage_decision(_petition("x"), "COUNTY", [], rules)
    sensitive = _petition("某局工作人员吃拿卡要。", channel=Channel.MINIPROGRAM)
    d = apply_triage_decision(sensitive, "CDI", [], rules)
    assert d.identity_withheld and not d.contact_visible


def test_unit_refs_and_topics(rules: RuleSet) -> None:
    assert unit_topic("HUD", rules) == "dept.HUD.petitions"
    assert unit_topic("410422", rules) == "county.410422.petitions"
    assert UnitRef.parse("dept.TAX.petitions", rules) == UnitRef("dept", "TAX")
    for bad in ("COUNTY", "dept.NOPE", "county.999999", "a.b.c.d", ""):
        with pytest.raises(ValueError):
            UnitRef.parse(bad, rules)


def test_an_internal_error_goes_to_triage(rules: RuleSet, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("surprise")

    monkeypatch.setattr(routing_mod, "locate", boom)
    d = route(_petition("银行不给续贷。"), rules)
    assert d.kind == "triage" and d.topic == TRIAGE_TOPIC
    assert "RuntimeError: surprise" in (d.reason or "")
    assert d.identity_withheld and d.sensitive
    assert "internal error" in d.explain()


# --- never dropped (property) ------------------------------------------------------------------

_RULES = default_rules()
_WORDS = sorted(_RULES.matcher.words)
_CODES = [u.code for u in _RULES.county_units] + [c.code for c in _RULES.henan_cities]
_NAMES = [n for u in _RULES.county_units for n in (u.name, *u.aliases, *u.short_forms)]
_UNITS = [d.code for d in _RULES.departments] + [u.code for u in _RULES.county_units]

_text = st.lists(
    st.one_of(st.sampled_from(_WORDS), st.text(min_size=1, max_size=8)), min_size=1, max_size=25
).map("".join)
_code = st.one_of(st.none(), st.sampled_from(_CODES), st.from_regex(r"[0-9]{6}", fullmatch=True))
_name = st.one_of(st.none(), st.sampled_from(_NAMES), st.text(max_size=12))
_uscc = st.one_of(
    st.none(),
    st.just("91410423MA6HK012FY"),
    st.from_regex(r"[0-9A-Z]{18}", fullmatch=True),
    st.text(max_size=20),
)
_exclude = st.frozensets(st.one_of(st.sampled_from(_UNITS), st.text(max_size=10)), max_size=4)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=_text,
    title=st.one_of(st.none(), _text),
    channel=st.sampled_from(list(Channel)),
    ptype=st.one_of(st.none(), st.sampled_from(list(PetitionType))),
    category=st.one_of(st.none(), st.sampled_from([*SQLB, "", "??"])),
    region_code=_code,
    region_name=_name,
    uscc=_uscc,
    target=st.one_of(st.none(), st.sampled_from(_CODES), st.text(max_size=8)),
    confidential=st.booleans(),
    authorized=st.booleans(),
    exclude=_exclude,
)
def test_route_never_drops(
    content: str,
    title: str | None,
    channel: Channel,
    ptype: PetitionType | None,
    category: str | None,
    region_code: str | None,
    region_name: str | None,
    uscc: str | None,
    target: str | None,
    confidential: bool,
    authorized: bool,
    exclude: frozenset[str],
) -> None:
    if not content.strip():
        content = "。"
    p = Petition(
        channel=channel,
        channel_ref="P-1",
        received_at=RECEIVED,
        petition_type=ptype,
        channel_category=category,
        title=title,
        content=content,
        region_code=region_code,
        region_name=region_name,
        target_city=target,
        enterprise=Enterprise(uscc=uscc) if uscc else None,
        petitioner=Petitioner(kind=PetitionerKind.ENTERPRISE),
        confidential=confidential,
        disclosure_authorized=authorized,
    )
    d = route(p, _RULES, exclude=exclude)
    assert isinstance(d, RoutingDecision)
    assert not (d.reason or "").startswith("internal error"), d.reason
    assert d.kind in ("units", "triage", "province_transfer", "province_return")
    assert d.topics and all(d.topics)
    assert d.record.rules_version == _RULES.version
    if d.kind == "units":
        assert d.lead is not None
        for u in d.units:
            assert u.topic.endswith(".petitions")
            assert u.key not in d.record.excluded
            assert u.key not in d.record.accused
    if d.contact_visible:
        assert p.identity_visible_to_unit and not d.sensitive
    assert d.enterprise_visible is not d.sensitive
    if confidential:
        assert not d.contact_visible
    assert d.explain()


# --- rules as data ------------------------------------------------------------------------------


def _copy_reference(tmp_path: Path) -> Path:
    for name in DEFAULT_FILES:
        shutil.copy(data_path(name), tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_default_rules_load_and_version(rules: RuleSet) -> None:
    assert rules.version.startswith("sha256:") and len(rules.version) == len("sha256:") + 12
    assert rules.version == rules.digest
    assert [t.id for t in rules.themes] == [f"T{i:02d}" for i in range(33)]
    assert rules.sources == DEFAULT_FILES
    assert load_rules().version == rules.version  # deterministic


def test_a_modified_copy_loads_with_a_new_version(tmp_path: Path, rules: RuleSet) -> None:
    d = _copy_reference(tmp_path)
    assert load_rules_from_dir(d).version == rules.version
    _edit(
        d / "themes.yaml",
        "    lead: DRC\n    co: [MIIT, POWER]",
        "    lead: POWER\n    co: [MIIT, DRC]",
    )
    new = load_rules_from_dir(d)
    assert new.version != rules.version
    p = _petition("最近一个月工厂停电六次。", region_code="410423")
    assert route(p, rules).lead == UnitRef("dept", "DRC")
    assert route(p, new).lead == UnitRef("dept", "POWER")  # what a dry run would report
    assert route(p, new).record.rules_version == new.version


def test_dry_run_reports_per_unit(tmp_path: Path, rules: RuleSet) -> None:
    d = _copy_reference(tmp_path)
    _edit(
        d / "themes.yaml",
        "    lead: DRC\n    co: [MIIT, POWER]",
        "    lead: POWER\n    co: [MIIT, DRC]",
    )
    new = load_rules_from_dir(d)
    petitions = [petition_of(e) for e in _corpus()]
    report = dry_run(petitions, rules, new)
    assert report.total == len(petitions) and report.changes
    assert all(c.before.record.theme == "T08" for c in report.changes)
    units = report.by_unit()
    assert units["dept.POWER.petitions"][2] == len(report.changes)  # every one a lead change
    assert units["dept.DRC.petitions"][2] == len(report.changes)
    text = report.render()
    assert f"{rules.version} → {new.version}" in text and "dept.POWER" in text
    assert dry_run(petitions, rules, rules).changes == ()


def test_a_directory_with_only_themes_takes_the_rest_from_the_package(tmp_path: Path) -> None:
    shutil.copy(data_path("themes.yaml"), tmp_path / "themes.yaml")
    _edit(tmp_path / "themes.yaml", "priority:", "version: 2026-12-01\npriority:")
    new = load_rules_from_dir(tmp_path)
    assert new.version == "2026-12-01" and new.digest.startswith("sha256:")
    assert new.sources[0] == "themes.yaml" and len(new.departments) > 30


def test_one_combined_rules_file(tmp_path: Path, rules: RuleSet) -> None:
    combined: dict[str, Any] = {}
    for name in DEFAULT_FILES:
        combined.update(yaml.safe_load(data_path(name).read_text(encoding="utf-8")))
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(combined, allow_unicode=True), encoding="utf-8")
    one = load_rules([path])
    assert one.sources == ("rules.yaml",)
    assert [t.model_dump() for t in one.themes] == [t.model_dump() for t in rules.themes]


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "themes.yaml",
            "    lead: NRP\n    co: []\n    level: local",
            "    lead: FOO\n    co: []\n    level: local",
            "themes.yaml: theme T07: lead 'FOO' is not a department code",
        ),
        (
            "themes.yaml",
            "priority: [T25,",
            "priority: [T99, T25,",
            "themes.yaml: priority: unknown theme id 'T99'",
        ),
        (
            "themes.yaml",
            "priority: [T25, T20,",
            "priority: [T20,",
            "themes.yaml: theme T25: missing from priority",
        ),
        (
            "themes.yaml",
            "    ambiguous_keywords: [土地, 用地]",
            "    ambiguous_keywords: [土地, 用地, 海域]",
            "themes.yaml: theme T07: ambiguous keyword '海域' is not one of its keywords",
        ),
        (
            "themes.yaml",
            "      - when_any: [公章刻制, 刻章]\n        add_co: [PSB]",
            "      - when_anny: [公章刻制, 刻章]\n        add_co: [PSB]",
            "themes.yaml: theme T02: sub_routes.0.when_anny: Extra inputs are not permitted",
        ),
        (
            "themes.yaml",
            "    co: [PLAC]\n    level: city",
            "    co: [PLAC]\n    level: county",
            "themes.yaml: theme T20: level: Input should be 'city' or 'local'",
        ),
        (
            "departments.yaml",
            "aliases: [市财政局, 财政局, 财政]",
            "aliases: [市财政局, 财政局, 财政, 市税务局]",
            "departments.yaml: department TAX: alias '市税务局' also names department FINANCE",
        ),
        (
            "regions.yaml",
            "    short_forms: [卫东]",
            "    short_forms: [卫东, 新华]",
            "regions.yaml: county unit 410403 卫东区: short form '新华' also names county unit",
        ),
        (
            "regions.yaml",
            '  - code: "410404"',
            '  - code: "41040X"',
            "regions.yaml: county unit 41040X: code: String should match pattern",
        ),
        (
            "matching.yaml",
            "    T14: T12",
            "    T14: T77",
            "matching.yaml: ambiguous_else T14: unknown theme 'T77'",
        ),
        (
            "departments.yaml",
            "    units: [PE_JOINT_OFFICE]",
            "    units: [NOPE]",
            "departments.yaml: escalation step 2: unit 'NOPE' is not a department code",
        ),
        (
            "departments.yaml",
            "  - code: TAX\n",
            "  - code: FINANCE\n",
            "departments.yaml: department FINANCE: code defined twice",
        ),
        (
            "themes.yaml",
            "  - id: T02\n",
            "  - id: T01\n",
            "themes.yaml: theme T01: id defined twice",
        ),
        (
            "themes.yaml",
            "  - type: 举报投诉\n",
            "  - type: 举报\n",
            "themes.yaml: petition_type_hints[0] (举报): type: Input should be",
        ),
        (
            "regions.yaml",
            '  - code: "410404"',
            '  - code: "410403"',
            "regions.yaml: county unit 410403 石龙区: code defined twice",
        ),
        (
            "regions.yaml",
            '  - code: "410404"',
            '  - code: "410504"',
            "regions.yaml: county unit 410504 石龙区: code is not inside the city 410400",
        ),
        (
            "regions.yaml",
            '  - code: "410300"',
            '  - code: "420300"',
            "regions.yaml: Henan city 420300 洛阳市: code is not inside the province 410000",
        ),
    ],
)
def test_validation_errors_name_the_entry(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    d = _copy_reference(tmp_path)
    _edit(d / file, old, new)
    with pytest.raises(RulesError) as info:
        load_rules_from_dir(d)
    assert any(e.startswith(message) for e in info.value.errors), info.value.errors


def test_broken_files_are_reported_not_raised_raw() -> None:
    with pytest.raises(RulesError, match="not valid YAML"):
        parse_rules([("themes.yaml", b"themes: [\n")])
    with pytest.raises(RulesError, match="not UTF-8"):
        parse_rules([("themes.yaml", "themes: []".encode("utf-16"))])
    with pytest.raises(RulesError, match="holds none of the sections"):
        parse_rules([("x.yaml", b"hello: 1\n")])
    with pytest.raises(RulesError, match="already given by"):
        t = data_path("themes.yaml").read_bytes()
        parse_rules([("a.yaml", t), ("b.yaml", t)])
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(["/nonexistent/themes.yaml"])
