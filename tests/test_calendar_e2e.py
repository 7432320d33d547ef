"""The working-day calendar end to end: a provisional 2027 replaced by an official one while
petitions run, on the embedded broker, with a controllable clock (HUB_CLOCK_FILE) and a calendar
file the worker watches (HUB_CALENDAR_FILE).

On 20 December 2026 a 12345 complaint (举报投诉, 15 working days) and a provincial dispatch are
routed while 2027 has no official calendar: their resolve deadlines (11 January 2027) are marked
provisional everywhere a unit or the province reads them. The complaint is answered; the dispatch
is still open when a (fictional, test-only) official 2027 arrives and moves its deadline to 15
January. Exactly one ``deadline_changed`` is announced for it (hub.sla, the lead unit's topic,
province.feedback, its history), none for the answered complaint, and nothing that had fired
fires again: neither with the worker running on, nor after it is killed (SIGKILL) before it read
the new file or right after it announced the change.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from hubtest import (
    WorkerProcess,
    court_dispatch,
    http_json,
    produce,
    read_topic,
    set_clock,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.domain.petition import Channel, petition_id_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
T0 = datetime(2026, 12, 20, 10, 0, tzinfo=BJ)  # a Sunday
#: 15 working days after 20 December 2026: provisional 2027 (1 January off), and the fictional
#: official 2027 below (4-8 January off as well, Saturday 9 January worked).
PROVISIONAL_DUE = datetime(2027, 1, 11, 18, 0, tzinfo=BJ)
OFFICIAL_DUE = datetime(2027, 1, 15, 18, 0, tzinfo=BJ)
SIGN_FOR_DUE = datetime(2026, 12, 21, 18, 0, tzinfo=BJ)  # 1 working day after routing (2026)

GDBH = "12345-410400-20261220-000123"
COMPLAINT = petition_id_for(Channel.HOTLINE, GDBH)
COMPLAINT_LEAD = "dept.DRC"  # 停电 (T08, 用电保障): a city-level theme
DISPATCH = "HA-20261220-000042"
DISPATCH_PID = petition_id_for(Channel.PROVINCE, DISPATCH)
DISPATCH_LEAD = "dept.COURT"
NAMES = {COMPLAINT: "complaint", DISPATCH_PID: "dispatch"}

EMPTY_CALENDAR = "years: {}\n"
OFFICIAL_2027 = """\
years:
  2027:
    notice: "TEST ONLY: fictional 2027 arrangement"
    holidays: [2027-01-01, 2027-01-04, 2027-01-05, 2027-01-06, 2027-01-07, 2027-01-08]
    working_days: [2027-01-09]
