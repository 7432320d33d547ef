"""Timers fire once across a crash and a rebalance.

4,000 open very urgent petitions (10,000 with ``--reliability-full``), driven by a controllable
clock: their sign-for deadlines (1 hour after routing) fall due one after another over the next
(simulated) hour, then their resolve ladders (1 working day: warning, urging, overdue) fire in
bursts of all of them the next day. The worker is killed (SIGKILL) while the sign-for steps fire,
a new one restores the clocks from the changelog and goes on, and a second worker joins (a
rebalance moves half the partitions) before the bursts. At the end every step that fell due is on
``hub.sla`` exactly once: none lost, none repeated, each at its scheduled time.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hubtest import WorkerProcess, metric_sum, produce, read_topic, set_clock, wait_progress
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.domain.lifecycle import Accepted, Received, Routed, SlaSignal, Tick, apply
from petition_hub.domain.petition import Channel, PetitionType, Urgency, petition_id_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)  # a Monday
#: Petitions in the suite's run and in the full-length one (each also writes its progress and
#: supervision records: the full length takes minutes).
N_SUITE, N_FULL = 4_000, 10_000
SPREAD = timedelta(hours=1)  # routings spread over an hour: overdue steps over the next hour
LEAD = "dept.TAX"
LADDER = {"warning", "urging", "overdue", "listed_supervision"}
APP_ID = "hub-restart"


def _routed(i: int, n: int) -> tuple[str, datetime, bytes]:
    pid = petition_id_for(Channel.HOTLINE, f"restart-{i:05d}")
    at = (T0 + SPREAD * i / n).astimezone(UTC)
    record = {
        "petitionId": pid,
        "revision": 0,
        "kind": "UNITS",
        "lead": LEAD,
        "co": [],
        "excluded": [],
        "routedAt": at,
        "receivedAt": at,
        "petitionType": PetitionType.POLICY_CONSULTATION.value,
        "urgency": "VERY_URGENT",
        "provincialDeadline": None,
        "channel": "HOTLINE",
        "channelRef": f"restart-{i:05d}",
        "rulesVersion": "test",
    }
    return pid, at, schemas.encode("cn.gov.pds.hub.Routed.v2", record)


def _expected(petitions: list[tuple[str, datetime]], end: datetime) -> Counter[tuple[str, ...]]:
    """Every ladder step due by ``end``, from the pure state machine."""
    want: Counter[tuple[str, ...]] = Counter()
    for pid, at in petitions:
        s = apply(
            None,
            Received(
                petition_id=pid,
                at=at,
                channel=Channel.HOTLINE,
                petition_type=PetitionType.POLICY_CONSULTATION,
                urgency=Urgency.VERY_URGENT,
            ),
        )
        assert isinstance(s, Accepted)
        r = apply(s.state, Routed(petition_id=pid, at=at, lead_unit=LEAD))
        assert isinstance(r, Accepted)
        t = apply(r.state, Tick(petition_id=pid, at=end))
        assert isinstance(t, Accepted)
        for e in t.effects:
            if isinstance(e, SlaSignal) and e.signal.value in LADDER:
                want[(pid, e.clock.value, e.signal.value, str(e.round), e.at.isoformat())] += 1
    return want


def test_every_due_step_fires_once_across_a_crash_and_a_rebalance(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    n = N_FULL if request.config.getoption("--reliability-full") else N_SUITE
    clock = tmp_path / "clock"
    now = T0
    set_clock(clock, now)
    env = {"HUB_CLOCK_FILE": str(clock), "app_id": APP_ID}
    first = start_worker(hub_topics, **env)
    petitions = [_routed(i, n) for i in range(n)]
    produce(
        hub_topics.bootstrap,
        f"{APP_ID}-routed",
        [(pid.encode(), value, ()) for pid, _, value in petitions],
    )

    def advance(to: datetime, step: timedelta = timedelta(minutes=5)) -> datetime:
        t = now
        while t < to:
            t = min(t + step, to)
            set_clock(clock, t)
            time.sleep(0.3)
        return t

    # half the sign-for deadlines pass; the worker dies while their overdue steps fire
    now = advance(T0 + timedelta(hours=1, minutes=30))
    wait_progress(
        lambda: metric_sum(first.metrics(), "petition_hub_sla_steps_total"),
        n // 3,
        "steps firing before the crash",
    )
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL  # a crash, mid-way

    second = start_worker(hub_topics, wait_ready=120, **env)
    now = advance(T0 + timedelta(hours=2, minutes=10))
    third = start_worker(hub_topics, wait_ready=120, **env)  # a rebalance
    end = advance(T0 + timedelta(hours=36), step=timedelta(hours=1))  # Tuesday 21:00

    want = _expected([(pid, at) for pid, at, _ in petitions], end)
    signals = Counter(k[2] for k in want)
    assert signals == {"overdue": 2 * n, "warning": n, "urging": n}  # both clocks

    def fired() -> Counter[tuple[str, ...]]:
        got: Counter[tuple[str, ...]] = Counter()
        for r in read_topic(hub_topics.bootstrap, "hub.sla", timeout=10):
            e = schemas.decode(r.value or b"")[1]
            if e["signal"] in LADDER:
                at = e["at"].astimezone(UTC).isoformat()
                got[(e["petitionId"], e["clock"], e["signal"], str(e["round"]), at)] += 1
        return got

    wait_progress(lambda: sum(fired().values()), sum(want.values()), "every step on hub.sla")
    time.sleep(3)  # anything late (a duplicate) would show now
    got = fired()
    missing = want - got
    repeated = {k: n for k, n in got.items() if n > 1}
    unexpected = got - want
    assert not missing, f"{len(missing)} steps lost, e.g. {list(missing)[:3]}"
    assert not repeated, f"{len(repeated)} steps repeated, e.g. {list(repeated.items())[:3]}"
    assert not unexpected, f"{len(unexpected)} steps not due, e.g. {list(unexpected)[:3]}"
    assert second.health()["ready"] and third.health()["ready"]
    held = [set(second.health()["stages"]["lifecycle"]), set(third.health()["stages"]["lifecycle"])]
    assert held[0] and held[1] and not held[0] & held[1]  # the partitions were shared out
