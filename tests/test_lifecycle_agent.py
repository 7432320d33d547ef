"""The lifecycle stage's processor, without a broker: replays, parking, timer ids, the calendar."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from petition_hub import schemas
from petition_hub.agents.lifecycle import LifecycleProcessor
from petition_hub.agents.lifecycle_state import Entry
from petition_hub.agents.lifecycle_texts import step_notice
from petition_hub.agents.rekeyers import UNIT_HEADER
from petition_hub.data import data_path
from petition_hub.domain.calendar import CalendarOverrides, WorkingCalendar, default_calendar
from petition_hub.domain.lifecycle import (
    Accepted,
    PetitionState,
    Received,
    Routed,
    SignedFor,
    SlaSignalKind,
    apply,
)
from petition_hub.domain.petition import Channel, PetitionType, petition_id_for
from petition_hub.domain.rules import default_rules
from petition_hub.domain.sla import ClockKind, SlaPolicy, default_policy, load_policy
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.service import metrics
from petition_hub.topics.names import LIFECYCLE, SLA

BJ = timezone(timedelta(hours=8))
ROUTED = "app-routed"
STATUS = "app-unit-status-repartition"
PID = petition_id_for(Channel.HOTLINE, "L-1")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _processor(
    clock: Clock,
    park_seconds: float = 60.0,
    calendar: Callable[[], WorkingCalendar] = default_calendar,
    state: PartitionState | None = None,
) -> tuple[LifecycleProcessor, PartitionState]:
    p = LifecycleProcessor(
        rules=default_rules(),
        city="410400",
        routed=ROUTED,
        statuses=STATUS,
        evaluations="app-evaluations-repartition",
        unit_topics=frozenset({"dept.TAX.petitions"}),
        clock=clock,
        park_seconds=park_seconds,
        calendar=calendar,
    )
    state = PartitionState() if state is None else state
    p.restored(0, state)
    return p, state


def _routed(at: datetime, offset: int = 0, **over: Any) -> SourceRecord:
    record = {
        "petitionId": PID,
        "revision": 0,
        "kind": "UNITS",
        "lead": "dept.TAX",
        "co": [],
        "excluded": [],
        "routedAt": at,
        "receivedAt": at,
        "petitionType": "政策咨询",
        "urgency": "NORMAL",
        "provincialDeadline": None,
        "channel": "HOTLINE",
        "channelRef": "L-1",
        "rulesVersion": "test",
        **over,
    }
    value = schemas.encode("cn.gov.pds.hub.Routed.v2", record)
    return SourceRecord(ROUTED, 0, offset, PID.encode(), value)


def _status(
    kind: str, at: datetime, offset: int, unit: str = "dept.TAX", **extra: Any
) -> SourceRecord:
    value = schemas.encode(
        "cn.gov.pds.hub.UnitStatus.v1", {"petitionId": PID, "kind": kind, "at": at, **extra}
    )
    return SourceRecord(STATUS, 0, offset, PID.encode(), value, ((UNIT_HEADER, unit.encode()),))


def _status_v2(
    kind: str, at: datetime, offset: int, unit: str, source: tuple[str, int, int], **extra: Any
) -> SourceRecord:
    """A ``UnitStatus.v2`` as the re-keyer relays it: stamped with the unit and where the unit
    wrote it."""
    record = {"petitionId": PID, "kind": kind, "at": at, **extra}
    value = schemas.encode("cn.gov.pds.hub.UnitStatus.v2", record)
    topic, partition, off = source
    headers = (
        (UNIT_HEADER, unit.encode()),
        ("hub-source-topic", topic.encode()),
        ("hub-source-partition", str(partition).encode()),
        ("hub-source-offset", str(off).encode()),
    )
    return SourceRecord(STATUS, 0, offset, PID.encode(), value, headers)


def _signed_for(clock: Clock) -> tuple[LifecycleProcessor, PartitionState]:
    """A processor whose petition ``PID`` was routed to dept.TAX and signed for at ``T``."""
    p, state = _processor(clock)
    p(_routed(T), state)
    p(_status("SIGNED_FOR", T, 0), state)
    return p, state


def _kinds(outputs: list[Output] | Any, topic: str) -> list[str]:
    found = []
    for o in outputs:
        if o.topic == topic:
            rec = schemas.decode(o.value)[1]
            found.append(rec.get("toState") or rec.get("signal") or rec["kind"])
    return found


T = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)  # a Monday


def test_a_replayed_record_changes_and_emits_nothing() -> None:
    p, state = _processor(Clock(T))
    assert _kinds(p(_routed(T), state), LIFECYCLE) == ["received", "routed"]
    assert p(_routed(T), state) == []
    assert _kinds(p(_status("SIGNED_FOR", T, 0), state), LIFECYCLE) == ["signed_for"]
    assert p(_status("SIGNED_FOR", T, 0), state) == []  # the same record again: a replay


def test_a_status_before_its_routing_waits_for_it() -> None:
    p, state = _processor(Clock(T))
    assert p(_status("SIGNED_FOR", T + timedelta(minutes=5), 0), state) == []
    assert b"w:" + PID.encode() in state
    out = p(_routed(T), state)
    assert _kinds(out, LIFECYCLE) == ["received", "routed", "signed_for"]
    assert b"w:" + PID.encode() not in state


def test_a_status_for_a_petition_never_routed_is_rejected_after_the_wait() -> None:
    p, state = _processor(Clock(T), park_seconds=0.05)
    assert p(_status("SIGNED_FOR", T, 7), state) == []
    assert p.tick(0, state) == []  # still waiting
    time.sleep(0.1)
    out = p.tick(0, state)
    assert [o.topic for o in out] == ["hub.rejects", "dept.TAX.petitions"]
    assert schemas.decode(out[0].value or b"")[1]["reason"] == "unknown_petition"
    assert [o.event_id for o in out] == [f"{STATUS}:0:7#r", f"{STATUS}:0:7#n"]
    notice = schemas.decode(out[1].value or b"")[1]
    assert (notice["kind"], notice["reason"]) == ("event_refused", "unknown_petition"), notice
    assert b"w:" + PID.encode() not in state


def test_a_timer_step_has_the_same_id_whenever_the_timer_runs() -> None:
    ids = []
    for late in (timedelta(minutes=1), timedelta(hours=3)):
        clock = Clock(T)
        p, state = _signed_for(clock)
        clock.now = T + timedelta(days=2, hours=5) + late  # past 50 % of 3 working days
        out = [o for o in p.tick(0, state) if o.topic == SLA]
        assert _kinds(out, SLA) == ["warning"]
        ids.append(out[0].event_id)
    assert ids[0] == ids[1]


def test_an_event_from_the_future_does_not_fire_steps_early() -> None:
    clock = Clock(T)
    p, state = _processor(clock)
    p(_routed(T), state)
    out = p(_status("SIGNED_FOR", T + timedelta(hours=23), 0), state)
    # a unit's clock almost a day ahead: the sign-for steps due in between are not fired
    assert not {"warning", "urging", "overdue"} & set(_kinds(out, SLA)), _kinds(out, SLA)
    assert _kinds(out, LIFECYCLE) == ["signed_for"]


def test_a_time_outside_the_window_is_refused_and_applies_nothing() -> None:
    """Before 2000, or more than a day after the hub's clock: refused with the field's name, the
    time and the clock; the petition's state unchanged (issue 11)."""
    p, state = _processor(Clock(T))
    p(_routed(T), state)
    for offset, at in enumerate(
        (datetime(9999, 12, 31, 23, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC))
    ):
        out = p(_status("SIGNED_FOR", at, offset), state)
        assert [o.topic for o in out] == ["hub.rejects", "dept.TAX.petitions"], out
        rejection = schemas.decode(out[0].value or b"")[1]
        assert rejection["reason"] == "bad_value" and "at" in rejection["message"], rejection
    # nothing was applied: signing for is still possible, once
    assert _kinds(p(_status("SIGNED_FOR", T, 9), state), LIFECYCLE) == ["signed_for"]


