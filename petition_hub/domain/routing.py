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
7. Contact details are visible to the units only when ``petition.identity_visible_to_unit`` and
   the decision is not sensitive.

Every decision carries a :class:`DecisionRecord` (rules version, theme(s), keywords hit, the rule
that decided, location and its source, exclusions, accused) with :meth:`DecisionRecord.explain`.
:func:`route` never raises: any internal surprise becomes a ``triage`` decision with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from petition_hub.domain.classify import (
    Classification,
    TextAnalysis,
    analyse_text,
    classify,
    petition_text,
    unit_mentions,
)
from petition_hub.domain.location import Location, locate
from petition_hub.domain.petition import Channel, Petition
from petition_hub.domain.rules import COUNTY, RuleSet, Theme, normalize_text

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

TRIAGE_TOPIC: Final = "hub.triage"
PROVINCE_TRANSFERS_TOPIC: Final = "province.transfers"
PROVINCE_FEEDBACK_TOPIC: Final = "province.feedback"

DecisionKind = Literal["units", "triage", "province_transfer", "province_return"]

_OVERSIGHT_ROLES: Final = frozenset({"supervision", "coordination"})


def dept_topic(code: str) -> str:
    """``dept.<CODE>.petitions``: what a city department leads or co-handles."""
    return f"dept.{code}.petitions"


def county_topic(division: str) -> str:
    """``county.<DIV>.petitions``: what a county-level government leads or co-handles."""
    return f"county.{division}.petitions"


@dataclass(frozen=True, slots=True, order=True)
class UnitRef:
    """A handling unit with a topic: a department (``dept``, its code) or a county-level unit's
    government (``county``, its division code)."""

    kind: Literal["dept", "county"]
    code: str

    @property
    def key(self) -> str:
        """``dept.HUD`` / ``county.410422``."""
        return f"{self.kind}.{self.code}"

    @property
    def topic(self) -> str:
        return dept_topic(self.code) if self.kind == "dept" else county_topic(self.code)

    @classmethod
    def parse(cls, value: str, rules: RuleSet) -> UnitRef:
        """``HUD``, ``dept.HUD``, ``dept.HUD.petitions``, ``410422``, ``county.410422`` or
        ``county.410422.petitions``; ``ValueError`` for anything the rules do not know."""
        v = value.strip()
        parts = v.split(".")
        if len(parts) == 3 and parts[2] == "petitions":
            parts = parts[:2]
        if len(parts) == 2 and parts[0] in ("dept", "county"):
            kind, code = parts[0], parts[1]
        elif len(parts) == 1:
            kind, code = ("county" if code_is_division(v) else "dept"), v
        else:
            raise ValueError(f"not a unit: {value!r}")
        if kind == "county":
            if code not in rules.county_by_code:
                raise ValueError(f"{code!r} is not a county-level unit of {rules.city.name}")
            return cls("county", code)
        dept = rules.department_by_code.get(code)
        if dept is None or code == COUNTY:
            raise ValueError(f"{code!r} is not a department code")
        return cls("dept", code)


def code_is_division(value: str) -> bool:
    return len(value) == 6 and value.isascii() and value.isdigit()


def unit_topic(value: str, rules: RuleSet) -> str:
    """The petitions topic of a unit given as in :meth:`UnitRef.parse`."""
    return UnitRef.parse(value, rules).topic


