"""Field validation for the intake connectors: phones, credit codes, ID numbers, regions, sizes.

Everything here is pure and cheap: regular expressions are compiled at import, python-stdnum is
called only after a cheap shape check, and look-ups in stdnum's division-code database (about
35 µs each) are cached, so a replay of a year of history is not slowed down by validation.

A field that fails these checks is usually *accepted and flagged* by the connectors (the petition is
still worth handling); only the size limits turn a message into a dead letter (``too_large``), and
times outside the hub's sane window (:func:`check_times`, which intake applies after decoding,
since it needs the hub's clock): their SLA arithmetic would be meaningless, or overflow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Literal

import yaml
from stdnum import numdb
from stdnum.cn import ric, uscc

from petition_hub.data import data_path

if TYPE_CHECKING:
    from petition_hub.domain.petition import Petition

__all__ = [
    "DEADLINE_MAX_AHEAD",
    "DEFAULT_LIMITS",
    "EARLIEST_TIME",
    "MAX_CONTENT_CHARS",
    "MAX_MESSAGE_BYTES",
    "MAX_TITLE_CHARS",
    "RECEIPT_MAX_AHEAD",
    "Limits",
    "TimeOutOfRange",
    "check_petition_times",
    "check_times",
    "compact_uscc",
    "is_known_region_code",
    "is_region_code",
    "is_valid_id_number",
    "is_valid_phone",
    "is_valid_uscc",
    "phone_kind",
    "uscc_region_hint",
]

#: A whole message (the Kafka value) larger than this is a dead letter with reason ``too_large``.
MAX_MESSAGE_BYTES = 1024 * 1024
#: Longest accepted petition content (characters).
MAX_CONTENT_CHARS = 10_000
#: Longest accepted petition title (characters).
MAX_TITLE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits of the intake; a message over any of them is a dead letter (``too_large``)."""

    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_content_chars: int = MAX_CONTENT_CHARS
    max_title_chars: int = MAX_TITLE_CHARS


#: The limits the connectors use unless they are given others.
DEFAULT_LIMITS = Limits()

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")
_SIX_DIGITS = re.compile(r"\d{6}")
_ID_SHAPE = re.compile(r"\d{17}[\dX]")


def phone_kind(phone: str) -> Literal["mobile", "landline"] | None:
    """``"mobile"`` for ``1[3-9]`` + 9 digits, ``"landline"`` for ``0375-2961234``-like numbers.

    ``None`` when the number has neither shape. Only ASCII digits count (``\\d`` would also match
    full-width digits, which no phone system dials).
    """
    if not phone.isascii():
        return None
    if _MOBILE.fullmatch(phone):
        return "mobile"
    if _LANDLINE.fullmatch(phone):
        return "landline"
    return None


def is_valid_phone(phone: str) -> bool:
    """True for a mobile (``1[3-9]\\d{9}``) or landline (``0\\d{2,3}-?\\d{7,8}``) number."""
    return phone_kind(phone) is not None


@lru_cache(maxsize=65536)
def compact_uscc(code: str) -> str:
    """A unified social credit code without spaces or dashes, upper case (python-stdnum's form)."""
    if code.isascii() and _USCC_CANONICAL.fullmatch(code):
        return code
    return str(uscc.compact(code))


# GB 32100-2015 check character, as in stdnum.cn.uscc (whose clean() costs ~20 µs a call).
_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_INDEX: Final = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_CANONICAL: Final = re.compile(r"[0-9]{8}[0-9A-HJ-NP-RTUW-Y]{10}")


@lru_cache(maxsize=65536)
def is_valid_uscc(code: str) -> bool:
    """True when ``code`` is an 18-character unified social credit code with a correct check
    character (GB 32100-2015). Spaces and dashes are ignored, case is not significant.

    A code already in canonical form (the usual case) is checked here, with stdnum's alphabet and
    weights; anything else is left to ``stdnum.cn.uscc.is_valid``. The two agree on every input
    (a property test says so).
    """
    if code.isascii() and _USCC_CANONICAL.fullmatch(code):
        total = sum(_USCC_INDEX[c] * w for c, w in zip(code, _USCC_WEIGHTS, strict=False))
        return _USCC_ALPHABET[-total % 31] == code[17]
    return bool(uscc.is_valid(code))


def uscc_region_hint(code: str) -> str | None:
    """Characters 3-8 of a valid credit code: the registering authority's division code.

    A hint of where the enterprise is, not proof of where the matter is; ``None`` when the code is
    not valid.
    """
    if not is_valid_uscc(code):
        return None
    return compact_uscc(code)[2:8]


def is_region_code(code: str) -> bool:
    """True when ``code`` has the shape of a division code: exactly six ASCII digits."""
    return code.isascii() and _SIX_DIGITS.fullmatch(code) is not None


