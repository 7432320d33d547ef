"""What the intake connectors share: the decode error, its reason codes, and strict field readers.

A connector's ``decode(key, value, headers)`` returns a
:class:`~petition_hub.domain.petition.Petition` or raises :class:`DecodeError`, never anything else
(:func:`never_raises_other`). The error's ``reason_code`` is one of the small fixed set
:class:`Reason` (a metric label and the dead-letter header); its ``message`` names the field and
the problem precisely but never repeats what the field held (nor the key): it ends up in logs and
in the dead letter's clear envelope, and any field of a broken message may hold personal data (a
name typed into the urgency field, a phone number as a work order number). Counts, sizes and
positions are fine. Field paths name the contract's fields; a JSON key that is not an identifier
is shown as ``<key>``.

Times, the normalisation of identifiers, the text limits and the fields of an evaluation are in
:mod:`.values`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Final, NoReturn, ParamSpec, TypeVar

from petition_hub.domain.petition import Evaluation, Petition
from petition_hub.domain.validation import DEFAULT_LIMITS, Limits

__all__ = [
    "DecodeError",
    "Decoder",
    "Evaluation",
    "EvaluationDecoder",
    "Headers",
    "Limits",
    "Obj",
    "Petition",
    "Reason",
    "check_key",
    "check_size",
    "decode_text",
    "header",
    "json_message",
    "key_text",
    "load_object",
    "never_raises_other",
    "opt_bool",
    "opt_int",
    "opt_list",
    "opt_obj",
    "opt_str",
    "req_int",
    "req_obj",
    "req_str",
    "wrong_type",
]

#: Kafka headers as clients hand them over: ``(name, value)`` pairs (names ``str`` or ``bytes``,
#: values ``bytes`` or ``None``) or a mapping.
Headers = Sequence[tuple[str | bytes, bytes | None]] | Mapping[str, bytes | None] | None

#: A JSON object as ``json.loads`` returns it.
Obj = dict[str, Any]


class Reason(StrEnum):
    """Why a message became a dead letter. A small fixed set: it is a metric label."""

    EMPTY = "empty"
    """No value (``None``, a tombstone) or zero bytes."""
    TOO_LARGE = "too_large"
    """Over a size limit (whole message, content, title)."""
    MISSING_KEY = "missing_key"
    """The Kafka key is absent; the contract keys every message by the channel's id."""
    KEY_MISMATCH = "key_mismatch"
    """The Kafka key is not the id in the value."""
    BAD_ENCODING = "bad_encoding"
    """Not text in the declared charset (UTF-8 unless a ``charset`` header says otherwise)."""
    BAD_JSON = "bad_json"
    """Not JSON."""
    NOT_AN_OBJECT = "not_an_object"
    """JSON, but not an object (or a nested field that must be an object is not)."""
    MISSING_FIELD = "missing_field"
    """A required field is absent, null or blank."""
    WRONG_TYPE = "wrong_type"
    """A field has the wrong JSON type."""
    BAD_VALUE = "bad_value"
    """A field has the right type but a value outside the contract."""
    BAD_MAGIC = "bad_magic"
    """Wire format: shorter than the 5-byte header, or byte 0 is not 0."""
    UNKNOWN_SCHEMA_ID = "unknown_schema_id"
    """Wire format: a schema id the topic's contract does not list."""
    BAD_AVRO = "bad_avro"
    """Wire format: the body does not decode with its schema (or has bytes left over)."""
    INTERNAL = "internal"
    """A bug in the connector: an unexpected exception, wrapped."""


