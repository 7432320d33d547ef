"""A unit disputes a rating (对评价结果有异议), end to end (issue 14), on the embedded broker with
a controllable clock (HUB_CLOCK_FILE) and a real worker.

Two provincial dispatches, both led by the intermediate court (dept.COURT), both replied and both
rated 不满意 through the 12345 call-back (which reopens them):

- A: the court disputes the rating on its own ``.status`` topic (``RATING_DISPUTED``,
  ``UnitStatus.v3``, its reason in ``note``); ``hub.lifecycle`` records ``rating_disputed``
  naming the rating (``ratedAt``), which is where the office reads it; the office voids the
  rating on ``office.decisions`` (``RATING_VOIDED``, ``OfficeDecision.v2``); ``hub.lifecycle``
  records ``dispute_decided`` (voided) and the court is told (``rating_voided``). The petition
  stays reopened.
- B: the court disputes it after the 5 working days: refused (``dispute_window_passed``),
  ``hub.rejects`` records it and the court hears it on its ``.petitions`` topic.
- The report, computed from what the worker wrote, leaves A's voided rating out of 评价 and
  满意率, counts it as voided, and splits the replies by kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from hubtest import (
    WorkerProcess,
    court_dispatch,
    decoded,
    http_json,
    keyed_records,
    metric_sum,
    produce,
    set_clock,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.domain.petition import Channel, petition_id_for
from petition_hub.ops.report import Period, compute, read_events

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
DISPATCH_A, DISPATCH_B = "HA-20260601-000521", "HA-20260601-000522"
PID_A = petition_id_for(Channel.PROVINCE, DISPATCH_A)
PID_B = petition_id_for(Channel.PROVINCE, DISPATCH_B)
LEAD = "dept.COURT"
REASON = "已依法执行到位，不满意系对判决结果不满，非办理问题"


def _status(pid: str, kind: str, at: datetime, **extra: Any) -> tuple[bytes, bytes, tuple[()]]:
    record = {"petitionId": pid, "kind": kind, "at": at, **extra}
    return pid.encode(), schemas.encode("cn.gov.pds.hub.UnitStatus.v3", record), ()


def _of(broker: EmbeddedBroker, topic: str, pid: str) -> list[dict[str, Any]]:
    return decoded(keyed_records(broker.bootstrap, topic, pid))


def _await(
    broker: EmbeddedBroker, topic: str, pid: str, match: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The first record of ``pid`` on ``topic`` that ``match``es, once it is there."""

    def found() -> dict[str, Any] | None:
        return next((r for r in _of(broker, topic, pid) if match(r)), None)

    record: dict[str, Any] = wait_until(found, 90, what=what)
    return record


