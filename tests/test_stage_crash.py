"""The batch stages under crashes and rebalances: nothing lost, duplicates only from a crash.

A worker killed with SIGKILL mid-stream leaves its last batch uncommitted; the next owner reads it
again and its restored state (the changelog) skips what was already emitted. Outputs are delivered
before the state that records them, so a crash between the two can repeat at most the batch in
hand (at-least-once; consumers of hub.petitions are idempotent per petition id and revision).
A graceful rebalance (a second worker joining, one leaving) repeats nothing.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable

import pytest

from hubtest import WorkerProcess, keys_on, metric_sum, produce, read_topic, wait_until
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.devtools.corpus import CorpusItem, generate
from petition_hub.runtime.stage import Stage

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BATCH = 2000  # Stage's default batch size: the most a crash can repeat


def _valid(n: int, seed: int) -> list[CorpusItem]:
    items = generate("hotline", int(n * 1.4), seed=seed, broken_every=10**9)
    unique = list({i.key: i for i in items if i.expected == "petition"}.values())
    assert len(unique) >= n
    return unique[:n]


def _processed(worker: WorkerProcess) -> float:
    try:
        return metric_sum(worker.metrics(), "petition_hub_stage_records_total")
    except OSError:
        return 0.0


def test_default_batch_size_is_the_documented_bound() -> None:
    assert Stage.__init__.__kwdefaults__["batch_size"] == BATCH


def test_sigkill_mid_stream_loses_nothing(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    items = _valid(8000, seed=21)
    produce(
        hub_topics.bootstrap,
        "hotline12345.workorders",
        [(i.key, i.value, i.headers) for i in items],
    )
    first = start_worker(hub_topics, wait_ready=0)
    wait_until(lambda: _processed(first) >= 2000, 60, interval=0.02, what="some processed")
    first.stop(signal.SIGKILL)
    second = start_worker(hub_topics)
    wait_until(lambda: _processed(second) > 0, 60, what="the new worker to take over")
    expected = {i.petition_id for i in items}
    ids = keys_on(hub_topics.bootstrap, "hub.petitions", expected, timeout=120)
    assert set(ids) == expected  # nothing lost
    assert sum(ids.values()) - len(ids) <= BATCH  # at most the batch in hand repeated


def _holds(worker: WorkerProcess) -> list[int]:
    stages = worker.health().get("stages") or {}
    return list(stages.get("intake-hotline") or [])


def test_rebalance_between_two_workers_repeats_nothing(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    items = _valid(2000, seed=22)
    first = start_worker(hub_topics)
    second = start_worker(hub_topics)  # joins: the first hands over part of its partitions
    wait_until(
        lambda: _holds(first) and _holds(second) and len(_holds(first) + _holds(second)) == 12,
        60,
        what="both workers to share the partitions",
    )
    produce(
        hub_topics.bootstrap,
        "hotline12345.workorders",
        [(i.key, i.value, i.headers) for i in items],
    )
    wait_until(lambda: _processed(first) + _processed(second) >= len(items), 90, what="all")
    assert _processed(first) > 0 and _processed(second) > 0
    first.stop()  # leaves gracefully: its partitions (and their state) go to the second
    wait_until(lambda: len(_holds(second)) == 12, 60, what="the second to take over")
    before = _processed(second)
    produce(
        hub_topics.bootstrap,
        "hotline12345.workorders",
        [(i.key, i.value, i.headers) for i in items[:500]],
    )
    wait_until(lambda: _processed(second) >= before + 500, 30, what="re-sent records read")
    records = read_topic(hub_topics.bootstrap, "hub.petitions", min_count=len(items), timeout=60)
    ids = Counter((r.key or b"").decode() for r in records)
    assert set(ids) == {i.petition_id for i in items}
    assert max(ids.values()) == 1  # re-sent records after the hand-over were recognised
