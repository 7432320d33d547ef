"""Building a :class:`RuleSet` from the four sections: validate each, check them against each
other, then compile the lookups and the matcher.

Every problem of every section is collected before anything is raised, in a fixed order
(departments, regions, matching, themes, then the matching section's references), so that one
:class:`RulesError` lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from petition_hub.domain.rules.departments import departments_section
from petition_hub.domain.rules.matcher import Matcher, normalize_text
from petition_hub.domain.rules.matching import check_matching, matching_section
from petition_hub.domain.rules.model import COUNTY, RuleSet, SubRoute, ThemeVocab, UnitMention
from petition_hub.domain.rules.regions import regions_section
from petition_hub.domain.rules.source import SECTIONS, RulesError, Source, version_of
from petition_hub.domain.rules.themes import themes_section

__all__ = ["build"]


def build(by_section: Mapping[str, Source], sources: Sequence[Source]) -> RuleSet:
    """The rule set of the four sections; raises :class:`RulesError` listing every problem."""
    errors: list[str] = []
    t_src, d_src, r_src, m_src = (by_section[s] for s in SECTIONS)
    units = departments_section(d_src, errors)
    regions = regions_section(r_src, errors)
    m = matching_section(m_src, errors)
    themes = themes_section(t_src, units.by_code, errors)
    check_matching(m, m_src, themes.by_id, units.by_code, errors)
    province, city = regions.province, regions.city
    if errors or province is None or city is None:
        raise RulesError(errors or ["regions: province or city missing"])

    # --- compile ---------------------------------------------------------------------------------
    vocab: dict[str, ThemeVocab] = {}
    keyword_themes: dict[str, list[str]] = {}
    for theme in themes.themes:
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
    for theme in themes.themes:
        extra_words = m.sub_route_words.get(theme.id, {})
        sub_routes[theme.id] = tuple(
            sr.model_copy(update={"when_any": (*sr.when_any, *extra_words.get(i, ()))})
            if extra_words.get(i)
            else sr
            for i, sr in enumerate(theme.sub_routes, 1)
        )

    mentions: dict[str, UnitMention] = {}
    for dept in units.departments:
        if dept.code == COUNTY:
            continue
        for n in (dept.name, *dept.aliases):
            key = normalize_text(n)
            mentions[key] = UnitMention("dept", dept.code, bare=len(key) <= 2)
    for code_, unit in regions.county_by_code.items():
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
    words.update(regions.county_names)
    words.update(regions.other_city_names)
    words.update(regions.home_names)

    version, digest = version_of(sources, by_section)
    return RuleSet(
        version=version,
        digest=digest,
        sources=tuple(s.name for s in sources),
        themes=tuple(themes.themes),
        priority=themes.priority,
        fallback=themes.fallback,
        petition_type_hints=tuple(themes.hints),
        departments=tuple(units.departments),
        escalation=tuple(units.escalation),
        province=province,
        city=city,
        county_units=tuple(regions.counties),
        henan_cities=tuple(regions.henan),
        matching=m,
        theme_by_id=MappingProxyType(themes.by_id),
        department_by_code=MappingProxyType(units.by_code),
        county_by_code=MappingProxyType(regions.county_by_code),
        henan_city_by_code=MappingProxyType(regions.henan_by_code),
        vocab=MappingProxyType(vocab),
        keyword_themes=MappingProxyType({k: tuple(v) for k, v in keyword_themes.items()}),
        sub_routes=MappingProxyType(sub_routes),
        rank=MappingProxyType({t: i for i, t in enumerate(themes.priority)}),
        masks=MappingProxyType(masks),
        unit_mentions=MappingProxyType(mentions),
        county_names=MappingProxyType(regions.county_names),
        county_short_forms=MappingProxyType(regions.county_short),
        other_city_names=MappingProxyType(regions.other_city_names),
        home_names=regions.home_names,
        matcher=Matcher(words),
    )
