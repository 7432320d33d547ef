"""Personal data in free text: what a handling unit must not read when the petitioner's identity
is withheld (domain.md, "Personal information").

A unit that may not learn who petitions gets no contact fields, but the petition's own words
(title, content, attachment names) would still name the caller, or give a phone number to call
back. :func:`text_masker` builds, once per petition, a pure ``str -> str`` function that replaces
in a text:

- the petitioner's own values, as the hub knows them from the :class:`Petition`: name, contact
  name, phone (also written with spaces or dashes, in full-width digits, or for a landline its
  local number alone), resident ID number and WeChat openid;
- anything shaped like a Chinese mobile number (``1[3-9]`` and 9 digits, ``+86`` or not), a
  landline number with its area code (``0375-2961234``, ``（0375）296 1234``) or an 18-character
  resident ID number (a real birth date in it), whoever's it is. Digits may be ASCII or full-width
  (``１３８…``), with single spaces or dashes between them. Also anything shaped like a WeChat
  openid (``o`` and 22 or more of ``[A-Za-z0-9_-]``, standing alone), as the log scrubber does.

An enterprise's name and unified social credit code are not personal information: occurrences of
the petition's enterprise name and credit code are never masked, even where the petitioner's name
is part of the enterprise's (``平顶山市王建国商贸有限公司``), and a valid credit code is never
taken for an ID number.

This module owns the masking rules: the kinds of personal value (:data:`NAME`, :data:`PHONE`,
:data:`ID_NUMBER`, :data:`OPENID`, and :data:`KEEP` for what is never masked), which of the hub's
own petitioner fields holds which (:data:`PETITIONER_FIELD_KINDS`), and how the values found make
a masker (:meth:`Personal.gathered`, :func:`text_masker`). The operator tools' masking of any
record (:mod:`petition_hub.ops.masking`) adds only the channels' field names and the reading of
records and broken texts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

from petition_hub.domain.petition import Petition, Petitioner, personal_kinds
from petition_hub.domain.validation import is_valid_uscc

__all__ = [
    "ID_NUMBER",
    "ID_NUMBER_MASK",
    "KEEP",
    "NAME",
    "NAME_MASK",
    "OPENID",
    "OPENID_MASK",
    "PETITIONER_FIELD_KINDS",
    "PHONE",
    "PHONE_MASK",
    "REDACTED_FLAG",
    "Personal",
    "Redaction",
    "mask_text",
    "redact",
    "text_masker",
]

NAME_MASK: Final = "【姓名已隐去】"
PHONE_MASK: Final = "【电话已隐去】"
ID_NUMBER_MASK: Final = "【证件号码已隐去】"
OPENID_MASK: Final = "【openid已隐去】"

#: The kinds of personal value, as the petitioner's fields are marked (``pii``, with how each is
#: masked: :func:`petition_hub.domain.petition.personal_kinds`).
NAME: Final = "name"
PHONE: Final = "phone"
ID_NUMBER: Final = "id_number"
OPENID: Final = "openid"
#: Not personal, and kept even where it contains a personal value: an enterprise's name and
#: credit code.
KEEP: Final = "keep"
#: The hub's own petitioner fields that hold personal data, each with its kind (``contact_name``:
#: a name): what a masker looks for in a petition, in a record of the hub's, and what it erases.
PETITIONER_FIELD_KINDS: Final[Mapping[str, str]] = personal_kinds(Petitioner)

_FULL_WIDTH: Final = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789XX")
_D: Final = "[0-9０-９]"
#: At most one separator between two digits: space, no-break or ideographic space, dashes.
_S: Final = "[ \u00a0\u3000\\-－‐‑–—]?"
_NOT_AFTER_DIGIT: Final = "(?<![0-9０-９])"
_NOT_BEFORE_DIGIT: Final = "(?![0-9０-９])"

_ID_SHAPE: Final = rf"[1-9１-９](?:{_S}{_D}){{16}}{_S}[0-9０-９XxＸｘ]"
_MOBILE_SHAPE: Final = rf"(?:[+＋]?(?:86|８６){_S})?[1１]{_S}[3-9３-９](?:{_S}{_D}){{9}}"
_LANDLINE_SHAPE: Final = (
    rf"(?:[(（][0０]{_D}{{2,3}}[)）]|[0０]{_D}{{2,3}}){_S}[2-9２-９](?:{_S}{_D}){{6,7}}"
)
_OPENID_SHAPE: Final = r"(?<![A-Za-z0-9_-])o[A-Za-z0-9_-]{22,}(?![A-Za-z0-9_-])"
_SHAPES: Final = (
    rf"{_NOT_AFTER_DIGIT}(?:(?P<s_id>{_ID_SHAPE})|(?P<s_mobile>{_MOBILE_SHAPE})"
    rf"|(?P<s_landline>{_LANDLINE_SHAPE})){_NOT_BEFORE_DIGIT}|(?P<s_openid>{_OPENID_SHAPE})"
)
_SHAPES_ONLY: Final = re.compile(_SHAPES)
#: Phones inside an 18-digit run that turned out not to be an ID number.
_PHONES_ONLY: Final = re.compile(
    rf"{_NOT_AFTER_DIGIT}(?:{_MOBILE_SHAPE}|{_LANDLINE_SHAPE}){_NOT_BEFORE_DIGIT}"
)
_ID_WEIGHTS: Final = tuple(2 ** (17 - i) % 11 for i in range(17))


def _compact(text: str) -> str:
    """ASCII digits and ``X`` only: ``１３８ 0375-0001`` → ``13803750001``."""
    return "".join(c for c in text.translate(_FULL_WIDTH) if c.isascii() and c.isalnum())


def _id_check_ok(number: str) -> bool:
    """The ISO 7064 MOD 11-2 check character of an 18-character ID number."""
    total = sum(int(c) * w for c, w in zip(number, _ID_WEIGHTS, strict=False))
    return "10X98765432"[total % 11] == number[17]


def _looks_like_id_number(text: str) -> bool:
    """An 18-character run that is a resident ID number's shape: a plausible birth date at
    characters 7-14. A valid credit code whose check character is not an ID's is kept (credit
    codes are public); an ID number with a wrong check character is still masked (a typo of
    someone's number is still theirs)."""
    number = _compact(text)
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= 2100:
        return False
    return _id_check_ok(number) or not is_valid_uscc(number)


#: Full-width digits as ASCII and every separator as a space, one character for one: a known
#: number's pattern over such a text needs no character class per digit (a pattern of classes
#: takes milliseconds to compile, and a masker is built for each petition).
_CANONICAL: Final = str.maketrans("０１２３４５６７８９\u00a0\u3000-－‐‑–—", "0123456789" + " " * 8)


def _digits_pattern(digits: str) -> str:
    """A pattern for ``digits`` as a person may write them, over the text translated by
    :data:`_CANONICAL`: ASCII or full-width digits (``X`` in any width or case), a single space
    or dash between any two."""
    parts = []
    for c in digits:
        if c.isdigit():
            parts.append(c)  # full-width or not: the same in the canonical text
        elif c == "X":  # the check character of an ID number
            parts.append("[XxＸｘ]")
        else:  # a number typed wrong: as it is
            parts.append(re.escape(c))
    return " ?".join(parts)


@dataclass(frozen=True, slots=True)
class Personal:
    """What to mask in a petition's texts (``names`` etc.) and what never to (``keep``)."""

    names: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    id_numbers: tuple[str, ...] = ()
    openids: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    """Texts that are not personal even where they contain a personal value: the enterprise's
    name and credit code."""

    @classmethod
    def gathered(cls, found: Mapping[str, Iterable[str]]) -> Personal:
        """The values ``found``, by kind (:data:`NAME`, :data:`PHONE`, :data:`ID_NUMBER`,
        :data:`OPENID`, :data:`KEEP`), in the order found; other kinds are no personal data."""
        return cls(
            names=tuple(found.get(NAME, ())),
            phones=tuple(found.get(PHONE, ())),
            id_numbers=tuple(found.get(ID_NUMBER, ())),
            openids=tuple(found.get(OPENID, ())),
            keep=tuple(found.get(KEEP, ())),
        )

    @classmethod
    def of(cls, petition: Petition) -> Personal:
        """The petitioner's own values, and the enterprise's name and credit code to keep."""
        who = petition.petitioner
        ent = petition.enterprise
        found: dict[str, list[str]] = {}
        for field, kind in PETITIONER_FIELD_KINDS.items():
            found.setdefault(kind, []).extend(_present(getattr(who, field)))
        if ent:
            found[KEEP] = list(_present(ent.name, ent.uscc))
        return cls.gathered(found)


def _present(*values: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in values if v and v.strip())


def _phone_variants(phone: str) -> list[str]:
    """The digit strings of a known phone a text may contain: the whole number (without a
    ``+86``), and for a landline with its area code also the local number alone."""
    digits = _compact(phone)
    if not digits.isdigit():
        return []
    if len(digits) == 13 and digits.startswith("861"):
        digits = digits[2:]
    variants = [digits]
    if digits.startswith("0") and len(digits) >= 10:
        area = 3 if digits.startswith(("010", "02")) else 4
        if len(digits) - area >= 7:
            variants.append(digits[area:])
    return variants


@dataclass(frozen=True, slots=True)
class _Values:
    """The values of ``personal`` a text is searched for, each kind longest first: ID numbers and
    phones as digit strings, openids and names as written."""

    ids: tuple[str, ...]
    phones: tuple[str, ...]
    openids: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, personal: Personal) -> _Values:
        def longest_first(values: Iterable[str]) -> tuple[str, ...]:
            return tuple(reversed(sorted(set(values), key=len)))

        compact = [_compact(n) for n in personal.id_numbers]
        return cls(
            ids=longest_first(n for n in compact if len(n) >= 6),
            phones=longest_first(
                v for p in personal.phones for v in _phone_variants(p) if len(v) >= 7
            ),
            openids=longest_first(o for o in personal.openids if len(o) >= 6),
            # a name of one character would mask half the text; two to four are usual
            names=longest_first(n for n in personal.names if len(n) >= 2),
        )


