"""`petition-hub report`: the public 通报 per unit, computed from hub.lifecycle and hub.sla."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from petition_hub.domain.rules import default_rules
from petition_hub.ops.cli import main
from petition_hub.ops.report import (
    Period,
    UnitRow,
    compute,
    csv_rows,
    format_json,
    format_text,
    total,
    unit_namer,
    write_csv,
)

OCT = Period(2026, 10)
#: 2026-10-01 00:00 Beijing time, in UTC
OCT_START = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
#: 2026-11-01 00:00 Beijing time, in UTC
NOV_START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
MID_OCT = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def lc(
    to_state: str,
    at: datetime,
    lead: str | None = "dept.TAX",
    *,
    event_id: str | None = None,
    petition: str = "PH-1",
    kind: str = "state_changed",
    satisfaction: str | None = None,
    unit: str | None = None,
) -> dict[str, Any]:
    """A decoded LifecycleEvent.v1."""
    return {
        "eventId": event_id or uuid.uuid4().hex,
        "petitionId": petition,
        "kind": kind,
        "at": at,
        "fromState": None,
        "toState": to_state,
        "cause": None,
        "unit": unit if unit is not None else lead,
        "leadUnit": lead,
        "closure": None,
        "satisfaction": satisfaction,
        "round": 0,
        "channel": "HOTLINE",
        "petitionType": None,
        "deadline": None,
        "extensionDays": None,
        "approved": None,
        "note": None,
    }


def sla(
    clock: str,
    signal: str,
    at: datetime,
    unit: str | None = "dept.TAX",
    *,
    event_id: str | None = None,
    petition: str = "PH-1",
    round_: int = 0,
) -> dict[str, Any]:
    """A decoded SlaEvent.v1."""
    return {
        "eventId": event_id or uuid.uuid4().hex,
        "petitionId": petition,
        "clock": clock,
        "signal": signal,
        "at": at,
        "deadline": None,
        "round": round_,
        "unit": unit,
        "channel": "HOTLINE",
        "petitionType": None,
        "urgency": "NORMAL",
    }


def by_unit(rows: list[UnitRow]) -> Mapping[str, UnitRow]:
    return {r.unit: r for r in rows}


# --- the period ----------------------------------------------------------------------------------


def test_period_is_a_beijing_calendar_month() -> None:
    assert OCT.start == OCT_START
    assert OCT.end == NOV_START
    assert Period.parse("2026-12").end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert str(Period.parse(" 2027-01 ")) == "2027-01"
    for bad in ("2026-13", "2026-00", "2026-1", "202610", "2026-10-01", ""):
        with pytest.raises(ValueError):
            Period.parse(bad)


def test_month_edges_count_by_beijing_time() -> None:
    """A UTC timestamp on Sept 30 after 16:00 is October 1 in Beijing, and so on."""
    lifecycle = [
        lc("routed", OCT_START - MS, petition="sep"),  # 2026-09-30 23:59:59.999 +08
        lc("routed", OCT_START, petition="oct-first"),  # 2026-10-01 00:00 +08
        lc("routed", NOV_START - MS, petition="oct-last"),  # 2026-10-31 23:59:59.999 +08
        lc("routed", NOV_START, petition="nov"),  # 2026-11-01 00:00 +08
    ]
    signals = [
        sla("sign_for", "met", OCT_START - MS),
        sla("sign_for", "met", OCT_START),
        sla("resolve", "missed", NOV_START - MS),
        sla("resolve", "met", NOV_START),
    ]
    row = by_unit(compute(lifecycle, signals, OCT))["dept.TAX"]
    assert (row.received, row.signed_for, row.resolved) == (2, 1, 1)
    sep = by_unit(compute(lifecycle, signals, Period(2026, 9)))["dept.TAX"]
    nov = by_unit(compute(lifecycle, signals, Period(2026, 11)))["dept.TAX"]
    assert (sep.received, sep.signed_for, nov.received, nov.resolved) == (1, 1, 1, 1)


def test_year_edge_and_naive_times_are_utc() -> None:
    new_year = datetime(2026, 12, 31, 16, 0)  # naive: taken as UTC, i.e. 2027-01-01 00:00 +08
    rows = compute([lc("routed", new_year), lc("routed", new_year - MS)], [], Period(2027, 1))
    assert by_unit(rows)["dept.TAX"].received == 1
    rows = compute([lc("routed", new_year), lc("routed", new_year - MS)], [], Period(2026, 12))
    assert by_unit(rows)["dept.TAX"].received == 1


# --- the definitions -----------------------------------------------------------------------------


def test_counts_and_rates_per_unit() -> None:
    lifecycle = [
        *(lc("routed", MID_OCT, petition=f"t{i}") for i in range(4)),
        lc("routed", MID_OCT, "county.410402", petition="c1"),
        lc("signed_for", MID_OCT),  # not a receipt
        lc("routed", MID_OCT, petition="t0", kind="routing_requested"),  # not a state change
        # ratings: final ones only (closed / reopened), for the lead, else the unit
        lc("closed", MID_OCT, satisfaction="SATISFIED"),
        lc("closed", MID_OCT, satisfaction="BASICALLY_SATISFIED"),
        lc("reopened", MID_OCT, satisfaction="DISSATISFIED"),
        lc("closed", MID_OCT, None, satisfaction="DISSATISFIED", unit="dept.TAX"),
        lc("evaluated", MID_OCT, satisfaction="SATISFIED"),  # may still change: not final
        lc("closed", MID_OCT),  # unrated (window elapsed): not rated
    ]
    signals = [
        sla("sign_for", "met", MID_OCT),
        sla("sign_for", "met", MID_OCT),
        sla("sign_for", "missed", MID_OCT),
        sla("sign_for", "cancelled", MID_OCT),  # returned: not signed for
        sla("resolve", "met", MID_OCT),
        sla("resolve", "missed", MID_OCT),
        sla("resolve", "warning", MID_OCT),
        sla("resolve", "started", MID_OCT),
        sla("sign_for", "overdue", MID_OCT),
        sla("resolve", "overdue", MID_OCT, petition="PH-2"),
        sla("resolve", "met", MID_OCT, "county.410402"),
    ]
    rows = compute(lifecycle, signals, OCT)
    assert [r.unit for r in rows] == ["dept.TAX", "county.410402"]
    tax = rows[0]
    assert (tax.received, tax.signed_for, tax.signed_for_on_time) == (4, 3, 2)
    assert (tax.resolved, tax.resolved_on_time, tax.rated, tax.satisfied) == (2, 1, 4, 2)
    assert (tax.overdue, tax.overdue_open) == (2, 1)
    assert tax.response_rate == pytest.approx(2 / 3)
    assert tax.resolution_rate == pytest.approx(0.5)
    assert tax.on_time_resolution_rate == pytest.approx(0.5)
    assert tax.satisfaction_rate == pytest.approx(0.5)
    county = rows[1]
    assert (county.received, county.resolved, county.resolution_rate) == (1, 1, 1.0)
    city = total(rows)
    assert (city.received, city.resolved, city.resolution_rate) == (5, 3, pytest.approx(0.6))


def test_redelivered_events_count_once() -> None:
    routed = lc("routed", MID_OCT, event_id="lc-1")
    rated = lc("closed", MID_OCT, satisfaction="SATISFIED", event_id="lc-2")
    met = sla("sign_for", "met", MID_OCT, event_id="sla-1")
    overdue = sla("resolve", "overdue", MID_OCT, event_id="sla-2", petition="PH-9")
    rows = compute(
        [routed, rated, dict(routed), rated, routed],
        [met, dict(met), overdue, overdue],
        OCT,
    )
    row = by_unit(rows)["dept.TAX"]
    assert (row.received, row.rated, row.signed_for, row.overdue, row.overdue_open) == (
        1,
        1,
        1,
        1,
        1,
    )


def test_zero_denominators_are_undefined_not_zero() -> None:
    rows = compute([], [sla("resolve", "overdue", MID_OCT)], OCT)
    (row,) = rows
    assert row.received == row.signed_for == row.resolved == row.rated == 0
    assert row.response_rate is None
    assert row.resolution_rate is None
    assert row.on_time_resolution_rate is None
    assert row.satisfaction_rate is None
    # resolved with nothing received this month: 办结率 undefined, 限时办结率 defined
    row = compute([], [sla("resolve", "met", MID_OCT)], OCT)[0]
    assert row.resolution_rate is None and row.on_time_resolution_rate == 1.0
    text = format_text(rows, OCT, unit_namer(default_rules()))
    tax_line = next(line for line in text.splitlines() if "dept.TAX" in line)
    assert tax_line.count("—") == 4 and "%" not in tax_line
    data = csv_rows(rows, unit_namer(default_rules()))
    header, tax = data[0], data[1]
    for rate in ("响应率(%)", "办结率(%)", "限时办结率(%)", "满意率(%)"):
        assert tax[header.index(rate)] == ""
    assert json.loads(format_json(rows, OCT, str))["units"][0]["response_rate"] is None


def test_overdue_open_is_the_backlog_at_the_end_of_the_period() -> None:
    sep = datetime(2026, 9, 20, 2, 0, tzinfo=UTC)
    signals = [
        # overdue in September, replied late in October: open at the end of September only
        sla("resolve", "overdue", sep, petition="A"),
        sla("resolve", "missed", MID_OCT, petition="A"),
        # overdue in September, still open: open at both ends, overdue counted in September
        sla("resolve", "overdue", sep, petition="B"),
        # round 0 replied in time, round 1 overdue and open
        sla("resolve", "met", sep, petition="C"),
        sla("resolve", "overdue", MID_OCT, petition="C", round_=1),
        # a sign-for clock overdue is counted as overdue, but it is not a resolve backlog
        sla("sign_for", "overdue", MID_OCT, petition="D"),
    ]
    sep_row = by_unit(compute([], signals, Period(2026, 9)))["dept.TAX"]
    oct_row = by_unit(compute([], signals, OCT))["dept.TAX"]
    assert (sep_row.overdue, sep_row.overdue_open) == (2, 2)
    assert (oct_row.overdue, oct_row.overdue_open) == (2, 2)  # B and C round 1
    assert oct_row.resolved == 1 and oct_row.resolved_on_time == 0
    aug = compute([], signals, Period(2026, 8))
    assert aug == []


def test_events_without_a_unit_count_for_nobody() -> None:
    rows = compute(
        [lc("routed", MID_OCT, None, unit=None)],
        [sla("sign_for", "met", MID_OCT, None)],
        OCT,
    )
    assert rows == []


def test_sorted_by_received_then_code() -> None:
    lifecycle = [
        lc("routed", MID_OCT, "dept.HUD"),
        lc("routed", MID_OCT, "dept.HUD"),
        lc("routed", MID_OCT, "county.410421"),
        lc("routed", MID_OCT, "dept.AGRI"),
    ]
    signals = [sla("resolve", "met", MID_OCT, "dept.ZZZ")]
    rows = compute(lifecycle, signals, OCT)
    assert [r.unit for r in rows] == ["dept.HUD", "county.410421", "dept.AGRI", "dept.ZZZ"]


# --- formatting ----------------------------------------------------------------------------------


def test_text_table_with_chinese_names(tmp_path: Path) -> None:
    rows = compute(
        [lc("routed", MID_OCT), lc("routed", MID_OCT), lc("routed", MID_OCT, "county.410402")],
        [sla("sign_for", "met", MID_OCT), sla("sign_for", "missed", MID_OCT)],
        OCT,
    )
    name = unit_namer(default_rules())
    text = format_text(rows, OCT, name)
    lines = text.splitlines()
    assert lines[0].startswith("2026年10月 (2026-10")
    assert "2026-10-01 00:00 – 2026-11-01 00:00" in lines[0]
    assert lines[1].split()[:6] == ["单位", "代码", "受理", "签收", "按时签收", "响应率"]
    assert lines[2].startswith("国家税务总局平顶山市税务局") and "50.0%" in lines[2]
    assert lines[3].startswith("平顶山市新华区人民政府")
    assert lines[4].startswith("合计")
    assert name("dept.NOPE") == "dept.NOPE" and name("odd") == "odd"
    assert format_text([], OCT, name).endswith("no events in this period")

    path = tmp_path / "report.csv"
    write_csv(path, rows, name)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:4] == ["单位", "单位代码", "受理", "签收"]
    assert table[1][:2] == ["国家税务总局平顶山市税务局", "dept.TAX"]
    assert table[1][table[0].index("响应率(%)")] == "50.0"
    assert table[-1][:3] == ["合计", "", "3"]


def test_json_output() -> None:
    rows = compute([lc("routed", MID_OCT)], [sla("resolve", "met", MID_OCT)], OCT)
    data = json.loads(format_json(rows, OCT, unit_namer(default_rules())))
    assert data["period"] == "2026-10"
    assert data["from"] == "2026-10-01T00:00:00+08:00"
    assert data["to"] == "2026-11-01T00:00:00+08:00"
    (unit,) = data["units"]
    assert unit["name"] == "国家税务总局平顶山市税务局"
    assert unit["resolution_rate"] == 1.0 and unit["satisfaction_rate"] is None
    assert data["total"]["received"] == 1


# --- the command without a broker ----------------------------------------------------------------


def test_cli_refuses_a_bad_period_and_a_missing_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    from petition_hub.service.settings import get_settings

    monkeypatch.delenv("HUB_BROKER", raising=False)
    get_settings.cache_clear()
    try:
        bad = CliRunner().invoke(main, ["report", "--period", "2026-13"])
        assert bad.exit_code == 2 and "not a month: 2026-13" in bad.output
        no_broker = CliRunner().invoke(main, ["report", "--period", "2026-10"])
        assert no_broker.exit_code == 1 and "HUB_BROKER is not set" in no_broker.output
    finally:
        get_settings.cache_clear()


# --- on the embedded broker ----------------------------------------------------------------------


@pytest.mark.broker
@pytest.mark.slow
def test_report_from_the_topics(hub_topics: Any, tmp_path: Path) -> None:
    """Avro records on hub.lifecycle and hub.sla (one redelivered, one not Avro) → the command's
    table and CSV."""
    from hubtest import hub_cli, produce
    from petition_hub import schemas

    lifecycle = [
        lc("routed", OCT_START, petition="PH-A", event_id="a-routed"),
        lc("routed", MID_OCT, petition="PH-B", event_id="b-routed"),
        lc("routed", NOV_START, petition="PH-C", event_id="c-routed"),  # November
        lc("routed", MID_OCT, "county.410402", petition="PH-D", event_id="d-routed"),
        lc("closed", MID_OCT, petition="PH-A", satisfaction="BASICALLY_SATISFIED", event_id="a-cl"),
    ]
    signals = [
        sla("sign_for", "met", MID_OCT, petition="PH-A", event_id="a-sf"),
        sla("sign_for", "missed", MID_OCT, petition="PH-B", event_id="b-sf"),
        sla("resolve", "met", MID_OCT, petition="PH-A", event_id="a-res"),
        sla("resolve", "overdue", MID_OCT, "county.410402", petition="PH-D", event_id="d-od"),
    ]

    def avro(name: str, records: list[dict[str, Any]]) -> list[tuple[bytes, bytes, list[Any]]]:
        return [(r["petitionId"].encode(), schemas.encode(name, r), []) for r in records]

    bootstrap = hub_topics.bootstrap
    lc_items = avro("cn.gov.pds.hub.LifecycleEvent.v1", lifecycle)
    produce(bootstrap, "hub.lifecycle", [*lc_items, lc_items[1], (b"PH-X", b"not avro", [])])
    sla_items = avro("cn.gov.pds.hub.SlaEvent.v1", signals)
    produce(bootstrap, "hub.sla", [*sla_items, sla_items[0]])

    csv_path = tmp_path / "oct.csv"
    data = tmp_path / "data"
    out = hub_cli(hub_topics.url, data, "report", "--period", "2026-10", "--csv", str(csv_path))
    lines = out.splitlines()
    assert lines[0].startswith("2026年10月")
    tax = lines[2].split()
    assert tax[:2] == ["国家税务总局平顶山市税务局", "dept.TAX"]
    # received 2, signed for 2 (1 on time) 50%, resolved 1 (on time) 50% / 100%, rated 1, 100%
    assert " ".join(tax[2:]) == "2 2 1 50.0% 1 1 50.0% 100.0% 1 1 100.0% 0 0"
    county = lines[3].split()
    assert county[:2] == ["平顶山市新华区人民政府", "county.410402"]
    assert " ".join(county[2:]) == "1 0 0 — 0 0 0.0% — 0 0 — 1 1"
    assert lines[4].split()[:2] == ["合计", "3"]

    table = list(csv.reader(io.StringIO(csv_path.read_bytes().decode("utf-8"))))
    assert table[0][0] == "\ufeff单位"  # the BOM, then the header
    assert [row[1] for row in table[1:]] == ["dept.TAX", "county.410402", ""]
    header = [h.lstrip("\ufeff") for h in table[0]]
    assert table[2][header.index("响应率(%)")] == ""
    assert table[1][header.index("满意率(%)")] == "100.0"

    as_json = json.loads(hub_cli(hub_topics.url, data, "report", "--period", "2026-11", "--json"))
    # November: PH-C received; PH-D still overdue and open at the end of the month
    assert [(u["unit"], u["received"], u["overdue_open"]) for u in as_json["units"]] == [
        ("dept.TAX", 1, 0),
        ("county.410402", 0, 1),
    ]
