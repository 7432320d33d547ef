"""The masker's matching is one alternation's (issue 15, the console's projection rate).

:func:`petition_hub.domain.privacy.text_masker` used to compile, for each petition, one regular
expression: the petition's own values (ID numbers, phones, openids, names, in that order) and
then the shapes of any phone, ID number or openid. Compiling it took milliseconds per petition,
most of the projection's time; the masker now searches the known values and the shapes apart
and merges the matches as that alternation would. This checks, on texts made of such values
written as people write them (full-width digits, spaces and dashes between digits), that it
masks exactly what that one alternation masks, built here as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from petition_hub.domain import privacy
from petition_hub.domain.privacy import PHONE_MASK, Personal, text_masker

_S = privacy._S  # the separators allowed between two digits


def _digits_reference(digits: str) -> str:
    parts = []
    for c in digits:
        if c.isdigit():
            parts.append(f"[{c}{chr(ord(c) - ord('0') + ord('０'))}]")
        elif c == "X":
            parts.append("[XxＸｘ]")
        else:
            parts.append(re.escape(c))
    return _S.join(parts)


def reference_masker(personal: Personal) -> Callable[[str], str]:
    """The masker as one alternation: known values, then the shapes (the earlier code)."""
    compact = privacy._compact
    ids = sorted({compact(n) for n in personal.id_numbers if len(compact(n)) >= 6}, key=len)
    phones = sorted(
        {v for p in personal.phones for v in privacy._phone_variants(p) if len(v) >= 7}, key=len
    )
    openids = sorted({o for o in personal.openids if len(o) >= 6}, key=len)
    names = sorted({n for n in personal.names if len(n) >= 2}, key=len)
    groups = {
        "k_id": [_digits_reference(n) for n in reversed(ids)],
        "k_phone": [_digits_reference(p) for p in reversed(phones)],
        "k_openid": [re.escape(o) for o in reversed(openids)],
        "k_name": ["[ \u3000]?".join(map(re.escape, n)) for n in reversed(names)],
    }
    known = "|".join(f"(?P<{g}>{'|'.join(ps)})" for g, ps in groups.items() if ps)
    pattern = re.compile(f"{known}|{privacy._SHAPES}" if known else privacy._SHAPES)
    keep = tuple(k for k in personal.keep if k)

    def mask(text: str) -> str:
        kept = privacy._kept_spans(text, keep)

        def replace(m: re.Match[str]) -> str:
            start, end = m.span()
            if any(start < k_end and k_start < end for k_start, k_end in kept):
                return m.group(0)
            group = m.lastgroup or ""
            if group == "s_id" and not privacy._looks_like_id_number(m.group(0)):
                return privacy._PHONES_ONLY.sub(PHONE_MASK, m.group(0))
            return privacy._MASK_OF_GROUP.get(group, PHONE_MASK)

        return pattern.sub(replace, text)

    return mask


NAMES = ["王建国", "韦娜", "李", "欧阳春花", "王 建国"]
PHONES = ["13903751234", "0375-2961234", "+86 15837512345", "010-61234567", "2961234"]
IDS = ["410402198503171234", "41040219850317123X", "41040219850317123x", "12345"]
OPENIDS = ["o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "oAbcdefghijklmnopqrstuvw-x"]
KEEPS = ["平顶山市王建国商贸有限公司", "91410400MA44XXXX0X", "914104007474431234"]
OTHER = ["，电话", "身份证", "o", "8", "1", "0", "（0375）", "X", "x", "微信", " ", "-", "86", "+"]
SEPARATORS = [" ", "\u00a0", "\u3000", "-", "－", "‐", "‑", "–", "—", "  "]
_FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


@st.composite
def written(draw: st.DrawFn, value: str) -> str:
    """``value`` as a person may type it: some digits full-width, separators here and there."""
    out = []
    for c in value:
        out.append(c.translate(_FULL_WIDTH) if draw(st.booleans()) else c)
        if draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(out)


fragments = st.sampled_from(NAMES + PHONES + IDS + OPENIDS + KEEPS + OTHER).flatmap(
    lambda v: st.one_of(st.just(v), written(v))
)
texts = st.lists(fragments, max_size=12).map("".join)
personals = st.builds(
    Personal,
    names=st.lists(st.sampled_from(NAMES), max_size=3).map(tuple),
    phones=st.lists(st.sampled_from(PHONES), max_size=3).map(tuple),
    id_numbers=st.lists(st.sampled_from(IDS), max_size=2).map(tuple),
    openids=st.lists(st.sampled_from(OPENIDS), max_size=2).map(tuple),
    keep=st.lists(st.sampled_from(KEEPS), max_size=2).map(tuple),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(personal=personals, text=texts)
def test_masks_what_one_alternation_masks(personal: Personal, text: str) -> None:
    expected = reference_masker(personal)(text)
    found = text_masker(personal)(text)
    assert found == expected, f"{personal!r} {text!r}: expected {expected!r}, found {found!r}"
