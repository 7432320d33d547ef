"""Field validation the connectors use (petition_hub.domain.validation)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from petition_hub.domain.petition import petition_id_for
from petition_hub.domain.validation import (
    compact_uscc,
    is_known_region_code,
    is_region_code,
    is_valid_id_number,
    is_valid_phone,
    is_valid_uscc,
    phone_kind,
    uscc_region_hint,
)

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@pytest.mark.parametrize(
    ("phone", "kind"),
    [
        ("13803750001", "mobile"),
        ("19912345678", "mobile"),
        ("0375-2961234", "landline"),
        ("03752961234", "landline"),
        ("010-12345678", "landline"),
        ("12803750001", None),
        ("1380375000", None),
        ("138037500011", None),
        ("0375-296123", None),
        ("+8613803750001", None),
        ("１３８０３７５０００１", None),  # full-width digits
        ("", None),
    ],
)
def test_phones(phone: str, kind: str | None) -> None:
    assert phone_kind(phone) == kind
    assert is_valid_phone(phone) is (kind is not None)


def test_credit_codes() -> None:
    assert is_valid_uscc("91410402MA0011870T")
    assert is_valid_uscc("91410402ma0011870t")  # case is not significant (stdnum compacts)
    assert is_valid_uscc("9141 0402 MA00 1187 0T")
    assert not is_valid_uscc("91410402MA0011870X")
    assert not is_valid_uscc("91410402MA0011870")
    assert not is_valid_uscc("")
    assert compact_uscc("9141-0402 ma0011870t") == "91410402MA0011870T"
    assert uscc_region_hint("91410402MA0011870T") == "410402"
    assert uscc_region_hint("91410402MA0011870X") is None


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=USCC_CHARS + "IOSVZ -abc", min_size=16, max_size=20),
        st.text(max_size=20),
        st.builds(
            lambda body: body + uscc.calc_check_digit(body),
            st.text(alphabet="0123456789", min_size=8, max_size=8).flatmap(
                lambda head: st.text(alphabet=USCC_CHARS, min_size=9, max_size=9).map(
                    lambda tail: head + tail
                )
            ),
        ),
    )
)
def test_credit_code_check_agrees_with_stdnum(code: str) -> None:
    assert is_valid_uscc(code) == uscc.is_valid(code)


def test_id_numbers() -> None:
    assert is_valid_id_number("360426199101010071")  # stdnum's own example
    assert is_valid_id_number("410423198005122314")
    assert not ric.is_valid("410423198005122314")  # stdnum: 鲁山县's code is from 1983
    assert not is_valid_id_number("410423198005122319")  # check digit
    assert not is_valid_id_number("410423198002302310")  # 30 February
    assert not is_valid_id_number("999999198005122310")  # unknown address code
    assert not is_valid_id_number("41042319800512231")
    assert not is_valid_id_number("４１０４２３１９８００５１２２３１４")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789Xx", min_size=17, max_size=19))
def test_id_numbers_agree_with_stdnum_on_checksum(number: str) -> None:
    """Wherever stdnum accepts a number, so does the hub (it is only more lenient on dates of
    address codes)."""
    if ric.is_valid(number):
        assert is_valid_id_number(number)


def test_region_codes() -> None:
    assert (
        is_region_code("410402")
        and not is_region_code("41040")
        and not is_region_code("４１０４０２")
    )
    for code in ("410000", "410400", "410402", "410471", "410472", "411002", "419001", "110105"):
        assert is_known_region_code(code), code
    for code in ("419999", "000000", "999999", "4104", "abcdef"):
        assert not is_known_region_code(code), code


@settings(max_examples=200, deadline=None)
@given(channel=st.sampled_from(["hotline", "miniprogram", "province"]), ref=st.text())
def test_petition_id_is_base32_of_sha256(channel: str, ref: str) -> None:
    try:
        digest = hashlib.sha256(f"{channel}:{ref}".encode()).digest()
    except UnicodeEncodeError:  # a lone surrogate: not a reference any channel can send
        return
    assert petition_id_for(channel, ref) == "PH-" + base64.b32encode(digest).decode()[:20]
