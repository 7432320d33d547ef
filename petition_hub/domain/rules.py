"""Routing rules as data: the reference files loaded, validated and compiled once.

A :class:`RuleSet` is built from four YAML *sections*, each normally a file in
``petition_hub/data``:

- ``themes`` (``themes.yaml``): the themes T00..T32 with their keywords, lead, co-handlers, level,
  sensitivity and sub-routes, the ``priority`` order, the ``fallback`` theme and the
  ``petition_type_hints``;
- ``departments`` (``departments.yaml``): every handling unit (code, name, aliases, kind, vertical);
- ``regions`` (``regions.yaml``): the city, its county-level units (with the names an operator may
  type), the other Henan cities and the province;
- ``matching`` (``matching.yaml``, the hub's own): what the matching algorithm needs beyond the
  reference files: mask phrases (``执行政策`` hides ``执行``), the few keywords the hub adds, the
  cues that infer a petition type, the words of a plainly legal matter, unit words (``派出所``), the
  province table. Every entry says why it is there.

Sections are recognised by their top-level keys, so one combined file, or a directory holding a new
``themes.yaml`` only (the others come from the packaged data), loads as well:
:func:`load_rules` and :func:`load_rules_from_dir`. Everything is validated on load, and every error
names the file and the entry, e.g. ``themes.yaml: theme T07: lead 'FOO' is not a department code``;
all errors are collected and raised together as one :class:`RulesError`.

The version stamped on every decision is the explicit ``version:`` of the files when they have
one, else ``sha256:`` and the first 12 hex digits of the SHA-256 of the files' bytes;
:attr:`RuleSet.digest` is always the content hash.

Keyword matching is compiled once per rule set (:class:`Matcher`): one scan of the text with a
first-character index over every word any rule looks for (about 20-40 µs for a 200-character
petition, see ``tests/test_classify.py``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from petition_hub.data import data_path
from petition_hub.domain.petition import PetitionType

__all__ = [
    "COUNTY",
    "DEFAULT_FILES",
    "CityEntry",
    "CountyUnit",
    "Department",
    "HenanCity",
    "Hit",
    "Matcher",
    "MatchingRules",
    "RuleSet",
    "RulesError",
    "SubRoute",
    "Theme",
    "TypeHint",
    "default_rules",
    "load_rules",
    "load_rules_from_dir",
    "normalize_text",
    "parse_rules",
]

#: The placeholder unit code resolved to the county-level government of the matter's location.
COUNTY: Final = "COUNTY"

#: The packaged files, in the order their bytes enter the content hash.
DEFAULT_FILES: Final = ("themes.yaml", "departments.yaml", "regions.yaml", "matching.yaml")

_SECTIONS: Final = ("themes", "departments", "regions", "matching")
#: Top-level keys that identify each section in a file.
_SECTION_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "themes": frozenset({"themes", "priority", "fallback", "petition_type_hints"}),
    "departments": frozenset({"departments", "escalation"}),
    "regions": frozenset({"province", "city", "county_units", "henan_cities", "routing"}),
    "matching": frozenset({"matching"}),
}


class RulesError(ValueError):
    """The rules do not load: ``errors`` lists every problem, each naming its file and entry."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        shown = "\n".join(f"  - {e}" for e in self.errors[:50])
        more = f"\n  … and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{len(self.errors)} problem(s) in the routing rules:\n{shown}{more}")


# --------------------------------------------------------------------------------------------------
# Models (frozen; unknown fields are errors, so a typo such as `when_anny` cannot disable a rule)
# --------------------------------------------------------------------------------------------------

_STRICT = ConfigDict(frozen=True, extra="forbid")

_Words = tuple[str, ...]
_M = TypeVar("_M", bound=BaseModel)


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
# Text normalisation and the compiled matcher
# --------------------------------------------------------------------------------------------------

# Full-width digits and letters (and the ideographic space) to ASCII: what NFKC would do to the
# characters keywords can contain, at a fraction of its cost (full-width punctuation is left alone).
_WIDE: Final = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_WIDE_TABLE: Final = str.maketrans(
    {
        c: c - 0xFEE0
        for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
        for c in range(r[0], r[1] + 1)
    }
)


