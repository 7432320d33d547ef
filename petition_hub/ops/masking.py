"""Personal data masked in what an operator tool shows (``dlq show``, ``tail``), and only personal
data, whatever the shape of the record.

The masking rules are the domain's (:mod:`petition_hub.domain.privacy`: the kinds of personal
value, the hub's own petitioner fields, what is kept, how a text is masked); this module adds the
channels' field names, which the domain does not know, and the reading of any record or text.

A parsed record (JSON, or Avro as :func:`petition_hub.schemas.decode` reads it) has its personal
fields replaced by ``***`` (the caller's, account holder's, petitioner's or contact's name, phone,
ID number, openid), and every text in it passed through the domain's free-text redaction
(:func:`petition_hub.domain.privacy.text_masker`) built with the values found there: a name
quoted in the petition's words is masked too, phones and ID numbers by their shape. An
enterprise's or place's name is not personal: it is never replaced, and the enterprise's name and
credit code are kept even where they contain the person's name.

A text that does not parse (why a message is a dead letter) gets the same redaction, with the
personal values read from it as ``"key": "value"``, ``key=value`` or ``<key>value</key>`` pairs:
a broken JSON message still names its caller in a field the masker finds.

Consumes: a record or a text. Emits: the same with personal data masked. Keeps: nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final

from petition_hub.domain.privacy import (
    ID_NUMBER,
    KEEP,
    NAME,
    PETITIONER_FIELD_KINDS,
    PHONE,
    Personal,
    text_masker,
)

#: Shown instead of a personal field's value.
MASK: Final = "***"

#: Fields that hold a person's name, phone, ID number or openid wherever they are, and the kind
#: of each: the hub's own records' (the domain's petitioner fields but ``name``, which is a
#: person's only in some places), then the channels' (the hotline's ``LDRXM``, ``LDHM``, the
#: mini-program's, the province's, the units').
_KEY_KINDS: Final[Mapping[str, str]] = {
    **{key: kind for key, kind in PETITIONER_FIELD_KINDS.items() if key != "name"},
    "LDRXM": NAME,
    "contactName": NAME,
    "LDHM": PHONE,
    "contactPhone": PHONE,
    "contact_phone": PHONE,
    "idCardNo": ID_NUMBER,
    "idNumber": ID_NUMBER,
}
#: ``name`` is a person's only inside these (elsewhere: an enterprise, a region, an attachment).
_PERSON_PARENTS: Final = frozenset({"account", "petitioner"})
#: Fields that hold an enterprise's name or credit code: kept even where they contain a name.
_KEEP_KEYS: Final = frozenset(
    {"QYMC", "TYSHXYDM", "uscc", "enterpriseName", "enterprise_name", "enterpriseUscc"}
)
PERSONAL_KEYS: Final = frozenset(_KEY_KINDS) | {"name"}


def _is_enterprise(node: Mapping[str, Any]) -> bool:
    """A province petitioner of kind ENTERPRISE: its ``name`` is the enterprise's."""
    return str(node.get("kind", "")).upper() == "ENTERPRISE" and "contactName" in node


def _kind(key: str, parent: str | None, node: Mapping[str, Any]) -> str | None:
    """Which kind of value (the domain's: a personal one, or :data:`KEEP`) ``key`` of ``node``
    (under ``parent``) holds, if any."""
    if key in _KEY_KINDS:
        return _KEY_KINDS[key]
    if key == "name" and parent in _PERSON_PARENTS:
        return KEEP if _is_enterprise(node) else NAME
    if key in _KEEP_KEYS or (key == "name" and parent == "enterprise"):
        return KEEP
    return None


def _collect(node: Any, parent: str | None, found: dict[str, list[str]]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            kind = _kind(str(key), parent, node)
            if kind is not None and isinstance(value, str) and value.strip():
                found.setdefault(kind, []).append(value)
            _collect(value, str(key), found)
    elif isinstance(node, list | tuple):
        for item in node:
            _collect(item, parent, found)


def _apply(node: Any, parent: str | None, mask: Callable[[str], str]) -> Any:
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            kind = _kind(str(key), parent, node)
            personal = kind not in (None, KEEP) and value not in (None, "")
            out[key] = MASK if personal else _apply(value, str(key), mask)
        return out
    if isinstance(node, list | tuple):
        return [_apply(v, parent, mask) for v in node]
    if isinstance(node, str):
        return mask(node)
    if isinstance(node, bytes):
        return f"<{len(node)} bytes>"
    if isinstance(node, datetime | date):
        return node.isoformat()
    return node


def mask_record(record: Any) -> Any:
    """``record`` (dicts, lists, scalars) with its personal fields ``***`` and its texts masked
    (the names, phones and ID numbers it holds, anywhere, and any phone or ID number by shape)."""
    found: dict[str, list[str]] = {}
    _collect(record, None, found)
    return _apply(record, None, text_masker(Personal.gathered(found)))


_ANY_KEY: Final = "|".join(sorted(map(re.escape, PERSONAL_KEYS | _KEEP_KEYS), key=len))
#: ``"key": "value"`` (JSON, even broken), ``key=value`` or ``key: value``, ``<key>value</key>``.
_PAIR: Final = re.compile(
    rf"""["']?(?P<key>{_ANY_KEY})["']?\s*[:=]\s*(?:"(?P<dq>[^"\n]*)"|'(?P<sq>[^'\n]*)'"""
    rf"""|(?P<bare>[^\s,;&"'{{}}<>\[\]]+))"""
    rf"|<(?P<tag>{_ANY_KEY})>(?P<text>[^<\n]*)</(?P=tag)>"
)
#: The key of the object a position is in, in a broken JSON text: ``"account": {`` … here.
_OPEN_OBJECT: Final = re.compile(r"""["']?(\w+)["']?\s*:\s*\{[^{}]*$""")


def _parent_at(text: str, position: int) -> str | None:
    opened = _OPEN_OBJECT.search(text, max(0, position - 2000), position)
    return opened.group(1) if opened else None


def _enterprise_around(text: str, position: int) -> Mapping[str, Any]:
    """The object around ``position`` as :func:`_kind` needs it (a province petitioner's
    ``"kind": "ENTERPRISE"``, said before ``position``)."""
    start = text.rfind("{", max(0, position - 2000), position)
    said = start >= 0 and _ENTERPRISE_KIND.search(text, start, position) is not None
    return {"kind": "ENTERPRISE", "contactName": ""} if said else {}


_ENTERPRISE_KIND: Final = re.compile(r"""kind["']?\s*[:=]\s*["']?ENTERPRISE""")


def mask_free_text(text: str) -> str:
    """A text that is not a record (broken JSON, form fields, XML, prose) with personal data
    masked: the values of personal fields it spells out, wherever they recur in it, and phones,
    ID numbers and openids by their shape; an enterprise's name stays."""
    found: dict[str, list[str]] = {}
    for m in _PAIR.finditer(text):
        key = m.group("key") or m.group("tag")
        value = next((v for v in m.group("dq", "sq", "bare", "text") if v is not None), "")
        parent = _parent_at(text, m.start())
        kind = _kind(key, parent, _enterprise_around(text, m.start()))
        if kind is None and key == "name" and parent is None:
            kind = NAME  # a name in an object we cannot place: a person's, to be safe
        if kind is not None and value.strip():
            found.setdefault(kind, []).append(value.strip())
    return text_masker(Personal.gathered(found))(text)
