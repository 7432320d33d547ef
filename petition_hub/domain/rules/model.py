"""The rule set and its types: the validated entries of the four sections and the compiled
:class:`RuleSet` classification and routing read.

The entry models are frozen pydantic models; unknown fields are errors, so a typo such as
``when_anny`` cannot disable a rule. :class:`RuleSet` holds them together with the lookups compiled
from them once per rule set (see :mod:`.compiled`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from petition_hub.domain.petition import PetitionType
from petition_hub.domain.rules.matcher import Matcher

__all__ = [
    "COUNTY",
    "CityEntry",
    "CountyUnit",
    "Department",
    "EscalationStep",
    "ExtraKeywords",
    "HenanCity",
    "Mask",
    "MatchingRules",
    "Reassign",
    "RuleSet",
    "SubRoute",
    "Theme",
    "ThemeName",
    "ThemeVocab",
    "TypeCue",
    "TypeHint",
    "TypeHintRule",
    "UnitMention",
    "UnitWord",
]

#: The placeholder unit code resolved to the county-level government of the matter's location.
COUNTY: Final = "COUNTY"

# --------------------------------------------------------------------------------------------------
# Models (frozen; unknown fields are errors, so a typo such as `when_anny` cannot disable a rule)
# --------------------------------------------------------------------------------------------------

_STRICT = ConfigDict(frozen=True, extra="forbid")

_Words = tuple[str, ...]


class _Model(BaseModel):
    model_config = _STRICT


class ThemeName(_Model):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class SubRoute(_Model):
    """Applied in order after the theme is chosen: fires when any of ``when_any`` occurs."""

    when_any: _Words = Field(min_length=1)
    lead: str | None = None
    add_co: _Words = ()
    sensitive: bool | None = None


class Theme(_Model):
    """One routing theme of ``themes.yaml``."""

    id: str = Field(pattern=r"^T[0-9]{2}$")
    name: ThemeName
    keywords: _Words = ()
    ambiguous_keywords: _Words = ()
    keywords_added: _Words = ()
    lead: str
    fallback_lead: str | None = None
    co: _Words = ()
    level: Literal["city", "local"]
    sensitive: bool = False
    sub_routes: tuple[SubRoute, ...] = ()
    escalate_to: _Words = ()
    issuer_first: bool = False
    handling: Literal["manual_triage"] | None = None
    inferred: bool = False
    basis: str | None = None
    notes: _Words = ()

    @property
    def manual_triage(self) -> bool:
        return self.handling == "manual_triage"


class TypeHint(_Model):
    type: PetitionType
    code: str
    hint: str
    inferred: bool = False


class Department(_Model):
    """One handling unit of ``departments.yaml``."""

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    name: str = Field(min_length=1)
    aliases: _Words = ()
    name_en: str
    kind: Literal[
        "party",
        "government",
        "judicial",
        "vertical_agency",
        "people_org",
        "enterprise",
        "coordination_body",
        "supervision_office",
        "pseudo",
    ]
    vertical: bool
    role: Literal["handling", "coordination", "supervision"]
    external: bool = False
    hosted_by: _Words = ()
    inferred: bool = False
    notes: str | None = None


class EscalationStep(_Model):
    step: int
    units: _Words
    when: str
    inferred: bool = False


class CityEntry(_Model):
    """The province or the home city (``regions.yaml``: ``province``, ``city``)."""

    code: str = Field(pattern=r"^[0-9]{6}$")
    name: str
    name_en: str
    aliases: _Words = ()
    short_forms: _Words = ()


class CountyUnit(_Model):
    """A county-level unit of the city (district, county, county-level city, functional zone)."""

    code: str = Field(pattern=r"^[0-9]{6}$")
    name: str = Field(min_length=2)
    full_name: str
    name_en: str
    type: Literal["district", "county", "county_level_city", "functional_zone"]
    type_zh: str
    functional_zone: bool
    handler: str
    aliases: _Words = ()
    short_forms: _Words = ()
    code_kind: Literal["administrative", "statistical"] = "administrative"
    provincially_administered: bool = False
    inferred: bool = False
    uncertain: bool = False
    notes: str | None = None


class HenanCity(_Model):
    code: str = Field(pattern=r"^[0-9]{6}$")
    name: str
    name_en: str
    type: Literal["prefecture_city", "province_administered_city"]
    aliases: _Words = ()
    home: bool = False
    notes: str | None = None


class Mask(_Model):
    """A phrase that hides the keyword hits inside it (longest match); with ``theme`` it is itself
    a (non-ambiguous) hit of that theme."""

    phrase: str = Field(min_length=2)
    theme: str | None = None
    why: str


class ExtraKeywords(_Model):
    """Keywords the hub adds to a theme (realistic petition words missing from themes.yaml);
    ``ambiguous`` may also name existing keywords of the theme that the hub treats as weak."""

    keywords: _Words = ()
    ambiguous: _Words = ()
    why: str


class TypeCue(_Model):
    """Words that infer a petition type when the channel gave none (first entry that hits wins)."""

    type: PetitionType
    cues: _Words = Field(min_length=1)
    why: str | None = None


class TypeHintRule(_Model):
    """Machine form of a ``petition_type_hints`` entry of themes.yaml."""

    single_ambiguous_enough: _Words = ()
    weak_themes: _Words = ()
    weak_themes_only_when_ambiguous: bool = False
    """Apply ``weak_themes`` only when they matched through ambiguous keywords alone."""
    default_theme: str | None = None


class Reassign(_Model):
    """A keyword of one theme that counts for another (as a non-ambiguous hit) when one of
    ``when_any`` occurs too: 应收账款 with 拖欠 is arrears (T18), not financing (T12)."""

    word: str
    source: str = Field(alias="from")
    to: str
    when_any: _Words = Field(min_length=1)
    why: str


class UnitWord(_Model):
    """A word that names a unit without its official name: ``派出所`` (PSB), ``镇政府`` (COUNTY)."""

    word: str = Field(min_length=2)
    unit: str


class MatchingRules(_Model):
    """The ``matching:`` section (``matching.yaml``): the hub's additions to the reference data."""

    masks: tuple[Mask, ...] = ()
    extra_keywords: dict[str, ExtraKeywords] = Field(default_factory=dict)
    ambiguous_needs_any: dict[str, _Words] = Field(default_factory=dict)
    reassign: tuple[Reassign, ...] = ()
    ambiguous_else: dict[str, str] = Field(default_factory=dict)
    """Theme → theme: when the first matched only through ambiguous keywords without a context
    word (``ambiguous_needs_any``), its keywords count as a match of the second."""
    sub_route_words: dict[str, dict[int, _Words]] = Field(default_factory=dict)
    """Theme → sub-route number (1-based) → words added to its ``when_any``."""
    dominance_margin: int | None = Field(default=None, ge=1)
    """When set: a later matching theme with at least this many more distinct non-ambiguous
    keywords than the priority winner takes its place (never displacing a sensitive winner)."""
    sensitive_ties: bool = False
    """With ``dominance_margin``: a sensitive theme with as many non-ambiguous keywords as the
    priority winner (at least one) takes its place: in doubt, shield the petitioner."""
    type_cues: tuple[TypeCue, ...] = ()
    legal_rights_cues: _Words = ()
    legal_rights_from: dict[str, _Words] = Field(default_factory=dict)
    """Channel → the channel categories (12345 ``SQLB``) that become 法律维权 on a legal matter."""
    type_hints: dict[PetitionType, TypeHintRule] = Field(default_factory=dict)
    unit_words: tuple[UnitWord, ...] = ()
    issuer_verbs: _Words = ()
    text_location_excluded: _Words = ()
    provinces: dict[str, str] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# The rule set
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThemeVocab:
    """Compiled keyword data of one theme (reference keywords plus the hub's additions)."""

    keywords: frozenset[str]
    ambiguous: frozenset[str]
    added: frozenset[str]


