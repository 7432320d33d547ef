"""`petition-hub report`: the public 通报, computed from what a real worker wrote.

The main test drives a worker on the embedded broker with the controllable clock (HUB_CLOCK_FILE)
through two months of the fourth quarter of 2026: petitions of all three channels, the lead units
signing for and replying to some of them (others left alone, to fall overdue), the petitioners
rating the replies (满意, 基本满意, 不满意), a month later a second batch. Then the command's
figures for the months, the quarter and the year must equal a count made here directly from the
raw ``hub.lifecycle`` and ``hub.sla`` records (each once per ``ce_id``) joined with what routing
sent the lead units; some of the worker's records are written twice (a redelivery) first.

The pure tests below it check the periods and the edges the worker run cannot reach cheaply.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from petition_hub.domain.rules import default_rules
from petition_hub.ops.cli import main
from petition_hub.ops.report import Facts, Period, compute
from petition_hub.ops.report_format import csv_rows, format_json, format_text, namer, unit_namer

BJ = timezone(timedelta(hours=8))
#: A Monday in November 2026, and four weeks later (December): both in 2026-Q4.
NOV = datetime(2026, 11, 2, 9, 0, tzinfo=BJ)
DEC = datetime(2026, 12, 1, 10, 0, tzinfo=BJ)
#: Counts the test makes itself, per unit, from the raw records.
COUNTED = (
    "received",
    "signed_for",
    "signed_for_on_time",
    "resolved",
    "resolved_on_time",
    "rated",
    "satisfied",
    "overdue",
    "overdue_open",
)


# --- the worker run ------------------------------------------------------------------------------


def _decode(value: bytes | None) -> dict[str, Any]:
    from petition_hub import schemas

    return dict(schemas.decode(value or b"")[1])


def _ce_id(headers: Any) -> str:
    found = dict(headers).get("ce_id")
    assert found, f"a record the worker wrote has no ce_id header: {headers}"
    return bytes(found).decode()


class Run:
    """The worker's broker, its clock and the test's own reading of the topics."""

    def __init__(self, broker: Any, clock: Path, app_id: str) -> None:
        self.broker = broker
        self.clock = clock
        self.app_id = app_id
        rules = default_rules()
        self.unit_topics = [f"dept.{c}.petitions" for c in rules.department_by_code] + [
            f"county.{c}.petitions" for c in rules.county_by_code
        ]

    def at(self, when: datetime) -> None:
        from hubtest import set_clock

        set_clock(self.clock, when)

    def read(self, topic: str | list[str]) -> list[Any]:
        """The topics' records to each partition's end (librdkafka's end-of-partition events:
        exact for many partitions, where waiting for quiet polls is not)."""
        from petition_hub.broker.reading import read_all_of

        return list(
            read_all_of(self.broker.bootstrap, [topic] if isinstance(topic, str) else topic)
        )

    def send_batch(self, seed: int, ending: datetime) -> set[str]:
        """A batch of valid petitions of every channel; their petition ids."""
        from hubtest import produce
        from petition_hub.devtools.corpus import generate_all

        items = [i for i in generate_all(7, seed, ending=ending) if i.expected == "petition"]
        for item in items:
            produce(self.broker.bootstrap, item.topic, [(item.key, item.value, item.headers)])
        return {str(i.petition_id) for i in items}

    def wait_routed(self, pids: set[str]) -> dict[str, dict[str, Any]]:
        """Wait until routing decided every petition and the lifecycle took every one routed to
        units; the lead's UnitPetition of each (latest revision)."""
        from hubtest import wait_until

        def decided() -> set[str]:
            seen = {(r.key or b"").decode() for r in self.read(f"{self.app_id}-routed")}
            return pids - seen

        wait_until(lambda: not decided(), 90, what=f"routing decisions for {len(pids)} petitions")

        def leads() -> dict[str, dict[str, Any]] | None:
            found: dict[str, dict[str, Any]] = {}
            for r in self.read(self.unit_topics):
                rec = _decode(r.value)
                if rec.get("role") == "LEAD" and rec["petitionId"] in pids:
                    old = found.get(rec["petitionId"])
                    if old is None or rec["revision"] >= old["revision"]:
                        found[rec["petitionId"]] = {**rec, "topic": r.topic}
            routed = {
                rec["petitionId"]
                for rec in map(_decode, (r.value for r in self.read("hub.lifecycle")))
                if rec["toState"] == "routed"
            }
            missing.clear()
            missing.update(set(found) - routed)
            return found if found and not missing else None

        missing: set[str] = set()
        try:
            leads_found: dict[str, dict[str, Any]] = wait_until(leads, 90, what="leads routed")
        except AssertionError as exc:
            states = defaultdict(list)
            for r in self.read("hub.lifecycle"):
                rec = _decode(r.value)
                if rec["petitionId"] in missing:
                    states[rec["petitionId"]].append((rec["kind"], rec["toState"]))
            raise AssertionError(
                f"{exc}: no lifecycle routed for {dict(states)} {missing}"
            ) from exc
        return leads_found

    def act(self, leads: dict[str, dict[str, Any]], when: datetime, seed: int) -> int:
        """The lead units: of every 10 petitions, 7 signed for and 5 of them replied; the rest
        left alone. The number replied."""
        from hubtest import produce
        from petition_hub import schemas

        rng = random.Random(seed)
        replied = 0
        for pid, rec in sorted(leads.items()):
            roll = rng.random()
            if roll >= 0.7:
                continue
            kinds = ["SIGNED_FOR"] + (["IN_PROGRESS", "REPLIED"] if roll < 0.5 else [])
            replied += "REPLIED" in kinds
            values = [
                schemas.encode(
                    "cn.gov.pds.hub.UnitStatus.v1",
                    {
                        "petitionId": pid,
                        "kind": kind,
                        "at": when,
                        "note": None,
                        "replyText": "已办理：经核实，已协调解决。" if kind == "REPLIED" else None,
                        "extensionDays": None,
                    },
                )
                for kind in kinds
            ]
            topic = str(rec["topic"]).removesuffix(".petitions") + ".status"
            produce(self.broker.bootstrap, topic, [(pid.encode(), v, ()) for v in values])
        return replied

    def rate(self, replied: int, when: datetime) -> Counter[str]:
        """The petitioners answer every request to rate, in turn 满意, 基本满意, 不满意."""
        from hubtest import produce, wait_until
        from petition_hub.connectors import CHANNELS

        requests = {
            s.requests.topic: (s.evaluation_topic, s.requests.ref_field)
            for s in CHANNELS
            if s.evaluation_topic is not None
        }

        def enough() -> list[Any] | None:
            got = self.read(list(requests))
            return got if len(got) >= replied else None

        found: list[Any] = wait_until(
            enough,
            90,
            what=f"{replied} requests to rate",
        )
        given: Counter[str] = Counter()
        for i, r in enumerate(sorted(found, key=lambda r: (r.topic, r.partition, r.offset))):
            request = json.loads(r.value)
            target, ref_field = requests[r.topic]
            rating = ("满意", "基本满意", "不满意")[i % 3]
            given[rating] += 1
            body = {
                ref_field: request[ref_field],
                "petitionRef": request["petitionRef"],
                "satisfaction": rating,
                "evaluatedAt": when.isoformat(),
                "revision": 0,
            }
            key = str(request[ref_field]).encode()
            produce(self.broker.bootstrap, str(target), [(key, json.dumps(body).encode(), ())])
        return given

    def lifecycle_states(self) -> Counter[str]:
        return Counter(str(_decode(r.value)["toState"]) for r in self.read("hub.lifecycle"))


