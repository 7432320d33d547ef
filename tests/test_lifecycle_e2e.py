"""The lifecycle end to end, on the embedded broker, with a controllable clock (HUB_CLOCK_FILE).

One provincial dispatch goes through sign-for, a material pause, an extension, a late reply, a
dissatisfied rating (by 12345 call-back), reopening, a second reply and closure unrated; exactly
the expected ``hub.sla``, ``hub.lifecycle`` and ``province.feedback`` records appear, once each,
and events that do not fit are rejected with their reason.
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
    http_json,
    metric_sum,
    produce,
    read_topic,
    set_clock,
    topic_names,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.domain.petition import Channel, petition_id_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
DISPATCH = "HA-20260601-000042"
PID = petition_id_for(Channel.PROVINCE, DISPATCH)
LEAD = "dept.COURT"
CO = "dept.PLAC"


def _status(kind: str, at: datetime, **extra: Any) -> bytes:
    return schemas.encode(
        "cn.gov.pds.hub.UnitStatus.v1", {"petitionId": PID, "kind": kind, "at": at, **extra}
    )


class Story:
    def __init__(self, broker: EmbeddedBroker, clock: Path, worker: WorkerProcess) -> None:
        self.broker = broker
        self.clock = clock
        self.worker = worker

    def at(self, when: datetime) -> datetime:
        return set_clock(self.clock, when)

    def unit(self, unit: str, kind: str, when: datetime, **extra: Any) -> None:
        value = _status(kind, when, **extra)
        produce(self.broker.bootstrap, f"{unit}.status", [(PID.encode(), value, ())])

    def office(self, kind: str, when: datetime, days: int | None = None) -> None:
        value = schemas.encode(
            "cn.gov.pds.hub.OfficeDecision.v1",
            {
                "petitionId": PID,
                "kind": kind,
                "extensionDays": days,
                "decidedBy": "联席会议办公室",
                "decidedAt": when,
            },
        )
        produce(self.broker.bootstrap, "office.decisions", [(PID.encode(), value, ())])

    def callback(self, satisfaction: str, when: datetime, revision: int = 0) -> None:
        body = {
            "GDBH": DISPATCH,
            "petitionRef": PID,
            "satisfaction": satisfaction,
            "evaluatedAt": when.isoformat(),
            "revision": revision,
        }
        value = json.dumps(body, ensure_ascii=False).encode()
        produce(self.broker.bootstrap, "hotline12345.callbacks", [(DISPATCH.encode(), value, ())])

    def records(self, topic: str, count: int) -> list[dict[str, Any]]:
        """The petition's records on ``topic`` (Avro, or JSON for the channels' request topics),
        once there are at least ``count``."""

        def decode(value: bytes) -> dict[str, Any]:
            if topic.endswith("-requests"):
                return dict(json.loads(value))
            return dict(schemas.decode(value)[1])

        def enough() -> list[dict[str, Any]]:
            out = [
                decode(r.value or b"")
                for r in read_topic(self.broker.bootstrap, topic, timeout=5)
                if r.key in (PID.encode(), DISPATCH.encode())
            ]
            return out if len(out) >= count else []

        found: list[dict[str, Any]] = wait_until(enough, 60, what=f"{count} records on {topic}")
        return found

    def trace(self, topic: str) -> str:
        """The petition's records on ``topic`` with where they are and their event ids (for a
        failure's message: a record written twice shows as two offsets with one id)."""
        lines = []
        for r in read_topic(self.broker.bootstrap, topic, timeout=5):
            if r.key in (PID.encode(), DISPATCH.encode()):
                body = schemas.decode(r.value or b"")[1]
                what = body.get("signal") or body.get("kind")
                lines.append(f"{r.partition}:{r.offset} {dict(r.headers).get('ce_id')} {what}")
        return "\n".join(lines)

    def lifecycle(self, count: int) -> list[tuple[str, str | None, str | None]]:
        records = self.records("hub.lifecycle", count)
        return [(r["kind"], r["fromState"], r["toState"]) for r in records]

    def sla(self, count: int) -> list[tuple[str, str, int]]:
        return [(r["clock"], r["signal"], r["round"]) for r in self.records("hub.sla", count)]


