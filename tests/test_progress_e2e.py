"""Every party hears what concerns it (issue 14), end to end on the embedded broker with a real
worker and the controllable clock (HUB_CLOCK_FILE):

- a mini-program petitioner receives every progress message of a story with a material pause and
  an extension, in order, once each, keyed by its appealId, with CloudEvents headers;
- a local petition handed to the province closes locally as transferred (counted apart: its
  resolve clock cancelled, no unit charged), and its petitioner hears it;
- overdue (督办) and listed supervision (挂牌督办) reach the joint-meeting office and the leading
  group, and the unit's notice says so; a step that falls due while a petition waits in triage
  names the office and reaches it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from hubtest import (
    Record,
    WorkerProcess,
    cloudevent_problems,
    decoded,
    keyed_records,
    produce,
    read_topic,
    set_clock,
)
from petition_hub import schemas
from petition_hub.agents.lifecycle_progress import sensitive_theme
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.data import load_samples
from petition_hub.domain.petition import Channel, petition_id_for
from petition_hub.domain.rules import default_rules

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
RECEIVED = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)  # a Monday
#: The v2 sample: an enterprise's policy question, routed to 舞钢市 (county.410481).
HELD = "MP2026111700231"
HELD_PID = petition_id_for(Channel.MINIPROGRAM, HELD)
LEAD = "county.410481"
#: The v1 sample: no theme matches, so it waits in the office's triage.
TRIAGED = "MP2026111800012"
TRIAGED_PID = petition_id_for(Channel.MINIPROGRAM, TRIAGED)
#: What the mini-program sent about its petitioners (must never come back on a progress topic).
PERSONAL = ("13603756789", "王建国", "o6_681ab83d8914d76c4dbb4cfad")


def _appeal(sample: str, **changes: Any) -> tuple[bytes, bytes]:
    s = load_samples()[sample]
    body = json.loads(s.value)
    body.update(submittedAt=RECEIVED.isoformat(), **changes)
    return s.key, json.dumps(body, ensure_ascii=False).encode()


def _send_appeal(broker: EmbeddedBroker, sample: str, **changes: Any) -> None:
    key, value = _appeal(sample, **changes)
    produce(broker.bootstrap, "miniprogram.appeals", [(key, value, ())])


def _status(broker: EmbeddedBroker, kind: str, at: datetime, **extra: Any) -> None:
    value = schemas.encode(
        "cn.gov.pds.hub.UnitStatus.v1", {"petitionId": HELD_PID, "kind": kind, "at": at, **extra}
    )
    produce(broker.bootstrap, f"{LEAD}.status", [(HELD_PID.encode(), value, ())])


def _office(broker: EmbeddedBroker, kind: str, at: datetime, days: int | None = None) -> None:
    value = schemas.encode(
        "cn.gov.pds.hub.OfficeDecision.v1",
        {
            "petitionId": HELD_PID,
            "kind": kind,
            "extensionDays": days,
            "decidedBy": "联席会议办公室",
            "decidedAt": at,
        },
    )
    produce(broker.bootstrap, "office.decisions", [(HELD_PID.encode(), value, ())])


def _progress(broker: EmbeddedBroker, ref: str, count: int) -> list[dict[str, Any]]:
    return [
        json.loads(r.value or b"")
        for r in keyed_records(broker.bootstrap, "miniprogram.progress", ref, count)
    ]


def _header(r: Record, name: str) -> str:
    return dict(r.headers).get(name, b"").decode()


def _start(
    broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> Path:
    """A worker on ``broker`` whose clocks read the file it returns, set to just after
    ``RECEIVED``."""
    clock = tmp_path / "clock"
    set_clock(clock, RECEIVED + timedelta(minutes=5))
    start_worker(broker, HUB_CLOCK_FILE=str(clock), HUB_LIFECYCLE_PARK_SECONDS="5")
    return clock


def test_a_mini_program_petitioner_hears_every_step_in_order(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    broker, clock = hub_topics, _start(hub_topics, start_worker, tmp_path)
    _send_appeal(broker, "miniprogram-v2-enterprise.json")
    assert [m["kind"] for m in _progress(broker, HELD, 2)] == ["received", "handed"]

    t = set_clock(clock, RECEIVED + timedelta(hours=1))
    _status(broker, "SIGNED_FOR", t)
    t = set_clock(clock, t + timedelta(hours=2))
    _status(broker, "MATERIAL_REQUESTED", t, note="营业执照复印件")
    _progress(broker, HELD, 4)
    t = set_clock(clock, t + timedelta(days=1))
    _status(broker, "MATERIAL_RECEIVED", t)
    _status(broker, "EXTENSION_REQUESTED", t, extensionDays=2, note="需会同省厅核实")
    _progress(broker, HELD, 5)
    t = set_clock(clock, t + timedelta(hours=3))
    _office(broker, "EXTENSION_APPROVED", t, days=2)
    _progress(broker, HELD, 6)
    t = set_clock(clock, t + timedelta(hours=3))
    _status(broker, "REPLIED", t, replyText="申报条件见省厅通知，截止时间为7月31日。")
    _progress(broker, HELD, 7)
    set_clock(clock, t + timedelta(days=8))  # no rating within the 7-day window: closed

    records = keyed_records(broker.bootstrap, "miniprogram.progress", HELD, 8)
    messages = [json.loads(r.value or b"") for r in records]
    assert [m["kind"] for m in messages] == [
        "received",
        "handed",
        "signed_for",
        "material_needed",
        "material_received",
        "extended",
        "replied",
        "closed",
    ], "every step once, in order"
    assert all(m["appealId"] == HELD and m["petitionRef"] == HELD_PID for m in messages)
    rules = default_rules()
    named = None if sensitive_theme(rules, "T26") else rules.unit_name("county", "410481")
    assert messages[1]["unitName"] == named
    assert messages[3]["material"] == "营业执照复印件"
    extended = datetime.fromisoformat(messages[5]["deadline"])
    assert extended > RECEIVED + timedelta(days=5), f"an extended deadline, found {extended}"
    assert messages[6]["replyText"] == "申报条件见省厅通知，截止时间为7月31日。"
    assert messages[7]["closure"] == "unrated"
    assert all(m["text"] for m in messages)
    ids = [_header(r, "ce_id") for r in records]
    assert all(ids) and len(set(ids)) == len(ids), f"stable, distinct CloudEvents ids: {ids}"
    assert {_header(r, "ce_type") for r in records} == {"cn.gov.pds.hub.Progress"}
    raw = b"".join(r.value or b"" for r in records).decode()
    leaked = [p for p in PERSONAL if p in raw]
    assert not leaked, f"personal data on the progress topic: {leaked}"


def test_a_transfer_to_the_province_closes_locally_as_transferred(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    broker, clock = hub_topics, _start(hub_topics, start_worker, tmp_path)
    _send_appeal(
        broker,
        "miniprogram-v2-enterprise.json",
        region={"code": "410102", "name": "中原区"},
        title="用电",
        content="郑州市中原区的工厂用电问题，请协调。",
    )
    transfers = read_topic(broker.bootstrap, "province.transfers", min_count=1, timeout=60)
    assert len(transfers) == 1, f"one transfer to the province, found {len(transfers)}"

    lifecycle = decoded(keyed_records(broker.bootstrap, "hub.lifecycle", HELD_PID, 3))
    assert [(r["fromState"], r["toState"]) for r in lifecycle] == [
        (None, "received"),
        ("received", "transferred"),
        ("transferred", "closed"),
    ]
    assert lifecycle[-1]["closure"] == "transferred" and lifecycle[-1]["leadUnit"] is None
    sla = decoded(keyed_records(broker.bootstrap, "hub.sla", HELD_PID, 2))
    assert [(r["clock"], r["signal"], r["unit"]) for r in sla] == [
        ("resolve", "started", None),
        ("resolve", "cancelled", None),
    ], "the resolve clock ends without a verdict, against no unit"
    assert [m["kind"] for m in _progress(broker, HELD, 3)] == ["received", "transferred", "closed"]

    # nothing more fires for it: a month later no ladder step, no notice
    set_clock(clock, RECEIVED + timedelta(days=40))
    later = read_topic(broker.bootstrap, ["hub.sla", "office.supervision"], timeout=10)
    assert len([r for r in later if r.key == HELD_PID.encode()]) == 2


def test_supervision_reaches_the_office_and_the_leading_group(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    broker, clock = hub_topics, _start(hub_topics, start_worker, tmp_path)
    _send_appeal(broker, "miniprogram-v2-enterprise.json")  # held by county.410481
    _send_appeal(broker, "miniprogram-v1-individual.json")  # waits in triage
    _progress(broker, HELD, 2)
    keyed_records(broker.bootstrap, "hub.lifecycle", TRIAGED_PID, 2)
    t = set_clock(clock, RECEIVED + timedelta(hours=1))
    _status(broker, "SIGNED_FOR", t)
    keyed_records(broker.bootstrap, "hub.lifecycle", HELD_PID, 3)
    set_clock(clock, RECEIVED + timedelta(days=45))  # past every step of both

    office = decoded(keyed_records(broker.bootstrap, "office.supervision", HELD_PID, 2))
    assert [(r["clock"], r["step"], r["unit"]) for r in office] == [
        ("resolve", "overdue", LEAD),
        ("resolve", "listed_supervision", LEAD),
    ], "督办 and 挂牌督办 of a held petition reach the office"
    assert office[0]["reportedTo"] == ["office"] and office[0]["workingDaysLate"] == 0
    assert office[1]["reportedTo"] == ["office", "leading_group"]
    assert office[1]["workingDaysLate"] == 5
    leading = decoded(keyed_records(broker.bootstrap, "leadinggroup.supervision", HELD_PID, 1))
    assert [(r["step"], r["unit"]) for r in leading] == [("listed_supervision", LEAD)]

    notices = [
        r
        for r in decoded(keyed_records(broker.bootstrap, f"{LEAD}.petitions", HELD_PID, 5))
        if r.get("kind") in ("overdue", "listed_supervision")
    ]
    assert [n["kind"] for n in notices] == ["overdue", "listed_supervision"]
    assert "joint-meeting office" in notices[0]["message"]
    assert "joint-meeting office and the leading group" in notices[1]["message"]

    triaged = decoded(keyed_records(broker.bootstrap, "office.supervision", TRIAGED_PID, 4))
    assert [(r["step"], r["unit"], r["state"]) for r in triaged] == [
        ("warning", "dept.JOINT_OFFICE", "triage"),
        ("urging", "dept.JOINT_OFFICE", "triage"),
        ("overdue", "dept.JOINT_OFFICE", "triage"),
        ("listed_supervision", "dept.JOINT_OFFICE", "triage"),
    ], "a step due while the petition waits in triage names the office and reaches it"
    sla = decoded(keyed_records(broker.bootstrap, "hub.sla", TRIAGED_PID, 5))
    steps = [r for r in sla if r["signal"] not in ("started",)]
    assert {r["unit"] for r in steps} == {"dept.JOINT_OFFICE"}, steps
    leading_triaged = decoded(
        keyed_records(broker.bootstrap, "leadinggroup.supervision", TRIAGED_PID, 1)
    )
    assert [r["step"] for r in leading_triaged] == ["listed_supervision"]
    for topic in ("office.supervision", "leadinggroup.supervision"):
        problems = list(cloudevent_problems(topic, read_topic(broker.bootstrap, topic)))
        assert not problems, problems