def _known_alternatives(personal: Personal) -> list[tuple[str, str]]:
    """(group, pattern) of every known value, longest value first within each kind; the
    numbers' (``k_id``, ``k_phone``) over the canonical text (:data:`_CANONICAL`), the others'
    over the text itself."""
    v = _Values.of(personal)
    return [
        *(("k_id", _digits_pattern(n)) for n in v.ids),
        *(("k_phone", _digits_pattern(p)) for p in v.phones),
        *(("k_openid", re.escape(o)) for o in v.openids),
        *(("k_name", "[ \u3000]?".join(map(re.escape, n))) for n in v.names),
    ]


_MASK_OF_GROUP: Final = {
    "k_id": ID_NUMBER_MASK,
    "k_phone": PHONE_MASK,
    "k_openid": OPENID_MASK,
    "k_name": NAME_MASK,
    "s_id": ID_NUMBER_MASK,
    "s_mobile": PHONE_MASK,
    "s_landline": PHONE_MASK,
    "s_openid": OPENID_MASK,
}
_NUMBER_GROUPS: Final = frozenset({"k_id", "k_phone"})


@dataclass(frozen=True, slots=True)
class _Known:
    """The patterns of a petition's own values: its numbers' over the canonical text, its
    openids' and names' over the text itself (None: no such value)."""

    numbers: re.Pattern[str] | None
    others: re.Pattern[str] | None


