"""Units hear what happened to their events, end to end (issue 14), on the embedded broker with a
controllable clock (HUB_CLOCK_FILE) and a real worker.

One provincial dispatch, routed to a lead unit with a co-handler:

- the lead replies before signing for: the reply is refused, and the lead is told on its own
  ``.petitions`` topic, the notice naming its own ``.status`` partition and offset, the event's
  kind and id, the reason in words; ``hub.rejects`` names the same record;
- the co-handler sends an opinion (协办意见): it reaches the lead as a notice, ``hub.lifecycle``
  records it, and it is in the petition's history; the co-handler's sign-for is refused, and it
  is told that a co-handler may send an opinion;
- the lead signs for and replies "explained" (解释说明); the petitioner is dissatisfied, the lead
  replies again "resolved" (问题解决): ``hub.lifecycle`` records each reply with its kind;
- each notice is written once.
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
    court_dispatch,
    decoded,
    http_json,
    keyed_records,
    produce,
    set_clock,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.domain.petition import Channel, petition_id_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
DISPATCH = "HA-20260601-000314"
PID = petition_id_for(Channel.PROVINCE, DISPATCH)
LEAD = "dept.COURT"


def _status(kind: str, at: datetime, **extra: Any) -> bytes:
    record = {"petitionId": PID, "kind": kind, "at": at, **extra}
    return schemas.encode("cn.gov.pds.hub.UnitStatus.v2", record)


def _mine(topic: str, broker: EmbeddedBroker) -> list[Record]:
    return keyed_records(broker.bootstrap, topic, PID)


def _notices(broker: EmbeddedBroker, unit: str, count: int) -> list[dict[str, Any]]:
    """The notices on ``unit``'s ``.petitions`` topic (not its petitions), once ``count`` are."""

    def enough() -> list[dict[str, Any]]:
        found = [r for r in decoded(_mine(f"{unit}.petitions", broker)) if "role" not in r]
        return found if len(found) >= count else []

    found: list[dict[str, Any]] = wait_until(enough, 60, what=f"{count} notices to {unit}")
    return found


def _lifecycle(broker: EmbeddedBroker, count: int) -> list[dict[str, Any]]:
    return decoded(keyed_records(broker.bootstrap, "hub.lifecycle", PID, count))


