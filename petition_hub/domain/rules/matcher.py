"""Text normalisation and the compiled keyword matcher.

Keyword matching is compiled once per rule set (:class:`Matcher`): one scan of the text with a
first-character index over every word any rule looks for (about 20-40 µs for a 200-character
petition, see ``tests/test_classify.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

__all__ = ["Hit", "Matcher", "longest_only", "normalize_text"]

# Full-width digits and letters (and the ideographic space) to ASCII: what NFKC would do to the
# characters keywords can contain, at a fraction of its cost (full-width punctuation is left alone).
_WIDE: Final = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_WIDE_TABLE: Final = str.maketrans(
    {
        c: c - 0xFEE0
        for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
        for c in range(r[0], r[1] + 1)
    }
)


def normalize_text(text: str) -> str:
    """The form keywords are matched in: full-width digits and letters as ASCII, ASCII letters in
    upper case, no white space (an operator's 营业 执照 is 营业执照)."""
    if _WIDE.search(text) is not None:
        text = text.translate(_WIDE_TABLE)
    return "".join(text.split()).upper()


class Hit(NamedTuple):
    """One occurrence of a vocabulary word in a normalised text."""

    start: int
    end: int
    word: str


class Matcher:
    """Finds every occurrence of a fixed vocabulary in a text.

    Words are indexed by their first two characters. One regular expression made of two character
    classes (the words' first characters, then their second characters) finds, in C, the positions
    where a word may start; only those positions are looked up in the index and sliced.
    One-character words are found through the set of the text's characters. The result lists
    every occurrence, including words inside longer ones: the layers (theme keywords, sub-route
    words, unit names …) each apply their own longest-match filter.
    """

    __slots__ = ("_candidates", "_pairs", "_singles", "_words")

    def __init__(self, words: Iterable[str]) -> None:
        vocabulary = {normalize_text(w) for w in words if w}
        vocabulary.discard("")
        pairs: dict[str, set[int]] = {}
        for w in vocabulary:
            if len(w) > 1:
                pairs.setdefault(w[:2], set()).add(len(w))
        self._words: frozenset[str] = frozenset(vocabulary)
        self._pairs: dict[str, tuple[int, ...]] = {
            p: tuple(sorted(ls, reverse=True)) for p, ls in pairs.items()
        }
        self._singles: frozenset[str] = frozenset(w for w in vocabulary if len(w) == 1)
        firsts = "".join(re.escape(c) for c in sorted({p[0] for p in pairs}))
        seconds = "".join(re.escape(c) for c in sorted({p[1] for p in pairs}))
        self._candidates = re.compile(f"(?=[{firsts}][{seconds}])" if pairs else "(?!)")

    @property
    def words(self) -> frozenset[str]:
        return self._words

    def scan(self, text: str) -> list[Hit]:
        """Every occurrence in ``text`` (already normalised), by start, longest first."""
        words, pairs = self._words, self._pairs
        hits: list[Hit] = []
        append = hits.append
        new = tuple.__new__  # Hit(...) without the NamedTuple's Python-level __new__
        for m in self._candidates.finditer(text):
            i = m.start()
            lens = pairs.get(text[i : i + 2])
            if lens is not None:
                for n in lens:
                    w = text[i : i + n]
                    if w in words:
                        append(new(Hit, (i, i + n, w)))
        singles = [c for c in self._singles if c in text]
        if singles:
            for c in singles:
                i = text.find(c)
                while i >= 0:
                    append(new(Hit, (i, i + 1, c)))
                    i = text.find(c, i + 1)
            hits.sort(key=_hit_order)
        return hits


def _hit_order(h: Hit) -> tuple[int, int]:
    return h.start, -h.end


def longest_only(hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` (ordered by start, longest first) without those inside a longer hit of another
    word: 城镇土地使用税 keeps 土地 and 税 from counting."""
    kept: list[Hit] = []
    max_end = -1
    for h in hits:
        if h.end <= max_end:
            continue
        kept.append(h)
        max_end = h.end
    return kept