@dataclass(frozen=True)
class DecisionRecord:
    """Why a petition went where it went: what an operator shows a unit that disputes it."""

    rules_version: str
    rules_digest: str
    petition_id: str
    channel: str
    channel_ref: str
    petition_type: str | None
    type_source: str | None
    theme: str | None
    theme_name: str | None
    themes: tuple[str, ...]
    """Every matching theme, in priority order."""
    keywords: Mapping[str, tuple[str, ...]]
    """Theme id → keywords hit (every theme with a hit)."""
    classified_by: str | None
    """The classification rule that chose ``theme``."""
    rule: str
    """The routing rule or step that decided, e.g. ``level local: county government``."""
    steps: tuple[str, ...]
    """Every routing step taken, in order."""
    location: Location | None
    excluded: tuple[str, ...]
    accused: tuple[str, ...]
    sensitive: bool
    reason: str | None
    decision: str
    """One line: kind and units, e.g. ``units: lead dept.FINOFFICE; co dept.PBOC, …``."""
    unit_names: Mapping[str, str] = field(default_factory=dict)
    """Unit key → Chinese name, for :meth:`explain`."""

    def explain(self) -> str:
        """A human-readable account (English and Chinese names)."""
        lines = [f"Petition {self.petition_id} ({self.channel} {self.channel_ref})"]
        lines.append(f"Decision: {self._named(self.decision)}")
        if self.reason:
            lines.append(f"Reason: {self.reason}")
        digest = "" if self.rules_digest == self.rules_version else f" ({self.rules_digest})"
        lines.append(f"Rules version: {self.rules_version}{digest}")
        if self.petition_type:
            lines.append(f"Type: {self.petition_type} (from {self.type_source})")
        if self.theme:
            kws = ", ".join(self.keywords.get(self.theme, ())) or "none"
            lines.append(f"Theme: {self.theme} {self.theme_name or ''} — keywords hit: {kws}")
            others = [t for t in self.keywords if t != self.theme]
            if others:
                lines.append(
                    "Also hit: "
                    + "; ".join(
                        f"{t} ({', '.join(self.keywords[t])})"
                        + ("" if t in self.themes else ", too weak")
                        for t in others
                    )
                )
            if self.classified_by:
                lines.append(f"Theme chosen by: {self.classified_by}")
        if self.location is not None:
            lines.append(f"Location: {self.location.describe()}")
        lines.append(f"Decided by: {self.rule}")
        for s in self.steps:
            lines.append(f"  - {s}")
        if self.excluded:
            lines.append("Excluded (returned as not theirs): " + self._names(self.excluded))
        if self.sensitive:
            lines.append(
                "Sensitive: identity withheld; never shown to "
                + (self._names(self.accused) if self.accused else "the unit concerned")
            )
        return "\n".join(lines)

    def _names(self, keys: Iterable[str]) -> str:
        return ", ".join(f"{self.unit_names.get(k, k)} ({k})" for k in keys)

    def _named(self, text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            key = m.group(0)
            name = self.unit_names.get(key)
            return f"{name} ({key})" if name else key

        return re.sub(r"\b(?:dept|county)\.[A-Z0-9_]+\b", repl, text)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for a message or a log line; no personal information inside)."""
        loc = self.location
        return {
            "rules_version": self.rules_version,
            "rules_digest": self.rules_digest,
            "petition_id": self.petition_id,
            "channel": self.channel,
            "channel_ref": self.channel_ref,
            "petition_type": self.petition_type,
            "type_source": self.type_source,
            "theme": self.theme,
            "themes": list(self.themes),
            "keywords": {k: list(v) for k, v in self.keywords.items()},
            "classified_by": self.classified_by,
            "rule": self.rule,
            "steps": list(self.steps),
            "location": None
            if loc is None
            else {
                "kind": loc.kind,
                "code": loc.code,
                "name": loc.name,
                "source": loc.source,
                "detail": loc.detail,
                "division": loc.division,
            },
            "excluded": list(self.excluded),
            "accused": list(self.accused),
            "sensitive": self.sensitive,
            "reason": self.reason,
            "decision": self.decision,
        }


@dataclass(frozen=True)
class RoutingDecision:
    """Where a petition goes. ``kind == "units"``: ``lead`` and ``co`` (each sees the petition;
    the lead answers for the result). Otherwise ``topic`` is ``hub.triage``, ``province.transfers``
    or ``province.feedback`` and ``reason`` says why."""

    kind: DecisionKind
    topic: str
    """The lead's topic, or the triage/provincial topic."""
    lead: UnitRef | None
    co: tuple[UnitRef, ...]
    reason: str | None
    sensitive: bool
    identity_withheld: bool
    """The units must not learn who petitions (sensitive, confidential or not authorised)."""
    contact_visible: bool
    """The units may see the petitioner's contact details (the inverse of identity_withheld)."""
    record: DecisionRecord
    classification: Classification | None = field(default=None, repr=False, compare=False)
    location: Location | None = None

    @property
    def units(self) -> tuple[UnitRef, ...]:
        return (self.lead, *self.co) if self.lead is not None else ()

    @property
    def topics(self) -> tuple[str, ...]:
        """Every topic the petition goes to (the lead's first)."""
        return tuple(u.topic for u in self.units) if self.kind == "units" else (self.topic,)

    def explain(self) -> str:
        return self.record.explain()