# --- the independent count -----------------------------------------------------------------------


def _in(at: datetime, start: datetime, end: datetime) -> bool:
    return start <= at < end


def count_directly(
    lifecycle: list[Any], sla: list[Any], leads: dict[str, dict[str, Any]], period: Period
) -> dict[tuple[str, str], Counter[str]]:
    """(dimension, key) → counts, from the raw records: each ce_id once; written out here
    plainly, from domain.md's definitions, not with the report's code."""
    start, end = period.start, period.end
    out: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def add(what: str, unit: str, rec: dict[str, Any], n: int = 1) -> None:
        lead = leads.get(rec["petitionId"], {})
        county = lead.get("locationCode") if lead.get("locationKind") == "county" else None
        county = county or ("city" if lead.get("locationKind") == "city" else "unknown")
        for key in (
            ("unit", unit),
            ("type", rec["petitionType"] or "unknown"),
            ("channel", rec["channel"]),
            ("theme", lead.get("theme") or "unknown"),
            ("county", county),
        ):
            out[key][what] += n

    seen: set[str] = set()
    for r in lifecycle:
        if _ce_id(r.headers) in seen:
            continue
        seen.add(_ce_id(r.headers))
        rec = _decode(r.value)
        unit = rec["leadUnit"] or rec["unit"]
        if rec["kind"] != "state_changed" or not unit or not _in(rec["at"], start, end):
            continue
        if rec["toState"] == "routed":
            add("received", unit, rec)
        if rec["satisfaction"] and rec["toState"] in ("closed", "reopened"):
            add("rated", unit, rec)
            add("satisfied", unit, rec, rec["satisfaction"] != "DISSATISFIED")

    first_overdue: dict[tuple[str, int], dict[str, Any]] = {}
    ended: dict[tuple[str, int], datetime] = {}
    for r in sla:
        if _ce_id(r.headers) in seen:
            continue
        seen.add(_ce_id(r.headers))
        rec = _decode(r.value)
        clock_key = (rec["petitionId"], rec["round"])
        first = first_overdue.get(clock_key)
        if (
            rec["clock"] == "resolve"
            and rec["signal"] == "overdue"
            and rec["unit"]
            and (first is None or rec["at"] < first["at"])
        ):
            first_overdue[clock_key] = rec
        if rec["clock"] == "resolve" and rec["signal"] in ("met", "missed", "cancelled"):
            ended[clock_key] = min(rec["at"], ended.get(clock_key, rec["at"]))
        if not rec["unit"] or not _in(rec["at"], start, end):
            continue
        if rec["signal"] == "overdue":
            add("overdue", rec["unit"], rec)
        if rec["signal"] in ("met", "missed"):
            name = "signed_for" if rec["clock"] == "sign_for" else "resolved"
            add(name, rec["unit"], rec)
            add(f"{name}_on_time", rec["unit"], rec, rec["signal"] == "met")
    for clock_key, rec in first_overdue.items():
        if rec["at"] < end and (clock_key not in ended or ended[clock_key] >= end):
            add("overdue_open", rec["unit"], rec)
    return out


