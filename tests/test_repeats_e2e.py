"""Repeats become one case (issue 14, 重复诉求), end to end on the embedded broker with a real
worker and the controllable clock (HUB_CLOCK_FILE):

- a 12345 call opens a case; a repeat call (``YGDBH`` naming it) while it is open is linked to it:
  ``hub.lifecycle`` records ``repeat_linked`` on the first case (the repeat's channel and
  reference), the lead unit is told (重复诉求), the repeat's caller hears through
  ``hotline12345.progress`` that it joined and then every later step of the first case; the
  repeat has no clock and no lifecycle record of its own (counted once);
- after the first case closed, a repeat call opens a case of its own whose every
  ``hub.lifecycle`` record names the first (counted as a repeat);
- ``petition-hub report`` on those records: 重复诉求率 per unit and in total, the linked call
  counted once (并案, not received again).
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
    decoded,
    hub_cli,
    lifecycle_of,
    produce,
    read_topic,
    set_clock,
    wait_for,
    wait_until,
)
from petition_hub import schemas
from petition_hub.data import load_samples
from petition_hub.domain.petition import Channel, petition_id_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
RECEIVED = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)  # a Monday
FIRST = "12345-410400-20260601-000101"
REPEAT = "12345-410400-20260602-000207"
LATER = "12345-410400-20260612-000388"
FIRST_PID = petition_id_for(Channel.HOTLINE, FIRST)
REPEAT_PID = petition_id_for(Channel.HOTLINE, REPEAT)
LATER_PID = petition_id_for(Channel.HOTLINE, LATER)


def _call(broker: str, gdbh: str, at: datetime, repeat_of: str | None = None) -> None:
    """A 12345 work order (the financing sample's matter) received at ``at``."""
    body = json.loads(load_samples()["hotline-financing.json"].value)
    body.update(GDBH=gdbh, SLSJ=at.astimezone(BJ).strftime("%Y-%m-%d %H:%M:%S"))
    if repeat_of is not None:
        body["YGDBH"] = repeat_of
    value = json.dumps(body, ensure_ascii=False).encode()
    produce(broker, "hotline12345.workorders", [(gdbh.encode(), value, ())])


def _status(broker: str, unit: str, kind: str, at: datetime, **extra: Any) -> None:
    record = {"petitionId": FIRST_PID, "kind": kind, "at": at, **extra}
    value = schemas.encode("cn.gov.pds.hub.UnitStatus.v2", record)
    produce(broker, f"{unit}.status", [(FIRST_PID.encode(), value, ())])


def _progress(broker: str, gdbh: str) -> list[dict[str, Any]]:
    records = read_topic(broker, "hotline12345.progress", timeout=5)
    return [json.loads(r.value or b"") for r in records if r.key == gdbh.encode()]


def test_a_repeat_call_joins_the_open_case_and_a_later_one_opens_a_repeat(
    hub_topics: Any, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    t = set_clock(clock, RECEIVED + timedelta(minutes=5))
    start_worker(hub_topics, HUB_CLOCK_FILE=str(clock))
    broker = hub_topics.bootstrap

    _call(broker, FIRST, RECEIVED)
    first = wait_for(
        "lifecycle records of the first case", lambda: lifecycle_of(broker, FIRST_PID), 2
    )
    assert [r["toState"] for r in first[:2]] == ["received", "routed"], first
    lead = first[1]["leadUnit"]
    assert lead, first

    # the repeat call, the next day, while the first case is open: linked to it
    t = set_clock(clock, t + timedelta(days=1))
    _call(broker, REPEAT, t - timedelta(minutes=2), repeat_of=FIRST)
    linked = wait_for(
        "repeat_linked records",
        lambda: [r for r in lifecycle_of(broker, FIRST_PID) if r["kind"] == "repeat_linked"],
        1,
    )
    (link,) = linked
    assert (link["repeatId"], link["repeatChannel"], link["repeatRef"]) == (
        REPEAT_PID,
        "HOTLINE",
        REPEAT,
    ), link
    assert link["leadUnit"] == lead and link["repeatOf"] is None, link
    notices = wait_for(
        "repeat notices to the lead",
        lambda: [
            n
            for n in decoded(read_topic(broker, f"{lead}.petitions", timeout=5))
            if n.get("kind") == "repeat_linked" and n["petitionId"] == FIRST_PID
        ],
        1,
    )
    assert "重复诉求" in notices[0]["message"] and REPEAT in notices[0]["message"], notices
    heard = wait_for("progress messages of the repeat", lambda: _progress(broker, REPEAT), 1)
    assert [(m["kind"], m["petitionRef"]) for m in heard] == [("linked", FIRST_PID)], heard

    # the lead signs for and replies: the repeat's caller hears it too, as the first's does
    t = set_clock(clock, t + timedelta(hours=1))
    _status(broker, lead, "SIGNED_FOR", t)
    t = set_clock(clock, t + timedelta(days=1))
    _status(broker, lead, "REPLIED", t, replyText="已协调银行办理续贷。", replyKind="RESOLVED")
    heard = wait_for("progress messages of the repeat", lambda: _progress(broker, REPEAT), 3)
    assert [m["kind"] for m in heard] == ["linked", "signed_for", "replied"], heard
    assert all(m["GDBH"] == REPEAT and m["petitionRef"] == FIRST_PID for m in heard), heard

    # the first case is rated, and closes when its evaluation window (7 days) is over
    t = set_clock(clock, t + timedelta(hours=2))
    rating = {
        "GDBH": FIRST,
        "petitionRef": FIRST_PID,
        "satisfaction": "满意",
        "evaluatedAt": t.isoformat(),
        "revision": 0,
    }
    value = json.dumps(rating, ensure_ascii=False).encode()
    produce(broker, "hotline12345.callbacks", [(FIRST.encode(), value, ())])
    wait_for(
        "ratings of the first case",
        lambda: [r for r in lifecycle_of(broker, FIRST_PID) if r["toState"] == "evaluated"],
        1,
    )
    t = set_clock(clock, t + timedelta(days=8))
    wait_for(
        "closures of the first case",
        lambda: [r for r in lifecycle_of(broker, FIRST_PID) if r["toState"] == "closed"],
        1,
    )

    # a repeat after the closure: a case of its own, naming the first
    t = set_clock(clock, t + timedelta(hours=1))
    _call(broker, LATER, t - timedelta(minutes=2), repeat_of=FIRST)
    later = wait_for(
        "lifecycle records of the later case", lambda: lifecycle_of(broker, LATER_PID), 2
    )
    assert [r["toState"] for r in later[:2]] == ["received", "routed"], later
    assert all(r["repeatOf"] == FIRST_PID for r in later), later

    # counted once: the linked repeat has no lifecycle or clock record of its own
    assert lifecycle_of(broker, REPEAT_PID) == []
    sla = read_topic(broker, "hub.sla", timeout=5)
    assert not [r for r in sla if r.key == REPEAT_PID.encode()]
    cases = {r["petitionId"] for r in decoded(read_topic(broker, "hub.lifecycle", timeout=5))}
    assert cases == {FIRST_PID, LATER_PID}, cases

    # the report from what the worker wrote: two cases received, one a repeat (重复诉求率 50 %),
    # the linked call counted once (并案), not received again
    report = _report(hub_topics.url, tmp_path / "cli", lead)
    rows = [report["total"], *[u for u in report["units"] if u["unit"] == lead]]
    got = [(r["received"], r["repeats"], r["linked"], r["repeat_rate"]) for r in rows]
    assert got == [(2, 1, 1, 0.5), (2, 1, 1, 0.5)], report


def _report(url: str, data: Path, lead: str) -> dict[str, Any]:
    """``petition-hub report --period 2026-06 --json`` once the lifecycle's records of the story
    are all on ``hub.lifecycle`` (the lead's row has both cases)."""

    def ready() -> dict[str, Any] | None:
        report = dict(json.loads(hub_cli(url, data, "report", "--period", "2026-06", "--json")))
        rows = [u for u in report["units"] if u["unit"] == lead]
        return report if rows and rows[0]["received"] >= 2 else None

    found: dict[str, Any] = wait_until(ready, 90, what=f"a report row of {lead} with 2 cases")
    return found
