"""Classification: the petition type when the channel gave none, and the theme(s) from keywords.

Pure functions of a petition (or its text) and a :class:`~petition_hub.domain.rules.RuleSet`.

**Type** (domain.md, Types): the channel's category when it gave a usable one; a 12345 ``求助`` or
``投诉`` whose content is plainly a legal-rights matter (``legal_rights_cues`` of matching.yaml:
判决, 诉讼, 仲裁, 强制执行, 纠纷, 侵权 …) becomes 法律维权; a missing category is inferred from the
content (``type_cues``, first entry with a cue wins: 举报 → 举报投诉, a legal matter → 法律维权,
投诉 → 举报投诉, 建议 → 意见建议, 咨询/请问 → 政策咨询, 求助/困难/协调 → 困难求助, 如何/怎么 →
政策咨询), else 其他诉求.

**Theme** (themes.yaml, header): every keyword occurrence is found in one scan; a hit inside a
longer hit of another keyword (or of a mask phrase such as 执行政策) is dropped; a theme matches
on one non-ambiguous hit or two different ambiguous hits (some themes also need a context word,
``ambiguous_needs_any``); the petition-type hints adjust this (举报投诉: one ambiguous keyword of
T25 or T24 is enough; 政策咨询: only T01/T30/T31 or nothing → T01; 其他诉求: nothing → T00); the
first matching theme in ``priority`` wins; nothing → ``fallback``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Literal, NamedTuple

from petition_hub.domain.petition import Channel, Petition, PetitionType
from petition_hub.domain.rules import Hit, RuleSet, UnitMention, longest_only, normalize_text

__all__ = [
    "Classification",
    "TextAnalysis",
    "ThemeMatch",
    "TypeSource",
    "analyse_text",
    "classify",
    "classify_text",
    "petition_text",
    "unit_mentions",
]

TypeSource = Literal["channel", "legal_rights_rule", "inferred", "default"]


class TextAnalysis(NamedTuple):
    """One scan of a petition's text, shared by classification, location and routing.

    (Named tuples rather than frozen dataclasses here and below: as immutable, and several times
    cheaper to build, which matters on the classification path.)"""

    text: str
    """The normalised text (title and content)."""
    hits: tuple[Hit, ...]
    """Every vocabulary occurrence, by start, longest first."""
    masked: frozenset[tuple[int, int]]
    """Spans of occurrences lying inside a mask phrase (those never count)."""
    keyword_hits: tuple[Hit, ...]
    """Theme keywords and mask phrases after the longest-match filter."""
    found: frozenset[str]
    """Every word that occurs outside a mask phrase."""

    def present(self, words: Iterable[str]) -> tuple[str, ...]:
        """Which of ``words`` occur (not inside a mask phrase), in the order given."""
        found = self.found
        return tuple(w for w in map(_word, words) if w in found)

    def first_present(self, words: Iterable[str]) -> str | None:
        found = self.present(words)
        return found[0] if found else None

    def occurrences(self, words: frozenset[str] | Mapping[str, object]) -> list[Hit]:
        """Unmasked occurrences of ``words`` (a set or the keys of a mapping)."""
        return [h for h in self.hits if h.word in words and (h.start, h.end) not in self.masked]


@lru_cache(maxsize=8192)
def _word(word: str) -> str:
    """A rules word in matching form (rules words are few: cached)."""
    return normalize_text(word)


def petition_text(petition: Petition) -> str:
    """The text classification reads: the title (when any) and the content."""
    return f"{petition.title}。{petition.content}" if petition.title else petition.content


def analyse_text(text: str, rules: RuleSet) -> TextAnalysis:
    """Scan ``text`` once with the rule set's compiled vocabulary."""
    norm = normalize_text(text)
    hits = rules.matcher.scan(norm)
    masks = rules.masks
    mask_spans = [(h.start, h.end) for h in hits if h.word in masks]
    masked: set[tuple[int, int]] = set()
    if mask_spans:
        for h in hits:
            if h.word in masks:
                continue
            for s, e in mask_spans:
                if s <= h.start and h.end <= e:
                    masked.add((h.start, h.end))
                    break
    keywords = rules.keyword_themes
    layer = longest_only([h for h in hits if h.word in keywords or h.word in masks])
    if mask_spans:
        # A keyword hit that crosses a mask phrase's boundary is a misreading (合作企业注册资本:
        # not 企业注册); keep it only when it contains the whole mask.
        spans = [(h.start, h.end) for h in layer if h.word in masks]
        layer = [
            h
            for h in layer
            if h.word in masks
            or not any(
                h.start < e and s < h.end and not (h.start <= s and e <= h.end) for s, e in spans
            )
        ]
    found = (
        frozenset([h[2] for h in hits if (h[0], h[1]) not in masked])
        if masked
        else frozenset([h[2] for h in hits])
    )
    return TextAnalysis(norm, tuple(hits), frozenset(masked), tuple(layer), found)