def test_a_step_in_a_provisional_year_fires_and_says_so() -> None:
    late = datetime(2026, 12, 28, 9, 0, tzinfo=BJ)  # 3 working days: due 31 December
    clock = Clock(late)
    p, state = _processor(clock)
    assert _kinds(p(_routed(late), state), LIFECYCLE) == ["received", "routed"]
    p(_status("SIGNED_FOR", late, 0), state)
    clock.now = datetime(2026, 12, 31, 19, 0, tzinfo=BJ)
    assert _kinds(p.tick(0, state), SLA) == ["warning", "urging", "overdue"]
    # listed supervision is 5 working days later, in 2027: counted on the provisional calendar
    found = p.petition(PID)
    assert found is not None and found["provisional"]
    clock.now = datetime(2027, 1, 15, 9, 0, tzinfo=BJ)
    assert _kinds(p.tick(0, state), SLA) == ["listed_supervision"]


def test_a_petition_in_a_provisional_year_is_handled_with_provisional_deadlines() -> None:
    received = datetime(2026, 12, 20, 10, 0, tzinfo=BJ)  # 15 working days run into 2027
    p, state = _processor(Clock(received))
    out = p(_routed(received, petitionType="举报投诉"), state)
    assert _kinds(out, LIFECYCLE) == ["received", "routed"]
    started = [schemas.decode(o.value or b"")[1] for o in out if o.topic == SLA]
    by_clock = {r["clock"]: r for r in started}
    assert by_clock["resolve"]["deadlineProvisional"] is True
    assert by_clock["resolve"]["deadline"].astimezone(BJ).date().isoformat() == "2027-01-11"
    assert by_clock["sign_for"]["deadlineProvisional"] is False
    assert _kinds(p(_status("SIGNED_FOR", received, 0), state), LIFECYCLE) == ["signed_for"]
    assert [r["petition_id"] for r in p.unit_lists("dept.TAX")["open"]] == [PID]
    row = p.unit_lists("dept.TAX")["open"][0]
    assert row["resolve_deadline_provisional"] is True


