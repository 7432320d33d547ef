"""Routing (属地为主、条块结合): a petition and the rules in, a :class:`RoutingDecision` out. Pure.

:func:`route` decides, in this order:

1. A provincial dispatch addressed to another city (``target_city``) → ``province_return``.
2. The location (:mod:`~petition_hub.domain.location`): another Henan city or outside Henan →
   ``province_transfer`` (a provincial dispatch whose matter lies elsewhere → ``province_return``).
3. The theme (:mod:`~petition_hub.domain.classify`); the fallback theme (``handling:
   manual_triage``) → ``triage``.
4. The units of the theme: sub-routes in order (the first firing one with ``lead`` replaces the
   lead, each firing one adds its ``add_co`` and may set ``sensitive``); T01's ``issuer_first``
   (exactly one unit named in the text, or a county named next to 出台/发布/印发…, is the issuer);
   ``level: city`` → the city unit whatever the county; ``level: local`` → the county-level
   government (``county.<DIV>``) when the matter lies in a county unit, else the city lead
   (``fallback_lead`` for ``COUNTY``); a vertical lead (departments.yaml) stays the city unit.
   Co-handlers: at county level a non-vertical co unit is the county's own counterpart department,
   reached through the county topic (so no topic of its own); vertical ones (ECO, TAX, POWER …)
   keep their city topic; ``COUNTY`` in ``co`` → also the county (when located in one).
5. ``sensitive``: the accused unit never receives the petition, and the petitioner's identity is
   withheld. The accused are the units the text names (departments.yaml names and aliases, the
   unit words of matching.yaml such as 派出所 or 镇政府, county-level governments by name; a county
   name or 县/区 right before a department alias names the county's own bureau, i.e. the county
   government, or the city unit for a vertical department), except supervision and coordination
   bodies (纪委监委, 政法委, the joint office …), which is where such complaints go. In doubt the
   hub excludes: a unit named in a complaint about misconduct does not see it. An accused lead
   hands the lead to the first co-handler that is not accused (T20: 公安 → 政法委); none → triage.
6. ``exclude`` (units that returned the petition as not their own): an excluded county hands a
   ``local`` theme to the city lead; otherwise the next matching theme in priority order is tried;
   none left → triage. Excluded co-handlers are dropped.
7. Contact details are visible to the units only when ``petition.identity_visible_to_unit`` (on
   12345: ``SFBM`` "0") and the decision is not sensitive. The enterprise's name and credit code
   travel unless the decision is sensitive (``RoutingDecision.enterprise_visible``).

Every decision carries a :class:`DecisionRecord` (rules version, theme(s), keywords hit, the rule
that decided, location and its source, exclusions, accused) with :meth:`DecisionRecord.explain`.
:func:`route` never raises: any internal surprise becomes a ``triage`` decision with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from petition_hub.domain.classify import analyse_text, classify, petition_text
from petition_hub.domain.location import locate
from petition_hub.domain.petition import Channel, Petition
from petition_hub.domain.routing.decision import _Ctx, _decision, _error_decision, _special
from petition_hub.domain.routing.dryrun import DryRun, RouteChange
from petition_hub.domain.routing.model import (
    PROVINCE_FEEDBACK_TOPIC,
    PROVINCE_TRANSFERS_TOPIC,
    TRIAGE_TOPIC,
    DecisionKind,
    DecisionRecord,
    RoutingDecision,
    UnitRef,
    code_is_division,
    county_topic,
    dept_topic,
    unit_names,  # noqa: F401  (public before the split, though nothing in the hub calls it)
    unit_topic,
)
from petition_hub.domain.routing.units import _finish, _plan
from petition_hub.domain.rules import COUNTY, RuleSet

# The package's modules: model (units, topics, the decision and its record), decision (building a
# decision), units (a theme's units), dryrun (a candidate rules version). The pipeline itself stays
# here: it finds the analysis and `locate` in this module (a test replaces `routing.locate`).

__all__ = [
    "PROVINCE_FEEDBACK_TOPIC",
    "PROVINCE_TRANSFERS_TOPIC",
    "TRIAGE_TOPIC",
    "DecisionKind",
    "DecisionRecord",
    "DryRun",
    "RouteChange",
    "RoutingDecision",
    "UnitRef",
    "apply_triage_decision",
    "county_topic",
    "dept_topic",
    "dry_run",
    "route",
    "unit_topic",
]


def route(
    petition: Petition,
    rules: RuleSet,
    city: str = "410400",
    exclude: frozenset[str] = frozenset(),
) -> RoutingDecision:
    """The routing decision for ``petition``. Never raises; never returns nothing.

    ``exclude``: units that returned the petition as not their own (``HUD``, ``410422``,
    ``dept.HUD``, ``county.410422`` or their topics)."""
    try:
        return _route(petition, rules, city, exclude)
    except Exception as exc:  # never dropped: a surprise goes to the people
        return _error_decision(petition, rules, exclude, exc)


def _parse_excluded(values: Iterable[str], rules: RuleSet, steps: list[str]) -> frozenset[UnitRef]:
    out: set[UnitRef] = set()
    for v in values:
        try:
            out.add(UnitRef.parse(v, rules))
        except ValueError as exc:
            steps.append(f"exclude {v!r} ignored: {exc}")
    return frozenset(out)


def _route(
    petition: Petition, rules: RuleSet, city: str, exclude: frozenset[str]
) -> RoutingDecision:
    steps: list[str] = []
    ctx = _Ctx(petition, rules, city, _parse_excluded(sorted(exclude), rules, steps), ())
    ctx.excluded_raw = tuple(sorted(u.key for u in ctx.excluded))
    ctx.steps = steps
    a = ctx.analysis = analyse_text(petition_text(petition), rules)
    cls = ctx.cls = classify(petition, rules, analysis=a)

    # 1. A provincial dispatch for another city.
    if petition.channel is Channel.PROVINCE and petition.target_city:
        target = petition.target_city.strip()
        if code_is_division(target) and target != city:
            name = _city_name(rules, target)
            return _special(
                ctx,
                "province_return",
                f"dispatch addressed to {name} ({target}), not to this city ({city})",
                "province dispatch: target_city is not this city",
            )
        if not code_is_division(target):
            steps.append(f"target_city {target[:20]!r} is not a division code: ignored")

    # 2. Location.
    loc = ctx.loc = locate(petition, rules, city=city, analysis=a)
    if loc.kind == "unknown":
        return _special(ctx, "triage", f"location unknown: {loc.detail}", "location unknown")
    if loc.kind in ("other_henan_city", "outside_henan"):
        where = loc.name or loc.code or "?"
        if loc.kind == "other_henan_city":
            what = f"matter located in {where} ({loc.division or loc.code}), another Henan city"
            rule = (
                "another Henan city → the provincial platform transfers it (省级平台转交当地办理)"
            )
        else:
            what = f"matter located outside Henan ({where}, {loc.division or loc.code})"
            rule = "outside Henan → the provincial platform (按照规定程序转相关负责部门)"
        if petition.channel is Channel.PROVINCE:
            return _special(
                ctx,
                "province_return",
                f"{what}: not this city's matter",
                "province dispatch located outside this city → returned (RETURNED)",
            )
        return _special(ctx, "province_transfer", what, rule)

    # 3-6. Theme and units.
    candidates = [cls.theme, *(t for t in cls.matched if t != cls.theme)]
    triage_reason = ""
    for tid in candidates:
        theme = rules.theme(tid)
        if theme.manual_triage:
            triage_reason = (
                f"{cls.decided_by}; {tid} is manual triage"
                if tid == cls.theme
                else f"{tid} is manual triage"
            )
            break
        plan = _plan(ctx, theme, a, loc)
        decision = _finish(ctx, plan)
        if decision is not None:
            return decision
        if plan.sensitive:
            triage_reason = f"{tid} is sensitive and every candidate lead is accused or excluded"
            break
        triage_reason = f"no candidate unit left for {', '.join(candidates)}"
    else:
        if not triage_reason:
            triage_reason = "no candidate theme"
    return _special(ctx, "triage", triage_reason, "joint-meeting office triage (联席会议办公室)")


def _city_name(rules: RuleSet, code: str) -> str:
    hc = rules.henan_city_by_code.get(code)
    if hc is not None:
        return hc.name
    prov = rules.matching.provinces.get(code[:2])
    return f"a city of {prov}" if prov else "another city"


def apply_triage_decision(
    petition: Petition,
    lead_code: str,
    co_codes: Iterable[str],
    rules: RuleSet,
    *,
    city: str = "410400",
    decided_by: str = "joint-meeting office (联席会议办公室)",
    note: str | None = None,
) -> RoutingDecision:
    """The decision of the joint-meeting office for a petition it triaged.

    ``lead_code`` and ``co_codes``: department codes, county division codes (or ``COUNTY``: the
    county of the petition's location), in any form :meth:`UnitRef.parse` takes. Raises
    ``ValueError`` for a unit the rules do not know (the office's event is then rejected, not
    applied). The sensitivity of the petition's theme still applies (identity withheld).
    """
    steps: list[str] = []
    ctx = _Ctx(petition, rules, city, frozenset(), (), steps)
    a = ctx.analysis = analyse_text(petition_text(petition), rules)
    ctx.cls = classify(petition, rules, analysis=a)
    ctx.loc = locate(petition, rules, city=city, analysis=a)
    county = ctx.loc.code if ctx.loc.kind == "county" else None

    def resolve(code: str) -> UnitRef:
        if code.strip() == COUNTY:
            if county is None:
                raise ValueError(f"{COUNTY}: the petition is not located in a county-level unit")
            return UnitRef("county", county)
        return UnitRef.parse(code, rules)

    lead = resolve(lead_code)
    co: list[UnitRef] = []
    for c in co_codes:
        ref = resolve(c)
        if ref != lead and ref not in co:
            co.append(ref)
    theme = rules.theme_by_id.get(ctx.cls.theme)
    sensitive = bool(theme is not None and theme.sensitive)
    steps.append(f"decided by {decided_by}" + (f": {note}" if note else ""))
    return _decision(
        ctx,
        "units",
        lead.topic,
        lead,
        tuple(co),
        None,
        sensitive,
        f"triage decision: {decided_by}",
        theme,
    )


# --------------------------------------------------------------------------------------------------
# Dry run of a new rules version (its result: .dryrun)


def dry_run(
    petitions: Iterable[Petition],
    current: RuleSet,
    candidate: RuleSet,
    *,
    city: str = "410400",
) -> DryRun:
    """Route every petition with both rule sets and keep those that differ (units or kind)."""
    changes: list[RouteChange] = []
    total = 0
    for p in petitions:
        total += 1
        before = route(p, current, city)
        after = route(p, candidate, city)
        if (before.kind, before.topics) != (after.kind, after.topics):
            changes.append(RouteChange(before, after))
    return DryRun(current.version, candidate.version, total, tuple(changes))