def normalize_text(text: str) -> str:
    """The form keywords are matched in: full-width digits and letters as ASCII, ASCII letters in
    upper case, no white space (an operator's 营业 执照 is 营业执照)."""
    if _WIDE.search(text) is not None:
        text = text.translate(_WIDE_TABLE)
    return "".join(text.split()).upper()


class Hit(NamedTuple):
    """One occurrence of a vocabulary word in a normalised text."""

    start: int
    end: int
    word: str


class Matcher:
    """Finds every occurrence of a fixed vocabulary in a text.

    Words are indexed by their first two characters. One regular expression made of two character
    classes (the words' first characters, then their second characters) finds, in C, the positions
    where a word may start; only those positions are looked up in the index and sliced.
    One-character words are found through the set of the text's characters. The result lists
    every occurrence, including words inside longer ones: the layers (theme keywords, sub-route
    words, unit names …) each apply their own longest-match filter.
    """

    __slots__ = ("_candidates", "_pairs", "_singles", "_words")

    def __init__(self, words: Iterable[str]) -> None:
        vocabulary = {normalize_text(w) for w in words if w}
        vocabulary.discard("")
        pairs: dict[str, set[int]] = {}
        for w in vocabulary:
            if len(w) > 1:
                pairs.setdefault(w[:2], set()).add(len(w))
        self._words: frozenset[str] = frozenset(vocabulary)
        self._pairs: dict[str, tuple[int, ...]] = {
            p: tuple(sorted(ls, reverse=True)) for p, ls in pairs.items()
        }
        self._singles: frozenset[str] = frozenset(w for w in vocabulary if len(w) == 1)
        firsts = "".join(re.escape(c) for c in sorted({p[0] for p in pairs}))
        seconds = "".join(re.escape(c) for c in sorted({p[1] for p in pairs}))
        self._candidates = re.compile(f"(?=[{firsts}][{seconds}])" if pairs else "(?!)")

    @property
    def words(self) -> frozenset[str]:
        return self._words

    def scan(self, text: str) -> list[Hit]:
        """Every occurrence in ``text`` (already normalised), by start, longest first."""
        words, pairs = self._words, self._pairs
        hits: list[Hit] = []
        append = hits.append
        new = tuple.__new__  # Hit(...) without the NamedTuple's Python-level __new__
        for m in self._candidates.finditer(text):
            i = m.start()
            lens = pairs.get(text[i : i + 2])
            if lens is not None:
                for n in lens:
                    w = text[i : i + n]
                    if w in words:
                        append(new(Hit, (i, i + n, w)))
        singles = [c for c in self._singles if c in text]
        if singles:
            for c in singles:
                i = text.find(c)
                while i >= 0:
                    append(new(Hit, (i, i + 1, c)))
                    i = text.find(c, i + 1)
            hits.sort(key=_hit_order)
        return hits


def _hit_order(h: Hit) -> tuple[int, int]:
    return h.start, -h.end


