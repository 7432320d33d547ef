"""The reliability suite (issue 11): crashes, rebalances under a saturated CPU, fuzzed input, load.

``pytest -m reliability`` runs the short forms (CI); ``pytest -m reliability --reliability-full``
runs the full-length parameters whose figures ``docs/reliability.md`` records. Every test writes
its figures (petitions in and out, duplicates, losses, dead letters) to
``$HUB_RELIABILITY_FIGURES`` (default ``var/reliability-figures.json``) and asserts them:

- **crash**: mixed petitions of all three channels (3 % broken), three ``kill -9`` at random
  points: every valid petition on hub.petitions and on exactly the unit topics its routing
  decision names, every broken one a dead letter, every petition's clock started exactly once,
  duplicates on hub.petitions within the stated bound (one batch, 2,000, per crash);
- **rebalance**: one worker, then three, then two, while petitions flow and busy loops in other
  processes compete for the CPU (every core at full length, one in CI): nothing lost, no lifecycle
  output (``hub.lifecycle``, ``hub.sla``) twice;
- **fuzz**: mutated channel messages (bit flips, truncation, invalid UTF-8, nesting, oversized,
  wrong Avro ids, out-of-order edits) and garbage on every status, decision and rating topic: no
  crash, no stuck partition, every channel message accounted for (a petition, a recognised
  redelivery, or a dead letter with a reason);
- **load**: a steady offered rate for a while: lag bounded, the worker's memory flat.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hubtest import (
    WorkerProcess,
    keys_on,
    linked_repeats,
    metric_sum,
    produce,
    read_topic,
    topic_names,
    wait_progress,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.devtools.corpus import CorpusItem, generate

pytestmark = [
    pytest.mark.broker,
    pytest.mark.slow,
    pytest.mark.reliability,
    # one at a time: the rebalance test saturates the CPU on purpose, the load test measures
    pytest.mark.xdist_group("reliability"),
]

BATCH = 2000  # the most one crash can repeat on hub.petitions (Stage's batch size)


@pytest.fixture
def full(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--reliability-full"))


@pytest.fixture
def figures() -> Iterator[dict[str, Any]]:
    """The test's figures, appended to the figures file when it ends (passed or not)."""
    found: dict[str, Any] = {}
    t0 = time.monotonic()
    yield found
    found["seconds"] = round(time.monotonic() - t0, 1)
    path = Path(os.environ.get("HUB_RELIABILITY_FIGURES", "var/reliability-figures.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps([*old, found], ensure_ascii=False, indent=1))


def _mixed(n: int, seed: int, broken_every: int = 33) -> list[CorpusItem]:
    """``n`` messages over the three channels, unique per channel id (a replay is not a loss)."""
    items: list[CorpusItem] = []
    for channel in ("hotline", "miniprogram", "province"):
        batch = generate(
            channel, n // 3, seed=seed, broken_every=broken_every, oversize_bytes=2 * 1024 * 1024
        )
        items.extend(batch)
    return items


def _send(broker: EmbeddedBroker, items: list[CorpusItem]) -> None:
    by_topic: dict[str, list[tuple[bytes | None, bytes | None, Any]]] = {}
    for i in items:
        by_topic.setdefault(i.topic, []).append((i.key, i.value, i.headers))
    for topic, records in by_topic.items():
        produce(broker.bootstrap, topic, records)


def _processed(worker: WorkerProcess) -> float:
    try:
        return metric_sum(worker.metrics(), "petition_hub_stage_records_total")
    except OSError:
        return 0.0


def _decoded(broker: EmbeddedBroker, topic: str) -> list[dict[str, Any]]:
    out = []
    for r in read_topic(broker.bootstrap, topic, timeout=5):
        out.append({**schemas.decode(r.value or b"")[1], "_headers": dict(r.headers)})
    return out


def _expected_petitions(items: list[CorpusItem]) -> set[str]:
    from petition_hub.connectors import PETITION_DECODERS

    ids = set()
    for i in items:
        if i.expected == "petition":
            ids.add(PETITION_DECODERS[i.topic](i.key, i.value, i.headers).petition_id)
    return ids


def _unit_topics_of(broker: EmbeddedBroker) -> list[str]:
    return sorted(
        t
        for t in topic_names(broker.bootstrap)
        if t.endswith(".petitions") and t[:5] in ("dept.", "count")
    )


def test_crash_three_kills_lose_nothing(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    full: bool,
    figures: dict[str, Any],
) -> None:
    n = 20_000 if full else 600
    items = _mixed(n, seed=71)
    valid = _expected_petitions(items)
    broken = [i for i in items if i.expected == "deadletter"]
    figures.update(test="crash", inputs=len(items), valid=len(valid), broken=len(broken))
    _send(hub_topics, items)
    rng = random.Random(5)
    worker = start_worker(hub_topics, wait_ready=0)
    for _ in range(3):
        # kill at a random point: after this worker processed a random share of the records
        at = rng.uniform(0.05, 0.3) * len(items)
        wait_until(lambda w=worker, at=at: _processed(w) >= at, 120, interval=0.05, what="progress")
        worker.stop(signal.SIGKILL)
        worker = start_worker(hub_topics, wait_ready=120)

    got = keys_on(hub_topics.bootstrap, "hub.petitions", valid, timeout=300)
    dead = keys_on(
        hub_topics.bootstrap,
        "hub.deadletter",
        len(broken),
        timeout=120,
        key=lambda r: dict(r.headers)["hub-source"].decode(),
    )
    routed = _decoded(hub_topics, f"{worker.app_id}-routed")

    def started() -> Counter[str]:
        return Counter(
            r["petitionId"]
            for r in _decoded(hub_topics, "hub.sla")
            if (r["clock"], r["signal"], r["round"]) == ("resolve", "started", 0)
        )

    local = {r["petitionId"] for r in routed if r["kind"] in ("UNITS", "TRIAGE")}

    def settled() -> int:
        """Local petitions with their clock started, or linked to an open case (重复诉求:
        a linked repeat has no clock of its own)."""
        return len((set(started()) | linked_repeats(hub_topics.bootstrap)) & local)

    wait_progress(settled, len(local), "local petitions' clocks (or links to an open case)")
    clocks = started()
    linked = linked_repeats(hub_topics.bootstrap)
    units_want: dict[str, set[str]] = {}
    for r in routed:
        if r["kind"] == "UNITS":
            units_want[r["petitionId"]] = {f"{u}.petitions" for u in (r["lead"], *r["co"])}
    units_got: dict[str, set[str]] = {}
    for topic in _unit_topics_of(hub_topics):
        for r in read_topic(hub_topics.bootstrap, topic, timeout=2):
            body = schemas.decode(r.value or b"")[1]
            if "role" in body:
                units_got.setdefault(body["petitionId"], set()).add(topic)
    duplicates = sum(c - 1 for c in got.values())
    wrong_units = {p for p, want in units_want.items() if units_got.get(p) != want}
    figures.update(
        petitions_out=len(got),
        lost=len(valid - set(got)),
        duplicates_hub_petitions=duplicates,
        dead_letters=len(dead),
        duplicate_dead_letters=sum(dead.values()) - len(dead),
        clocks_started=len(clocks),
        clocks_started_twice=sum(1 for c in clocks.values() if c > 1),
        linked_repeats=len(linked),
        wrong_unit_topics=len(wrong_units),
    )
    assert set(got) == valid, f"lost {len(valid - set(got))}, unexpected {len(set(got) - valid)}"
    assert duplicates <= 3 * BATCH, f"{duplicates} duplicates, bound {3 * BATCH}"
    assert len(dead) == len(broken), f"{len(dead)} dead letters for {len(broken)} broken"
    assert not [p for p, c in clocks.items() if c > 1], "a clock started twice"
    assert not linked & set(clocks), f"linked repeats with a clock: {sorted(linked & set(clocks))}"
    assert not wrong_units, f"{len(wrong_units)} petitions not on exactly their units' topics"


def _burn(processes: int) -> list[subprocess.Popen[bytes]]:
    """Busy loops competing with the workers for the CPU (ended by the caller, by their ids)."""
    code = "import time\nend = time.time() + 600\nwhile time.time() < end: pass\n"
    return [
        subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL)
        for _ in range(processes)
    ]


def test_rebalance_one_three_two_under_cpu_saturation(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    full: bool,
    figures: dict[str, Any],
) -> None:
    n = 12_000 if full else 450
    items = [i for i in _mixed(n, seed=83, broken_every=0) if i.expected == "petition"]
    valid = _expected_petitions(items)
    figures.update(
        test="rebalance",
        inputs=len(items),
        valid=len(valid),
    )
    # full length: every core busy; CI: one core, so the suite stays within its time
    burners = _burn((os.cpu_count() or 2) if full else 1)
    figures["cpu_burners"] = len(burners)
    try:
        first = start_worker(hub_topics, wait_ready=120)
        thirds = [items[k::3] for k in range(3)]
        _send(hub_topics, thirds[0])
        second = start_worker(hub_topics, wait_ready=120)
        third = start_worker(hub_topics, wait_ready=120)
        _send(hub_topics, thirds[1])
        wait_until(lambda: _processed(third) > 0, 120, what="the third worker to take part")
        second.stop()  # 3 -> 2, gracefully
        _send(hub_topics, thirds[2])

        def received() -> Counter[str]:
            return Counter(
                r["petitionId"]
                for r in _decoded(hub_topics, "hub.lifecycle")
                if r.get("toState") == "received"
            )

        routed_local = lambda: {  # noqa: E731
            r["petitionId"]
            for r in _decoded(hub_topics, f"{first.app_id}-routed")
            if r["kind"] in ("UNITS", "TRIAGE")
        }
        wait_progress(
            lambda: len(set(received()) & routed_local()) if routed_local() else 0,
            len(routed_local()) or 1,
            "local petitions received by the lifecycle",
        )
        time.sleep(3)  # a late duplicate would land now
        lifecycle = read_topic(hub_topics.bootstrap, "hub.lifecycle", timeout=5)
        sla = read_topic(hub_topics.bootstrap, "hub.sla", timeout=5)
        ids = Counter(dict(r.headers).get("ce_id", b"").decode() for r in (*lifecycle, *sla))
        twice = {i: c for i, c in ids.items() if c > 1}
        petitions = {
            (r.key or b"").decode()
            for r in read_topic(hub_topics.bootstrap, "hub.petitions", timeout=5)
        }
        fenced = sum(
            metric_sum(w.metrics(), "petition_hub_stage_fenced_total") for w in (first, third)
        )
        figures.update(
            petitions_out=len(petitions),
            lost=len(valid - petitions),
            lifecycle_outputs=len(lifecycle) + len(sla),
            lifecycle_duplicates=len(twice),
            fenced=fenced,
        )
        assert petitions == valid, f"lost {len(valid - petitions)}"
        assert not twice, f"{len(twice)} lifecycle outputs twice, e.g. {list(twice)[:3]}"
    finally:
        for p in burners:
            p.kill()
            p.wait(10)


def _mutations(
    items: list[CorpusItem], n: int, seed: int
) -> list[tuple[str, bytes | None, bytes | None, Any]]:
    rng = random.Random(seed)
    out: list[tuple[str, bytes | None, bytes | None, Any]] = []
    wrong_ids = [
        schemas.schema_id(x)
        for x in ("cn.gov.pds.hub.Petition.v1", "cn.gov.ha.petition.Feedback.v1")
    ]
    for k in range(n):
        base = rng.choice(items)
        value = bytearray(base.value or b"")
        how = k % 8
        if how == 0 and value:  # bit flips
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(len(value))
                value[pos] ^= 1 << rng.randrange(8)
        elif how == 1:  # truncated
            value = value[: rng.randrange(len(value) + 1)]
        elif how == 2:  # invalid UTF-8
            value[rng.randrange(len(value) + 1) : 0] = b"\xff\xfe\xc3"
        elif how == 3:  # nested
            value = bytearray(b'{"a":' * 200 + b"1" + b"}" * 200)
        elif how == 4 and k % 200 == 4:  # oversized (now and then: the broker keeps them all)
            value = bytearray(rng.randbytes(1_100_000))
        elif how == 5:  # wrong Avro id
            value = bytearray(b"\x00" + rng.choice(wrong_ids).to_bytes(4, "big") + value[5:])
        elif how == 6:  # an old edit out of order: the item as it is, again
            pass
        else:  # empty
            value = bytearray()
        out.append((base.topic, base.key, bytes(value), base.headers))
    return out


def _garbage_events(
    n: int, seed: int, pids: list[str]
) -> list[tuple[str, bytes | None, bytes | None, Any]]:
    rng = random.Random(seed)
    topics = [
        "dept.TAX.status",
        "county.410402.status",
        "office.decisions",
        "miniprogram.evaluations",
        "hotline12345.callbacks",
    ]
    kinds = [
        "SIGNED_FOR",
        "IN_PROGRESS",
        "MATERIAL_REQUESTED",
        "MATERIAL_RECEIVED",
        "EXTENSION_REQUESTED",
        "REPLIED",
        "RETURNED",
        "BOGUS",
    ]
    out: list[tuple[str, bytes | None, bytes | None, Any]] = []
    for k in range(n):
        topic = topics[k % len(topics)]
        pid = rng.choice(pids) if pids else "PH-AAAAAAAAAAAAAAAAAAAA"
        if topic.endswith(".status") and k % 3 == 0:
            value = schemas.encode(
                "cn.gov.pds.hub.UnitStatus.v1",
                {"petitionId": pid, "kind": rng.choice(kinds[:-1]), "at": datetime.now(UTC)},
            )
        else:
            value = rng.randbytes(rng.randint(0, 300))
        out.append((topic, pid.encode() if k % 5 else None, value, ()))
    return out


def test_fuzz_nothing_crashes_nothing_sticks_everything_counted(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    full: bool,
    figures: dict[str, Any],
) -> None:
    n = 100_000 if full else 1_200
    base = [i for i in _mixed(300, seed=97, broken_every=0) if i.expected == "petition"]
    channel_inputs = _mutations(base, n * 2 // 3, seed=11)
    pids = sorted(_expected_petitions(base))
    events = _garbage_events(n - len(channel_inputs), seed=13, pids=pids)
    worker = start_worker(hub_topics, HUB_LIFECYCLE_PARK_SECONDS="2")
    by_topic: dict[str, list[tuple[bytes | None, bytes | None, Any]]] = {}
    for topic, key, value, headers in (*channel_inputs, *events):
        by_topic.setdefault(topic, []).append((key, value, headers))
    for topic, records in by_topic.items():
        produce(hub_topics.bootstrap, topic, records)
    channels = {"hotline12345.workorders", "miniprogram.appeals", "province.dispatch"}
    sent = sum(len(v) for t, v in by_topic.items() if t in channels)

    def accounted() -> tuple[float, float, float]:
        text = worker.metrics()
        received = metric_sum(text, "petition_hub_intake_messages_total")
        admitted = metric_sum(text, "petition_hub_petitions_received_total")
        dead = sum(
            metric_sum(text, "petition_hub_dead_letters_total", channel=c)
            for c in ("hotline", "miniprogram", "province")
        )
        return received, admitted, dead

    wait_progress(lambda: accounted()[0], sent, "channel messages read")
    wait_progress(
        lambda: -metric_sum(worker.metrics(), "petition_hub_consumer_lag_records"),
        0,
        "no lag on any partition (nothing stuck)",
    )
    received, admitted, dead = accounted()
    alive = worker.proc is not None and worker.proc.poll() is None
    figures.update(
        test="fuzz",
        inputs=n,
        channel_messages=sent,
        other_events=n - sent,
        petitions_admitted=admitted,
        dead_letters=dead,
        unaccounted=received - admitted - dead,
        worker_alive=alive,
    )
    assert alive, f"the worker exited:\n{worker.log()[-3000:]}"
    assert received == sent, f"read {received} of {sent}"
    assert admitted + dead == received, f"{received - admitted - dead} messages unaccounted"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_load_lag_bounded_memory_flat(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    full: bool,
    figures: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    """A steady 50 petitions/s: far above twice a province's peak (a province takes about 2
    million petitions a year; its busiest hour, at a tenth of a busy day's three times the
    average, is under 1/s), so the margin covers a replay or a catch-up too."""
    chosen = request.config.getoption("--load-seconds")
    rate, duration = 50, (chosen or (30 * 60 if full else 15))
    items = [
        i for i in _mixed(rate * duration * 2, seed=101, broken_every=0) if i.expected == "petition"
    ][: rate * duration]
    worker = start_worker(hub_topics)
    assert worker.proc is not None
    lags: list[float] = []
    rss: list[int] = []
    t0 = time.monotonic()
    for k in range(0, len(items), rate):
        _send(hub_topics, items[k : k + rate])
        lags.append(metric_sum(worker.metrics(), "petition_hub_consumer_lag_records"))
        rss.append(_rss_kb(worker.proc.pid))
        time.sleep(max(0.0, t0 + (k // rate + 1) - time.monotonic()))
    wait_until(
        lambda: metric_sum(worker.metrics(), "petition_hub_consumer_lag_records") == 0,
        120,
        what="the lag to drain",
    )
    # every petition stays open here (nobody signs for or replies), and the lifecycle keeps
    # open petitions: memory grows with them. Flat means it grows no faster later than earlier
    # (a leak, or a cost per petition that rises, would): compare the two halves after warm-up.
    warm = rss[len(rss) // 4 :] or rss
    half = len(warm) // 2
    first = max(warm[half] - warm[0], 1) / max(half, 1)
    second = max(warm[-1] - warm[half], 1) / max(len(warm) - 1 - half, 1)
    figures.update(
        test="load",
        rate_per_s=rate,
        duration_s=duration,
        petitions=len(items),
        max_lag=max(lags),
        rss_kb_start=warm[0],
        rss_kb_end=warm[-1],
        rss_kb_per_petition=round((warm[-1] - warm[0]) / max(len(items) * 3 // 4, 1), 2),
        rss_slope_ratio=round(second / first, 2),
        rss_mb_every_30s=[round(r / 1024) for r in rss[::30]],
    )
    assert max(lags) <= rate * 30, f"lag reached {max(lags)} (30 s of input)"
    assert second <= 2 * first or warm[-1] - warm[0] < 50_000, (
        f"memory grows faster later ({second:.0f} KB/s) than earlier ({first:.0f} KB/s)"
    )