def test_a_petition_whose_deadline_needs_a_year_without_any_calendar_waits_flagged() -> None:
    late = datetime(2099, 12, 28, 9, 0, tzinfo=BJ)  # 15 working days run into 2100: no data
    p, state = _processor(Clock(late), park_seconds=0.05)
    metrics.CALENDAR_MISSING.labels("2100").set(0)
    out = p(_routed(late, petitionType="法律维权"), state)
    # what can be known is: the petition is received and routed; its resolve deadline unknown
    assert _kinds(out, LIFECYCLE) == ["received", "routed"]
    assert p.petition(PID) is not None
    assert _kinds(p(_status("SIGNED_FOR", late, 0), state), LIFECYCLE) == ["signed_for"]


class Calendars:
    """The calendar in force, switched by the test as a reload of HUB_CALENDAR_FILE would."""

    def __init__(self, cal: WorkingCalendar) -> None:
        self.cal = cal

    def __call__(self) -> WorkingCalendar:
        return self.cal


#: A clearly fictional official 2027 for tests: 4-8 January off (so deadlines move later), a
#: Saturday worked.
FICTIONAL_2027 = CalendarOverrides.model_validate(
    {
        "years": {
            2027: {
                "notice": "TEST ONLY: a fictional 2027 arrangement",
                "holidays": ["2027-01-01", *(f"2027-01-0{d}" for d in range(4, 9))],
                "working_days": ["2027-01-09"],
            }
        }
    }
)


