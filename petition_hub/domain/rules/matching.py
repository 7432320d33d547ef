"""The ``matching`` section (``matching.yaml``, the hub's own): what the matching algorithm needs
beyond the reference files, validated and checked against the themes and departments it names."""

from __future__ import annotations

import re
from collections.abc import Mapping

from petition_hub.domain.rules.matcher import normalize_text
from petition_hub.domain.rules.model import Department, MatchingRules, Theme
from petition_hub.domain.rules.source import Source, validate

__all__ = ["check_matching", "matching_section"]


def matching_section(src: Source, errors: list[str]) -> MatchingRules:
    """The ``matching:`` of ``src`` (empty rules when it does not validate; problems go to
    ``errors``)."""
    m_doc = src.doc.get("matching")
    matching = validate(MatchingRules, m_doc or {}, f"{src.name}: matching", errors)
    if matching is None:
        matching = MatchingRules()
    return matching


def check_matching(
    m: MatchingRules,
    src: Source,
    theme_by_id: Mapping[str, Theme],
    dept_by_code: Mapping[str, Department],
    errors: list[str],
) -> None:
    """Every theme, sub-route and unit ``m`` names must exist; problems go to ``errors``."""
    mname = src.name
    _check_keywords(m, mname, theme_by_id, errors)
    _check_reassign(m, mname, theme_by_id, errors)
    _check_sub_route_words(m, mname, theme_by_id, errors)
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


def _check_keywords(
    m: MatchingRules, mname: str, theme_by_id: Mapping[str, Theme], errors: list[str]
) -> None:
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


def _check_reassign(
    m: MatchingRules, mname: str, theme_by_id: Mapping[str, Theme], errors: list[str]
) -> None:
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


def _check_sub_route_words(
    m: MatchingRules, mname: str, theme_by_id: Mapping[str, Theme], errors: list[str]
) -> None:
    for tid, by_index in m.sub_route_words.items():
        theme = theme_by_id.get(tid)
        if theme is None:
            errors.append(f"{mname}: sub_route_words: unknown theme {tid!r}")
            continue
        for idx in by_index:
            if not 1 <= idx <= len(theme.sub_routes):
                errors.append(
                    f"{mname}: sub_route_words {tid}: theme has no sub_route {idx} "
                    f"(it has {len(theme.sub_routes)})"
                )