def _alternation(alternatives: Iterable[tuple[str, str]]) -> re.Pattern[str] | None:
    grouped: dict[str, list[str]] = {}
    for group, pattern in alternatives:
        grouped.setdefault(group, []).append(pattern)
    if not grouped:
        return None
    return re.compile("|".join(f"(?P<{g}>{'|'.join(ps)})" for g, ps in grouped.items()))


@functools.lru_cache(maxsize=256)
def _known(personal: Personal) -> _Known:
    """The patterns of ``personal``'s values, built once for the copies of a petition (each
    unit's copy, each of its texts)."""
    alternatives = _known_alternatives(personal)
    return _Known(
        numbers=_alternation(a for a in alternatives if a[0] in _NUMBER_GROUPS),
        others=_alternation(a for a in alternatives if a[0] not in _NUMBER_GROUPS),
    )


def _kept_spans(text: str, keep: Iterable[str]) -> list[tuple[int, int]]:
    spans = []
    for value in keep:
        start = text.find(value)
        while start >= 0:
            spans.append((start, start + len(value)))
            start = text.find(value, start + 1)
    return spans


def _matches(text: str, known: _Known) -> Iterator[tuple[str, int, int]]:
    """(group, start, end) of each match, left to right, as one alternation of the known
    values (numbers first, then openids and names) and then the shapes would find them: at each
    place the first of these that matches there; after a match, on from its end."""
    searches: list[tuple[re.Pattern[str], str]] = []
    if known.numbers is not None:
        searches.append((known.numbers, text.translate(_CANONICAL)))
    if known.others is not None:
        searches.append((known.others, text))
    searches.append((_SHAPES_ONLY, text))
    # the next match of each from where the scan is: still the next while it starts at or
    # after the scan's place (a match depends on where it starts, not where the search did)
    found = [pattern.search(within) for pattern, within in searches]
    pos = 0
    while True:
        first: re.Match[str] | None = None
        for m in found:  # in priority order: a later one must start strictly before
            if m is not None and (first is None or m.start() < first.start()):
                first = m
        if first is None:
            return
        start, pos = first.span()
        yield first.lastgroup or "", start, pos
        for i, m in enumerate(found):
            if m is not None and m.start() < pos:
                pattern, within = searches[i]
                found[i] = pattern.search(within, pos)


