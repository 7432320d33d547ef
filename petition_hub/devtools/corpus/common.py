"""What every channel's generator shares: the channels, their topics and broken kinds, the item
each message becomes, and the helpers that build items."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from petition_hub.domain.petition import petition_id_for

Channel = Literal["hotline", "miniprogram", "province"]
CHANNELS: Final[tuple[Channel, ...]] = ("hotline", "miniprogram", "province")
TOPICS: Final[dict[str, str]] = {
    "hotline": "hotline12345.workorders",
    "miniprogram": "miniprogram.appeals",
    "province": "province.dispatch",
}

#: Broken kinds per channel, each with the dead-letter reason the intake must give it.
BROKEN_KINDS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "hotline": (
        ("truncated_json", "bad_json"),
        ("gb18030_without_header", "bad_encoding"),
        ("missing_required_field", "missing_field"),
        ("wrong_type", "wrong_type"),
        ("bad_local_time", "bad_value"),
        ("unknown_urgency", "bad_value"),
        ("oversize_payload", "too_large"),
        ("empty_value", "empty"),
        ("null_value", "empty"),
        ("null_key", "missing_key"),
        ("key_mismatch", "key_mismatch"),
        ("json_array", "not_an_object"),
        ("unsupported_charset_header", "bad_encoding"),
    ),
    "miniprogram": (
        ("truncated_json", "bad_json"),
        ("gb18030_bytes", "bad_encoding"),
        ("missing_required_field", "missing_field"),
        ("wrong_type", "wrong_type"),
        ("unsupported_schema_version", "bad_value"),
        ("time_without_offset", "bad_value"),
        ("oversize_payload", "too_large"),
        ("content_too_long", "too_large"),
        ("empty_value", "empty"),
        ("null_key", "missing_key"),
        ("key_mismatch", "key_mismatch"),
        ("json_string", "not_an_object"),
    ),
    "province": (
        ("wrong_magic_byte", "bad_magic"),
        ("unknown_schema_id", "unknown_schema_id"),
        ("feedback_schema_id", "unknown_schema_id"),
        ("truncated_avro", "bad_avro"),
        ("v2_body_labelled_v1", "bad_avro"),
        ("shorter_than_header", "bad_magic"),
        ("blank_content", "missing_field"),
        ("oversize_payload", "too_large"),
        ("empty_value", "empty"),
        ("null_key", "missing_key"),
        ("key_mismatch", "key_mismatch"),
        ("json_instead_of_avro", "bad_magic"),
    ),
}


@dataclass(frozen=True)
class CorpusItem:
    """One Kafka message and what the intake must make of it."""

    channel: str
    kind: str
    """``valid``, ``edit``, ``repeat``, ``gb18030``, ``v1``, ``flagged_uscc``, … or broken."""
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    expected: Literal["petition", "deadletter"]
    expected_reason: str | None = None
    """The dead-letter reason code (``None`` for a petition)."""
    petition_id: str | None = None
    """The hub id the petition must get (``None`` for a dead letter)."""
    revision: int = 0
    expected_type: str | None = None
    """The hub petition type (Chinese value) the channel's category maps to, if any."""
    expected_flags: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:  # the 5 MB values make the default repr useless
        size = None if self.value is None else len(self.value)
        return (
            f"CorpusItem({self.channel}/{self.kind}, key={self.key!r}, {size} bytes, "
            f"expected={self.expected}:{self.expected_reason or self.petition_id})"
        )


def _pid(channel: str, ref: str) -> str:
    return petition_id_for(channel, ref)


def valid_item(
    channel: str,
    kind: str,
    ref: str,
    value: bytes,
    headers: tuple[tuple[str, bytes], ...] = (),
    *,
    revision: int = 0,
    petition_type: str | None = None,
    flags: Sequence[str] = (),
) -> CorpusItem:
    """A message that must become the petition ``petition_id_for(channel, ref)``."""
    return CorpusItem(
        channel=channel,
        kind=kind,
        topic=TOPICS[channel],
        key=ref.encode(),
        value=value,
        headers=headers,
        expected="petition",
        petition_id=_pid(channel, ref),
        revision=revision,
        expected_type=petition_type,
        expected_flags=tuple(sorted(flags)),
    )


def dead_item(
    channel: str,
    kind: str,
    reason: str,
    key: bytes | None,
    value: bytes | None,
    headers: tuple[tuple[str, bytes], ...] = (),
) -> CorpusItem:
    """A broken message that must become one dead letter with ``reason``."""
    return CorpusItem(
        channel=channel,
        kind=kind,
        topic=TOPICS[channel],
        key=key,
        value=value,
        headers=headers,
        expected="deadletter",
        expected_reason=reason,
    )


def json_bytes(obj: Any) -> bytes:
    """``obj`` as the JSON channels send it: UTF-8, Chinese as is."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def broken_kind(channel: str, i: int, broken_every: int) -> tuple[str, str] | None:
    """The broken kind and reason of item ``i``, or ``None`` for a valid one: every
    ``broken_every``-th item, cycling through the channel's :data:`BROKEN_KINDS`."""
    if broken_every <= 0 or i % broken_every != broken_every - 1:
        return None
    kinds = BROKEN_KINDS[channel]
    return kinds[(i // broken_every) % len(kinds)]


def oversize_text(size: int) -> str:
    """A petition text of more than ``size`` UTF-8 bytes."""
    unit = "企业反映的问题需要协调解决。"
    return unit * (size // len(unit.encode("utf-8")) + 1)
