"""Building a :class:`RuleSet` from the four sections: validate each, check them against each
other, then compile the lookups and the matcher.

Every problem of every section is collected before anything is raised, in a fixed order
(departments, regions, matching, themes, then the matching section's references), so that one
:class:`RulesError` lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from petition_hub.domain.rules.compiled import (
    matcher_words,
    sub_routes,
    unit_mentions,
    vocabulary,
)
from petition_hub.domain.rules.departments import departments_section
from petition_hub.domain.rules.matcher import Matcher, normalize_text
from petition_hub.domain.rules.matching import check_matching, matching_section
from petition_hub.domain.rules.model import RuleSet
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

    vocab = vocabulary(themes.themes, m)
    masks = {normalize_text(mk.phrase): mk.theme for mk in m.masks}
    routes = sub_routes(themes.themes, m)
    mentions = unit_mentions(units.departments, regions.county_by_code, m)
    words = matcher_words(
        vocab,
        masks,
        mentions,
        routes,
        m,
        (regions.county_names, regions.other_city_names, regions.home_names),
    )
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
        vocab=MappingProxyType(vocab.vocab),
        keyword_themes=MappingProxyType(vocab.keyword_themes),
        sub_routes=MappingProxyType(routes),
        rank=MappingProxyType({t: i for i, t in enumerate(themes.priority)}),
        masks=MappingProxyType(masks),
        unit_mentions=MappingProxyType(mentions),
        county_names=MappingProxyType(regions.county_names),
        county_short_forms=MappingProxyType(regions.county_short),
        other_city_names=MappingProxyType(regions.other_city_names),
        home_names=regions.home_names,
        matcher=Matcher(words),
    )