"""
CALENDAR_CHANGED = "the working-day calendar changed"


def _work_order() -> bytes:
    body = {
        "GDBH": GDBH,
        "XGCS": 0,
        "SLSJ": "2026-12-20 10:00:00",
        "LDRXM": "王强",
        "LDHM": "13937500001",
        "QYMC": "平顶山市鹰城精密机械有限公司",
        "TYSHXYDM": "91410402MA0011870T",
        "SQLB": "投诉",
        "SQBT": "频繁停电",
        "SQNR": "最近一个月工厂停电六次，每次停电都不提前通知，造成大批产品报废。",
        "SSQX": "新华区",
        "XZQHDM": "410402",
        "JJCD": "一般",
        "SFBM": "0",
        "FJ": [],
    }
    return json.dumps(body, ensure_ascii=False).encode()


def _write_calendar(path: Path, text: str) -> None:
    """Replace the calendar file atomically: the worker never reads half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _until(
    fetch: Callable[[], Any], ok: Callable[[Any], bool], what: str, timeout: float = 60.0
) -> Any:
    """Poll ``fetch()`` until ``ok`` holds for its value, which is returned; on timeout the error
    says what was expected and what was last found."""
    last: list[Any] = []

    def probe() -> bool:
        last[:] = [fetch()]
        return ok(last[0])

    try:
        wait_until(probe, timeout, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last found: {last[0] if last else 'nothing'}") from None
    return last[0]


def _bj(t: datetime | str | None) -> str:
    if t is None:
        return "None"
    value = datetime.fromisoformat(t) if isinstance(t, str) else t
    return value.astimezone(BJ).strftime("%Y-%m-%d %H:%M")


class Hub:
    """The broker, the controllable clock, the calendar file and the worker of one test."""

    def __init__(
        self,
        broker: EmbeddedBroker,
        start_worker: Callable[..., WorkerProcess],
        tmp_path: Path,
    ) -> None:
        self.broker = broker
        self.clock = tmp_path / "clock"
        self.calendar = tmp_path / "calendar.yaml"
        self.now = set_clock(self.clock, T0)
        _write_calendar(self.calendar, EMPTY_CALENDAR)
        self._start = start_worker
        self.env = {"HUB_CLOCK_FILE": str(self.clock), "HUB_CALENDAR_FILE": str(self.calendar)}
        self.worker = start_worker(broker, **self.env)

    def restart(self) -> None:
        """A new worker of the same app and data dir (after the old one was killed)."""
        self.worker = self._start(self.broker, wait_ready=120, **self.env)

    def at(self, when: datetime) -> datetime:
        self.now = set_clock(self.clock, when)
        return when

    def status(self, unit: str, pid: str, kind: str, **extra: Any) -> None:
        value = schemas.encode(
            "cn.gov.pds.hub.UnitStatus.v1",
            {"petitionId": pid, "kind": kind, "at": self.now, **extra},
        )
        produce(self.broker.bootstrap, f"{unit}.status", [(pid.encode(), value, ())])

    # --- what the hub wrote --------------------------------------------------------------------

    def avro(self, topic: str) -> list[dict[str, Any]]:
        """Every record of ``topic``, decoded."""
        return [
            dict(schemas.decode(r.value or b"")[1])
            for r in read_topic(self.broker.bootstrap, topic, timeout=5)
        ]

    def sla(self) -> list[dict[str, Any]]:
        return self.avro("hub.sla")

    def notices(self, unit: str) -> list[dict[str, Any]]:
        """The unit notices (not the petitions) on the unit's topic."""
        return [r for r in self.avro(f"{unit}.petitions") if "role" not in r]

    def unit_records(self, unit: str) -> list[dict[str, Any]]:
        return [r for r in self.avro(f"{unit}.petitions") if "role" in r]

    def feedback(self) -> list[dict[str, Any]]:
        return [r for r in self.avro("province.feedback") if r["dispatchId"] == DISPATCH]

    def lifecycle(self) -> list[tuple[str, str, str | None, str | None]]:
        return [
            (NAMES.get(r["petitionId"], r["petitionId"]), r["kind"], r["fromState"], r["toState"])
            for r in self.avro("hub.lifecycle")
        ]

    def callback_requests(self) -> list[tuple[bytes | None, dict[str, Any]]]:
        records = read_topic(self.broker.bootstrap, "hotline12345.callback-requests", timeout=5)
        return [(r.key, json.loads(r.value or b"{}")) for r in records]

    def petition(self, pid: str) -> tuple[int, Any]:
        return http_json(f"{self.worker.url}/petitions/{pid}")

    def lists(self, unit: str) -> dict[str, Any]:
        status, body = http_json(f"{self.worker.url}/units/{unit}/petitions")
        assert status == 200, f"GET /units/{unit}/petitions: expected 200, got {status}: {body}"
        return dict(body)


def _sla_counts(records: list[dict[str, Any]]) -> Counter[tuple[str, str, str, int]]:
    return Counter(
        (NAMES.get(r["petitionId"], r["petitionId"]), r["clock"], r["signal"], r["round"])
        for r in records
    )


def _changed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("signal", r.get("kind")) == "deadline_changed"]


def _calendar_feedback(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if (r["message"] or "").startswith(CALENDAR_CHANGED)]


def _history_signals(hub: Hub, pid: str) -> list[str]:
    status, body = hub.petition(pid)
    if status != 200:
        return []
    return [h.get("signal") for h in body["history"] if h.get("signal")]