@dataclass(frozen=True, slots=True)
class UnitMention:
    """What a word in a text names: a department (``dept``) or a county-level unit (``county``),
    or the local government of wherever the matter is (``local``)."""

    kind: Literal["dept", "county", "local"]
    code: str
    bare: bool = False
    """A two-character alias (财政, 商务, 人行): a mention only next to 市/县/区 or before
    局/部门/人员/干部/机关 (财政资金, 电子商务 and 人行道 name no unit)."""


@dataclass(frozen=True)
class RuleSet:
    """Validated, compiled routing rules. Build with :func:`load_rules`; immutable."""

    version: str
    digest: str
    sources: tuple[str, ...]
    themes: tuple[Theme, ...]
    priority: tuple[str, ...]
    fallback: str
    petition_type_hints: tuple[TypeHint, ...]
    departments: tuple[Department, ...]
    escalation: tuple[EscalationStep, ...]
    province: CityEntry
    city: CityEntry
    county_units: tuple[CountyUnit, ...]
    henan_cities: tuple[HenanCity, ...]
    matching: MatchingRules
    # compiled
    theme_by_id: Mapping[str, Theme] = field(repr=False)
    department_by_code: Mapping[str, Department] = field(repr=False)
    county_by_code: Mapping[str, CountyUnit] = field(repr=False)
    henan_city_by_code: Mapping[str, HenanCity] = field(repr=False)
    vocab: Mapping[str, ThemeVocab] = field(repr=False)
    keyword_themes: Mapping[str, tuple[str, ...]] = field(repr=False)
    sub_routes: Mapping[str, tuple[SubRoute, ...]] = field(repr=False)
    """Theme id → its sub-routes with the hub's ``sub_route_words`` added."""
    rank: Mapping[str, int] = field(repr=False)
    """Theme id → its position in ``priority``."""
    masks: Mapping[str, str | None] = field(repr=False)
    unit_mentions: Mapping[str, UnitMention] = field(repr=False)
    county_names: Mapping[str, str] = field(repr=False)
    """Every full name and alias of a county unit (normalised) → its code."""
    county_short_forms: Mapping[str, str] = field(repr=False)
    other_city_names: Mapping[str, str] = field(repr=False)
    """Names and aliases of the other Henan cities (normalised) → city code."""
    home_names: frozenset[str] = field(repr=False)
    matcher: Matcher = field(repr=False)

    def theme(self, theme_id: str) -> Theme:
        return self.theme_by_id[theme_id]

    def department(self, code: str) -> Department:
        return self.department_by_code[code]

    def unit_name(self, kind: str, code: str) -> str:
        """The Chinese name of a unit: a department's name, a county unit's handler."""
        if kind == "county":
            county = self.county_by_code.get(code)
            return county.handler if county else code
        dept = self.department_by_code.get(code)
        return dept.name if dept else code

    def theme_rank(self, theme_id: str) -> int:
        """The position of ``theme_id`` in ``priority`` (0 wins)."""
        return self.rank[theme_id]