def test_units_hear_their_refused_events_opinions_and_reply_kinds(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    received = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)  # a Monday
    set_clock(clock, received)
    worker = start_worker(hub_topics, HUB_CLOCK_FILE=str(clock), HUB_LIFECYCLE_PARK_SECONDS="2")
    broker = hub_topics.bootstrap

    t = set_clock(clock, received + timedelta(minutes=5))
    produce(
        broker, "province.dispatch", [(DISPATCH.encode(), court_dispatch(DISPATCH, received), ())]
    )
    assert [r["toState"] for r in _lifecycle(hub_topics, 2)] == ["received", "routed"]
    _, held = http_json(f"{worker.url}/petitions/{PID}")
    assert held["state"]["lead_unit"] == LEAD, held["state"]
    (co,) = held["state"]["co_units"]

    # the lead replies before signing for: refused, and told on its own topic
    t = set_clock(clock, t + timedelta(hours=1))
    early = _status("REPLIED", t, replyText="已办结，联系人电话13700375555", eventId="COURT-0001")
    produce(broker, f"{LEAD}.status", [(PID.encode(), early, ())])
    (written,) = _mine(f"{LEAD}.status", hub_topics)
    (refused,) = _notices(hub_topics, LEAD, 1)
    assert (refused["kind"], refused["reason"]) == ("event_refused", "reply_before_sign_for")
    where = (refused["sourceTopic"], refused["sourcePartition"], refused["sourceOffset"])
    assert where == (f"{LEAD}.status", written.partition, written.offset), refused
    assert (refused["eventKind"], refused["eventRef"]) == ("REPLIED", "COURT-0001")
    assert "sign for it first" in refused["message"], refused["message"]
    assert f"partition {written.partition} offset {written.offset}" in refused["message"]
    assert "13700375555" not in json.dumps(refused, default=str, ensure_ascii=False)
    (rejected,) = decoded(_mine("hub.rejects", hub_topics))
    assert (rejected["sourceTopic"], rejected["sourcePartition"], rejected["sourceOffset"]) == where

    # the co-handler's opinion reaches the lead; its sign-for is refused, and it is told why
    t = set_clock(clock, t + timedelta(minutes=30))
    opinion = _status("OPINION", t, note="建议会同执行局现场核查被执行人财产")
    produce(broker, f"{co}.status", [(PID.encode(), opinion, ())])
    _, to_lead = _notices(hub_topics, LEAD, 2)
    assert (to_lead["kind"], to_lead["fromUnit"]) == ("co_handler_opinion", co), to_lead
    assert "建议会同执行局现场核查被执行人财产" in to_lead["message"]
    recorded = _lifecycle(hub_topics, 3)[2]
    assert (recorded["kind"], recorded["unit"], recorded["leadUnit"]) == (
        "co_handler_opinion",
        co,
        LEAD,
    )
    _, held = http_json(f"{worker.url}/petitions/{PID}")
    opinions = [h for h in held["history"] if h["kind"] == "co_handler_opinion"]
    assert [(h["unit"], h["lead"]) for h in opinions] == [(co, LEAD)], held["history"]
    produce(broker, f"{co}.status", [(PID.encode(), _status("SIGNED_FOR", t), ())])
    (to_co,) = _notices(hub_topics, co, 1)
    assert to_co["reason"] == "not_the_lead"
    assert "a co-handler may send an opinion" in to_co["message"], to_co["message"]

    # the lead signs for and explains; the petitioner is dissatisfied; the lead resolves
    t = set_clock(clock, t + timedelta(hours=1))
    produce(broker, f"{LEAD}.status", [(PID.encode(), _status("SIGNED_FOR", t), ())])
    t = set_clock(clock, t + timedelta(days=1))
    explained = _status(
        "REPLIED", t, replyText="该事项属另案处理范围，无法在本案中执行。", replyKind="EXPLAINED"
    )
    produce(broker, f"{LEAD}.status", [(PID.encode(), explained, ())])
    _lifecycle(hub_topics, 5)
    t = set_clock(clock, t + timedelta(days=1))
    callback = {
        "GDBH": DISPATCH,
        "petitionRef": PID,
        "satisfaction": "不满意",
        "evaluatedAt": t.isoformat(),
        "revision": 0,
    }
    value = json.dumps(callback, ensure_ascii=False).encode()
    produce(broker, "hotline12345.callbacks", [(DISPATCH.encode(), value, ())])
    _lifecycle(hub_topics, 7)  # reopened, unit urged
    t = set_clock(clock, t + timedelta(days=1))
    resolved = _status("REPLIED", t, replyText="款项已执行到位。", replyKind="RESOLVED")
    produce(broker, f"{LEAD}.status", [(PID.encode(), resolved, ())])
    records = _lifecycle(hub_topics, 8)
    replies = [(r["round"], r["replyKind"]) for r in records if r["toState"] == "replied"]
    assert replies == [(0, "explained"), (1, "resolved")], records
    assert all(
        r.get("replyKind") is None for r in records if r["toState"] not in ("replied", "evaluated")
    ), records

    # once each: the lead has the refusal, the opinion and the urging; the co-handler its refusal
    notices = _notices(hub_topics, LEAD, 3)
    assert [n["kind"] for n in notices] == ["event_refused", "co_handler_opinion", "reopened"]
    assert [n["kind"] for n in _notices(hub_topics, co, 1)] == ["event_refused"]
    assert sorted(r["reason"] for r in decoded(_mine("hub.rejects", hub_topics))) == [
        "not_the_lead",
        "reply_before_sign_for",
    ]