def _lead_records(hub: Hub, unit: str, pid: str) -> list[dict[str, Any]]:
    return [r for r in hub.unit_records(unit) if r["petitionId"] == pid and r["role"] == "LEAD"]


def _open_row(hub: Hub, unit: str, pid: str) -> dict[str, Any] | None:
    return next((r for r in hub.lists(unit)["open"] if r["petition_id"] == pid), None)


def _route_and_answer(hub: Hub) -> None:
    """Both petitions routed on the provisional 2027, signed for; the complaint answered and its
    petitioner invited to rate; the dispatch's resolve warning fired."""
    bootstrap = hub.broker.bootstrap
    produce(bootstrap, "hotline12345.workorders", [(GDBH.encode(), _work_order(), ())])
    produce(bootstrap, "province.dispatch", [(DISPATCH.encode(), court_dispatch(DISPATCH, T0), ())])

    for unit, pid in ((COMPLAINT_LEAD, COMPLAINT), (DISPATCH_LEAD, DISPATCH_PID)):
        records = _until(
            partial(_lead_records, hub, unit, pid),
            lambda found: len(found) >= 1,
            f"the {NAMES[pid]}'s LEAD record on {unit}.petitions",
        )
        assert len(records) == 1, f"{NAMES[pid]}: expected 1 LEAD record, found {len(records)}"
        rec = records[0]
        assert (rec["resolveDeadline"], rec["resolveDeadlineProvisional"]) == (
            PROVISIONAL_DUE,
            True,
        ), (
            f"{NAMES[pid]}: expected resolve deadline {_bj(PROVISIONAL_DUE)} provisional, found "
            f"{_bj(rec['resolveDeadline'])} provisional={rec['resolveDeadlineProvisional']}"
        )
        assert (rec["signForDeadline"], rec["signForDeadlineProvisional"]) == (
            SIGN_FOR_DUE,
            False,
        ), (
            f"{NAMES[pid]}: expected sign-for deadline {_bj(SIGN_FOR_DUE)} not provisional, "
            f"found {_bj(rec['signForDeadline'])} provisional={rec['signForDeadlineProvisional']}"
        )

        # the lifecycle holds it: 在办, provisional
        row = _until(
            partial(_open_row, hub, unit, pid),
            lambda row: row is not None,
            f"the {NAMES[pid]} on {unit}'s open list",
        )
        assert row["resolve_deadline_provisional"] is True, f"{NAMES[pid]}: {row}"
        assert datetime.fromisoformat(row["resolve_deadline"]) == PROVISIONAL_DUE, row
        status, body = hub.petition(pid)
        assert status == 200 and body["provisional"] is True, (
            f"GET /petitions/{pid} ({NAMES[pid]}): expected 200 with provisional true, found "
            f"{status} provisional={body.get('provisional') if status == 200 else body}"
        )

    hub.at(T0 + timedelta(minutes=5))
    hub.status(COMPLAINT_LEAD, COMPLAINT, "SIGNED_FOR")
    hub.status(DISPATCH_LEAD, DISPATCH_PID, "SIGNED_FOR")
    feedback = _until(
        hub.feedback,
        lambda found: len(found) >= 3,
        "3 province.feedback records (RECEIVED, RECEIVED, ACCEPTED)",
    )
    statuses = [f["status"] for f in feedback]
    assert statuses == ["RECEIVED", "RECEIVED", "ACCEPTED"], f"found {statuses}"
    assert all(f["deadline"] == PROVISIONAL_DUE for f in feedback), [
        _bj(f["deadline"]) for f in feedback
    ]

    hub.at(datetime(2026, 12, 29, 10, 0, tzinfo=BJ))
    hub.status(COMPLAINT_LEAD, COMPLAINT, "REPLIED", replyText="已协调供电公司，停电前将提前通知。")
    requests = _until(
        hub.callback_requests,
        lambda found: len(found) >= 1,
        "the complaint's call-back request on hotline12345.callback-requests",
    )
    assert len(requests) == 1, f"expected 1 call-back request, found {len(requests)}"
    key, request = requests[0]
    assert key == GDBH.encode() and request["GDBH"] == GDBH and request["petitionRef"] == COMPLAINT
    replied = datetime.fromisoformat(request["repliedAt"])
    evaluate_by = datetime.fromisoformat(request["evaluateBy"])
    assert replied == hub.now, f"repliedAt: expected {hub.now}, found {replied}"
    assert evaluate_by - replied == timedelta(days=7), (
        f"evaluateBy: expected repliedAt + 7 days, found {evaluate_by - replied} after it"
    )

    # half the dispatch's time has passed (13:15 on 30 December): its warning fires
    hub.at(datetime(2026, 12, 30, 14, 0, tzinfo=BJ))
    _until(
        lambda: _sla_counts(hub.sla()),
        lambda c: c[("dispatch", "resolve", "warning", 0)] >= 1,
        "the dispatch's resolve warning on hub.sla",
    )
    sla = hub.sla()
    counts = _sla_counts(sla)
    assert counts == {
        ("complaint", "resolve", "started", 0): 1,
        ("complaint", "sign_for", "started", 0): 1,
        ("complaint", "sign_for", "met", 0): 1,
        ("complaint", "resolve", "met", 0): 1,
        ("dispatch", "resolve", "started", 0): 1,
        ("dispatch", "sign_for", "started", 0): 1,
        ("dispatch", "sign_for", "met", 0): 1,
        ("dispatch", "resolve", "warning", 0): 1,
    }, f"hub.sla before the calendar change: found {dict(counts)}"

    # every deadline said so far is marked: the resolve deadline (2027) provisional, the sign-for
    # deadline (2026) not
    want = {"resolve": (_bj(PROVISIONAL_DUE), True), "sign_for": (_bj(SIGN_FOR_DUE), False)}
    marks = [
        (
            NAMES[r["petitionId"]],
            r["clock"],
            r["signal"],
            _bj(r["deadline"]),
            r["deadlineProvisional"],
        )
        for r in sla
    ]
    wrong = [m for m in marks if m[3:] != want[m[1]]]
    assert not wrong, f"hub.sla: expected deadlines marked {want}, found {wrong}"
    states = [
        (NAMES[r["petitionId"]], r["toState"], _bj(r["deadline"]), r["deadlineProvisional"])
        for r in hub.avro("hub.lifecycle")
    ]
    wrong_states = [m for m in states if m[2:] != want["resolve"]]
    assert len(states) == 7 and not wrong_states, (
        f"hub.lifecycle: expected 7 records with deadline {want['resolve']}, found {states}"
    )
    notices = [
        (n["kind"], _bj(n["deadline"]), n["deadlineProvisional"])
        for n in hub.notices(DISPATCH_LEAD)
    ]
    assert notices == [("warning", *want["resolve"])], f"{DISPATCH_LEAD} notices: found {notices}"


