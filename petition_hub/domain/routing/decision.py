"""Building a :class:`~petition_hub.domain.routing.model.RoutingDecision`: the routing context
shared by the steps of :func:`~petition_hub.domain.routing.route`, special decisions (triage,
provincial), the units decision with its record, and the decision of an internal error. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from petition_hub.domain.classify import Classification, TextAnalysis
from petition_hub.domain.location import Location
from petition_hub.domain.petition import Petition
from petition_hub.domain.routing.model import (
    PROVINCE_FEEDBACK_TOPIC,
    PROVINCE_TRANSFERS_TOPIC,
    TRIAGE_TOPIC,
    DecisionKind,
    DecisionRecord,
    RoutingDecision,
    UnitRef,
)
from petition_hub.domain.rules import RuleSet, Theme


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
