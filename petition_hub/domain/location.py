"""Location (属地) of a petition's matter: which county-level unit, the city, or elsewhere.

In order (domain.md, Location):

1. ``region_code``, an explicit division code: a county-level unit of the city → that unit; another
   Henan city (4101xx … 4117xx, 419001) → ``other_henan_city``; a code of another province →
   ``outside_henan``. The city's own code (410400) or an unknown 4104xx code only says "the city":
   the later steps may still find the county.
2. ``region_name``, the name an operator typed: a county unit's name, full name, handler or alias
   anywhere in the input; a short form (叶, 郏, 宝丰, 示范区 …) only as the whole input or a whole
   token of it; the name of another Henan city or of another province; the city's own names.
3. Characters 3-8 of a VALID unified social credit code (the registering authority: a hint, not
   proof). If the hint points outside the city but the text names exactly one county unit of the
   city, the text wins: where the enterprise registered says less than where the petition says the
   matter is.
4. Mentions of a county unit in the text: only when exactly one county unit is named, and only by
   its name or an alias (新华区, 鲁山县, 平顶山高新区 …; never a short form such as 叶 or 宝丰;
   the names many cities share, ``text_location_excluded`` such as 高新区, only when the text
   names no other Henan city). Judged safe because a petition names the county it is about far
   more often than another one; two different counties named → no decision.
   Other cities named in free text are NOT used (they appear as suppliers, customers, expos), so a
   cross-city matter needs a code or a typed name.
5. Else the city as a whole (``source="default"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from petition_hub.domain.classify import TextAnalysis, analyse_text, petition_text
from petition_hub.domain.petition import Petition
from petition_hub.domain.rules import RuleSet, normalize_text
from petition_hub.domain.validation import is_valid_uscc, uscc_region_hint

__all__ = [
    "Location",
    "LocationKind",
    "LocationSource",
    "locate",
    "locate_fields",
    "resolve_code",
    "resolve_name",
]

LocationKind = Literal["county", "city", "other_henan_city", "outside_henan", "unknown"]
LocationSource = Literal["region_code", "region_name", "uscc", "text", "default"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where the matter lies, and how the hub knows."""

    kind: LocationKind
    code: str | None
    """County unit code (county), the city code (city), the other city's code (other_henan_city),
    the province's code (outside_henan)."""
    name: str | None
    source: LocationSource
    detail: str = ""
    """What the source said, e.g. ``typed '叶'`` or ``credit code registered in 410423``."""
    division: str | None = None
    """The most precise division code given, when it is more precise than ``code`` (411002)."""

    @property
    def in_city(self) -> bool:
        return self.kind in ("county", "city")

    def describe(self) -> str:
        where = f"{self.name} ({self.code})" if self.name else (self.code or "unknown")
        if self.division and self.division != self.code:
            where += f", division {self.division}"
        return f"{where} [{self.kind}] from {self.source}" + (
            f": {self.detail}" if self.detail else ""
        )


_TOKEN_SPLIT = re.compile(r"[\s,，、/;；|·.。()（）\-]+")
_PROVINCE_SUFFIX = re.compile(r"(壮族自治区|回族自治区|维吾尔自治区|特别行政区|自治区|省|市)$")


def _city(rules: RuleSet, source: LocationSource, detail: str) -> Location:
    return Location("city", rules.city.code, rules.city.name, source, detail)