class DecodeError(Exception):
    """A message that cannot become a petition; it goes to the dead-letter topic, unchanged."""

    def __init__(self, reason_code: Reason | str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code: Reason = Reason(reason_code)
        self.message: str = message

    def __reduce__(self) -> tuple[type[DecodeError], tuple[str, str]]:
        return (type(self), (self.reason_code.value, self.message))


#: ``decode(key, value, headers) -> Petition`` of a petition connector.
Decoder = Callable[[bytes | None, bytes | None, Headers], Petition]
#: ``decode_evaluation(key, value, headers) -> Evaluation`` of an evaluation connector.
EvaluationDecoder = Callable[[bytes | None, bytes | None, Headers], Evaluation]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def never_raises_other(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Let :class:`DecodeError` through; wrap any other exception into ``DecodeError(internal)``.

    ``RecursionError`` and ``MemoryError`` are wrapped too: a hostile message must not take the
    worker down. ``KeyboardInterrupt`` and ``SystemExit`` are not exceptions of the message.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(
                Reason.INTERNAL, f"unexpected {type(exc).__name__} in {fn.__module__}.{fn.__name__}"
            ) from exc

    return wrapper


# --- framing -------------------------------------------------------------------------------------


def check_size(value: bytes | None, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """``value`` if it is present and within the message size limit, else :class:`DecodeError`."""
    if value is None:
        raise DecodeError(Reason.EMPTY, "message has no value (null)")
    if len(value) == 0:
        raise DecodeError(Reason.EMPTY, "message value is empty (0 bytes)")
    if len(value) > limits.max_message_bytes:
        raise DecodeError(
            Reason.TOO_LARGE,
            f"message value is {len(value)} bytes, over the limit of {limits.max_message_bytes}",
        )
    return bytes(value)


def key_text(key: bytes | str | None, field: str) -> str:
    """The Kafka key as UTF-8 text; :class:`DecodeError` when absent, empty or not UTF-8."""
    if key is None or len(key) == 0:
        raise DecodeError(
            Reason.MISSING_KEY, f"message has no key (the contract keys it by {field})"
        )
    if isinstance(key, str):  # a client that decodes keys itself
        return key
    try:
        return bytes(key).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            Reason.BAD_ENCODING, f"key is not UTF-8 (byte {exc.start}; it should be the {field})"
        ) from None


def check_key(key: str, value: str, field: str) -> None:
    """:class:`DecodeError` ``key_mismatch`` unless the key is the value's id field."""
    if key != value:
        at = next((i for i, (a, b) in enumerate(zip(key, value, strict=False)) if a != b), None)
        where = (
            f"they differ from character {at + 1}"
            if at is not None
            else f"one is a prefix of the other: key {len(key)}, {field} {len(value)} characters"
        )
        raise DecodeError(Reason.KEY_MISMATCH, f"the key is not the {field} of the value ({where})")


def header(headers: Headers, name: str) -> bytes | None:
    """The value of the last header called ``name`` (case-insensitive), or ``None``.

    Header names may be ``str`` or ``bytes``; a name that is not text never matches.
    """
    if not headers:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    wanted = name.lower()
    found: bytes | None = None
    for item in items:
        k, v = item[0], item[1]
        if isinstance(k, bytes | bytearray | memoryview):
            try:
                k = bytes(k).decode("ascii")
            except UnicodeDecodeError:
                continue
        if isinstance(k, str) and k.lower() == wanted:
            found = bytes(v) if isinstance(v, bytes | bytearray | memoryview) else None
    return found


_CHARSETS: Final[Mapping[str, str]] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
}


def decode_text(value: bytes, headers: Headers, *, charset_header: bool = True) -> str:
    """The value as text: UTF-8, or GB18030 when the ``charset`` header says so.

    GBK and GB2312 are read as GB18030 (a superset). A leading UTF-8 byte-order mark is dropped.
    """
    encoding = "utf-8"
    if charset_header:
        raw = header(headers, "charset")
        if raw is not None:
            label = raw.decode("ascii", "replace").strip().lower()
            mapped = _CHARSETS.get(label)
            if mapped is None:
                raise DecodeError(
                    Reason.BAD_ENCODING,
                    "unsupported charset header (supported: UTF-8, GB18030, GBK, GB2312)",
                )
            encoding = mapped
    try:
        text = value.decode(encoding)
    except UnicodeDecodeError as exc:
        hint = ""
        if exc.reason == "unexpected end of data":
            hint = " (the value ends inside a character: truncated?)"
        elif encoding == "utf-8":
            hint = " (no `charset: GB18030` header; GB18030 senders must set it)"
        raise DecodeError(
            Reason.BAD_ENCODING, f"value is not valid {encoding.upper()} at byte {exc.start}{hint}"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def json_message(
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    key_field: str,
    limits: Limits,
    *,
    charset_header: bool = True,
) -> tuple[str, Obj]:
    """The key as text and the JSON object of a message, checked in this order: the size, the
    key, the charset (:func:`decode_text`), the JSON (:func:`load_object`)."""
    data = check_size(value, limits)
    key_str = key_text(key, key_field)
    return key_str, load_object(decode_text(data, headers, charset_header=charset_header))


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


_LONE_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
#: A JSON key that a message may name (a contract field name); any other key is ``<key>``.
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# One decoder for all messages: json.loads(text, parse_constant=...) would build one per call.
_JSON: Final = json.JSONDecoder(parse_constant=_reject_constant)


def load_object(text: str) -> Obj:
    """The JSON object in ``text``; :class:`DecodeError` ``bad_json`` or ``not_an_object``.

    ``NaN``/``Infinity`` (which Python's json accepts) are refused, and so are strings with an
    unpaired UTF-16 surrogate escape (they cannot be written as UTF-8 or Avro downstream).
    """
    try:
        obj = _JSON.decode(text)
    except RecursionError:
        raise DecodeError(Reason.BAD_JSON, "JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and int() of a 5000-digit number
        raise DecodeError(Reason.BAD_JSON, f"not JSON: {_first_line(exc)}") from None
    if not isinstance(obj, dict):
        raise DecodeError(Reason.NOT_AN_OBJECT, f"JSON value is {_json_type(obj)}, not an object")
    if _LONE_SURROGATE_ESCAPE.search(text):
        _check_surrogates(obj, "")
    return obj


def _check_surrogates(node: Any, path: str) -> None:
    """Walk a parsed JSON value; :class:`DecodeError` ``bad_value`` at a string that is not
    encodable as UTF-8 (an unpaired surrogate from a ``\\ud8xx`` escape)."""
    stack: list[tuple[Any, str]] = [(node, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise DecodeError(
                    Reason.BAD_VALUE, f"{_label(where)} contains an unpaired UTF-16 surrogate"
                ) from None
        elif isinstance(item, dict):
            for k, v in item.items():
                stack.append((k, f"{where}.<key>" if where else "<key>"))
                name = k if _IDENTIFIER.fullmatch(k) else "<key>"
                stack.append((v, f"{where}.{name}" if where else name))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))


# --- field readers -------------------------------------------------------------------------------
# Each takes the object, the field name and the path of the object (for messages: "account.phone").


def _label(path: str) -> str:
    return f"field `{path}`" if path else "value"


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def wrong_type(where: str, name: str, expected: str, value: Any) -> DecodeError:
    """The :class:`DecodeError` for a field of the wrong JSON type."""
    return DecodeError(
        Reason.WRONG_TYPE,
        f"{_label(_path(where, name))} must be {expected}, got {_json_type(value)}",
    )


def req_str(obj: Obj, name: str, where: str = "", *, strip: bool = True) -> str:
    """A required string field: ``missing_field`` when absent, null or blank; ``wrong_type``
    when not a string. Surrounding whitespace is removed unless ``strip`` is false."""
    value = obj.get(name)
    if value is None:
        raise DecodeError(Reason.MISSING_FIELD, f"required {_label(_path(where, name))} is missing")
    if not isinstance(value, str):
        raise wrong_type(where, name, "a string", value)
    stripped = value.strip()
    if not stripped:
        raise DecodeError(Reason.MISSING_FIELD, f"required {_label(_path(where, name))} is blank")
    return stripped if strip else value


def opt_str(obj: Obj, name: str, where: str = "") -> str | None:
    """An optional string field, stripped; ``None`` when absent, null or blank."""
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise wrong_type(where, name, "a string", value)
    return value.strip() or None


def req_int(obj: Obj, name: str, where: str = "") -> int:
    """A required integer field (JSON booleans and numbers with a fraction are not integers).

    A float with no fraction (``1.0``) is accepted as that integer.
    """
    value = obj.get(name)
    if value is None:
        raise DecodeError(Reason.MISSING_FIELD, f"required {_label(_path(where, name))} is missing")
    return _as_int(value, where, name)


def opt_int(obj: Obj, name: str, where: str = "") -> int | None:
    """An optional integer field (see :func:`req_int`)."""
    value = obj.get(name)
    return None if value is None else _as_int(value, where, name)


def _as_int(value: Any, where: str, name: str) -> int:
    if isinstance(value, bool):
        raise wrong_type(where, name, "an integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise wrong_type(where, name, "an integer", value)


def opt_bool(obj: Obj, name: str, where: str = "", default: bool = False) -> bool:
    """An optional boolean field; ``default`` when absent or null."""
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise wrong_type(where, name, "a boolean", value)
    return value


def opt_obj(obj: Obj, name: str, where: str = "") -> Obj | None:
    """An optional object field; ``None`` when absent or null."""
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise wrong_type(where, name, "an object", value)
    return value


def req_obj(obj: Obj, name: str, where: str = "") -> Obj:
    """A required object field."""
    value = opt_obj(obj, name, where)
    if value is None:
        raise DecodeError(Reason.MISSING_FIELD, f"required {_label(_path(where, name))} is missing")
    return value


def opt_list(obj: Obj, name: str, where: str = "") -> list[Any]:
    """An optional array field; empty when absent or null."""
    value = obj.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise wrong_type(where, name, "an array", value)
    return value