def test_the_official_year_replaces_the_provisional_one_once() -> None:
    received = datetime(2026, 12, 20, 10, 0, tzinfo=BJ)
    clock = Clock(received)
    calendars = Calendars(WorkingCalendar())
    p, state = _processor(clock, calendar=calendars)
    p(_routed(received, petitionType="举报投诉"), state)
    p(_status("SIGNED_FOR", received + timedelta(hours=1), 0), state)
    clock.now = datetime(2026, 12, 30, 14, 0, tzinfo=BJ)  # past the warning (50 %)
    assert _kinds(p.tick(0, state), SLA) == ["warning"]
    before = p.petition(PID)
    assert before is not None and before["provisional"]

    calendars.cal = WorkingCalendar(FICTIONAL_2027)
    clock.now += timedelta(minutes=1)
    out = list(p.tick(0, state))
    changed = [schemas.decode(o.value or b"")[1] for o in out if o.topic == SLA]
    assert [r["signal"] for r in changed] == ["deadline_changed"], changed
    record = changed[0]
    assert record["clock"] == "resolve" and record["deadlineProvisional"] is False
    assert record["previousDeadline"].astimezone(BJ).date().isoformat() == "2027-01-11"
    assert record["deadline"].astimezone(BJ).date().isoformat() == "2027-01-15"
    notices = [schemas.decode(o.value or b"")[1] for o in out if o.topic == "dept.TAX.petitions"]
    assert [n["kind"] for n in notices] == ["deadline_changed"]
    assert "2027-01-15 18:00" in notices[0]["message"]
    after = p.petition(PID)
    assert after is not None and not after["provisional"]
    assert "deadline_changed" in [h.get("signal") for h in after["history"]]
    # announced once: later ticks and events say nothing more; the warning does not fire again
    clock.now += timedelta(minutes=1)
    assert p.tick(0, state) == []
    assert _kinds(p(_status("IN_PROGRESS", clock.now, 1), state), SLA) == []


def test_a_recomputation_after_a_crash_has_the_same_ids() -> None:
    ids = []
    for _ in range(2):  # the second run: the state as flushed before the calendar changed
        received = datetime(2026, 12, 20, 10, 0, tzinfo=BJ)
        clock = Clock(received)
        calendars = Calendars(WorkingCalendar())
        p, state = _processor(clock, calendar=calendars)
        p(_routed(received, petitionType="举报投诉"), state)
        calendars.cal = WorkingCalendar(FICTIONAL_2027)
        clock.now = received + timedelta(days=1, minutes=len(ids))  # a different moment
        ids.append([o.event_id for o in p.tick(0, state) if o.topic == SLA])
    assert ids[0] == ids[1] and len(ids[0]) == 1


def test_a_restored_petition_counted_on_another_calendar_is_recomputed() -> None:
    received = datetime(2026, 12, 20, 10, 0, tzinfo=BJ)
    clock = Clock(received)
    p, state = _processor(clock)
    p(_routed(received, petitionType="举报投诉"), state)
    p.flushing(0, state)
    # a new worker with the official calendar restores the partition (a restart after the load)
    clock.now = received + timedelta(days=1)
    q = _processor(clock, calendar=Calendars(WorkingCalendar(FICTIONAL_2027)), state=state)[0]
    out = q.tick(0, state)
    assert [schemas.decode(o.value or b"")[1]["signal"] for o in out if o.topic == SLA] == [
        "deadline_changed"
    ]


def test_an_evaluation_window_starts_when_the_invitation_is_sent() -> None:
    clock = Clock(T)
    p, state = _signed_for(clock)
    replied = T + timedelta(hours=2)
    clock.now = replied + timedelta(days=10)  # applied late (a lagging or parked event)
    out = p(_status("REPLIED", replied, 1, replyText="已解决"), state)
    (request,) = [json.loads(o.value or b"") for o in out if o.topic.endswith("requests")]
    due = datetime.fromisoformat(request["evaluateBy"])
    assert due == clock.now + timedelta(days=7)


def test_lists_and_history() -> None:
    clock = Clock(T)
    p, state = _signed_for(clock)
    lists = p.unit_lists("dept.TAX")
    assert [r["petition_id"] for r in lists["open"]] == [PID] and lists["overdue"] == []
    clock.now = T + timedelta(days=5)
    p.tick(0, state)
    assert [r["petition_id"] for r in p.unit_lists("dept.TAX")["overdue"]] == [PID]
    found = p.petition(PID)
    assert found is not None
    kinds = [h["kind"] for h in found["history"]]
    assert "routing" in kinds and kinds.count("sla") >= 4
    assert found["state"]["state"] == "signed_for" and found["overdue"]
    assert datetime.fromisoformat(found["state"]["received_at"]) == T.astimezone(UTC)