def _report_json(url: str, data: Path, period: str) -> dict[str, Any]:
    from hubtest import hub_cli

    return dict(json.loads(hub_cli(url, data, "report", "--period", period, "--json")))


def _ends(run: Run) -> tuple[int, int]:
    return len(run.read("hub.lifecycle")), len(run.read("hub.sla"))


def _steady_report(run: Run, data: Path, periods: list[str]) -> tuple[dict[str, Any], ...]:
    """The command's JSON for ``periods``, from topics that did not change while it read them
    (the worker may still be writing a timer's steps: then once more)."""
    for _ in range(10):
        before = _ends(run)
        reports = tuple(_report_json(run.broker.url, data, p) for p in periods)
        if _ends(run) == before:
            return reports
        time.sleep(1)
    raise AssertionError("hub.lifecycle and hub.sla kept changing for 10 report runs")


def _check_period(
    report: dict[str, Any], expected: dict[tuple[str, str], Counter[str]], period: str
) -> None:
    """Every unit row of the command equals the direct count (and no unit is missing); the
    other breakdowns' counts too."""
    got_units = {u["unit"]: {c: u[c] for c in COUNTED} for u in report["units"]}
    want_units = {
        key: {c: counts[c] for c in COUNTED}
        for (dim, key), counts in expected.items()
        if dim == "unit" and any(counts.values())
    }
    assert got_units == want_units, f"{period}: report {got_units}\n != direct {want_units}"
    for dim, rows in report["breakdowns"].items():
        got = {r["key"]: {c: r[c] for c in COUNTED} for r in rows}
        want = {
            key: {c: counts[c] for c in COUNTED}
            for (d, key), counts in expected.items()
            if d == dim and any(counts.values())
        }
        assert got == want, f"{period} by {dim}: report {got}\n != direct {want}"