_UNSPACED_X: Final = str.maketrans({" ": None, "x": "X", "Ｘ": "X", "ｘ": "X"})
_UNSPACED: Final = str.maketrans({" ": None, "\u3000": None})


@dataclass(frozen=True, slots=True)
class _Literals:
    """The known values as plain strings, to tell cheaply that a text holds none of them (most
    texts): a match of :func:`_known`'s patterns needs its value in the text with the spaces its
    pattern allows taken out, so a text failing :meth:`may_hold` has no match, and its patterns
    need not be compiled (a compilation costs a millisecond; the projection of a city's records
    met thousands of petitions)."""

    numbers: tuple[str, ...]
    openids: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, personal: Personal) -> _Literals:
        v = _Values.of(personal)
        # each value as the probe of a text sees it (see may_hold): a value with a space or a
        # lower-case x must still be found
        return cls(
            numbers=tuple(n.translate(_UNSPACED_X) for n in (*v.ids, *v.phones)),
            openids=v.openids,
            names=tuple(n.translate(_UNSPACED) for n in v.names),
        )

    def may_hold(self, text: str) -> bool:
        """False only when no known value can match in ``text``."""
        if self.numbers:
            digits = text.translate(_CANONICAL).translate(_UNSPACED_X)
            if any(n in digits for n in self.numbers):
                return True
        if any(o in text for o in self.openids):
            return True
        if self.names:
            unspaced = text.translate(_UNSPACED)
            return any(n in unspaced for n in self.names)
        return False


