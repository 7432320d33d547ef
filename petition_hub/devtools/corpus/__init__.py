"""A deterministic corpus of upstream messages, valid and broken, for every intake channel.

``generate(channel, n, seed)`` returns ``n`` :class:`CorpusItem` for one channel
(``"hotline"``, ``"miniprogram"``, ``"province"``); ``generate_all(n_per_channel, seed)`` all three.
The same arguments give the same bytes on every machine (seeded ``random.Random``, no clock).

Valid messages are realistic: enterprise petitions built from templates (financing, tax, land,
permits, arrears, utilities, labour, subsidies, suggestions, praise), counties and their typed
variants from ``petition_hub/data/regions.yaml``, enterprises with valid unified social credit
codes (check character computed with python-stdnum), valid phones and ID numbers; 12345 edits
(same ``GDBH``, larger ``XGCS``) and repeat calls (``YGDBH``), GB18030 work orders with their
``charset`` header, both mini-program schema versions and both provincial schema ids. A few valid
messages carry a deliberately bad credit code or phone: they must be accepted, and flagged.

Every ``broken_every``-th item is broken, cycling through the channel's broken kinds in order
(:data:`BROKEN_KINDS`), so ``n >= broken_every * len(BROKEN_KINDS[channel])`` covers every kind.
Each item says what the intake must do with it (``expected``: a petition or a dead letter with
``expected_reason``) and, for a valid one, the petition id the hub must give it.

Item keys and ids are unique within one call; two calls with different seeds may share ids.

One module per channel (:mod:`.hotline`, :mod:`.miniprogram`, :mod:`.province`), each declaring
its ``CORPUS`` (its broken kinds and its generator), listed once in :data:`CORPORA`; :mod:`.common`
holds the channels (the connectors'), the items and one call's seeded generation, :mod:`.values`
the realistic values (names, enterprises, codes, texts). The contract's samples are data
(:func:`petition_hub.data.load_samples`), listed here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from petition_hub.data import SAMPLES_DIR, Sample, load_samples
from petition_hub.devtools.corpus import hotline, miniprogram, province
from petition_hub.devtools.corpus.common import (
    CHANNELS,
    TOPICS,
    BrokenKind,
    ChannelCorpus,
    CorpusItem,
)

__all__ = [
    "BROKEN_KINDS",
    "CHANNELS",
    "CORPORA",
    "SAMPLES_DIR",
    "TOPICS",
    "CorpusItem",
    "Sample",
    "by_kind",
    "generate",
    "generate_all",
    "load_samples",
]


#: The channels' generators, each declared in its module (one per channel of
#: ``connectors.CHANNELS``: ``tests/test_connectors_corpus.py`` checks it).
CORPORA: Final[tuple[ChannelCorpus, ...]] = (hotline.CORPUS, miniprogram.CORPUS, province.CORPUS)
_GENERATORS: Final = {c.channel: c.generate for c in CORPORA}
#: Broken kinds per channel, each with the dead-letter reason the intake must give it.
BROKEN_KINDS: Final[dict[str, tuple[BrokenKind, ...]]] = {
    c.channel: c.broken_kinds for c in CORPORA
}


def generate(
    channel: str,
    n: int,
    seed: int = 0,
    *,
    broken_every: int = 7,
    oversize_bytes: int = 5 * 1024 * 1024,
    ending: datetime | None = None,
) -> list[CorpusItem]:
    """``n`` messages of ``channel`` (``hotline``, ``miniprogram`` or ``province``), in publishing
    order (an edit comes after the work order it edits).

    ``broken_every``: every so many items one is broken (0: none). ``oversize_bytes``: the size of
    the ``oversize_payload`` items (a broker may refuse 5 MB messages; pass a value just over the
    hub's 1 MiB limit if yours does). ``ending`` (an aware time; ``dev``'s demo gives now): the
    items' times run up to just before it, instead of the seeded days of 2026 (so the result
    depends on it: the tests leave it unset).
    """
    try:
        make = _GENERATORS[channel]
    except KeyError:
        raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})") from None
    return make(n, seed, broken_every, oversize_bytes, ending)


def generate_all(
    n_per_channel: int,
    seed: int = 0,
    *,
    broken_every: int = 7,
    oversize_bytes: int = 5 * 1024 * 1024,
    ending: datetime | None = None,
) -> list[CorpusItem]:
    """``generate`` for every channel, concatenated (hotline, mini-program, province)."""
    items: list[CorpusItem] = []
    for channel in CHANNELS:
        items.extend(
            generate(
                channel,
                n_per_channel,
                seed,
                broken_every=broken_every,
                oversize_bytes=oversize_bytes,
                ending=ending,
            )
        )
    return items


def by_kind(items: Sequence[CorpusItem]) -> dict[str, list[CorpusItem]]:
    """Items grouped by ``channel/kind`` (for tests and reports)."""
    groups: dict[str, list[CorpusItem]] = {}
    for item in items:
        groups.setdefault(f"{item.channel}/{item.kind}", []).append(item)
    return groups
