"""The console's actions on the embedded broker: each sent action is read back from its topic
as the hub's stages read it (a unit's ``UnitStatus.v4`` on its ``.status`` topic with the clerk
as ``author``; the office's ``OfficeDecision`` on ``office.decisions`` with ``decidedBy``), through
the API and through the pages' forms; and the 通报 read from the topics, as JSON and CSV."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hubtest import create_topics, decoded, keyed_records, produce
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.console.models import Event
from petition_hub.console.serve import kafka_sender, report_source
from petition_hub.console.store import transaction
from petition_hub.runtime.cloudevents import event_id_of
from webconsole import NOW, ConsoleUnderTest, add_petition, csrf_of, make_console, signed_in

TOPICS = {
    "dept.TAX.status": 3,
    "dept.HUD.status": 3,
    "office.decisions": 3,
    "hub.lifecycle": 3,
    "hub.sla": 3,
    "dept.TAX.petitions": 3,
}


@pytest.fixture
def under(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[ConsoleUnderTest]:
    create_topics(broker.bootstrap, TOPICS)
    yield make_console(
        tmp_path,
        send=kafka_sender(broker.bootstrap),
        report=report_source(broker.bootstrap),
        broker=broker.url,
    )


def _pid() -> str:
    return f"PH-{uuid.uuid4().hex[:10].upper()}"


def _one(broker: EmbeddedBroker, topic: str, pid: str) -> tuple[int, dict[str, Any], str]:
    """(schema id, record, ce_id) of the one record keyed ``pid`` on ``topic``."""
    (record,) = keyed_records(broker.bootstrap, topic, pid, count=1, timeout=60)
    sid = schemas.split_header(record.value or b"")[0]
    ce_id = event_id_of(record.headers) or ""
    return sid, decoded([record])[0], ce_id


def test_a_clerks_actions_are_the_units_status_records(
    under: ConsoleUnderTest, broker: EmbeddedBroker
) -> None:
    signed, material, replied = _pid(), _pid(), _pid()
    add_petition(under.console, signed, co=["dept.HUD"])
    add_petition(under.console, material, state="signed_for")
    add_petition(under.console, replied, state="in_progress")
    tax, csrf = signed_in(under, "tax1")
    headers = {"X-CSRF-Token": csrf}
    answer = tax.post(
        f"/api/petitions/{signed}/actions", json={"kind": "SIGNED_FOR"}, headers=headers
    )
    assert answer.status_code == 202, answer.text
    sid, record, ce_id = _one(broker, "dept.TAX.status", signed)
    assert sid == 1044, "UnitStatus.v4"
    assert record["kind"] == "SIGNED_FOR" and record["author"] == "tax1"
    assert record["petitionId"] == signed and record["at"] == NOW
    assert record["eventId"] == answer.json()["event_id"] == ce_id
    # through the page's form
    page = tax.get(f"/petitions/{material}")
    form = tax.post(
        f"/petitions/{material}/action",
        data={
            "kind": "MATERIAL_REQUESTED",
            "note": "营业执照副本",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert form.status_code == 303 and form.headers["location"].startswith(f"/petitions/{material}")
    _, record, _ = _one(broker, "dept.TAX.status", material)
    assert (record["kind"], record["note"], record["author"]) == (
        "MATERIAL_REQUESTED",
        "营业执照副本",
        "tax1",
    )
    answer = tax.post(
        f"/api/petitions/{replied}/actions",
        json={"kind": "REPLIED", "reply_kind": "EXPLAINED", "reply_text": "依政策不能办理，已说明"},
        headers=headers,
    )
    assert answer.status_code == 202, answer.text
    _, record, _ = _one(broker, "dept.TAX.status", replied)
    assert (record["kind"], record["replyKind"], record["replyText"]) == (
        "REPLIED",
        "EXPLAINED",
        "依政策不能办理，已说明",
    )
    # a co-handler's opinion goes on its own topic
    hud, hud_csrf = signed_in(under, "hud1")
    answer = hud.post(
        f"/api/petitions/{signed}/actions",
        json={"kind": "OPINION", "note": "建议联合核查"},
        headers={"X-CSRF-Token": hud_csrf},
    )
    assert answer.status_code == 202, answer.text
    _, record, _ = _one(broker, "dept.HUD.status", signed)
    assert (record["kind"], record["note"], record["author"]) == ("OPINION", "建议联合核查", "hud1")


def test_the_offices_decisions_go_to_office_decisions(
    under: ConsoleUnderTest, broker: EmbeddedBroker
) -> None:
    triaged, approved, refused = _pid(), _pid(), _pid()
    add_petition(under.console, triaged, state="triage", lead=None)
    add_petition(under.console, approved, state="in_progress", extension=(3, "需现场核查"))
    add_petition(under.console, refused, state="signed_for", extension=(3, "材料多"))
    office, csrf = signed_in(under, "office1")
    page = office.get("/office/triage")
    assert triaged in page.text
    form = office.post(
        f"/office/triage/{triaged}",
        data={"lead": "dept.TAX", "co": ["county.410402", "dept.HUD"], "csrf_token": csrf},
    )
    assert form.status_code == 303, form.text
    _, record, _ = _one(broker, "office.decisions", triaged)
    assert record["kind"] == "TRIAGE_ROUTE" and record["leadUnit"] == "dept.TAX"
    assert record["coUnits"] == ["county.410402", "dept.HUD"]
    assert record["decidedBy"] == "office1" and record["decidedAt"] == NOW
    answer = office.post(
        f"/api/petitions/{approved}/decisions",
        json={"kind": "EXTENSION_APPROVED", "days": 3},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 202, answer.text
    _, record, _ = _one(broker, "office.decisions", approved)
    assert (record["kind"], record["extensionDays"], record["decidedBy"]) == (
        "EXTENSION_APPROVED",
        3,
        "office1",
    )
    form = office.post(
        f"/office/extensions/{refused}",
        data={"decision": "refuse", "note": "理由不充分", "csrf_token": csrf},
    )
    assert form.status_code == 303, form.text
    _, record, _ = _one(broker, "office.decisions", refused)
    assert (record["kind"], record["note"]) == ("EXTENSION_REFUSED", "理由不充分")


def _lifecycle(pid: str, to_state: str, unit: str, at_hours: int) -> tuple[bytes, bytes, list[Any]]:
    record = {
        "eventId": f"{pid}-{to_state}",
        "petitionId": pid,
        "kind": "state_changed",
        "at": NOW + timedelta(hours=at_hours),
        "fromState": None,
        "toState": to_state,
        "unit": unit,
        "leadUnit": unit,
        "channel": "HOTLINE",
        "petitionType": "政策咨询",
        "round": 0,
    }
    value = schemas.encode("cn.gov.pds.hub.LifecycleEvent.v3", _complete(record))
    return pid.encode(), value, [("ce_id", f"{pid}-{to_state}".encode())]


def _complete(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with every other field of LifecycleEvent.v3 at its default (None)."""
    fields = schemas.raw_schema("cn.gov.pds.hub.LifecycleEvent.v3")["fields"]
    return {f["name"]: record.get(f["name"], f.get("default")) for f in fields}