def test_report_counts_what_a_real_worker_wrote(
    hub_topics: Any, start_worker: Callable[..., Any], tmp_path: Path
) -> None:
    from hubtest import produce, wait_until

    started = time.monotonic()
    clock = tmp_path / "clock"
    run = Run(hub_topics, clock, "")
    run.at(NOV)
    worker = start_worker(hub_topics, HUB_CLOCK_FILE=str(clock), HUB_LIFECYCLE_PARK_SECONDS="2")
    run.app_id = worker.app_id

    # November: a batch; the leads sign for and reply; the petitioners rate
    pids = run.send_batch(seed=1411, ending=NOV)
    leads = run.wait_routed(pids)
    run.at(NOV + timedelta(hours=2))
    replied = run.act(leads, NOV + timedelta(hours=2), seed=1)
    assert replied >= 5, f"only {replied} replies: too few to rate"
    wait_until(lambda: run.lifecycle_states()["replied"] >= replied, 90, what=f"{replied} replies")
    run.at(NOV + timedelta(hours=5))
    given = run.rate(replied, NOV + timedelta(hours=5))
    wait_until(
        lambda: run.lifecycle_states()["evaluated"] + run.lifecycle_states()["reopened"] >= replied,
        90,
        what=f"{replied} ratings applied",
    )

    # December: the rating windows end (closed rated), what nobody handled falls overdue; a
    # second batch arrives and is signed for
    run.at(DEC)
    closed = given["满意"] + given["基本满意"]
    wait_until(
        lambda: run.lifecycle_states()["closed"] >= closed, 120, what=f"{closed} closed rated"
    )
    pids2 = run.send_batch(seed=1412, ending=DEC)
    leads2 = run.wait_routed(pids2)
    run.at(DEC + timedelta(hours=1))
    run.act(leads2, DEC + timedelta(hours=1), seed=2)
    wait_until(
        lambda: run.lifecycle_states()["signed_for"] >= len(leads2) // 2,
        90,
        what="December's sign-fors",
    )

    # a redelivery: some of the worker's records again, same ce_id
    again = run.read("hub.lifecycle")[:40]
    produce(hub_topics.bootstrap, "hub.lifecycle", [(r.key, r.value, r.headers) for r in again])

    data = tmp_path / "cli"
    periods = ["2026-11", "2026-12", "2026-Q4", "2026"]
    reports = dict(zip(periods, _steady_report(run, data, periods), strict=True))
    lifecycle, sla = run.read("hub.lifecycle"), run.read("hub.sla")
    all_leads = {**leads, **leads2}
    for period, report in reports.items():
        assert report["kind"] == Period.parse(period).kind
        _check_period(
            report, count_directly(lifecycle, sla, all_leads, Period.parse(period)), period
        )

    nov, dec, q4, year = (reports[p] for p in periods)
    busy = [u for u in nov["units"] if u["received"] and u["signed_for"]]
    assert len(busy) >= 3, f"only {len(busy)} units received and signed for: {nov['units']}"
    # every rating is final in November: 不满意 reopens at once, the others close when their
    # 7-day window ends (in November too), which the jump to December lets the worker see
    assert nov["total"]["rated"] == sum(given.values()), (nov["total"], given)
    assert nov["total"]["satisfied"] == closed, (nov["total"], given)
    # the ladder's steps are dated when they fell due (November), seen when the clock jumped
    assert nov["total"]["overdue"] > 0, "nothing fell overdue"
    assert q4["total"]["overdue_open"] > 0, "no overdue backlog at the end of the quarter"
    assert dec["total"]["received"] > 0, "nothing received in December"
    for count in ("received", "signed_for", "resolved", "rated", "overdue"):
        assert q4["total"][count] == nov["total"][count] + dec["total"][count], count
        assert year["total"][count] == q4["total"][count], count
    assert q4["common_problems"]["most_petitions"], "no theme named among the common problems"
    assert q4["common_problems"]["lowest_satisfaction"], "no theme rated"
    assert any(u["below_target"] for u in q4["units"]), "every unit met 95% with half unreplied"
    assert len(lifecycle) > len({_ce_id(r.headers) for r in lifecycle}), "no redelivery seen"

    # the text: every unit with figures, the target marked, the common problems
    from hubtest import hub_cli

    text = hub_cli(hub_topics.url, data, "report", "--period", "2026-Q4")
    assert text.splitlines()[0].startswith("2026年第四季度 (2026-Q4")
    for unit in q4["units"]:
        assert f" {unit['unit']} " in text, f"{unit['unit']} not in the text report"
    assert "办结率目标 95%" in text and "共性问题研判" in text and "▼" in text
    print(
        f"units with figures: Q4 {len(q4['units'])}, November {len(nov['units'])} "
        f"(received and signed for: {len(busy)}); {time.monotonic() - started:.0f} s"
    )


# --- pure: periods and edges ---------------------------------------------------------------------

MID_OCT = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)


