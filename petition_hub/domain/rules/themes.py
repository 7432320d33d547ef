"""The ``themes`` section (``themes.yaml``): the themes with their keywords and handling units, the
``priority`` order, the ``fallback`` theme and the ``petition_type_hints``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from petition_hub.domain.rules.departments import check_unit
from petition_hub.domain.rules.matcher import normalize_text
from petition_hub.domain.rules.model import COUNTY, Department, Theme, TypeHint
from petition_hub.domain.rules.source import Source, add_unique, dupes, label, validated_entries

__all__ = ["Themes", "themes_section"]


@dataclass(frozen=True, slots=True)
class Themes:
    """The validated ``themes`` section (``fallback`` is ``""`` when it is not a theme id)."""

    themes: list[Theme]
    by_id: dict[str, Theme]
    priority: tuple[str, ...]
    fallback: str
    hints: list[TypeHint]


def themes_section(
    src: Source, dept_by_code: Mapping[str, Department], errors: list[str]
) -> Themes:
    """The themes of ``src``, their units checked against ``dept_by_code``; problems go to
    ``errors``."""
    themes = validated_entries(src, "themes", Theme, label("theme", "id"), errors)
    by_id: dict[str, Theme] = {}
    for theme in themes:
        where = f"{src.name}: theme {theme.id}"
        add_unique(by_id, theme.id, theme, where, "id", errors)
        _check_keywords(theme, where, errors)
        _check_units(theme, where, dept_by_code, errors)
        _check_triage(theme, where, errors)
    priority = _priority(src, by_id, errors)
    fallback = _fallback(src, by_id, priority, errors)
    hints = validated_entries(
        src,
        "petition_type_hints",
        TypeHint,
        lambda e, i: f"petition_type_hints[{i}] ({e.get('type', '?')})",
        errors,
        required=False,
    )
    return Themes(themes, by_id, priority, fallback, hints)


def _check_keywords(theme: Theme, where: str, errors: list[str]) -> None:
    for kw in dupes(normalize_text(k) for k in theme.keywords):
        errors.append(f"{where}: keyword {kw!r} is listed twice")
    kws = set(theme.keywords)
    for k in theme.ambiguous_keywords:
        if k not in kws:
            errors.append(f"{where}: ambiguous keyword {k!r} is not one of its keywords")
    for k in theme.keywords_added:
        if k not in kws:
            errors.append(f"{where}: added keyword {k!r} is not one of its keywords")


def _check_units(
    theme: Theme, where: str, by_code: Mapping[str, Department], errors: list[str]
) -> None:
    def unit(code: str, at: str, what: str, *, county_ok: bool) -> None:
        check_unit(code, at, what, county_ok=county_ok, by_code=by_code, errors=errors)

    unit(theme.lead, where, "lead", county_ok=True)
    if theme.lead == COUNTY:
        if theme.fallback_lead is None:
            errors.append(f"{where}: lead is {COUNTY} but there is no fallback_lead")
        if theme.level != "local":
            errors.append(f"{where}: lead is {COUNTY} but level is {theme.level}")
    if theme.fallback_lead is not None:
        unit(theme.fallback_lead, where, "fallback_lead", county_ok=False)
    for c in theme.co:
        unit(c, where, "co", county_ok=True)
        if c == theme.lead:
            errors.append(f"{where}: co {c!r} is also the lead")
    for c in dupes(theme.co):
        errors.append(f"{where}: co {c!r} is listed twice")
    for e in theme.escalate_to:
        unit(e, where, "escalate_to", county_ok=False)
    for j, sub in enumerate(theme.sub_routes):
        swhere = f"{where}: sub_route {j + 1}"
        if sub.lead is not None:
            unit(sub.lead, swhere, "lead", county_ok=theme.level == "local")
        for c in sub.add_co:
            unit(c, swhere, "add_co", county_ok=True)
        if sub.lead is None and not sub.add_co and sub.sensitive is None:
            errors.append(f"{swhere}: changes nothing (no lead, add_co or sensitive)")


def _check_triage(theme: Theme, where: str, errors: list[str]) -> None:
    if theme.manual_triage and theme.keywords:
        errors.append(f"{where}: a manual_triage theme has no keywords")
    if not theme.keywords and not theme.manual_triage:
        errors.append(f"{where}: no keywords (only a manual_triage theme may have none)")


def _priority(src: Source, by_id: Mapping[str, Theme], errors: list[str]) -> tuple[str, ...]:
    raw = src.doc.get("priority")
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        errors.append(f"{src.name}: priority must be a list of theme ids")
        return ()
    priority = tuple(raw)
    for p in priority:
        if p not in by_id:
            errors.append(f"{src.name}: priority: unknown theme id {p!r}")
    for p in dupes(priority):
        errors.append(f"{src.name}: priority: theme {p} is listed twice")
    for t in by_id:
        if t not in priority:
            errors.append(f"{src.name}: theme {t}: missing from priority")
    return priority


def _fallback(
    src: Source, by_id: Mapping[str, Theme], priority: tuple[str, ...], errors: list[str]
) -> str:
    fallback = src.doc.get("fallback")
    if not isinstance(fallback, str) or fallback not in by_id:
        errors.append(f"{src.name}: fallback: {fallback!r} is not a theme id")
        return ""
    if priority and priority[-1] != fallback:
        errors.append(f"{src.name}: fallback {fallback} must come last in priority")
    return fallback