def test_a_satisfied_rating_counts_when_its_window_closes() -> None:
    clock = Clock(T)
    p, state = _signed_for(clock)
    replied = T + timedelta(hours=2)
    value = schemas.encode(
        "cn.gov.pds.hub.UnitStatus.v1",
        {"petitionId": PID, "kind": "REPLIED", "at": replied, "replyText": "已解决"},
    )
    p(SourceRecord(STATUS, 0, 1, PID.encode(), value, ((UNIT_HEADER, b"dept.TAX"),)), state)
    rating = schemas.encode(
        schemas.EVALUATION_V2,
        {
            "channel": "HOTLINE",
            "ref": "L-1",
            "petition_id": PID,
            "petition_ref": None,
            "satisfaction": "BASICALLY_SATISFIED",
            "comment": None,
            "evaluated_at": replied + timedelta(days=1),
            "revision": 0,
        },
    )
    clock.now = replied + timedelta(days=1)
    rated_before = metrics.RATED.labels("dept.TAX")._value.get()
    satisfied_before = metrics.SATISFIED.labels("dept.TAX")._value.get()
    out = p(SourceRecord("app-evaluations-repartition", 0, 0, PID.encode(), rating), state)
    assert _kinds(out, LIFECYCLE) == ["evaluated"]
    assert metrics.RATED.labels("dept.TAX")._value.get() == rated_before  # may still change
    clock.now = replied + timedelta(days=8)
    closed = [o for o in p.tick(0, state) if o.topic == LIFECYCLE]
    record = schemas.decode(closed[0].value or b"")[1]
    assert (record["toState"], record["closure"]) == ("closed", "rated")
    assert record["satisfaction"] == "BASICALLY_SATISFIED"  # the report counts it from here
    assert metrics.RATED.labels("dept.TAX")._value.get() == rated_before + 1
    assert metrics.SATISFIED.labels("dept.TAX")._value.get() == satisfied_before + 1


#: The ladder's notices with the packaged policy (sla_policy.yaml: 50 %, 80 %, 5 working days),
#: word for word (issue 14: they name who was told, as it is done).
PACKAGED_NOTICES = {
    (SlaSignalKind.WARNING, ClockKind.RESOLVE): "50% of the time to resolve has passed (预警)",
    (SlaSignalKind.URGING, ClockKind.RESOLVE): (
        "80% of the time to resolve has passed: urging (催办)"
    ),
    (SlaSignalKind.OVERDUE, ClockKind.RESOLVE): (
        "the resolve deadline has passed: overdue, under supervision (逾期督办), reported to the "
        "joint-meeting office"
    ),
    (SlaSignalKind.LISTED_SUPERVISION, ClockKind.RESOLVE): (
        "5 working days past the resolve deadline: listed supervision (挂牌督办), reported to the "
        "joint-meeting office and the leading group"
    ),
    (SlaSignalKind.OVERDUE, ClockKind.SIGN_FOR): (
        "the sign for deadline has passed: overdue, under supervision (逾期督办), reported to the "
        "joint-meeting office"
    ),
}


def _policy_file(tmp_path: Path, **ladder: int) -> SlaPolicy:
    """The packaged policy file with ``ladder`` entries changed, loaded as the hub loads it."""
    raw = yaml.safe_load(data_path("sla_policy.yaml").read_text(encoding="utf-8"))
    raw["ladder"].update(ladder)
    path = tmp_path / "sla_policy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return load_policy(path)


def test_the_ladder_notices_of_the_packaged_policy_read_as_before() -> None:
    rules = default_policy().rules
    for (signal, clock), text in PACKAGED_NOTICES.items():
        assert step_notice(signal, clock, rules) == text


def test_a_different_warning_percent_in_the_policy_changes_the_notice(tmp_path: Path) -> None:
    rules = _policy_file(
        tmp_path, warning_percent=40, listed_supervision_after_working_days=1
    ).rules
    warning = step_notice(SlaSignalKind.WARNING, ClockKind.RESOLVE, rules)
    assert warning == "40% of the time to resolve has passed (预警)"
    urging = step_notice(SlaSignalKind.URGING, ClockKind.RESOLVE, rules)
    assert urging == PACKAGED_NOTICES[(SlaSignalKind.URGING, ClockKind.RESOLVE)]  # unchanged
    listed = step_notice(SlaSignalKind.LISTED_SUPERVISION, ClockKind.RESOLVE, rules)
    assert listed.startswith("1 working day past the resolve deadline: ")