def longest_only(hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` (ordered by start, longest first) without those inside a longer hit of another
    word: 城镇土地使用税 keeps 土地 and 税 from counting."""
    kept: list[Hit] = []
    max_end = -1
    for h in hits:
        if h.end <= max_end:
            continue
        kept.append(h)
        max_end = h.end
    return kept


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


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


@dataclass
class _Source:
    name: str
    raw: bytes
    doc: Mapping[str, Any]


def _default_path(name: str) -> Path:
    return data_path(name)


def load_rules(paths: Sequence[str | Path] | None = None) -> RuleSet:
    """Load, validate and compile the rules.

    ``paths``: YAML files, each holding one or more sections (recognised by their keys); a section
    no file provides comes from the packaged data. ``None``: the packaged files (see
    :func:`default_rules` for a cached copy). Raises :class:`RulesError`.
    """
    files = [Path(p) for p in paths] if paths is not None else []
    return parse_rules([(p.name, _read(p)) for p in files])


def load_rules_from_dir(directory: str | Path) -> RuleSet:
    """The rules of ``directory``: its ``themes.yaml``, ``departments.yaml``, ``regions.yaml`` and
    ``matching.yaml`` (any of them missing: the packaged one). For a dry run of a new version."""
    d = Path(directory)
    if not d.is_dir():
        raise RulesError([f"{d}: not a directory"])
    return load_rules([d / n for n in DEFAULT_FILES if (d / n).is_file()])


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The packaged rules, loaded once."""
    return load_rules()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RulesError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc


def parse_rules(files: Sequence[tuple[str, bytes]]) -> RuleSet:
    """The rule set of ``files`` (name, bytes); missing sections come from the packaged data."""
    errors: list[str] = []
    sources: list[_Source] = []
    for name, raw in files:
        try:
            doc = yaml.safe_load(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            errors.append(f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            errors.append(f"{name}: not valid YAML{where}: {getattr(exc, 'problem', exc)}")
            continue
        if not isinstance(doc, dict):
            errors.append(f"{name}: the top level must be a mapping")
            continue
        sources.append(_Source(name, raw, doc))
    if errors:
        raise RulesError(errors)

    by_section: dict[str, _Source] = {}
    for src in sources:
        found = [s for s in _SECTIONS if _SECTION_KEYS[s] & src.doc.keys()]
        if not found:
            errors.append(f"{src.name}: holds none of the sections {', '.join(_SECTIONS)}")
        for s in found:
            if s in by_section:
                errors.append(f"{src.name}: section {s!r} is already given by {by_section[s].name}")
            else:
                by_section[s] = src
        known = set().union(*_SECTION_KEYS.values()) | {"version"}
        for key in src.doc:
            if key not in known:
                errors.append(f"{src.name}: unknown top-level key {key!r}")
    if errors:
        raise RulesError(errors)
    for s, default_name in zip(_SECTIONS, DEFAULT_FILES, strict=True):
        if s not in by_section:
            path = _default_path(default_name)
            raw = _read(path)
            doc = yaml.safe_load(raw.decode("utf-8"))
            src = _Source(default_name, raw, doc)
            sources.append(src)
            by_section[s] = src
    return _build(by_section, sources)


def _fmt_validation(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"]
        out.append(f"{loc}: {msg}" if loc else msg)
    return out


def _entry_list(
    src: _Source, key: str, errors: list[str], *, required: bool = True
) -> list[Mapping[str, Any]]:
    value = src.doc.get(key)
    if value is None:
        if required:
            errors.append(f"{src.name}: missing {key!r}")
        return []
    if not isinstance(value, list):
        errors.append(f"{src.name}: {key!r} must be a list")
        return []
    out: list[Mapping[str, Any]] = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            errors.append(f"{src.name}: {key}[{i}] must be a mapping")
        else:
            out.append(entry)
    return out


def _validate(model: type[_M], data: Any, where: str, errors: list[str]) -> _M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors.extend(f"{where}: {m}" for m in _fmt_validation(exc))
        return None


def _label(entry: Mapping[str, Any], i: int, what: str, key: str) -> str:
    ident = entry.get(key)
    return f"{what} {ident}" if isinstance(ident, str | int) else f"{what} #{i + 1}"


def _dupes(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dupes: list[str] = []
    for x in items:
        if x in seen and x not in dupes:
            dupes.append(x)
        seen.add(x)
    return dupes


def _build(by_section: Mapping[str, _Source], sources: Sequence[_Source]) -> RuleSet:
    errors: list[str] = []
    t_src, d_src, r_src, m_src = (by_section[s] for s in _SECTIONS)

    # --- departments ---------------------------------------------------------------------------
    departments: list[Department] = []
    for i, entry in enumerate(_entry_list(d_src, "departments", errors)):
        where = f"{d_src.name}: {_label(entry, i, 'department', 'code')}"
        dept = _validate(Department, entry, where, errors)
        if dept is not None:
            departments.append(dept)
    dept_by_code: dict[str, Department] = {}
    for dept in departments:
        if dept.code in dept_by_code:
            errors.append(f"{d_src.name}: department {dept.code}: code defined twice")
        dept_by_code[dept.code] = dept
    if COUNTY not in dept_by_code:
        errors.append(f"{d_src.name}: the placeholder department {COUNTY} is missing")
    name_owner: dict[str, str] = {}
    for dept in departments:
        for n in _dupes([dept.name, *dept.aliases]):
            errors.append(f"{d_src.name}: department {dept.code}: alias {n!r} is listed twice")
        for n in {dept.name, *dept.aliases}:
            key = normalize_text(n)
            other = name_owner.get(key)
            if other is not None and other != dept.code:
                errors.append(
                    f"{d_src.name}: department {dept.code}: alias {n!r} also names department "
                    f"{other} (each alias maps to one code only)"
                )
            name_owner.setdefault(key, dept.code)
        for host in dept.hosted_by:
            if host not in dept_by_code:
                errors.append(
                    f"{d_src.name}: department {dept.code}: hosted_by {host!r} is not a "
                    "department code"
                )
    escalation: list[EscalationStep] = []
    for i, entry in enumerate(_entry_list(d_src, "escalation", errors, required=False)):
        where = f"{d_src.name}: escalation step {entry.get('step', i + 1)}"
        step = _validate(EscalationStep, entry, where, errors)
        if step is not None:
            escalation.append(step)
            for u in step.units:
                if u not in dept_by_code:
                    errors.append(f"{where}: unit {u!r} is not a department code")

    def check_unit(code: str, where: str, what: str, *, county_ok: bool) -> None:
        if code == COUNTY and not county_ok:
            errors.append(f"{where}: {what} {code!r} cannot be the county placeholder here")
        elif code not in dept_by_code:
            errors.append(f"{where}: {what} {code!r} is not a department code")

    # --- regions -------------------------------------------------------------------------------
    province = _validate(CityEntry, r_src.doc.get("province"), f"{r_src.name}: province", errors)
    city = _validate(CityEntry, r_src.doc.get("city"), f"{r_src.name}: city", errors)
    counties: list[CountyUnit] = []
    for i, entry in enumerate(_entry_list(r_src, "county_units", errors)):
        where = f"{r_src.name}: county unit {entry.get('code') or entry.get('name') or i + 1}"
        unit = _validate(CountyUnit, entry, where, errors)
        if unit is not None:
            counties.append(unit)
    henan: list[HenanCity] = []
    for i, entry in enumerate(_entry_list(r_src, "henan_cities", errors)):
        where = f"{r_src.name}: Henan city {entry.get('code') or entry.get('name') or i + 1}"
        hc = _validate(HenanCity, entry, where, errors)
        if hc is not None:
            henan.append(hc)
    county_by_code: dict[str, CountyUnit] = {}
    county_names: dict[str, str] = {}
    county_short: dict[str, str] = {}
    for unit in counties:
        where = f"{r_src.name}: county unit {unit.code} {unit.name}"
        if unit.code in county_by_code:
            errors.append(f"{where}: code defined twice")
        county_by_code[unit.code] = unit
        if city is not None and unit.code[:4] != city.code[:4]:
            errors.append(f"{where}: code is not inside the city {city.code}")
        for n in {unit.name, unit.full_name, unit.handler, *unit.aliases}:
            key = normalize_text(n)
            other = county_names.get(key)
            if other is not None and other != unit.code:
                errors.append(f"{where}: name {n!r} also names county unit {other}")
            county_names[key] = unit.code
        for n in unit.short_forms:
            key = normalize_text(n)
            other = county_short.get(key) or (
                county_names.get(key) if county_names.get(key) != unit.code else None
            )
            if other is not None and other != unit.code:
                errors.append(f"{where}: short form {n!r} also names county unit {other}")
            county_short[key] = unit.code
    henan_by_code: dict[str, HenanCity] = {}
    other_city_names: dict[str, str] = {}
    for hc in henan:
        where = f"{r_src.name}: Henan city {hc.code} {hc.name}"
        if hc.code in henan_by_code:
            errors.append(f"{where}: code defined twice")
        henan_by_code[hc.code] = hc
        if province is not None and hc.code[:2] != province.code[:2]:
            errors.append(f"{where}: code is not inside the province {province.code}")
        if city is not None and hc.code == city.code:
            if not hc.home:
                errors.append(f"{where}: the home city should say home: true")
            continue
        if hc.home:
            errors.append(f"{where}: home: true but the city is {city.code if city else '?'}")
        for n in {hc.name, *hc.aliases}:
            key = normalize_text(n)
            if key in county_names or key in other_city_names:
                errors.append(f"{where}: name {n!r} is used twice in regions.yaml")
            other_city_names[key] = hc.code
    if city is not None and city.code not in henan_by_code:
        errors.append(f"{r_src.name}: city {city.code}: not listed in henan_cities")
    home_names = frozenset(
        normalize_text(n) for n in ((city.name, *city.aliases, *city.short_forms) if city else ())
    )

    # --- matching (the hub's additions) --------------------------------------------------------
    m_doc = m_src.doc.get("matching")
    matching = _validate(MatchingRules, m_doc or {}, f"{m_src.name}: matching", errors)
    if matching is None:
        matching = MatchingRules()

    # --- themes ----------------------------------------------------------------------------------
    themes: list[Theme] = []
    for i, entry in enumerate(_entry_list(t_src, "themes", errors)):
        where = f"{t_src.name}: {_label(entry, i, 'theme', 'id')}"
        theme = _validate(Theme, entry, where, errors)
        if theme is not None:
            themes.append(theme)
    theme_by_id: dict[str, Theme] = {}
    for theme in themes:
        where = f"{t_src.name}: theme {theme.id}"
        if theme.id in theme_by_id:
            errors.append(f"{where}: id defined twice")
        theme_by_id[theme.id] = theme
        for kw in _dupes(normalize_text(k) for k in theme.keywords):
            errors.append(f"{where}: keyword {kw!r} is listed twice")
        kws = set(theme.keywords)
        for k in theme.ambiguous_keywords:
            if k not in kws:
                errors.append(f"{where}: ambiguous keyword {k!r} is not one of its keywords")
        for k in theme.keywords_added:
            if k not in kws:
                errors.append(f"{where}: added keyword {k!r} is not one of its keywords")
        check_unit(theme.lead, where, "lead", county_ok=True)
        if theme.lead == COUNTY:
            if theme.fallback_lead is None:
                errors.append(f"{where}: lead is {COUNTY} but there is no fallback_lead")
            if theme.level != "local":
                errors.append(f"{where}: lead is {COUNTY} but level is {theme.level}")
        if theme.fallback_lead is not None:
            check_unit(theme.fallback_lead, where, "fallback_lead", county_ok=False)
        for c in theme.co:
            check_unit(c, where, "co", county_ok=True)
            if c == theme.lead:
                errors.append(f"{where}: co {c!r} is also the lead")
        for c in _dupes(theme.co):
            errors.append(f"{where}: co {c!r} is listed twice")
        for e in theme.escalate_to:
            check_unit(e, where, "escalate_to", county_ok=False)
        for j, sub in enumerate(theme.sub_routes):
            swhere = f"{where}: sub_route {j + 1}"
            if sub.lead is not None:
                check_unit(sub.lead, swhere, "lead", county_ok=theme.level == "local")
            for c in sub.add_co:
                check_unit(c, swhere, "add_co", county_ok=True)
            if sub.lead is None and not sub.add_co and sub.sensitive is None:
                errors.append(f"{swhere}: changes nothing (no lead, add_co or sensitive)")
        if theme.manual_triage and theme.keywords:
            errors.append(f"{where}: a manual_triage theme has no keywords")
        if not theme.keywords and not theme.manual_triage:
            errors.append(f"{where}: no keywords (only a manual_triage theme may have none)")
    priority_raw = t_src.doc.get("priority")
    priority: tuple[str, ...] = ()
    if not isinstance(priority_raw, list) or not all(isinstance(p, str) for p in priority_raw):
        errors.append(f"{t_src.name}: priority must be a list of theme ids")
    else:
        priority = tuple(priority_raw)
        for p in priority:
            if p not in theme_by_id:
                errors.append(f"{t_src.name}: priority: unknown theme id {p!r}")
        for p in _dupes(priority):
            errors.append(f"{t_src.name}: priority: theme {p} is listed twice")
        for t in theme_by_id:
            if t not in priority:
                errors.append(f"{t_src.name}: theme {t}: missing from priority")
    fallback = t_src.doc.get("fallback")
    if not isinstance(fallback, str) or fallback not in theme_by_id:
        errors.append(f"{t_src.name}: fallback: {fallback!r} is not a theme id")
        fallback = ""
    elif priority and priority[-1] != fallback:
        errors.append(f"{t_src.name}: fallback {fallback} must come last in priority")
    hints: list[TypeHint] = []
    for i, entry in enumerate(_entry_list(t_src, "petition_type_hints", errors, required=False)):
        where = f"{t_src.name}: petition_type_hints[{i}] ({entry.get('type', '?')})"
        hint = _validate(TypeHint, entry, where, errors)
        if hint is not None:
            hints.append(hint)

    # --- matching cross-checks --------------------------------------------------------------------
    m = matching
    mname = m_src.name
    for mask in m.masks:
        if mask.theme is not None and mask.theme not in theme_by_id:
            errors.append(f"{mname}: mask {mask.phrase!r}: unknown theme {mask.theme!r}")
    for tid, extra in m.extra_keywords.items():
        if tid not in theme_by_id:
            errors.append(f"{mname}: extra_keywords: unknown theme {tid!r}")
            continue
        existing = {normalize_text(k) for k in theme_by_id[tid].keywords}
        for k in extra.keywords:
            if normalize_text(k) in existing:
                errors.append(
                    f"{mname}: extra_keywords {tid}: {k!r} is already a keyword of the theme"
                )
        for k in extra.ambiguous:
            if k not in extra.keywords and normalize_text(k) not in existing:
                errors.append(
                    f"{mname}: extra_keywords {tid}: ambiguous {k!r} is neither added nor a "
                    "keyword of the theme"
                )
    for tid in m.ambiguous_needs_any:
        if tid not in theme_by_id:
            errors.append(f"{mname}: ambiguous_needs_any: unknown theme {tid!r}")
    for ra in m.reassign:
        where = f"{mname}: reassign {ra.word!r}"
        for t in (ra.source, ra.to):
            if t not in theme_by_id:
                errors.append(f"{where}: unknown theme {t!r}")
        src_theme = theme_by_id.get(ra.source)
        extra_src = m.extra_keywords.get(ra.source)
        if (
            src_theme is not None
            and ra.word not in src_theme.keywords
            and (extra_src is None or ra.word not in extra_src.keywords)
        ):
            errors.append(f"{where}: not a keyword of {ra.source}")
    for tid, other in m.ambiguous_else.items():
        if tid not in m.ambiguous_needs_any:
            errors.append(f"{mname}: ambiguous_else {tid}: not in ambiguous_needs_any")
        if other not in theme_by_id:
            errors.append(f"{mname}: ambiguous_else {tid}: unknown theme {other!r}")
    for tid, by_index in m.sub_route_words.items():
        theme_ = theme_by_id.get(tid)
        if theme_ is None:
            errors.append(f"{mname}: sub_route_words: unknown theme {tid!r}")
            continue
        for idx in by_index:
            if not 1 <= idx <= len(theme_.sub_routes):
                errors.append(
                    f"{mname}: sub_route_words {tid}: theme has no sub_route {idx} "
                    f"(it has {len(theme_.sub_routes)})"
                )
    for ptype, rule in m.type_hints.items():
        for tid in (*rule.single_ambiguous_enough, *rule.weak_themes):
            if tid not in theme_by_id:
                errors.append(f"{mname}: type_hints {ptype.value}: unknown theme {tid!r}")
        if rule.default_theme is not None and rule.default_theme not in theme_by_id:
            errors.append(
                f"{mname}: type_hints {ptype.value}: unknown theme {rule.default_theme!r}"
            )
    for uw in m.unit_words:
        if uw.unit not in dept_by_code:
            errors.append(f"{mname}: unit word {uw.word!r}: {uw.unit!r} is not a department code")
    for prefix in m.provinces:
        if not re.fullmatch(r"[0-9]{2}", prefix):
            errors.append(f"{mname}: provinces: {prefix!r} is not a two-digit province prefix")

    if errors or province is None or city is None:
        raise RulesError(errors or ["regions: province or city missing"])

    # --- compile ---------------------------------------------------------------------------------
    vocab: dict[str, ThemeVocab] = {}
    keyword_themes: dict[str, list[str]] = {}
    for theme in themes:
        more = m.extra_keywords.get(theme.id)
        kws = {normalize_text(k) for k in theme.keywords}
        amb = {normalize_text(k) for k in theme.ambiguous_keywords}
        added: set[str] = set()
        if more is not None:
            added = {normalize_text(k) for k in more.keywords}
            kws |= added
            amb |= {normalize_text(k) for k in more.ambiguous}
        vocab[theme.id] = ThemeVocab(frozenset(kws), frozenset(amb), frozenset(added))
        for k in sorted(kws):
            keyword_themes.setdefault(k, []).append(theme.id)
    masks = {normalize_text(mk.phrase): mk.theme for mk in m.masks}
    sub_routes: dict[str, tuple[SubRoute, ...]] = {}
    for theme in themes:
        extra_words = m.sub_route_words.get(theme.id, {})
        sub_routes[theme.id] = tuple(
            sr.model_copy(update={"when_any": (*sr.when_any, *extra_words.get(i, ()))})
            if extra_words.get(i)
            else sr
            for i, sr in enumerate(theme.sub_routes, 1)
        )

    mentions: dict[str, UnitMention] = {}
    for dept in departments:
        if dept.code == COUNTY:
            continue
        for n in (dept.name, *dept.aliases):
            key = normalize_text(n)
            mentions[key] = UnitMention("dept", dept.code, bare=len(key) <= 2)
    for code_, unit in county_by_code.items():
        for n in (unit.name, unit.full_name, unit.handler, *unit.aliases):
            mentions[normalize_text(n)] = UnitMention("county", code_)
    for uw in m.unit_words:
        key = normalize_text(uw.word)
        mentions[key] = (
            UnitMention("local", COUNTY) if uw.unit == COUNTY else UnitMention("dept", uw.unit)
        )

    words: set[str] = set(keyword_themes) | set(masks) | set(mentions)
    for routes in sub_routes.values():
        for sr in routes:
            words.update(sr.when_any)
    words.update(w for ws in m.ambiguous_needs_any.values() for w in ws)
    words.update(w for ra in m.reassign for w in ra.when_any)
    words.update(w for cue in m.type_cues for w in cue.cues)
    words.update(m.legal_rights_cues)
    words.update(m.issuer_verbs)
    words.update(county_names)
    words.update(other_city_names)
    words.update(home_names)

    version, digest = _version(sources, by_section)
    return RuleSet(
        version=version,
        digest=digest,
        sources=tuple(s.name for s in sources),
        themes=tuple(themes),
        priority=priority,
        fallback=fallback,
        petition_type_hints=tuple(hints),
        departments=tuple(departments),
        escalation=tuple(escalation),
        province=province,
        city=city,
        county_units=tuple(counties),
        henan_cities=tuple(henan),
        matching=m,
        theme_by_id=MappingProxyType(theme_by_id),
        department_by_code=MappingProxyType(dept_by_code),
        county_by_code=MappingProxyType(county_by_code),
        henan_city_by_code=MappingProxyType(henan_by_code),
        vocab=MappingProxyType(vocab),
        keyword_themes=MappingProxyType({k: tuple(v) for k, v in keyword_themes.items()}),
        sub_routes=MappingProxyType(sub_routes),
        rank=MappingProxyType({t: i for i, t in enumerate(priority)}),
        masks=MappingProxyType(masks),
        unit_mentions=MappingProxyType(mentions),
        county_names=MappingProxyType(county_names),
        county_short_forms=MappingProxyType(county_short),
        other_city_names=MappingProxyType(other_city_names),
        home_names=home_names,
        matcher=Matcher(words),
    )


def _version(sources: Sequence[_Source], by_section: Mapping[str, _Source]) -> tuple[str, str]:
    h = hashlib.sha256()
    ordered = [by_section[s] for s in _SECTIONS]
    ordered += [s for s in sources if s not in ordered]
    for src in ordered:
        h.update(len(src.raw).to_bytes(8, "big"))
        h.update(src.raw)
    digest = "sha256:" + h.hexdigest()[:12]
    explicit: list[str] = []
    for src in ordered:
        v = src.doc.get("version")
        if v is not None and str(v) not in explicit:
            explicit.append(str(v))
    return ("+".join(explicit) if explicit else digest), digest