def _assert_announced_once(hub: Hub) -> None:
    """Exactly one announcement of the dispatch's moved deadline, everywhere; nothing repeated."""
    sla = hub.sla()
    changed = _changed(sla)
    assert len(changed) == 1, (
        f"hub.sla: expected exactly 1 deadline_changed (the dispatch's resolve clock), found "
        f"{len(changed)}: {[(NAMES.get(r['petitionId']), r['clock']) for r in changed]}"
    )
    record = changed[0]
    assert (record["petitionId"], record["clock"]) == (DISPATCH_PID, "resolve"), record
    assert record["previousDeadline"] == PROVISIONAL_DUE and record["deadline"] == OFFICIAL_DUE, (
        f"deadline_changed: expected {_bj(PROVISIONAL_DUE)} -> {_bj(OFFICIAL_DUE)}, found "
        f"{_bj(record['previousDeadline'])} -> {_bj(record['deadline'])}"
    )
    assert record["deadlineProvisional"] is False, record
    repeated = {k: n for k, n in _sla_counts(sla).items() if n != 1 and k[2] != "deadline_changed"}
    assert not repeated, f"hub.sla: expected every step once, found repeated {repeated}"

    lead_notices = hub.notices(DISPATCH_LEAD)
    notices = _changed(lead_notices)
    assert len(notices) == 1, (
        f"{DISPATCH_LEAD}.petitions: expected 1 deadline_changed notice, found {len(notices)}"
    )
    notice = notices[0]
    assert notice["petitionId"] == DISPATCH_PID and notice["deadlineProvisional"] is False
    assert (notice["previousDeadline"], notice["deadline"]) == (PROVISIONAL_DUE, OFFICIAL_DUE), (
        f"notice: expected {_bj(PROVISIONAL_DUE)} -> {_bj(OFFICIAL_DUE)}, found "
        f"{_bj(notice['previousDeadline'])} -> {_bj(notice['deadline'])}"
    )
    kinds = Counter(n["kind"] for n in lead_notices)
    assert all(n == 1 for n in kinds.values()), f"{DISPATCH_LEAD} notices repeated: {kinds}"
    complaint_notices = _changed(hub.notices(COMPLAINT_LEAD))
    assert not complaint_notices, f"the answered complaint's lead was told: {complaint_notices}"

    feedback = _calendar_feedback(hub.feedback())
    assert len(feedback) == 1, (
        f"province.feedback: expected 1 '{CALENDAR_CHANGED}' record, found {len(feedback)}"
    )
    assert feedback[0]["deadline"] == OFFICIAL_DUE and feedback[0]["status"] == "ACCEPTED", (
        feedback[0]
    )

    signals = Counter(_history_signals(hub, DISPATCH_PID))
    assert signals["deadline_changed"] == 1, f"dispatch history: found signals {dict(signals)}"
    assert "deadline_changed" not in _history_signals(hub, COMPLAINT)
    rejects = [(r["petitionId"], r["reason"]) for r in hub.avro("hub.rejects")]
    assert not rejects, f"hub.rejects: expected nothing, found {rejects}"


