"""Decode speed: a replay of a year of history must finish in minutes, so each connector must
decode typical messages at tens of thousands a second. The bar here is deliberately low (noisy
CI machines); run with ``-s`` to see the measured rates."""

from __future__ import annotations

import time

import pytest

from petition_hub.connectors import PETITION_DECODERS
from petition_hub.corpus import CHANNELS, generate

#: Measured on the development machine (2 vCPU AMD EPYC): 20,000-35,000 a second per connector.
FLOOR_PER_SECOND = 5_000


@pytest.mark.parametrize("channel", CHANNELS)
def test_decode_speed(channel: str) -> None:
    items = generate(channel, 3000, seed=2026, broken_every=0)
    decode = PETITION_DECODERS[items[0].topic]
    rates = []
    for _ in range(3):  # the first pass is cold: every credit code and id is new
        start = time.perf_counter()
        for item in items:
            decode(item.key, item.value, item.headers)
        rates.append(len(items) / (time.perf_counter() - start))
    print(f"\n{channel}: " + ", ".join(f"{r:,.0f}/s" for r in rates))
    assert max(rates) > FLOOR_PER_SECOND