def test_periods_month_quarter_year() -> None:
    oct_ = Period.parse("2026-10")
    assert (oct_.kind, oct_.start, oct_.end) == (
        "month",
        datetime(2026, 9, 30, 16, 0, tzinfo=UTC),
        datetime(2026, 10, 31, 16, 0, tzinfo=UTC),
    )
    q4 = Period.parse("2026-Q4")
    assert (q4.kind, str(q4), q4.title()) == ("quarter", "2026-Q4", "2026年第四季度")
    assert q4.start == oct_.start and q4.end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    q1 = Period.parse("2027-q1")
    assert q1.start == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert q1.end == datetime(2027, 3, 31, 16, 0, tzinfo=UTC)
    year = Period.parse(" 2026 ")
    assert (year.kind, str(year), year.title()) == ("year", "2026", "2026年度")
    assert year.start == datetime(2025, 12, 31, 16, 0, tzinfo=UTC) and year.end == q4.end
    assert Period.parse("2026-12").end == year.end
    assert datetime(2026, 12, 31, 15, 59, tzinfo=UTC) in year
    assert datetime(2026, 12, 31, 16, 0, tzinfo=UTC) not in year
    for bad in ("2026-13", "2026-00", "2026-1", "202610", "2026-Q5", "2026-Q0", "26", ""):
        with pytest.raises(ValueError):
            Period.parse(bad)


def _lc(to_state: str, unit: str, pid: str, satisfaction: str | None = None) -> dict[str, Any]:
    return {
        "eventId": f"{pid}#{to_state}",
        "petitionId": pid,
        "kind": "state_changed",
        "at": MID_OCT,
        "toState": to_state,
        "unit": unit,
        "leadUnit": unit,
        "satisfaction": satisfaction,
        "channel": "HOTLINE",
        "petitionType": "政策咨询",
    }


def test_undefined_rates_target_and_common_problems_in_every_format() -> None:
    """Zero denominators are "—" (empty in CSV, null in JSON), never 0 % or 100 %; a unit below
    95 % is flagged; themes and counties named as routing named them."""
    lifecycle = [
        _lc("routed", "dept.TAX", "a"),
        _lc("routed", "dept.TAX", "b"),
        _lc("closed", "county.410402", "c", "DISSATISFIED"),
    ]
    facts = {
        "a": Facts(theme="T05", theme_name="税费", county="410402", county_name="新华区"),
        "c": Facts(theme="T09", theme_name="用地", county="city"),
    }
    report = compute(lifecycle, [], Period(2026, 10), facts)
    name = namer(report, unit_namer(default_rules()))
    tax = report.units[0]
    assert (tax.key, tax.received, tax.resolution_rate, tax.below_target) == (
        "dept.TAX",
        2,
        0.0,
        True,
    )
    county = report.units[1]
    assert county.resolution_rate is None and not county.below_target
    text = format_text(report, name)
    assert "国家税务总局平顶山市税务局" in text and "0.0%▼" in text
    assert "1 个单位低于目标" in text and "税费 1件" in text and "用地 0.0% (1件评价)" in text
    assert "新华区" in text and "市本级" in text and "未知" in text
    rows = csv_rows(report, name)
    header, first = rows[0], rows[1]
    assert header[:3] == ["维度", "名称", "代码"] and first[:3] == [
        "单位",
        name("unit", "dept.TAX"),
        "dept.TAX",
    ]
    assert first[header.index("响应率(%)")] == "" and first[-1] == "1"
    data = json.loads(format_json(report, name))
    assert data["units"][0]["response_rate"] is None and data["resolution_target"] == 0.95
    assert data["common_problems"]["lowest_satisfaction"][0]["theme"] == "T09"
    assert format_text(compute([], [], Period(2026, 10)), name).endswith("no events in this period")


def test_cli_refuses_a_bad_period_and_a_missing_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    from petition_hub.service.settings import get_settings

    monkeypatch.delenv("HUB_BROKER", raising=False)
    get_settings.cache_clear()
    try:
        bad = CliRunner().invoke(main, ["report", "--period", "2026-13"])
        assert bad.exit_code == 2 and "not a month: 2026-13" in bad.output
        bad = CliRunner().invoke(main, ["report", "--period", "2026Q4"])
        assert bad.exit_code == 2 and "YYYY-Qn" in bad.output
        no_broker = CliRunner().invoke(main, ["report", "--period", "2026-Q4"])
        assert no_broker.exit_code == 1 and "HUB_BROKER is not set" in no_broker.output
    finally:
        get_settings.cache_clear()