def resolve_code(code: str, rules: RuleSet, source: LocationSource) -> Location | None:
    """The location a six-digit division code names; ``None`` when it names nothing usable
    (the province as a whole, a code of no province)."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    county = rules.county_by_code.get(code)
    home = rules.city.code
    if county is not None:
        return Location("county", county.code, county.name, source, f"code {code}")
    if code == home:
        return _city(rules, source, f"code {code}")
    if code[:4] == home[:4]:
        return _city(rules, source, f"code {code} is not a county unit the hub knows")
    if code[:2] == rules.province.code[:2]:
        city = rules.henan_city_by_code.get(code) or rules.henan_city_by_code.get(code[:4] + "00")
        if city is not None:
            return Location(
                "other_henan_city", city.code, city.name, source, f"code {code}", division=code
            )
        if code == rules.province.code:
            return None
        return Location(
            "other_henan_city", code, None, source, f"code {code} (Henan)", division=code
        )
    province = rules.matching.provinces.get(code[:2])
    if province is None:
        return None
    return Location(
        "outside_henan", code[:2] + "0000", province, source, f"code {code}", division=code
    )


def resolve_name(name: str, rules: RuleSet) -> Location | None:
    """The location an operator's typed county name names (``source="region_name"``)."""
    norm = normalize_text(name)
    if not norm:
        return None
    src: LocationSource = "region_name"
    detail = f"typed {name.strip()!r}"
    code = rules.county_names.get(norm) or rules.county_short_forms.get(norm)
    if code is None:
        tokens = {normalize_text(t) for t in _TOKEN_SPLIT.split(name) if t.strip()}
        found = {
            c for t in tokens if (c := rules.county_short_forms.get(t) or rules.county_names.get(t))
        }
        if len(found) == 1:
            code = found.pop()
    if code is None:
        found = {c for n, c in rules.county_names.items() if n in norm}
        if len(found) == 1 and not _names_other_city(norm, rules):
            code = found.pop()
    if code is not None:
        unit = rules.county_by_code[code]
        return Location("county", unit.code, unit.name, src, detail)
    if not any(h in norm for h in rules.home_names):
        other = [(n, c) for n, c in rules.other_city_names.items() if n in norm]
        if other:
            _n, c = max(other, key=lambda x: len(x[0]))
            city = rules.henan_city_by_code[c]
            return Location("other_henan_city", city.code, city.name, src, detail)
        for prefix, province in rules.matching.provinces.items():
            if prefix == rules.province.code[:2]:
                continue
            short = _PROVINCE_SUFFIX.sub("", province)
            if province in norm or (len(short) >= 2 and norm.startswith(short)):
                return Location("outside_henan", prefix + "0000", province, src, detail)
    if norm in rules.home_names or any(norm.startswith(h) for h in rules.home_names):
        return _city(rules, src, detail)
    return None


def _names_other_city(norm: str, rules: RuleSet) -> bool:
    return any(n in norm for n in rules.other_city_names) and not any(
        h in norm for h in rules.home_names
    )


def _text_county(a: TextAnalysis, rules: RuleSet) -> tuple[str, str] | None:
    generic = {normalize_text(n) for n in rules.matching.text_location_excluded}
    other_city = bool(a.occurrences(rules.other_city_names))
    found: dict[str, str] = {}
    for h in a.occurrences(rules.county_names):
        if h.word in generic and other_city:
            continue
        found.setdefault(rules.county_names[h.word], h.word)
    if len(found) != 1:
        return None
    ((code, word),) = found.items()
    return code, word


def locate_fields(
    rules: RuleSet,
    *,
    region_code: str | None = None,
    region_name: str | None = None,
    uscc: str | None = None,
    analysis: TextAnalysis | None = None,
    city: str | None = None,
) -> Location:
    """The location from the raw fields (see the module documentation for the order)."""
    home = city or rules.city.code
    if home != rules.city.code:
        return Location(
            "unknown", None, None, "default", f"the rules are for {rules.city.code}, not {home}"
        )
    weak: Location | None = None  # "the city": later steps may still name the county

    if region_code:
        loc = resolve_code(region_code.strip(), rules, "region_code")
        if loc is not None:
            if loc.kind != "city":
                return loc
            weak = loc
    if region_name:
        loc = resolve_name(region_name, rules)
        if loc is not None:
            if loc.kind == "county" or (weak is None and loc.kind != "city"):
                return _refined(loc, weak)
            weak = weak or loc
    text_county = _text_county(analysis, rules) if analysis is not None else None
    if uscc and is_valid_uscc(uscc):
        hint = uscc_region_hint(uscc)
        loc = resolve_code(hint, rules, "uscc") if hint else None
        if loc is not None:
            loc = Location(
                loc.kind,
                loc.code,
                loc.name,
                "uscc",
                f"credit code registered in {hint}",
                loc.division,
            )
            if loc.kind == "county":
                return _refined(loc, weak)
            if loc.kind != "city" and weak is None and text_county is None:
                return loc
    if text_county is not None:
        code, word = text_county
        unit = rules.county_by_code[code]
        return _refined(
            Location("county", unit.code, unit.name, "text", f"text names {word}"), weak
        )
    if weak is not None:
        return weak
    return _city(rules, "default", "no location given")


def _refined(loc: Location, weak: Location | None) -> Location:
    if weak is None:
        return loc
    return Location(
        loc.kind,
        loc.code,
        loc.name,
        loc.source,
        f"{loc.detail}; refines {weak.source} {weak.code}",
        loc.division,
    )


def locate(
    petition: Petition,
    rules: RuleSet,
    *,
    city: str | None = None,
    analysis: TextAnalysis | None = None,
) -> Location:
    """The location of ``petition``'s matter."""
    a = analysis if analysis is not None else analyse_text(petition_text(petition), rules)
    return locate_fields(
        rules,
        region_code=petition.region_code,
        region_name=petition.region_name,
        uscc=petition.enterprise.uscc if petition.enterprise else None,
        analysis=a,
        city=city,
    )
