"""What every channel's generator shares: the channels and their topics (as the connectors declare
them), the item each message becomes, one call's seeded generation, and the helpers that build
items."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from petition_hub import connectors
from petition_hub.devtools.corpus.values import Gen
from petition_hub.domain.petition import petition_id_for

#: Channel name → the topic of its petitions, in the connectors' order (``connectors.CHANNELS``).
TOPICS: Final[dict[str, str]] = {s.channel.value: s.topic for s in connectors.CHANNELS}
#: The channels' names (``hotline``, ``miniprogram``, ``province``).
CHANNELS: Final[tuple[str, ...]] = tuple(TOPICS)

#: A broken kind and the dead-letter reason the intake must give it.
BrokenKind = tuple[str, str]
#: A channel's generator: ``(n, seed, broken_every, oversize_bytes, ending)`` -> items; ``ending``
#: (an aware time, or None) is :class:`Generation`'s.
Generate = Callable[[int, int, int, int, "datetime | None"], "list[CorpusItem]"]


@dataclass(frozen=True)
class ChannelCorpus:
    """One channel's generator, declared in its module and listed once in the package."""

    channel: str
    """The channel's name (``Channel.value``), one of :data:`CHANNELS`."""
    broken_kinds: tuple[BrokenKind, ...]
    """Its broken kinds, each with the dead-letter reason the intake must give it."""
    generate: Generate


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


def broken_kind(kinds: Sequence[BrokenKind], i: int, broken_every: int) -> tuple[str, str] | None:
    """The broken kind and reason of item ``i``, or ``None`` for a valid one: every
    ``broken_every``-th item, cycling through the channel's broken ``kinds``."""
    if broken_every <= 0 or i % broken_every != broken_every - 1:
        return None
    return kinds[(i // broken_every) % len(kinds)]


class Generation:
    """One call's generation of a channel: its seeded choices (``rng``, ``gen``), its first day
    (``start`` plus a seeded number of days) and its sequence number.

    With ``ending`` (``dev``'s demo: petitions that arrive now), the first time is ``ending``
    less ``span`` instead (``ending`` already in the channel's convention of times, ``span`` as
    long as the call's items), so the receipt times run up to just before ``ending``; the sequence
    numbers then start from ``ending``'s second of the day, so the calls of one demo, a second or
    more apart, do not reuse the references of one day. Without it the items are as they always
    were (the tests' corpora are deterministic)."""

    def __init__(
        self,
        channel: str,
        seed: int,
        start: datetime,
        ending: datetime | None = None,
        span: timedelta = timedelta(0),
    ) -> None:
        self.rng = random.Random(f"{channel}:{seed}")
        self.gen = Gen(self.rng)
        # drawn either way: the rest of the seeded choices stay the same
        self.day0 = start + timedelta(days=self.rng.randrange(300))
        self.seq = self.rng.randrange(1000)
        if ending is not None:
            self.day0 = ending - span
            second_of_day = ending.hour * 3600 + ending.minute * 60 + ending.second
            self.seq += 1000 * second_of_day


def oversize_text(size: int) -> str:
    """A petition text of more than ``size`` UTF-8 bytes."""
    unit = "企业反映的问题需要协调解决。"
    return unit * (size // len(unit.encode("utf-8")) + 1)


def framing_broken(
    kind: str, key: bytes, good: Callable[[], bytes], wrong_key: bytes
) -> tuple[bytes | None, bytes | None] | None:
    """The key and value of a broken kind of the message's framing, which every channel has
    (``empty_value``, ``null_value``, ``null_key``, ``key_mismatch``: ``good`` makes the intact
    value); ``None`` for a kind of the channel's own format."""
    if kind == "empty_value":
        return key, b""
    if kind == "null_value":
        return key, None
    if kind == "null_key":
        return None, good()
    if kind == "key_mismatch":
        return wrong_key, good()
    return None