@lru_cache(maxsize=1)
def _reference_codes() -> frozenset[str]:
    """The codes of ``regions.yaml``: the province, the city, its county-level units (including the
    functional zones' statistical codes, which stdnum does not know) and the other Henan cities."""
    with data_path("regions.yaml").open(encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    codes: set[str] = set()
    for key in ("province", "city"):
        entry = doc.get(key)
        if isinstance(entry, dict) and "code" in entry:
            codes.add(str(entry["code"]))
    for key in ("county_units", "henan_cities"):
        for entry in doc.get(key) or ():
            if isinstance(entry, dict) and "code" in entry:
                codes.add(str(entry["code"]))
    return frozenset(codes)


@lru_cache(maxsize=1)
def _division_db() -> numdb.NumDB:
    return numdb.get("cn/loc")


@lru_cache(maxsize=16384)
def _stdnum_knows(code: str) -> bool:
    """True when stdnum's division database names a county-level (or higher) unit for ``code``,
    at any time in its history."""
    info = _division_db().info(code)
    return len(info) >= 2 and bool(info[-1][1].get("county"))


def is_known_region_code(code: str) -> bool:
    """True for a six-digit code of ``regions.yaml`` or of stdnum's national division table.

    A well-formed code that is neither (a newly created district, a typo) is accepted by the
    connectors but flagged ``region_code_unknown``.
    """
    if not is_region_code(code):
        return False
    return code in _reference_codes() or _stdnum_knows(code)


@lru_cache(maxsize=65536)
def is_valid_id_number(number: str) -> bool:
    """True for a plausible 18-digit resident ID number (居民身份证号码).

    Checks, with ``stdnum.cn.ric``: the shape (17 digits and a digit or ``X``), the ISO 7064 check
    character, a real birth date not in the future, and an address code that the national
    division table knows. Unlike ``stdnum.cn.ric.is_valid`` it does not require the address code to
    have existed in the birth year: numbers are assigned where a person was registered when the
    card was issued, so someone born in 1980 in 鲁山县 (code 410423, created 1983) has a perfectly
    valid number that stdnum would reject.
    """
    number = number.upper()
    if not number.isascii() or _ID_SHAPE.fullmatch(number) is None:
        return False
    if ric.calc_check_digit(number) != number[-1]:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():
        return False
    return _stdnum_knows(number[:6])


# --- times ---------------------------------------------------------------------------------------

#: No petition time is earlier: the platforms are younger, and SLA clocks need a calendar.
EARLIEST_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
#: How far after the hub's clock a time of receipt (or of an edit) may lie: clocks of upstream
#: systems drift, and an hour's difference of zones is a common mistake, but not more.
RECEIPT_MAX_AHEAD: Final = timedelta(days=1)
#: How far after the hub's clock a deadline given by the province may lie (a resolve deadline
#: is at most a few weeks away; a year leaves room for anything real).
DEADLINE_MAX_AHEAD: Final = timedelta(days=366)


class TimeOutOfRange(ValueError):
    """A petition time outside the hub's window; ``field`` names it as its channel does."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def check_times(
    now: datetime,
    received: Mapping[str, datetime | None] | None = None,
    deadlines: Mapping[str, datetime | None] | None = None,
) -> None:
    """:class:`TimeOutOfRange` for the first time outside the hub's window, else nothing.

    ``received``: field name → a time something happened (receipt, an edit), which may not be
    before :data:`EARLIEST_TIME` nor more than :data:`RECEIPT_MAX_AHEAD` after ``now`` (the hub's
    clock); ``deadlines``: field name → a deadline, not before :data:`EARLIEST_TIME` nor more
    than :data:`DEADLINE_MAX_AHEAD` after ``now``. ``None`` values are skipped. The message names
    the field, says why, and gives the time and the clock (times are not personal).
    """
    for fields, ahead, limit in (
        (received or {}, RECEIPT_MAX_AHEAD, "a day"),
        (deadlines or {}, DEADLINE_MAX_AHEAD, "a year"),
    ):
        for field, value in fields.items():
            if value is None:
                continue
            if value < EARLIEST_TIME:
                raise TimeOutOfRange(
                    field,
                    f"{field} is before 2000-01-01 ({_utc_text(value)}): not a real petition time",
                )
            if value - now > ahead:
                raise TimeOutOfRange(
                    field,
                    f"{field} is more than {limit} after the hub's clock "
                    f"({_utc_text(value)}; the hub's clock: {_utc_text(now)})",
                )


def check_petition_times(
    petition: Petition,
    now: datetime,
    names: Mapping[str, str] | None = None,
) -> None:
    """:func:`check_times` of every time of ``petition`` that feeds its SLA clocks: the time of
    receipt (an edit of a 12345 work order carries its receipt time again) and the province's
    deadline. ``names`` maps ``received_at`` and ``provincial_deadline`` to the channel's names
    for them (``SLSJ``, ``submittedAt``, ``receivedAt``, ``provincialDeadline``), for the
    message."""
    received, deadline = petition.received_at, petition.provincial_deadline
    if (
        received >= EARLIEST_TIME
        and received - now <= RECEIPT_MAX_AHEAD
        and (
            deadline is None or (deadline >= EARLIEST_TIME and deadline - now <= DEADLINE_MAX_AHEAD)
        )
    ):
        return  # the usual case, without building the arguments of check_times
    names = names or {}
    check_times(
        now,
        received={names.get("received_at", "received_at"): petition.received_at},
        deadlines={
            names.get("provincial_deadline", "provincial_deadline"): petition.provincial_deadline
        },
    )