def _handled_under(policy: SlaPolicy) -> PetitionState:
    """A petition received, routed and signed for at T, its clocks started under ``policy``."""
    state: PetitionState | None = None
    for event in (
        Received(
            petition_id=PID,
            at=T,
            channel=Channel.HOTLINE,
            petition_type=PetitionType("政策咨询"),
        ),
        Routed(petition_id=PID, at=T, lead_unit="dept.TAX"),
        SignedFor(petition_id=PID, at=T, unit="dept.TAX"),
    ):
        result = apply(state, event, policy=policy)
        assert isinstance(result, Accepted), result
        state = result.state
    assert state is not None
    return state


def test_a_unit_reads_the_percent_its_clock_warns_at(tmp_path: Path) -> None:
    """End to end: the warning notice of a clock started under a policy with warning_percent 40
    says 40 %; one started under the packaged policy, 50 %."""
    for policy, percent in (
        (default_policy(), 50),
        (_policy_file(tmp_path, warning_percent=40), 40),
    ):
        state = PartitionState()
        state[PID.encode()] = Entry(state=_handled_under(policy), channel_ref="L-1").dump()
        clock = Clock(T)
        p, _ = _processor(clock, state=state)
        clock.now = T + timedelta(days=5)  # past the deadline: every step up to overdue fires
        notices = [
            schemas.decode(o.value or b"")[1]
            for o in p.tick(0, state)
            if o.topic == "dept.TAX.petitions"
        ]
        (warning,) = [n for n in notices if n["kind"] == "warning"]
        assert warning["message"] == f"{percent}% of the time to resolve has passed (预警)"


def test_a_refused_event_comes_back_to_its_unit_naming_its_own_record() -> None:
    """A reply before sign-for: hub.rejects and the unit's notice name the unit's own .status
    record (not the repartition topic), the event's kind and id, the reason in words; nothing of
    the reply's text."""
    p, state = _processor(Clock(T))
    p(_routed(T), state)
    src = _status_v2(
        "REPLIED",
        T,
        3,
        "dept.TAX",
        ("dept.TAX.status", 2, 41),
        replyText="已办结 13800138000",
        eventId="TAX-77",
    )
    out = p(src, state)
    assert [o.topic for o in out] == ["hub.rejects", "dept.TAX.petitions"], out
    rejection = schemas.decode(out[0].value or b"")[1]
    where = (rejection["sourceTopic"], rejection["sourcePartition"], rejection["sourceOffset"])
    assert where == ("dept.TAX.status", 2, 41), rejection
    assert rejection["reason"] == "reply_before_sign_for"
    notice = schemas.decode(out[1].value or b"")[1]
    assert out[1].key == PID.encode() and notice["petitionId"] == PID
    assert (notice["sourceTopic"], notice["sourcePartition"], notice["sourceOffset"]) == where
    assert (notice["kind"], notice["eventKind"], notice["eventRef"]) == (
        "event_refused",
        "REPLIED",
        "TAX-77",
    )
    assert notice["reason"] == "reply_before_sign_for"
    assert "sign for it first" in notice["message"], notice["message"]
    assert "dept.TAX.status partition 2 offset 41" in notice["message"], notice["message"]
    assert "13800138000" not in notice["message"] and "已办结" not in notice["message"]
    assert [o.event_id for o in out] == [f"{STATUS}:0:3#r", f"{STATUS}:0:3#n"]
    assert p(src, state) == []  # a replay: nothing again