class ThemeMatch(NamedTuple):
    """The keywords of one theme found in a text, and whether they make the theme match."""

    theme: str
    keywords: tuple[str, ...]
    """Distinct keywords hit (after longest match), in order of first occurrence."""
    ambiguous: tuple[str, ...]
    """Those of ``keywords`` that are ambiguous for this theme."""
    matched: bool
    reason: str


class Classification(NamedTuple):
    """Type and theme of a petition, with the evidence."""

    petition_type: PetitionType
    type_source: TypeSource
    type_cues: tuple[str, ...]
    """The words that decided an inferred type or the 法律维权 rule."""
    channel_type: PetitionType | None
    theme: str
    """The winning theme (``fallback`` when nothing matched)."""
    matched: tuple[str, ...]
    """Every matching theme, in priority order (``theme`` first unless a hint chose it)."""
    candidates: tuple[ThemeMatch, ...]
    """Every theme with at least one keyword hit, in priority order."""
    decided_by: str
    """The rule that chose ``theme``, in words."""
    analysis: TextAnalysis

    def __repr__(self) -> str:
        return (
            f"Classification(petition_type={self.petition_type.value!r}, "
            f"type_source={self.type_source!r}, theme={self.theme!r}, "
            f"matched={self.matched!r}, decided_by={self.decided_by!r})"
        )

    @property
    def hits(self) -> dict[str, tuple[str, ...]]:
        """Theme id → keywords hit, for every theme with a hit."""
        return {c.theme: c.keywords for c in self.candidates}

    @property
    def keywords(self) -> tuple[str, ...]:
        """The keywords hit for the winning theme."""
        for c in self.candidates:
            if c.theme == self.theme:
                return c.keywords
        return ()

    @property
    def contested(self) -> bool:
        """More than one theme matched (priority decided)."""
        return len(self.matched) > 1

    @property
    def near_misses(self) -> tuple[str, ...]:
        """Themes hit by keywords that were too weak to match (one ambiguous keyword)."""
        return tuple(c.theme for c in self.candidates if not c.matched)


def classify(
    petition: Petition, rules: RuleSet, *, analysis: TextAnalysis | None = None
) -> Classification:
    """Type and theme of ``petition``."""
    return classify_text(
        petition_text(petition),
        rules,
        petition_type=petition.petition_type,
        channel=petition.channel,
        channel_category=petition.channel_category,
        analysis=analysis,
    )