def test_a_provincial_dispatch_from_receipt_to_closure(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    received = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)  # a Monday
    set_clock(clock, received)
    worker = start_worker(hub_topics, HUB_CLOCK_FILE=str(clock), HUB_LIFECYCLE_PARK_SECONDS="2")
    story = Story(hub_topics, clock, worker)

    t = story.at(received + timedelta(minutes=5))
    dispatch = court_dispatch(DISPATCH, received)
    produce(hub_topics.bootstrap, "province.dispatch", [(DISPATCH.encode(), dispatch, ())])
    assert story.lifecycle(2) == [
        ("state_changed", None, "received"),
        ("state_changed", "received", "routed"),
    ]
    assert story.sla(2) == [("resolve", "started", 0), ("sign_for", "started", 0)]

    # signed for within its hour (very urgent: the clock started at routing, 09:05), not at the
    # deadline itself: there the clock's own overdue step and the unit's record race
    t = story.at(t + timedelta(minutes=50))
    story.unit(LEAD, "SIGNED_FOR", t)
    story.unit(CO, "REPLIED", t, replyText="协办单位的答复")  # a co-handler does not reply
    # each event applied before the clock moves on: else the clock's own steps come first
    story.lifecycle(3)
    t = story.at(t + timedelta(days=1))
    story.unit(LEAD, "IN_PROGRESS", t)
    story.lifecycle(4)
    t = story.at(t + timedelta(days=1))
    story.unit(LEAD, "MATERIAL_REQUESTED", t, note="判决书复印件")
    story.lifecycle(5)
    t = story.at(t + timedelta(days=2))
    story.unit(LEAD, "MATERIAL_RECEIVED", t)
    story.lifecycle(6)
    t = story.at(t + timedelta(days=3))  # Monday 8 June
    story.unit(LEAD, "EXTENSION_REQUESTED", t, extensionDays=5, note="需协调外地法院")
    story.lifecycle(7)
    t = story.at(t + timedelta(hours=6))
    story.office("EXTENSION_APPROVED", t, days=5)
    story.unit(LEAD, "EXTENSION_REQUESTED", t, extensionDays=3)  # a second request
    sla = story.records("hub.sla", 6)
    extended = sla[-1]
    assert (extended["clock"], extended["signal"]) == ("resolve", "extended")
    due: datetime = extended["deadline"]
    assert due.astimezone(BJ).hour == 18

    # the clock runs past the deadline: warning, urging and overdue fire, in order, once each
    t = story.at(due + timedelta(hours=2))
    steps = story.sla(9)[6:]
    assert steps == [
        ("resolve", "warning", 0),
        ("resolve", "urging", 0),
        ("resolve", "overdue", 0),
    ], story.trace("hub.sla")
    _, lists = http_json(f"{worker.url}/units/{LEAD}/petitions")
    assert [r["petition_id"] for r in lists["overdue"]] == [PID]

    t = story.at(t + timedelta(hours=1))
    story.unit(LEAD, "REPLIED", t, replyText="已协调执行法院，款项将于本月底前执行到位。")
    requests = story.records("hotline12345.callback-requests", 1)
    assert requests[0]["GDBH"] == DISPATCH and requests[0]["petitionRef"] == PID
    assert requests[0]["replyText"] == "已协调执行法院，款项将于本月底前执行到位。"
    # what the 12345 call centre needs to call a provincial dispatch's petitioner back
    call = {k: requests[0].get(k) for k in ("channel", "dispatchId", "contactName", "contactPhone")}
    assert call == {
        "channel": "PROVINCE",
        "dispatchId": DISPATCH,
        "contactName": "孙总",
        "contactPhone": "13700375555",
    }, requests[0]
    assert requests[0]["repliedBy"] == "平顶山市中级人民法院", requests[0]
    t = story.at(t + timedelta(days=1))
    story.callback("不满意", t)
    story.lifecycle(12)
    t = story.at(t + timedelta(days=1))
    story.unit(LEAD, "REPLIED", t, replyText="款项已执行到位。")
    story.lifecycle(13)
    story.at(t + timedelta(days=8))  # no rating within the 7-day window

    final = story.records("hub.lifecycle", 14)
    assert [(r["kind"], r["fromState"], r["toState"]) for r in final] == [
        ("state_changed", None, "received"),
        ("state_changed", "received", "routed"),
        ("state_changed", "routed", "signed_for"),
        ("state_changed", "signed_for", "in_progress"),
        ("state_changed", "in_progress", "waiting_material"),
        ("state_changed", "waiting_material", "in_progress"),
        ("extension_requested", None, None),
        ("state_changed", "in_progress", "extended"),
        ("extension_answered", None, None),
        ("state_changed", "extended", "replied"),
        ("state_changed", "replied", "reopened"),
        ("unit_urged", None, None),
        ("state_changed", "reopened", "replied"),
        ("state_changed", "replied", "closed"),
    ]
    assert final[-1]["closure"] == "unrated" and final[-1]["cause"] == "evaluation_window_elapsed"
    assert final[10]["satisfaction"] == "DISSATISFIED" and final[10]["round"] == 1

    sla_final = story.records("hub.sla", 12)
    assert [(r["clock"], r["signal"], r["round"]) for r in sla_final] == [
        ("resolve", "started", 0),
        ("sign_for", "started", 0),
        ("sign_for", "met", 0),
        ("resolve", "paused", 0),
        ("resolve", "resumed", 0),
        ("resolve", "extended", 0),
        ("resolve", "warning", 0),
        ("resolve", "urging", 0),
        ("resolve", "overdue", 0),
        ("resolve", "missed", 0),
        ("resolve", "started", 1),
        ("resolve", "met", 1),
    ]
    assert all(r["unit"] == LEAD for r in sla_final[2:])

    feedback = story.records("province.feedback", 11)
    assert [f["status"] for f in feedback] == [
        "RECEIVED",  # received
        "RECEIVED",  # routed
        "ACCEPTED",  # signed for
        "IN_PROGRESS",
        "IN_PROGRESS",  # waiting for material
        "IN_PROGRESS",  # material received
        "EXTENDED",
        "RESOLVED",
        "IN_PROGRESS",  # reopened
        "RESOLVED",
        "EVALUATED",  # closed, unrated
    ]
    assert {f["dispatchId"] for f in feedback} == {DISPATCH}
    assert feedback[7]["message"] == "已协调执行法院，款项将于本月底前执行到位。"
    assert feedback[8]["satisfaction"] == "DISSATISFIED"
    assert feedback[2]["handlingUnit"] and feedback[-1]["satisfaction"] is None

    requests = story.records("hotline12345.callback-requests", 2)
    assert [r["round"] for r in requests] == [0, 1]
    assert [r["contactPhone"] for r in requests] == ["13700375555"] * 2
    # the contact travels sealed from routing (which keeps the petition itself until it closes,
    # as before) to the lifecycle: not in the clear on routed or in the lifecycle's changelog
    internal = sorted(
        t
        for t in topic_names(hub_topics.bootstrap)
        if t.startswith(worker.app_id) and t.endswith(("-routed", "-lifecycle-changelog"))
    )
    assert len(internal) == 2, internal
    assert read_topic(hub_topics.bootstrap, internal[-1], timeout=5)  # routed: records there
    for r in read_topic(hub_topics.bootstrap, internal, timeout=5):
        assert b"13700375555" not in (r.value or b"") and "孙总".encode() not in (r.value or b""), (
            f"the dispatch's contact in the clear on {r.topic}"
        )

    rejects = story.records("hub.rejects", 2)
    assert sorted(r["reason"] for r in rejects) == ["extension_already_requested", "not_the_lead"]

    notices = [
        r["kind"] for r in story.records(f"{LEAD}.petitions", 7) if "kind" in r and "role" not in r
    ]
    # the second extension request was refused and the lead told (before or after the approval:
    # the two came at once on two topics)
    assert notices.count("event_refused") == 1, notices
    notices.remove("event_refused")
    assert notices == ["extension_approved", "warning", "urging", "overdue", "reopened"]
    told = [r for r in story.records(f"{CO}.petitions", 2) if "role" not in r]
    assert [(r["kind"], r["reason"]) for r in told] == [("event_refused", "not_the_lead")]

    _, history = http_json(f"{worker.url}/petitions/{PID}")
    assert history["state"]["state"] == "closed"
    assert history["history"][0]["kind"] == "state_changed"
    assert any(h["kind"] == "routing" and h["lead"] == LEAD for h in history["history"])
    _, lists = http_json(f"{worker.url}/units/{LEAD}/petitions")
    assert [r["petition_id"] for r in lists["done"]] == [PID] and lists["open"] == []
    exposition = worker.metrics()
    assert metric_sum(exposition, "petition_hub_signed_for_on_time_total", unit=LEAD) == 1
    assert metric_sum(exposition, "petition_hub_resolved_total", unit=LEAD) == 2
    assert metric_sum(exposition, "petition_hub_resolved_on_time_total", unit=LEAD) == 1
    assert metric_sum(exposition, "petition_hub_rated_total", unit=LEAD) == 1
    assert metric_sum(exposition, "petition_hub_satisfied_total", unit=LEAD) == 0
    assert metric_sum(exposition, "petition_hub_reopened_total", unit=LEAD) == 1