def test_a_voided_rating_leaves_the_satisfaction_rate_and_replies_split_by_kind() -> None:
    """A 不满意 the office voided on the unit's dispute (matched by petition and the rating's time,
    whenever decided) counts as voided, not rated; another 不满意 of the same unit still counts;
    replies split into resolved (also a record without replyKind) and explained."""
    unit = "dept.TAX"
    rated_a = _lc("reopened", unit, "a", "DISSATISFIED")
    rated_b = _lc("closed", unit, "b", "DISSATISFIED")
    rated_c = _lc("closed", unit, "c", "SATISFIED")
    decided = {
        **_lc("reopened", unit, "a"),
        "eventId": "a#dispute",
        "kind": "dispute_decided",
        "toState": None,
        "at": MID_OCT + timedelta(days=40),  # decided in the next period
        "disputeOutcome": "voided",
        "ratedAt": MID_OCT,
    }
    upheld = {**decided, "eventId": "b#dispute", "petitionId": "b", "disputeOutcome": "upheld"}
    replies = [
        {**_lc("replied", unit, "a"), "replyKind": "resolved"},
        {**_lc("replied", unit, "b"), "replyKind": "explained"},
        _lc("replied", unit, "c"),  # a record from before reply kinds: resolved
    ]
    report = compute([rated_a, rated_b, rated_c, decided, upheld, *replies], [], Period(2026, 10))
    (row,) = report.units
    assert (row.rated, row.satisfied, row.voided) == (2, 1, 1), row
    assert row.satisfaction_rate == 0.5, row
    assert (row.replied_resolved, row.replied_explained) == (2, 1), row
    assert (report.total.voided, report.total.replied_explained) == (1, 1)
    name = namer(report, unit_namer(default_rules()))
    assert "评价作废" in format_text(report, name)
    assert json.loads(format_json(report, name))["units"][0]["voided"] == 1
    header = csv_rows(report, name)[0]
    assert {"评价作废", "问题解决", "解释说明"} <= set(header), header


def test_a_repeat_after_closure_counts_in_the_repeat_rate_and_a_linked_one_only_once() -> None:
    """重复诉求率 = cases received that name an earlier, closed case (``repeatOf``) / received, per
    unit and in total; a repeat linked to an open case has no record of its own: it is not
    received again, only counted as linked (并案) on the case it joined."""
    tax, county = "dept.TAX", "county.410402"
    linked = {
        **_lc("routed", tax, "a"),
        "eventId": "a#link",
        "kind": "repeat_linked",
        "toState": None,
        "repeatId": "r",
        "repeatChannel": "HOTLINE",
        "repeatRef": "12345-410400-20261015-000002",
    }
    lifecycle = [
        _lc("routed", tax, "a"),
        linked,
        _lc("closed", tax, "a", "SATISFIED"),
        {**_lc("routed", tax, "b"), "repeatOf": "a"},  # after a closed: a case of its own
        {**_lc("closed", tax, "b", "SATISFIED"), "repeatOf": "a"},
        _lc("routed", tax, "c"),
        _lc("routed", tax, "d"),
        _lc("routed", county, "e"),
    ]
    report = compute(lifecycle, [], Period(2026, 10))
    rows = {r.key: r for r in report.units}
    got = {k: (r.received, r.repeats, r.linked, r.repeat_rate) for k, r in rows.items()}
    assert got == {tax: (4, 1, 1, 0.25), county: (1, 0, 0, 0.0)}, got
    assert (report.total.received, report.total.repeats, report.total.linked) == (5, 1, 1)
    assert report.total.repeat_rate == 0.2
    # the linked repeat "r" counts nowhere as a case of its own
    assert rows[tax].rated == 2 and "r" not in {r.key for r in report.units}
    name = namer(report, unit_namer(default_rules()))
    assert "重复诉求率" in format_text(report, name) and "25.0%" in format_text(report, name)
    header, first = csv_rows(report, name)[:2]
    assert (first[header.index("重复诉求率(%)")], first[header.index("并案")]) == ("25.0", "1")
    data = json.loads(format_json(report, name))
    assert (data["total"]["repeats"], data["total"]["repeat_rate"]) == (1, 0.2), data["total"]
    assert compute([], [], Period(2026, 10)).total.repeat_rate is None