def _changed_to(state: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r["kind"] == "state_changed" and r["toState"] == state


def _rate_dissatisfied(broker: str, dispatch: str, pid: str, at: datetime) -> None:
    callback = {
        "GDBH": dispatch,
        "petitionRef": pid,
        "satisfaction": "不满意",
        "evaluatedAt": at.isoformat(),
        "revision": 0,
    }
    value = json.dumps(callback, ensure_ascii=False).encode()
    produce(broker, "hotline12345.callbacks", [(dispatch.encode(), value, ())])


def test_a_unit_disputes_a_rating_the_office_voids_it_and_the_report_leaves_it_out(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    received = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)  # a Monday
    set_clock(clock, received)
    worker = start_worker(hub_topics, HUB_CLOCK_FILE=str(clock), HUB_LIFECYCLE_PARK_SECONDS="2")
    broker = hub_topics.bootstrap

    t = set_clock(clock, received + timedelta(minutes=5))
    produce(
        broker,
        "province.dispatch",
        [(d.encode(), court_dispatch(d, received), ()) for d in (DISPATCH_A, DISPATCH_B)],
    )
    for pid in (PID_A, PID_B):
        routed = _await(hub_topics, "hub.lifecycle", pid, _changed_to("routed"), f"{pid} routed")
        assert routed["leadUnit"] == LEAD, routed

    # the court signs for and replies to both (A: resolved, B: explained)
    t = set_clock(clock, t + timedelta(hours=1))
    produce(broker, f"{LEAD}.status", [_status(p, "SIGNED_FOR", t) for p in (PID_A, PID_B)])
    t = set_clock(clock, t + timedelta(hours=1))
    replies = [
        _status(PID_A, "REPLIED", t, replyText="款项已执行到位。", replyKind="RESOLVED"),
        _status(PID_B, "REPLIED", t, replyText="属另案处理范围。", replyKind="EXPLAINED"),
    ]
    produce(broker, f"{LEAD}.status", replies)
    for pid in (PID_A, PID_B):
        _await(hub_topics, "hub.lifecycle", pid, _changed_to("replied"), f"{pid} replied")

    # both petitioners are dissatisfied (Tuesday 2 June): reopened
    t = set_clock(clock, t + timedelta(days=1))
    for dispatch, pid in ((DISPATCH_A, PID_A), (DISPATCH_B, PID_B)):
        _rate_dissatisfied(broker, dispatch, pid, t)
    reopened_a = _await(hub_topics, "hub.lifecycle", PID_A, _changed_to("reopened"), "A reopened")
    assert reopened_a["satisfaction"] == "DISSATISFIED", reopened_a
    _await(hub_topics, "hub.lifecycle", PID_B, _changed_to("reopened"), "B reopened")

    # A: the court disputes; the office reads it on hub.lifecycle
    t = set_clock(clock, t + timedelta(hours=2))
    dispute = _status(PID_A, "RATING_DISPUTED", t, note=REASON, eventId="COURT-D-1")
    produce(broker, f"{LEAD}.status", [dispute])
    disputed = _await(
        hub_topics, "hub.lifecycle", PID_A, lambda r: r["kind"] == "rating_disputed", "dispute"
    )
    assert (disputed["unit"], disputed["note"]) == (LEAD, REASON), disputed
    assert disputed["ratedAt"] == reopened_a["at"], (disputed, reopened_a)

    # the office voids the rating: recorded, and the court is told
    t = set_clock(clock, t + timedelta(hours=3))
    decision = {
        "petitionId": PID_A,
        "kind": "RATING_VOIDED",
        "leadUnit": None,
        "coUnits": [],
        "extensionDays": None,
        "note": "经核实，不满意与办理无关",
        "decidedBy": "office.clerk.7",
        "decidedAt": t,
    }
    value = schemas.encode("cn.gov.pds.hub.OfficeDecision.v2", decision)
    produce(broker, "office.decisions", [(PID_A.encode(), value, ())])
    decided = _await(
        hub_topics, "hub.lifecycle", PID_A, lambda r: r["kind"] == "dispute_decided", "decision"
    )
    assert (decided["disputeOutcome"], decided["ratedAt"]) == ("voided", reopened_a["at"])
    told = _await(
        hub_topics, f"{LEAD}.petitions", PID_A, lambda r: r.get("kind") == "rating_voided", "told"
    )
    assert "voided" in told["message"] and "经核实" in told["message"], told
    _, held = http_json(f"{worker.url}/petitions/{PID_A}")
    assert (held["state"]["state"], held["state"]["dispute"]) == ("reopened", "voided"), held
    # and on /metrics: the void leaves 满意率's denominator (rated minus voided)
    exposition = worker.metrics()
    assert metric_sum(exposition, "petition_hub_ratings_voided_total", unit=LEAD) == 1

    # B: the court disputes after the window (2 June + 5 working days: 9 June 18:00): refused
    t = set_clock(clock, datetime(2026, 6, 10, 9, 0, tzinfo=BJ))
    produce(broker, f"{LEAD}.status", [_status(PID_B, "RATING_DISPUTED", t, note=REASON)])
    refused = _await(
        hub_topics,
        f"{LEAD}.petitions",
        PID_B,
        lambda r: r.get("kind") == "event_refused",
        "the refusal of B's dispute",
    )
    assert (refused["reason"], refused["eventKind"]) == ("dispute_window_passed", "RATING_DISPUTED")
    assert "5 working days" in refused["message"], refused["message"]
    rejects = [r["reason"] for r in _of(hub_topics, "hub.rejects", PID_B)]
    assert rejects == ["dispute_window_passed"], rejects

    # the report, from what the worker wrote: A's voided rating is out of 评价 and 满意率
    events = read_events(broker)
    report = compute(events.lifecycle, events.sla, Period(2026, 6), events.facts)
    (court,) = [r for r in report.units if r.key == LEAD]
    assert (court.rated, court.satisfied, court.voided) == (1, 0, 1), court
    assert court.satisfaction_rate == 0.0, court
    assert (court.replied_resolved, court.replied_explained) == (1, 1), court
    assert (report.total.voided, report.total.rated) == (1, 1), report.total