def test_the_report_is_read_from_the_topics(
    under: ConsoleUnderTest, broker: EmbeddedBroker
) -> None:
    pid = _pid()
    produce(broker.bootstrap, "hub.lifecycle", [_lifecycle(pid, "routed", "dept.TAX", 1)])
    office, _ = signed_in(under, "office1")
    answer = office.get("/api/report", params={"period": "2026-06"})
    assert answer.status_code == 200, answer.text
    units = {u["unit"]: u for u in answer.json()["units"]}
    assert units["dept.TAX"]["received"] >= 1, units
    csv = office.get("/office/report", params={"period": "2026-06", "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert csv.text.count("\n") >= 2, csv.text
    page = office.get("/office/report", params={"period": "2026-06"})
    assert page.status_code == 200 and "通报" in page.text and "下载 CSV" in page.text
    leader, _ = signed_in(under, "leader1")
    rates = leader.get("/leadership/rates", params={"period": "2026-06"})
    assert rates.status_code == 200 and "各单位办理情况" in rates.text and "合计" in rates.text
    tax, _ = signed_in(under, "tax1")
    assert tax.get("/api/report", params={"period": "2026-06"}).status_code == 403
    assert office.get("/api/report", params={"period": "June"}).status_code == 422


def test_the_clerks_next_step_is_not_refused_on_a_read_model_behind_its_last(
    under: ConsoleUnderTest, broker: EmbeddedBroker
) -> None:
    """Signed for a second ago, the read model still says "routed": the next step is sent (the
    hub decides, and would send a refusal back), not refused on a state the clerk already
    changed; once the read model has the clerk's last record, its state counts again."""
    pid = _pid()
    add_petition(under.console, pid)
    tax, csrf = signed_in(under, "tax1")
    headers = {"X-CSRF-Token": csrf}
    signed = tax.post(f"/api/petitions/{pid}/actions", json={"kind": "SIGNED_FOR"}, headers=headers)
    assert signed.status_code == 202, signed.text
    going = tax.post(f"/api/petitions/{pid}/actions", json={"kind": "IN_PROGRESS"}, headers=headers)
    assert going.status_code == 202, going.text
    records = keyed_records(broker.bootstrap, "dept.TAX.status", pid, count=2, timeout=60)
    assert [r["kind"] for r in decoded(records)] == ["SIGNED_FOR", "IN_PROGRESS"]
    # the projection has the clerk's last record, and (in this test) the state stayed "routed"
    with transaction(under.console.db) as db:
        db.add(
            Event(
                event_id=going.json()["event_id"],
                petition_id=pid,
                source="dept.TAX.status",
                at=NOW,
                kind="status.IN_PROGRESS",
                unit="dept.TAX",
                author="tax1",
            )
        )
    reply = {"kind": "REPLIED", "reply_kind": "RESOLVED", "reply_text": "已办结"}
    answer = tax.post(f"/api/petitions/{pid}/actions", json=reply, headers=headers)
    assert answer.status_code == 409 and answer.json()["reason"] == "reply_before_sign_for"