def _wait_announced(hub: Hub) -> None:
    """Until the change is on hub.sla, the lead's topic, province.feedback and in the history."""
    _until(lambda: len(_changed(hub.sla())), lambda n: n >= 1, "deadline_changed on hub.sla")
    _until(
        lambda: len(_changed(hub.notices(DISPATCH_LEAD))),
        lambda n: n >= 1,
        f"a deadline_changed notice on {DISPATCH_LEAD}.petitions",
    )
    _until(
        lambda: len(_calendar_feedback(hub.feedback())),
        lambda n: n >= 1,
        f"a '{CALENDAR_CHANGED}' record on province.feedback",
    )
    _until(
        lambda: hub.petition(DISPATCH_PID),
        lambda r: r[0] == 200 and r[1]["provisional"] is False,
        "the dispatch's GET /petitions/<id> with provisional false",
    )
    _until(
        lambda: _history_signals(hub, DISPATCH_PID),
        lambda signals: "deadline_changed" in signals,
        "deadline_changed in the dispatch's history",
    )


def test_an_official_year_moves_open_deadlines_once(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    hub = Hub(hub_topics, start_worker, tmp_path)
    _route_and_answer(hub)

    _write_calendar(hub.calendar, OFFICIAL_2027)
    hub.at(hub.now + timedelta(minutes=1))
    _wait_announced(hub)
    _assert_announced_once(hub)
    row = _open_row(hub, DISPATCH_LEAD, DISPATCH_PID)
    assert row is not None and row["resolve_deadline_provisional"] is False, row
    assert datetime.fromisoformat(row["resolve_deadline"]) == OFFICIAL_DUE, row

    # the clock runs on. 7 January: the complaint's window (to 5 January) has closed, and the
    # provisional urging (6 January 18:00) must not fire: it moved to 12 January
    hub.at(datetime(2027, 1, 7, 12, 0, tzinfo=BJ))
    _until(
        hub.lifecycle,
        lambda found: ("complaint", "state_changed", "replied", "closed") in found,
        "the complaint closed unrated at the end of its window",
    )
    # the complaint's resolve clock stopped on a provisional deadline: the records after the
    # calendar change still show the deadline it was judged against (no one was told another)
    closed = next(
        r
        for r in hub.avro("hub.lifecycle")
        if r["petitionId"] == COMPLAINT and r["toState"] == "closed"
    )
    assert (closed["deadline"], closed["deadlineProvisional"]) == (PROVISIONAL_DUE, True), (
        f"the complaint's closing record: expected its judged deadline {_bj(PROVISIONAL_DUE)} "
        f"(provisional), found {_bj(closed['deadline'])} "
        f"provisional={closed['deadlineProvisional']}"
    )
    hub.status(DISPATCH_LEAD, DISPATCH_PID, "IN_PROGRESS")  # caught up to 7 January first
    _until(
        hub.lifecycle,
        lambda found: ("dispatch", "state_changed", "signed_for", "in_progress") in found,
        "the dispatch in progress",
    )
    feedback = _until(
        hub.feedback,
        lambda found: bool(found) and found[-1]["status"] == "IN_PROGRESS",
        "IN_PROGRESS on province.feedback",
    )[-1]
    assert feedback["deadline"] == OFFICIAL_DUE and "provisional" not in feedback["message"], (
        f"IN_PROGRESS feedback: expected deadline {_bj(OFFICIAL_DUE)}, not provisional, found "
        f"{_bj(feedback['deadline'])}: {feedback['message']!r}"
    )
    record = next(r for r in hub.avro("hub.lifecycle") if r["toState"] == "in_progress")
    assert (record["deadline"], record["deadlineProvisional"]) == (OFFICIAL_DUE, False), (
        f"hub.lifecycle in_progress: expected {_bj(OFFICIAL_DUE)} not provisional, found "
        f"{_bj(record['deadline'])} provisional={record['deadlineProvisional']}"
    )
    early = [r for r in hub.sla() if r["signal"] == "urging"]
    assert not early, (
        f"expected no urging before 12 January, found at {[_bj(r['at']) for r in early]}"
    )
    hub.at(datetime(2027, 1, 12, 18, 30, tzinfo=BJ))
    urging = _until(
        lambda: [r for r in hub.sla() if r["signal"] == "urging"],
        lambda found: len(found) >= 1,
        "the dispatch's urging on hub.sla",
    )
    assert [_bj(r["at"]) for r in urging] == ["2027-01-12 18:00"], (
        f"expected one urging at 2027-01-12 18:00 (official calendar), found "
        f"{[_bj(r['at']) for r in urging]}"
    )
    notices = [
        (n["kind"], _bj(n["deadline"]), n["deadlineProvisional"])
        for n in hub.notices(DISPATCH_LEAD)
    ]
    assert notices == [
        ("warning", _bj(PROVISIONAL_DUE), True),
        ("deadline_changed", _bj(OFFICIAL_DUE), False),
        ("urging", _bj(OFFICIAL_DUE), False),
    ], f"{DISPATCH_LEAD} notices: found {notices}"
    _assert_announced_once(hub)


@pytest.mark.parametrize("kill", ["before_the_worker_read_the_file", "after_it_announced"])
def test_an_official_year_is_announced_once_across_a_crash(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    kill: str,
) -> None:
    hub = Hub(hub_topics, start_worker, tmp_path)
    _route_and_answer(hub)

    _write_calendar(hub.calendar, OFFICIAL_2027)
    if kill == "after_it_announced":
        hub.at(hub.now + timedelta(minutes=1))
        _until(lambda: len(_changed(hub.sla())), lambda n: n >= 1, "deadline_changed on hub.sla")
    killed = hub.worker.stop(signal.SIGKILL)
    assert killed == -signal.SIGKILL, f"expected the worker killed by SIGKILL, found exit {killed}"
    hub.at(hub.now + timedelta(minutes=1))
    hub.restart()

    _wait_announced(hub)
    # and the new worker goes on: an event sent now is applied after the recomputation
    hub.status(DISPATCH_LEAD, DISPATCH_PID, "IN_PROGRESS")
    _until(
        hub.lifecycle,
        lambda found: ("dispatch", "state_changed", "signed_for", "in_progress") in found,
        "the dispatch in progress (on the new worker)",
    )
    _until(
        lambda: [f["status"] for f in hub.feedback()],
        lambda found: "IN_PROGRESS" in found,
        "IN_PROGRESS on province.feedback",
    )
    _assert_announced_once(hub)
