"""Repeats become one case across channels (issue 14): the same enterprise (credit code) on the
same theme, end to end on the embedded broker with a real worker and the controllable clock
(HUB_CLOCK_FILE):

- a 12345 call by enterprise E on theme T opens a case (the matter's open case);
- a mini-program petition by E on T the next day names no earlier case, yet is linked to it
  through the matter's index: ``repeat_linked`` on the first case, the lead unit told (重复诉求),
  the mini-program hears ``linked``, no lifecycle or clock record of its own;
- a mini-program petition by E on another theme opens a case of its own (no repeat);
- ``petition-hub report``: two cases received, the linked petition counted once (并案).
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
from petition_hub.data import load_samples
from petition_hub.domain.petition import Channel, petition_id_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
RECEIVED = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)  # a Monday
CALL = "12345-410400-20260601-000555"
SAME = "MP2026060200001"  # E on the same theme (a bank's loan renewal)
OTHER = "MP2026060300002"  # E on another theme (专精特新)
CALL_PID = petition_id_for(Channel.HOTLINE, CALL)
SAME_PID = petition_id_for(Channel.MINIPROGRAM, SAME)
OTHER_PID = petition_id_for(Channel.MINIPROGRAM, OTHER)


def _call(broker: str, at: datetime) -> str:
    """The financing sample's 12345 work order (enterprise E, a bank's loan renewal); E's code."""
    body = json.loads(load_samples()["hotline-financing.json"].value)
    body.update(GDBH=CALL, SLSJ=at.astimezone(BJ).strftime("%Y-%m-%d %H:%M:%S"))
    produce(broker, "hotline12345.workorders", [(CALL.encode(), json.dumps(body).encode(), ())])
    return str(body["TYSHXYDM"])


def _appeal(broker: str, appeal_id: str, uscc: str, at: datetime, title: str, text: str) -> None:
    """The enterprise mini-program sample, by the enterprise ``uscc``, on ``title``/``text``."""
    body = json.loads(load_samples()["miniprogram-v2-enterprise.json"].value)
    body.update(appealId=appeal_id, submittedAt=at.isoformat(), title=title, content=text)
    body["account"]["uscc"] = uscc
    body["enterprise"] = {"name": "平顶山市鹰城精密机械有限公司", "uscc": uscc}
    body["region"] = {"code": "410402", "name": "新华区"}
    value = json.dumps(body, ensure_ascii=False).encode()
    produce(broker, "miniprogram.appeals", [(appeal_id.encode(), value, ())])


def test_the_same_enterprise_and_theme_on_another_channel_joins_the_open_case(
    hub_topics: Any, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    t = set_clock(clock, RECEIVED + timedelta(minutes=5))
    start_worker(hub_topics, HUB_CLOCK_FILE=str(clock))
    broker = hub_topics.bootstrap

    uscc = _call(broker, RECEIVED)
    first = wait_for("lifecycle records of the call", lambda: lifecycle_of(broker, CALL_PID), 2)
    assert [r["toState"] for r in first[:2]] == ["received", "routed"], first
    lead = first[1]["leadUnit"]
    assert lead, first

    # E again, on the mini-program, the next day, on the same matter: linked to the call's case
    t = set_clock(clock, t + timedelta(days=1))
    loan = "公司流动资金贷款到期，银行不再续贷，要求全额归还，资金周转困难，请协调续贷。"
    _appeal(broker, SAME, uscc, t - timedelta(minutes=2), "银行到期不续贷", loan)
    (link,) = wait_for(
        "repeat_linked records",
        lambda: [r for r in lifecycle_of(broker, CALL_PID) if r["kind"] == "repeat_linked"],
        1,
    )
    got = (link["repeatId"], link["repeatChannel"], link["repeatRef"], link["repeatOf"])
    assert got == (SAME_PID, "MINIPROGRAM", SAME, None), link
    notices = wait_for(
        "repeat notices to the lead",
        lambda: [
            n
            for n in decoded(read_topic(broker, f"{lead}.petitions", timeout=5))
            if n.get("kind") == "repeat_linked" and n["petitionId"] == CALL_PID
        ],
        1,
    )
    assert "重复诉求" in notices[0]["message"] and SAME in notices[0]["message"], notices
    heard = wait_for(
        "progress messages of the mini-program petition",
        lambda: [
            json.loads(r.value or b"")
            for r in read_topic(broker, "miniprogram.progress", timeout=5)
            if SAME in (r.value or b"").decode()
        ],
        1,
    )
    assert [m["kind"] for m in heard] == ["linked"], heard

    # E on another theme: a case of its own, no repeat
    t = set_clock(clock, t + timedelta(days=1))
    text = "请问今年省级专精特新中小企业申报的条件和截止时间是什么？研发费用占比怎么计算？"
    _appeal(broker, OTHER, uscc, t - timedelta(minutes=2), "专精特新申报", text)
    other = wait_for("lifecycle records of the other", lambda: lifecycle_of(broker, OTHER_PID), 2)
    assert [r["toState"] for r in other[:2]] == ["received", "routed"], other
    assert all(r["repeatOf"] is None for r in other), other

    # counted once: the linked petition has no lifecycle or clock record of its own
    assert lifecycle_of(broker, SAME_PID) == []
    sla = read_topic(broker, "hub.sla", timeout=5)
    assert not [r for r in sla if r.key == SAME_PID.encode()]
    cases = {r["petitionId"] for r in decoded(read_topic(broker, "hub.lifecycle", timeout=5))}
    assert cases == {CALL_PID, OTHER_PID}, cases

    # the report: two cases received, none a repeat; the mini-program's counted once (并案)
    report = _report(hub_topics.url, tmp_path / "cli")
    total = report["total"]
    (row,) = [u for u in report["units"] if u["unit"] == lead]
    got_rows = [(r["received"], r["repeats"], r["linked"]) for r in (total, row)]
    assert got_rows == [(2, 0, 1), (1, 0, 1)], report


def _report(url: str, data: Path) -> dict[str, Any]:
    """``petition-hub report --period 2026-06 --json`` once both cases are on it."""

    def ready() -> dict[str, Any] | None:
        report = dict(json.loads(hub_cli(url, data, "report", "--period", "2026-06", "--json")))
        return report if report["total"]["received"] >= 2 else None

    found: dict[str, Any] = wait_until(ready, 90, what="a report with 2 cases")
    return found