# --------------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    petition: Petition
    rules: RuleSet
    city: str
    excluded: frozenset[UnitRef]
    excluded_raw: tuple[str, ...]
    steps: list[str] = field(default_factory=list)
    analysis: TextAnalysis | None = None
    cls: Classification | None = None
    loc: Location | None = None
    accused: tuple[UnitRef, ...] = ()


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


def _plan(ctx: _Ctx, theme: Theme, a: TextAnalysis, loc: Location) -> _Plan:
    rules, steps = ctx.rules, ctx.steps
    lead_code = theme.lead
    co_codes = list(theme.co)
    sensitive = theme.sensitive
    rule = ""
    lead_from_sub = False
    for i, sub in enumerate(rules.sub_routes[theme.id], 1):
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
        steps.append("; ".join(what))
    county = loc.code if loc.kind == "county" and loc.code else None
    issuer: UnitRef | None = None
    if theme.issuer_first:
        issuer = _issuer(ctx, a, county)
        if issuer is not None:
            rule = f"{theme.id} issuer_first: the issuing unit {issuer.key} is named"

    def city_lead_of(code: str) -> UnitRef | None:
        if code == COUNTY:
            return UnitRef("dept", theme.fallback_lead) if theme.fallback_lead else None
        return UnitRef("dept", code)

    city_lead = city_lead_of(lead_code)
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
        dept = rules.department_by_code.get(lead_code)
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
    return _Plan(theme, lead, co, sensitive, rule, level_rule, city_lead)


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


def _visible(petition: Petition, sensitive: bool) -> bool:
    return petition.identity_visible_to_unit and not sensitive


def _special(ctx: _Ctx, kind: DecisionKind, reason: str, rule: str) -> RoutingDecision:
    topic = {
        "triage": TRIAGE_TOPIC,
        "province_transfer": PROVINCE_TRANSFERS_TOPIC,
        "province_return": PROVINCE_FEEDBACK_TOPIC,
    }[kind]
    theme = ctx.rules.theme_by_id.get(ctx.cls.theme) if ctx.cls is not None else None
    sensitive = bool(theme is not None and theme.sensitive)
    return _decision(ctx, kind, topic, None, (), reason, sensitive, rule, theme)


def _decision(
    ctx: _Ctx,
    kind: DecisionKind,
    topic: str,
    lead: UnitRef | None,
    co: tuple[UnitRef, ...],
    reason: str | None,
    sensitive: bool,
    rule: str,
    theme: Theme | None,
) -> RoutingDecision:
    rules, p, cls = ctx.rules, ctx.petition, ctx.cls
    if kind == "units" and lead is not None:
        summary = f"units: lead {lead.key}" + ("; co " + ", ".join(c.key for c in co) if co else "")
    else:
        summary = f"{kind}: {topic}"
    keys = {u.key for u in (*((lead,) if lead else ()), *co, *ctx.excluded, *ctx.accused)}
    names = {k: rules.unit_name(*k.split(".", 1)) for k in keys}
    record = DecisionRecord(
        rules_version=rules.version,
        rules_digest=rules.digest,
        petition_id=p.petition_id,
        channel=p.channel.value,
        channel_ref=p.channel_ref,
        petition_type=cls.petition_type.value if cls else None,
        type_source=cls.type_source if cls else None,
        theme=theme.id if theme else None,
        theme_name=theme.name.zh if theme else None,
        themes=cls.matched if cls else (),
        keywords=cls.hits if cls else {},
        classified_by=cls.decided_by if cls else None,
        rule=rule,
        steps=tuple(ctx.steps),
        location=ctx.loc,
        excluded=ctx.excluded_raw,
        accused=tuple(u.key for u in ctx.accused),
        sensitive=sensitive,
        reason=reason,
        decision=summary,
        unit_names=names,
    )
    visible = _visible(p, sensitive)
    return RoutingDecision(
        kind=kind,
        topic=topic,
        lead=lead,
        co=co,
        reason=reason,
        sensitive=sensitive,
        identity_withheld=not visible,
        contact_visible=visible,
        record=record,
        classification=cls,
        location=ctx.loc,
    )