def classify_text(
    text: str,
    rules: RuleSet,
    *,
    petition_type: PetitionType | None = None,
    channel: Channel | None = None,
    channel_category: str | None = None,
    analysis: TextAnalysis | None = None,
) -> Classification:
    """Type and theme of a petition text; ``petition_type`` is the channel's (``None``: infer)."""
    a = analysis if analysis is not None else analyse_text(text, rules)
    ptype, source, cues = _petition_type(a, rules, petition_type, channel, channel_category)
    effective = {ptype} if petition_type is None else {ptype, petition_type}
    candidates = _theme_matches(a, rules, effective)
    matched = tuple(c.theme for c in candidates if c.matched)
    theme, decided_by = _choose(rules, candidates, matched, effective)
    return Classification(
        petition_type=ptype,
        type_source=source,
        type_cues=cues,
        channel_type=petition_type,
        theme=theme,
        matched=matched,
        candidates=candidates,
        decided_by=decided_by,
        analysis=a,
    )


def _petition_type(
    a: TextAnalysis,
    rules: RuleSet,
    given: PetitionType | None,
    channel: Channel | None,
    category: str | None,
) -> tuple[PetitionType, TypeSource, tuple[str, ...]]:
    m = rules.matching
    if given is not None:
        if channel is not None and category is not None:
            categories = m.legal_rights_from.get(channel.value, ())
            if category.strip() in categories and given is not PetitionType.LEGAL_RIGHTS:
                cues = a.present(m.legal_rights_cues)
                if cues:
                    return PetitionType.LEGAL_RIGHTS, "legal_rights_rule", cues
        return given, "channel", ()
    for cue in m.type_cues:
        found = a.present(cue.cues)
        if found:
            return cue.type, "inferred", found
    return PetitionType.OTHER, "default", ()


def _theme_matches(
    a: TextAnalysis, rules: RuleSet, types: set[PetitionType]
) -> tuple[ThemeMatch, ...]:
    by_theme: dict[str, list[str]] = {}
    keyword_themes, masks = rules.keyword_themes, rules.masks
    for h in a.keyword_hits:
        themes = keyword_themes.get(h.word)
        if themes is None:
            mask_theme = masks.get(h.word)
            themes = (mask_theme,) if mask_theme is not None else ()
        for t in themes:
            words = by_theme.setdefault(t, [])
            if h.word not in words:
                words.append(h.word)
    if not by_theme:
        return ()
    single_ok: set[str] = set()
    for t in types:
        hint = rules.matching.type_hints.get(t)
        if hint is not None:
            single_ok.update(hint.single_ambiguous_enough)
    m = rules.matching
    forced: dict[str, set[str]] = {}  # theme → words that count as non-ambiguous for it
    for ra in m.reassign:
        word = _word(ra.word)
        if word in by_theme.get(ra.source, ()) and a.present(ra.when_any):
            by_theme[ra.source].remove(word)
            if not by_theme[ra.source]:
                del by_theme[ra.source]
            by_theme.setdefault(ra.to, []).append(word)
            forced.setdefault(ra.to, set()).add(word)
    status: dict[str, tuple[bool, str]] = {}
    borrowed: dict[str, list[str]] = {}
    for tid, found in by_theme.items():
        weak_words = rules.vocab[tid].ambiguous - forced.get(tid, set())
        amb = [w for w in found if w in weak_words]
        strong = [w for w in found if w not in weak_words]
        if strong:
            status[tid] = (True, f"keyword {strong[0]}")
        elif len(amb) >= 2:
            needs = m.ambiguous_needs_any.get(tid)
            if needs and not a.present(needs):
                other = m.ambiguous_else.get(tid)
                why = f"ambiguous keywords {', '.join(amb)} without a context word"
                if other is not None:
                    borrowed.setdefault(other, []).extend(amb)
                    why += f" (they count for {other})"
                status[tid] = (False, why)
            else:
                status[tid] = (True, f"two ambiguous keywords {amb[0]}, {amb[1]}")
        elif tid in single_ok:
            status[tid] = (True, f"ambiguous keyword {amb[0]} (petition type hint)")
        else:
            status[tid] = (False, f"only one ambiguous keyword ({amb[0]})")
    for tid, words in borrowed.items():
        if not status.get(tid, (False, ""))[0]:
            source = ", ".join(t for t, o in m.ambiguous_else.items() if o == tid)
            status[tid] = (True, f"keywords of {source} ({', '.join(words)}) without context")
            by_theme.setdefault(tid, [])
    out: list[ThemeMatch] = []
    for tid in sorted(by_theme, key=rules.theme_rank):
        theme_words = tuple(by_theme[tid]) or tuple(borrowed.get(tid, ()))
        weak_words = rules.vocab[tid].ambiguous - forced.get(tid, set())
        weak = tuple(w for w in theme_words if w in weak_words)
        matched, reason = status[tid]
        out.append(ThemeMatch(tid, theme_words, weak, matched, reason))
    return tuple(out)


