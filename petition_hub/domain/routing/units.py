"""From a theme to units (steps 4 to 6 of :func:`~petition_hub.domain.routing.route`): sub-routes,
the issuer, the level, co-handlers, the accused of a sensitive petition, and exclusions. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from petition_hub.domain.classify import TextAnalysis, unit_mentions
from petition_hub.domain.location import Location
from petition_hub.domain.routing.decision import _Ctx, _decision
from petition_hub.domain.routing.model import RoutingDecision, UnitRef
from petition_hub.domain.rules import COUNTY, Theme, normalize_text

_OVERSIGHT_ROLES: Final = frozenset({"supervision", "coordination"})


@dataclass
class _Plan:
    theme: Theme
    lead: UnitRef | None
    co: list[UnitRef]
    sensitive: bool
    rule: str
    """The sub-route or issuer rule that chose the lead ("" when the theme's own lead)."""
    level_rule: str
    city_lead: UnitRef | None
    """The theme's city-level lead (for a county that returned a local matter)."""


def _plan(ctx: _Ctx, theme: Theme, a: TextAnalysis, loc: Location) -> _Plan:
    """The units of ``theme`` for this petition, before the accused and the excluded are
    removed (module docs of :mod:`petition_hub.domain.routing`, 4)."""
    lead_code, co_codes, sensitive, rule = _sub_routes(ctx, theme, a)
    county = loc.code if loc.kind == "county" and loc.code else None
    issuer: UnitRef | None = None
    if theme.issuer_first:
        issuer = _issuer(ctx, a, county)
        if issuer is not None:
            rule = f"{theme.id} issuer_first: the issuing unit {issuer.key} is named"
    city_lead = _city_lead_of(theme, lead_code)
    lead, level_rule = _level_lead(ctx, theme, lead_code, city_lead, issuer, county, loc)
    co = _co_handlers(ctx, theme, co_codes, lead, county)
    return _Plan(theme, lead, co, sensitive, rule, level_rule, city_lead)


def _sub_routes(ctx: _Ctx, theme: Theme, a: TextAnalysis) -> tuple[str, list[str], bool, str]:
    """The theme's lead code, co-handler codes and sensitivity after its sub-routes, and the
    rule of the sub-route that chose the lead ("" when none did)."""
    lead_code = theme.lead
    co_codes = list(theme.co)
    sensitive = theme.sensitive
    rule = ""
    lead_from_sub = False
    for i, sub in enumerate(ctx.rules.sub_routes[theme.id], 1):
        fired = a.present(sub.when_any)
        if not fired:
            continue
        what = [f"{theme.id} sub_route {i} fired on {fired[0]}"]
        if sub.lead is not None and not lead_from_sub:
            lead_code, lead_from_sub = sub.lead, True
            rule = f"{theme.id} sub_route {i} ({fired[0]}): lead {sub.lead}"
            what.append(f"lead {sub.lead}")
        added = [c for c in sub.add_co if c not in co_codes]
        co_codes += added
        if added:
            what.append("co + " + ", ".join(added))
        if sub.sensitive is not None:
            sensitive = sub.sensitive
            what.append(f"sensitive={sub.sensitive}")
        ctx.steps.append("; ".join(what))
    return lead_code, co_codes, sensitive, rule


def _city_lead_of(theme: Theme, code: str) -> UnitRef | None:
    """The city unit of a lead code (``COUNTY``: the theme's ``fallback_lead``, if any)."""
    if code == COUNTY:
        return UnitRef("dept", theme.fallback_lead) if theme.fallback_lead else None
    return UnitRef("dept", code)


def _level_lead(
    ctx: _Ctx,
    theme: Theme,
    lead_code: str,
    city_lead: UnitRef | None,
    issuer: UnitRef | None,
    county: str | None,
    loc: Location,
) -> tuple[UnitRef | None, str]:
    """The lead by the theme's level (or the issuer), and the rule that says why."""
    lead: UnitRef | None
    if issuer is not None:
        lead, level_rule = issuer, "issuer_first: the issuing unit interprets (谁发布、谁解读)"
    elif theme.level == "city":
        if lead_code == COUNTY:
            lead = UnitRef("county", county) if county else city_lead
        else:
            lead = city_lead
        level_rule = "level city: the city unit whatever the county"
    elif county is not None:
        dept = ctx.rules.department_by_code.get(lead_code)
        if lead_code != COUNTY and dept is not None and dept.vertical:
            lead = city_lead
            level_rule = f"level local, but {lead_code} is vertical: the city unit"
        else:
            lead = UnitRef("county", county)
            level_rule = f"level local: the government of {loc.name} (属地为主)"
    else:
        lead = city_lead
        level_rule = (
            f"level local, no county: fallback_lead {theme.fallback_lead}"
            if lead_code == COUNTY
            else "level local, no county: the city lead"
        )
    return lead, level_rule


def _co_handlers(
    ctx: _Ctx, theme: Theme, co_codes: list[str], lead: UnitRef | None, county: str | None
) -> list[UnitRef]:
    """The co-handling units of ``co_codes``: at county level a non-vertical one is the county's
    own counterpart department, reached through the county topic (so no unit of its own)."""
    rules, steps = ctx.rules, ctx.steps
    co: list[UnitRef] = []
    counterparts: list[str] = []
    for c in co_codes:
        ref: UnitRef | None
        if c == COUNTY:
            ref = UnitRef("county", county) if county else None
            if ref is None:
                steps.append("co COUNTY dropped: no county-level location")
        elif lead is not None and lead.kind == "county" and theme.level == "local":
            dept = rules.department_by_code[c]
            if dept.vertical:
                ref = UnitRef("dept", c)
            else:
                ref = None
                counterparts.append(c)
        else:
            ref = UnitRef("dept", c)
        if ref is not None and ref != lead and ref not in co:
            co.append(ref)
    if counterparts:
        steps.append(
            "co " + ", ".join(counterparts) + ": the county's own counterpart departments, "
            "through the county topic"
        )
    return co


def _issuer(ctx: _Ctx, a: TextAnalysis, county: str | None) -> UnitRef | None:
    """T01 issuer_first: the unit that issued the policy, when the text makes it plain."""
    rules = ctx.rules
    verbs = [
        h for h in a.occurrences(frozenset(normalize_text(v) for v in rules.matching.issuer_verbs))
    ]
    mentions = unit_mentions(a, rules)
    for h, m in mentions:
        if m.kind in ("county", "local") and any(0 <= v.start - h.end <= 6 for v in verbs):
            code = m.code if m.kind == "county" else county
            if code:
                ctx.steps.append(f"issuer_first: {h.word} issued the policy")
                return UnitRef("county", code)
    depts = {
        m.code
        for _, m in mentions
        if m.kind == "dept" and rules.department_by_code[m.code].kind != "coordination_body"
    }
    if len(depts) == 1:
        code = depts.pop()
        ctx.steps.append(f"issuer_first: the text names {code} only")
        return UnitRef("dept", code)
    return None


def _accused(ctx: _Ctx, a: TextAnalysis, county: str | None) -> tuple[UnitRef, ...]:
    """Units the text names, as potential accused of a sensitive petition (module docs, 5)."""
    rules = ctx.rules
    mentions = unit_mentions(a, rules)
    text = a.text
    county_end = {h.end: m.code for h, m in mentions if m.kind == "county"}
    dept_starts = {h.start for h, m in mentions if m.kind == "dept"}
    out: list[UnitRef] = []

    def add(ref: UnitRef) -> None:
        if ref not in out:
            out.append(ref)

    for h, m in mentions:
        if m.kind == "county":
            if h.end in dept_starts:
                continue  # 鲁山县 + 税务局: the county's bureau, handled with the department
            add(UnitRef("county", m.code))
        elif m.kind == "local":
            if county:
                add(UnitRef("county", county))
        else:
            dept = rules.department_by_code[m.code]
            if dept.role in _OVERSIGHT_ROLES:
                continue
            own_county = county_end.get(h.start)
            local_prefix = own_county is not None or (
                h.start > 0 and text[h.start - 1] in "县区" and not h.word.startswith("市")
            )
            if local_prefix and not dept.vertical:
                target = own_county or county
                if target:
                    add(UnitRef("county", target))
                continue
            add(UnitRef("dept", m.code))
    return tuple(out)


def _finish(ctx: _Ctx, plan: _Plan) -> RoutingDecision | None:
    """The units decision of ``plan``, or ``None`` when its lead cannot be used."""
    steps, loc = ctx.steps, ctx.loc
    assert loc is not None and ctx.analysis is not None
    county = loc.code if loc.kind == "county" else None
    accused: tuple[UnitRef, ...] = ()
    if plan.sensitive:
        accused = _accused(ctx, ctx.analysis, county)
        ctx.accused = accused
        if accused:
            steps.append("sensitive: never to " + ", ".join(u.key for u in accused))
    blocked = set(accused) | ctx.excluded
    lead = plan.lead
    rule = f"{plan.rule}; {plan.level_rule}" if plan.rule else plan.level_rule
    if lead is None or lead in blocked:
        why = "accused" if lead in accused else "excluded"
        alt: UnitRef | None = None
        if (
            lead is not None
            and lead.kind == "county"
            and plan.city_lead is not None
            and plan.city_lead not in blocked
        ):
            alt = plan.city_lead
            rule = f"{lead.key} {why}: the theme's city lead {alt.key}"
        if alt is None and plan.sensitive and lead in accused:
            alt = next((c for c in plan.co if c not in blocked), None)
            if alt is not None:
                rule = f"lead {lead.key if lead else '?'} accused: co-handler {alt.key} leads"
        if alt is None:
            steps.append(
                f"{plan.theme.id}: lead {lead.key if lead else 'none'} {why}, no other unit"
            )
            return None
        steps.append(rule)
        lead = alt
    co = tuple(c for c in plan.co if c not in blocked and c != lead)
    dropped = [c.key for c in plan.co if c in blocked]
    if dropped:
        steps.append("co dropped (excluded or accused): " + ", ".join(dropped))
    return _decision(ctx, "units", lead.topic, lead, co, None, plan.sensitive, rule, plan.theme)