def test_a_co_handlers_opinion_reaches_the_lead_and_the_history() -> None:
    p, state = _processor(Clock(T))
    p.records.unit_topics = frozenset({"dept.TAX.petitions", "county.410402.petitions"})
    p(_routed(T, co=["county.410402"]), state)
    opinion = _status_v2(
        "OPINION", T, 1, "county.410402", ("county.410402.status", 0, 5), note="建议现场核查"
    )
    out = p(opinion, state)
    assert _kinds(out, LIFECYCLE) == ["co_handler_opinion"]
    lifecycle = schemas.decode(next(o for o in out if o.topic == LIFECYCLE).value or b"")[1]
    assert (lifecycle["unit"], lifecycle["leadUnit"], lifecycle["note"]) == (
        "county.410402",
        "dept.TAX",
        None,
    )
    (told,) = [o for o in out if o.topic.endswith(".petitions")]
    assert told.topic == "dept.TAX.petitions"
    notice = schemas.decode(told.value or b"")[1]
    assert (notice["kind"], notice["fromUnit"]) == ("co_handler_opinion", "county.410402")
    assert "建议现场核查" in notice["message"]
    history = (p.petition(PID) or {})["history"]
    assert any(h.get("kind") == "co_handler_opinion" for h in history), history
    # anything else from the co-handler is refused, and it is told what it may send
    out = p(_status_v2("SIGNED_FOR", T, 2, "county.410402", ("county.410402.status", 0, 6)), state)
    assert [o.topic for o in out] == ["hub.rejects", "county.410402.petitions"], out
    refused = schemas.decode(out[1].value or b"")[1]
    assert refused["reason"] == "not_the_lead"
    assert "a co-handler may send an opinion" in refused["message"], refused["message"]


def test_a_reply_is_recorded_with_its_kind() -> None:
    for kind, expected in (
        ("EXPLAINED", "explained"),
        ("RESOLVED", "resolved"),
        (None, "resolved"),
    ):
        p, state = _signed_for(Clock(T))
        src = _status_v2(
            "REPLIED", T, 1, "dept.TAX", ("dept.TAX.status", 0, 1), replyText="答复", replyKind=kind
        )
        out = p(src, state)
        changes = [
            schemas.decode(o.value or b"")[1]
            for o in out
            if o.topic == LIFECYCLE and o.headers == (("hub-kind", b"state_changed"),)
        ]
        assert [(c["toState"], c["replyKind"]) for c in changes] == [("replied", expected)], out


def test_a_units_record_relayed_twice_is_applied_once() -> None:
    """The re-keyer is at least once: a crash between its writes and its commit relays a unit's
    record again at a new offset; the lifecycle knows it by where the unit wrote it, and neither
    applies it again nor tells the unit it was refused."""
    p, state = _processor(Clock(T))
    p(_routed(T), state)
    first = p(_status_v2("SIGNED_FOR", T, 4, "dept.TAX", ("dept.TAX.status", 1, 9)), state)
    assert _kinds(first, LIFECYCLE) == ["signed_for"]
    again = _status_v2("SIGNED_FOR", T, 5, "dept.TAX", ("dept.TAX.status", 1, 9))
    assert p(again, state) == []
    # the unit's next record is applied as usual
    later = _status_v2("IN_PROGRESS", T, 6, "dept.TAX", ("dept.TAX.status", 1, 10))
    assert _kinds(p(later, state), LIFECYCLE) == ["in_progress"]


def test_a_v4_status_with_its_author_is_applied_as_v1_to_v3_are() -> None:
    """``UnitStatus.v4`` (id 1044) adds ``author`` (the console's staff account): the lifecycle
    reads it by its id like the earlier versions and applies it the same way."""
    p, state = _processor(Clock(T))
    p(_routed(T), state)
    headers = ((UNIT_HEADER, b"dept.TAX"),)
    for offset, (kind, extra) in enumerate(
        [
            ("SIGNED_FOR", {}),
            ("MATERIAL_REQUESTED", {"note": "营业执照复印件"}),
            ("MATERIAL_RECEIVED", {}),
            ("REPLIED", {"replyText": "已答复", "replyKind": "EXPLAINED"}),
        ]
    ):
        record = {"petitionId": PID, "kind": kind, "at": T, "author": "clerk.tax", **extra}
        value = schemas.encode("cn.gov.pds.hub.UnitStatus.v4", record)
        assert schemas.split_header(value)[0] == 1044
        src = SourceRecord(STATUS, 0, offset, PID.encode(), value, headers)
        expected = {
            "SIGNED_FOR": "signed_for",
            "MATERIAL_REQUESTED": "waiting_material",
            "MATERIAL_RECEIVED": "signed_for",
            "REPLIED": "replied",
        }[kind]
        assert _kinds(p(src, state), LIFECYCLE)[:1] == [expected], kind
