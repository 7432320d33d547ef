"""The lookups compiled once per rule set from the validated sections, so that classifying and
routing a petition only looks words up: each theme's vocabulary, the keyword → themes index, the
masks, the sub-routes with the hub's words, what a word naming a unit means, and every word the
:class:`~petition_hub.domain.rules.matcher.Matcher` must find."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from petition_hub.domain.rules.matcher import normalize_text
from petition_hub.domain.rules.model import (
    COUNTY,
    CountyUnit,
    Department,
    MatchingRules,
    SubRoute,
    Theme,
    ThemeVocab,
    UnitMention,
)

__all__ = ["Vocabulary", "matcher_words", "sub_routes", "unit_mentions", "vocabulary"]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Each theme's keywords (with the hub's additions), and which themes each keyword names."""

    vocab: dict[str, ThemeVocab]
    keyword_themes: dict[str, tuple[str, ...]]


def vocabulary(themes: Iterable[Theme], m: MatchingRules) -> Vocabulary:
    """The keyword data of ``themes`` with the hub's ``extra_keywords`` (normalised)."""
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
    return Vocabulary(vocab, {k: tuple(v) for k, v in keyword_themes.items()})


def sub_routes(themes: Iterable[Theme], m: MatchingRules) -> dict[str, tuple[SubRoute, ...]]:
    """Theme id → its sub-routes, the hub's ``sub_route_words`` added to their ``when_any``."""
    out: dict[str, tuple[SubRoute, ...]] = {}
    for theme in themes:
        extra_words = m.sub_route_words.get(theme.id, {})
        out[theme.id] = tuple(
            sr.model_copy(update={"when_any": (*sr.when_any, *extra_words.get(i, ()))})
            if extra_words.get(i)
            else sr
            for i, sr in enumerate(theme.sub_routes, 1)
        )
    return out


def unit_mentions(
    departments: Iterable[Department],
    county_by_code: Mapping[str, CountyUnit],
    m: MatchingRules,
) -> dict[str, UnitMention]:
    """Every word naming a unit (normalised) → what it names."""
    # Later entries win: a county unit's name over a department alias, a unit word over both.
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
    return mentions


def matcher_words(
    vocab: Vocabulary,
    masks: Mapping[str, str | None],
    mentions: Mapping[str, UnitMention],
    routes: Mapping[str, tuple[SubRoute, ...]],
    m: MatchingRules,
    place_names: Iterable[Iterable[str]],
) -> set[str]:
    """Every word any rule looks for: the one vocabulary the matcher scans a text for."""
    words: set[str] = set(vocab.keyword_themes) | set(masks) | set(mentions)
    for srs in routes.values():
        for sr in srs:
            words.update(sr.when_any)
    words.update(w for ws in m.ambiguous_needs_any.values() for w in ws)
    words.update(w for ra in m.reassign for w in ra.when_any)
    words.update(w for cue in m.type_cues for w in cue.cues)
    words.update(m.legal_rights_cues)
    words.update(m.issuer_verbs)
    for names in place_names:
        words.update(names)
    return words