def _error_decision(
    petition: Petition, rules: RuleSet, exclude: frozenset[str], exc: BaseException
) -> RoutingDecision:
    reason = f"internal error while routing: {type(exc).__name__}: {str(exc)[:200]}"
    try:
        version, digest = rules.version, rules.digest
    except Exception:
        version = digest = "unknown"
    record = DecisionRecord(
        rules_version=version,
        rules_digest=digest,
        petition_id=petition.petition_id,
        channel=str(getattr(petition.channel, "value", petition.channel)),
        channel_ref=petition.channel_ref,
        petition_type=None,
        type_source=None,
        theme=None,
        theme_name=None,
        themes=(),
        keywords={},
        classified_by=None,
        rule="internal error → triage (never dropped)",
        steps=(),
        location=None,
        excluded=tuple(sorted(exclude)),
        accused=(),
        sensitive=True,
        reason=reason,
        decision=f"triage: {TRIAGE_TOPIC}",
    )
    # Sensitive and identity withheld: with the analysis gone, assume the worst.
    return RoutingDecision(
        kind="triage",
        topic=TRIAGE_TOPIC,
        lead=None,
        co=(),
        reason=reason,
        sensitive=True,
        identity_withheld=True,
        contact_visible=False,
        record=record,
    )


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


def unit_names(rules: RuleSet, refs: Iterable[UnitRef]) -> dict[str, str]:
    """Unit key → Chinese name."""
    return {r.key: rules.unit_name(r.kind, r.code) for r in refs}


# --------------------------------------------------------------------------------------------------
# Dry run of a new rules version


@dataclass(frozen=True)
class RouteChange:
    """A petition that a candidate rules version routes differently."""

    before: RoutingDecision
    after: RoutingDecision

    @property
    def petition_id(self) -> str:
        return self.after.record.petition_id

    @property
    def lost(self) -> tuple[str, ...]:
        """Topics that would no longer receive it."""
        return tuple(t for t in self.before.topics if t not in self.after.topics)

    @property
    def gained(self) -> tuple[str, ...]:
        """Topics that would receive it newly."""
        return tuple(t for t in self.after.topics if t not in self.before.topics)

    @property
    def lead_changed(self) -> bool:
        return self.before.topic != self.after.topic


@dataclass(frozen=True)
class DryRun:
    """What a candidate rules version would route differently over a set of petitions."""

    current_version: str
    candidate_version: str
    total: int
    changes: tuple[RouteChange, ...]

    def by_unit(self) -> dict[str, tuple[int, int, int]]:
        """Topic → (petitions gained, lost, lead changes touching it), sorted by topic."""
        counts: dict[str, list[int]] = {}
        for c in self.changes:
            for t in c.gained:
                counts.setdefault(t, [0, 0, 0])[0] += 1
            for t in c.lost:
                counts.setdefault(t, [0, 0, 0])[1] += 1
            if c.lead_changed:
                for t in {c.before.topic, c.after.topic}:
                    counts.setdefault(t, [0, 0, 0])[2] += 1
        return {t: (g, lo, ld) for t, (g, lo, ld) in sorted(counts.items())}

    def render(self) -> str:
        """A per-unit text report, then each changed petition (ids only: no personal data)."""
        lines = [
            f"rules {self.current_version} → {self.candidate_version}: "
            f"{len(self.changes)} of {self.total} petitions route differently"
        ]
        for topic, (gained, lost, leads) in self.by_unit().items():
            lines.append(f"  {topic:32} +{gained:<4} -{lost:<4} lead changes {leads}")
        for c in self.changes:
            lines.append(
                f"  {c.petition_id}: {c.before.record.decision} → {c.after.record.decision}"
                f" (theme {c.before.record.theme} → {c.after.record.theme})"
            )
        return "\n".join(lines)


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
