"""Location: division code → typed county name (with its variants) → credit code → the text → the
city; other Henan cities and other provinces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from petition_hub.domain.classify import analyse_text
from petition_hub.domain.location import Location, locate, locate_fields, resolve_code, resolve_name
from petition_hub.domain.petition import Channel, Enterprise, Petition, Petitioner, PetitionerKind
from petition_hub.domain.rules import CountyUnit, RuleSet, default_rules

RULES = default_rules()

#: Valid credit codes (GB 32100 check character) registered in 410423 (鲁山县), 411000 (许昌),
#: 440300 (深圳), and one with a wrong check character.
USCC_LUSHAN = "91410423MA6HK012FY"
USCC_XUCHANG = "91411000MAK5AP9KXQ"
USCC_SHENZHEN = "91440300MA0DQ14F5R"
USCC_BAD = "91410423MA6HK012FX"


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RULES


def at(
    rules: RuleSet,
    text: str = "企业反映问题。",
    *,
    region_code: str | None = None,
    region_name: str | None = None,
    uscc: str | None = None,
) -> Location:
    return locate_fields(
        rules,
        region_code=region_code,
        region_name=region_name,
        uscc=uscc,
        analysis=analyse_text(text, rules),
    )


def test_the_example_codes_are_what_they_claim() -> None:
    from petition_hub.domain.validation import is_valid_uscc, uscc_region_hint

    assert uscc_region_hint(USCC_LUSHAN) == "410423"
    assert uscc_region_hint(USCC_XUCHANG) == "411000"
    assert uscc_region_hint(USCC_SHENZHEN) == "440300"
    assert not is_valid_uscc(USCC_BAD)


# --- 1. the division code -----------------------------------------------------------------------


@pytest.mark.parametrize("unit", RULES.county_units, ids=lambda u: u.code)
def test_every_county_code(unit: CountyUnit, rules: RuleSet) -> None:
    code = unit.code
    loc = at(rules, region_code=code)
    assert (loc.kind, loc.code, loc.source) == ("county", code, "region_code")


def test_codes_of_the_city_other_cities_and_provinces(rules: RuleSet) -> None:
    assert at(rules, region_code="410400").kind == "city"
    unknown = at(rules, region_code="410499")
    assert (unknown.kind, unknown.code, unknown.source) == ("city", "410400", "region_code")
    xc = at(rules, region_code="411002")
    assert (xc.kind, xc.code, xc.name, xc.division) == (
        "other_henan_city",
        "411000",
        "许昌市",
        "411002",
    )
    assert at(rules, region_code="410100").name == "郑州市"
    assert at(rules, region_code="419001").name == "济源市"
    js = at(rules, region_code="320583")
    assert (js.kind, js.code, js.name) == ("outside_henan", "320000", "江苏省")
    assert at(rules, region_code="810000").name == "香港特别行政区"


def test_codes_that_name_nothing_fall_through(rules: RuleSet) -> None:
    assert resolve_code("410000", rules, "region_code") is None  # the province as a whole
    assert resolve_code("990000", rules, "region_code") is None  # no such province
    assert resolve_code("4104", rules, "region_code") is None
    assert at(rules, region_code="410000", region_name="叶县").code == "410422"
    assert at(rules, region_code="990000").source == "default"


def test_a_city_level_code_is_refined_by_later_steps(rules: RuleSet) -> None:
    loc = at(rules, region_code="410400", region_name="叶县")
    assert (loc.kind, loc.code, loc.source) == ("county", "410422", "region_name")
    assert "refines region_code" in loc.detail
    loc = at(rules, "我公司在郏县的厂区……", region_code="410400")
    assert (loc.code, loc.source) == ("410425", "text")
    # but a city-level code is not overridden by another city typed
    assert at(rules, region_code="410400", region_name="许昌市").kind == "city"


def test_the_code_wins_over_everything_else(rules: RuleSet) -> None:
    loc = at(rules, "原来在鲁山县。", region_code="410422", region_name="郏县", uscc=USCC_LUSHAN)
    assert (loc.code, loc.source) == ("410422", "region_code")
    assert at(rules, region_code="410105", uscc=USCC_LUSHAN).kind == "other_henan_city"


# --- 2. the typed name ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "code"),
    [(n, u.code) for u in RULES.county_units for n in (u.name, u.full_name, u.handler, *u.aliases)],
)
def test_every_name_and_alias(typed: str, code: str, rules: RuleSet) -> None:
    loc = at(rules, region_name=typed)
    assert (loc.kind, loc.code, loc.source) == ("county", code, "region_name")


@pytest.mark.parametrize(
    ("typed", "code"), [(s, u.code) for u in RULES.county_units for s in u.short_forms]
)
def test_every_short_form_as_the_whole_input(typed: str, code: str, rules: RuleSet) -> None:
    assert at(rules, region_name=typed).code == code
    assert at(rules, region_name=f" {typed} ").code == code


def test_short_forms_only_as_a_whole_token(rules: RuleSet) -> None:
    assert at(rules, region_name="平顶山 叶").code == "410422"
    assert at(rules, region_name="平顶山/郏").code == "410425"
    # inside a longer word a short form names nothing
    for typed in ("叶子路", "郏店", "新华路", "示范区外", "高新路"):
        assert at(rules, region_name=typed).source == "default", typed
    # 舞阳县 (漯河) is not 舞钢
    assert at(rules, region_name="漯河市舞阳县").kind == "other_henan_city"
    assert at(rules, region_name="舞阳县").source == "default"


def test_typed_names_with_more_text(rules: RuleSet) -> None:
    assert at(rules, region_name="平顶山市新华区焦店镇").code == "410402"
    assert at(rules, region_name="鲁山 县").code == "410423"
    assert at(rules, region_name="鲁山县张官营镇").code == "410423"


def test_typed_other_cities_and_provinces(rules: RuleSet) -> None:
    assert resolve_name("许昌市", rules) == Location(
        "other_henan_city", "411000", "许昌市", "region_name", "typed '许昌市'"
    )
    assert at(rules, region_name="洛阳").name == "洛阳市"
    assert at(rules, region_name="济源示范区").name == "济源市"
    assert at(rules, region_name="郑州市高新区").name == "郑州市"  # not 平顶山高新区
    assert at(rules, region_name="江苏省苏州市").name == "江苏省"
    assert at(rules, region_name="湖北武汉").name == "湖北省"
    assert at(rules, region_name="内蒙古包头").name == "内蒙古自治区"


def test_typed_city_names(rules: RuleSet) -> None:
    for typed in ("平顶山市", "平顶山", "鹰城"):
        loc = at(rules, region_name=typed)
        assert (loc.kind, loc.source) == ("city", "region_name"), typed
    assert at(rules, region_name="不详").source == "default"
    assert at(rules, region_name="   ").source == "default"


# --- 3. the credit code -------------------------------------------------------------------------


def test_a_valid_credit_code_is_a_hint(rules: RuleSet) -> None:
    loc = at(rules, uscc=USCC_LUSHAN)
    assert (loc.kind, loc.code, loc.source) == ("county", "410423", "uscc")
    assert "410423" in loc.detail
    assert at(rules, uscc=USCC_XUCHANG).kind == "other_henan_city"
    assert at(rules, uscc=USCC_SHENZHEN).kind == "outside_henan"


def test_an_invalid_credit_code_is_no_hint(rules: RuleSet) -> None:
    assert at(rules, uscc=USCC_BAD).source == "default"
    assert at(rules, uscc="not a code").source == "default"


def test_the_text_beats_a_credit_code_pointing_elsewhere(rules: RuleSet) -> None:
    loc = at(rules, "我公司在许昌注册，在叶县投资建厂。", uscc=USCC_XUCHANG)
    assert (loc.code, loc.source) == ("410422", "text")
    # but a county credit code comes before the text (order of domain.md)
    loc = at(rules, "我们在叶县也有业务。", uscc=USCC_LUSHAN)
    assert (loc.code, loc.source) == ("410423", "uscc")


# --- 4. the text ---------------------------------------------------------------------------------


def test_one_county_named_in_the_text(rules: RuleSet) -> None:
    loc = at(rules, "我公司位于郏县产业集聚区，物流车辆夜间不能通行。")
    assert (loc.kind, loc.code, loc.source) == ("county", "410425", "text")
    assert at(rules, "平顶山高新区的企业……").code == "410471"


def test_two_counties_or_short_forms_in_the_text_decide_nothing(rules: RuleSet) -> None:
    assert at(rules, "我公司在宝丰县和郏县各有一个厂区。").source == "default"
    assert at(rules, "宝丰的汝瓷很有名。").source == "default"  # short forms never in free text


def test_generic_zone_names_only_when_no_other_city_is_named(rules: RuleSet) -> None:
    assert at(rules, "我公司在高新区新设立了分公司。").code == "410471"
    assert at(rules, "我公司在郑州高新区新设立了分公司。").source == "default"


def test_other_cities_in_free_text_do_not_locate(rules: RuleSet) -> None:
    assert at(rules, "我公司主要从郑州、洛阳采购原材料。").source == "default"


# --- 5. the city, and the petition ---------------------------------------------------------------


def test_default_is_the_city(rules: RuleSet) -> None:
    loc = at(rules)
    assert (loc.kind, loc.code, loc.name, loc.source) == ("city", "410400", "平顶山市", "default")
    assert loc.in_city and "from default" in loc.describe()


def test_rules_for_another_city_locate_nothing(rules: RuleSet) -> None:
    loc = locate_fields(rules, region_code="410422", city="410300")
    assert loc.kind == "unknown"


def test_locate_a_petition(rules: RuleSet) -> None:
    p = Petition(
        channel=Channel.MINIPROGRAM,
        channel_ref="MP-1",
        received_at=datetime(2026, 11, 20, tzinfo=UTC),
        content="厂区停水。",
        enterprise=Enterprise(uscc=USCC_LUSHAN),
        petitioner=Petitioner(kind=PetitionerKind.ENTERPRISE),
    )
    loc = locate(p, rules)
    assert (loc.code, loc.source) == ("410423", "uscc")
    assert "鲁山县 (410423) [county] from uscc" in loc.describe()