def _choose(
    rules: RuleSet,
    candidates: tuple[ThemeMatch, ...],
    matched: tuple[str, ...],
    types: set[PetitionType],
) -> tuple[str, str]:
    hints = [rules.matching.type_hints[t] for t in types if t in rules.matching.type_hints]
    by_id = {c.theme: c for c in candidates}

    def strong(t: str, ignore: frozenset[str] = frozenset()) -> int:
        c = by_id[t]
        return sum(1 for w in c.keywords if w not in c.ambiguous and w not in ignore)

    for hint in hints:
        weak = hint.weak_themes and hint.default_theme and matched
        if weak and set(matched) <= set(hint.weak_themes):
            if hint.weak_themes_only_when_ambiguous and any(strong(t) for t in matched):
                continue
            names = ", ".join(matched)
            return str(hint.default_theme), (
                f"petition type hint: only {names} matched → {hint.default_theme}"
            )
    if matched:
        if len(matched) == 1:
            return matched[0], f"only {matched[0]} matched"
        winner = matched[0]
        margin = rules.matching.dominance_margin
        if margin is not None and not rules.theme(winner).sensitive:
            # The winner's context words (T14 needs 起诉, 法院 …) are evidence for the winner.
            ctx = frozenset(map(_word, rules.matching.ambiguous_needs_any.get(winner, ())))

            def weight(t: str) -> tuple[int, bool, int]:
                return strong(t, ctx), rules.theme(t).sensitive, -rules.theme_rank(t)

            best = max(matched, key=weight)
            best_n, winner_n = strong(best, ctx), strong(winner)
            won = best_n >= winner_n + margin or (
                rules.matching.sensitive_ties
                and rules.theme(best).sensitive
                and best_n >= max(winner_n, 1)
            )
            if best != winner and won:
                return best, (
                    f"dominance: {best} has {best_n} distinct non-ambiguous keywords, "
                    f"{winner} (first in priority of {', '.join(matched)}) {winner_n}"
                    + (" (sensitive wins a tie)" if best_n == winner_n else "")
                )
        return winner, f"priority: {winner} comes first of the matched {', '.join(matched)}"
    for hint in hints:
        if hint.default_theme is not None:
            return (
                hint.default_theme,
                f"no theme matched; petition type hint → {hint.default_theme}",
            )
    return rules.fallback, f"no theme matched → fallback {rules.fallback}"


def unit_mentions(a: TextAnalysis, rules: RuleSet) -> list[tuple[Hit, UnitMention]]:
    """Units the text names (departments.yaml names and aliases, county names, unit words)."""
    mentions = rules.unit_mentions
    text = a.text
    out: list[tuple[Hit, UnitMention]] = []
    for h in longest_only(a.occurrences(mentions)):
        m = mentions[h.word]
        if m.bare and not (
            (h.start > 0 and text[h.start - 1] in _UNIT_BEFORE)
            or text.startswith(_UNIT_AFTER, h.end)
        ):
            continue
        out.append((h, m))
    return out


_UNIT_BEFORE = "市县区"
_UNIT_AFTER = ("局", "部门", "人员", "干部", "机关", "系统", "工作人员", "执法")