@functools.lru_cache(maxsize=256)
def text_masker(personal: Personal) -> Callable[[str], str]:
    """A function masking ``personal``'s values and every phone- or ID-shaped number in a text
    (build it once per petition, apply it to each of its texts). The same for the same values,
    and it remembers its last few texts: each unit's copy of a petition carries the same title
    and content, masked again for each copy otherwise."""
    literals = _Literals.of(personal)
    keep = tuple(k for k in personal.keep if k)

    def replacement(
        text: str, group: str, start: int, end: int, kept: list[tuple[int, int]]
    ) -> str:
        if any(start < k_end and k_start < end for k_start, k_end in kept):
            return text[start:end]
        if group == "s_id" and not _looks_like_id_number(text[start:end]):
            # e.g. a mobile number, a space and 7 more digits: still mask the phone
            return _PHONES_ONLY.sub(PHONE_MASK, text[start:end])
        return _MASK_OF_GROUP.get(group, PHONE_MASK)

    @functools.lru_cache(maxsize=8)
    def mask(text: str) -> str:
        if not text:
            return text
        kept = _kept_spans(text, keep) if keep else []
        if not literals.may_hold(text):
            return _SHAPES_ONLY.sub(
                lambda m: replacement(text, m.lastgroup or "", m.start(), m.end(), kept), text
            )
        known = _known(personal)
        out: list[str] = []
        done = 0
        for group, start, end in _matches(text, known):
            out += (text[done:start], replacement(text, group, start, end, kept))
            done = end
        out.append(text[done:])
        return "".join(out)

    return mask


def mask_text(text: str, personal: Personal | None = None) -> str:
    """``text`` with ``personal``'s values and phone- or ID-shaped numbers masked."""
    return text_masker(personal or Personal())(text)


#: The flag of a petition revision whose personal data the hub has erased.
REDACTED_FLAG: Final = "personal_data_erased"


@dataclass(frozen=True, slots=True)
class Redaction:
    """A petition with its personal data erased, and which fields held some (names, never
    values: what an erasure record may say)."""

    petition: Petition
    fields: tuple[str, ...]


def redact(petition: Petition) -> Redaction:
    """``petition`` without personal data (retention after closure, or the petitioner's
    request): the petitioner's name, contact name, phone, ID number and openid are removed; the
    free texts (title, content, the operator's note, attachment names) are masked as for a unit
    that may not learn who petitions (:func:`text_masker`); the map point (where a person may
    live) and the attachments' addresses (files the channel keeps, which may show a person) are
    removed. The enterprise's name and credit code stay (public facts); so do the petition's
    ids, times, type, region and routing facts, which reports need. The result carries
    :data:`REDACTED_FLAG`; redacting it again changes nothing."""
    mask = text_masker(Personal.of(petition))
    who = petition.petitioner
    erased = [
        f"petitioner.{name}"
        for name in ("name", "contact_name", "phone", "id_number", "openid")
        if getattr(who, name)
    ]
    title = None if petition.title is None else mask(petition.title)
    content = mask(petition.content)
    note = None if petition.operator_note is None else mask(petition.operator_note)
    attachments = tuple(
        a.model_copy(update={"name": None if a.name is None else mask(a.name), "url": ""})
        for a in petition.attachments
    )
    for name, before, after in (
        ("title", petition.title, title),
        ("content", petition.content, content),
        ("operator_note", petition.operator_note, note),
    ):
        if before != after:
            erased.append(name)
    if petition.location is not None:
        erased.append("location")
    before_after = zip(petition.attachments, attachments, strict=True)
    if any(a.url or a.name != b.name for a, b in before_after):
        erased.append("attachments")
    redacted = petition.model_copy(
        update={
            "petitioner": Petitioner(kind=who.kind),
            "title": title,
            "content": content,
            "operator_note": note,
            "location": None,
            "attachments": attachments,
            "flags": tuple(sorted({*petition.flags, REDACTED_FLAG})),
        }
    )
    return Redaction(redacted, tuple(erased))
