"""Building a :class:`RuleSet` from the four sections: validate each, check them against each
other, then compile the lookups and the matcher.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from petition_hub.domain.rules.matcher import Matcher, normalize_text
from petition_hub.domain.rules.model import (
    COUNTY,
    CityEntry,
    CountyUnit,
    Department,
    EscalationStep,
    HenanCity,
    MatchingRules,
    RuleSet,
    SubRoute,
    Theme,
    ThemeVocab,
    TypeHint,
    UnitMention,
)
from petition_hub.domain.rules.source import (
    SECTIONS,
    RulesError,
    Source,
    dupes,
    entry_list,
    label,
    validate,
    version_of,
)

__all__ = ["build"]


def build(by_section: Mapping[str, Source], sources: Sequence[Source]) -> RuleSet:
    """The rule set of the four sections; raises :class:`RulesError` listing every problem."""
    errors: list[str] = []
    t_src, d_src, r_src, m_src = (by_section[s] for s in SECTIONS)

    # --- departments ---------------------------------------------------------------------------
    departments: list[Department] = []
    for i, entry in enumerate(entry_list(d_src, "departments", errors)):
        where = f"{d_src.name}: {label(entry, i, 'department', 'code')}"
        dept = validate(Department, entry, where, errors)
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
        for n in dupes([dept.name, *dept.aliases]):
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
    for i, entry in enumerate(entry_list(d_src, "escalation", errors, required=False)):
        where = f"{d_src.name}: escalation step {entry.get('step', i + 1)}"
        step = validate(EscalationStep, entry, where, errors)
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
    province = validate(CityEntry, r_src.doc.get("province"), f"{r_src.name}: province", errors)
    city = validate(CityEntry, r_src.doc.get("city"), f"{r_src.name}: city", errors)
    counties: list[CountyUnit] = []
    for i, entry in enumerate(entry_list(r_src, "county_units", errors)):
        where = f"{r_src.name}: county unit {entry.get('code') or entry.get('name') or i + 1}"
        unit = validate(CountyUnit, entry, where, errors)
        if unit is not None:
            counties.append(unit)
    henan: list[HenanCity] = []
    for i, entry in enumerate(entry_list(r_src, "henan_cities", errors)):
        where = f"{r_src.name}: Henan city {entry.get('code') or entry.get('name') or i + 1}"
        hc = validate(HenanCity, entry, where, errors)
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
    matching = validate(MatchingRules, m_doc or {}, f"{m_src.name}: matching", errors)
    if matching is None:
        matching = MatchingRules()

    # --- themes ----------------------------------------------------------------------------------
    themes: list[Theme] = []
    for i, entry in enumerate(entry_list(t_src, "themes", errors)):
        where = f"{t_src.name}: {label(entry, i, 'theme', 'id')}"
        theme = validate(Theme, entry, where, errors)
        if theme is not None:
            themes.append(theme)
    theme_by_id: dict[str, Theme] = {}
    for theme in themes:
        where = f"{t_src.name}: theme {theme.id}"
        if theme.id in theme_by_id:
            errors.append(f"{where}: id defined twice")
        theme_by_id[theme.id] = theme
        for kw in dupes(normalize_text(k) for k in theme.keywords):
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
        for c in dupes(theme.co):
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
        for p in dupes(priority):
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
    for i, entry in enumerate(entry_list(t_src, "petition_type_hints", errors, required=False)):
        where = f"{t_src.name}: petition_type_hints[{i}] ({entry.get('type', '?')})"
        hint = validate(TypeHint, entry, where, errors)
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

    version, digest = version_of(sources, by_section)
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
