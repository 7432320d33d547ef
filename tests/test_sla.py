"""SLA policy and clock arithmetic: deadlines on official working days, pauses, extensions, the
province's deadline, the ladder, ``explain``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from petition_hub.data import data_path
from petition_hub.domain.calendar import (
    OFFICIAL_YEARS,
    PROVISIONAL_YEARS,
    CalendarOverrides,
    CalendarUnavailable,
    WorkingCalendar,
    default_calendar,
)
from petition_hub.domain.petition import PetitionType, Urgency
from petition_hub.domain.sla import (
    SHANGHAI,
    ClockError,
    ClockKind,
    ClockState,
    LadderStep,
    Limit,
    PolicyError,
    SlaPolicy,
    add_working_time,
    deadline,
    default_policy,
    explain,
    extend,
    is_overdue,
    ladder,
    load_policy,
    met,
    next_due,
    own_deadline,
    pause,
    provisional,
    reopen_clock,
    resolve_clock,
    resume,
    sign_for_clock,
    start_clock,
    stop,
)

CAL = default_calendar()
BARE = WorkingCalendar(CalendarOverrides())
POLICY = default_policy()
T = PetitionType
U = Urgency


def L(text: str) -> datetime:
    """A local (Asia/Shanghai) time, ``"2026-03-02 10:00"``."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def local(t: datetime | None) -> str:
    assert t is not None
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def clock(received: str, ptype: PetitionType = T.SUGGESTION, urgency: Urgency = U.NORMAL) -> Any:
    return resolve_clock(L(received), ptype, urgency, cal=CAL)


# --- the policy ---------------------------------------------------------------------------------


def test_policy_defaults_are_the_domain_table() -> None:
    p = load_policy()
    assert p.sign_for_limit(U.NORMAL) == Limit(working_days=1)
    assert p.sign_for_limit(U.URGENT) == Limit(hours=4)
    assert p.sign_for_limit(U.VERY_URGENT) == Limit(hours=1)
    expected = {
        T.POLICY_CONSULTATION: 3,
        T.SUGGESTION: 10,
        T.DIFFICULTY_ASSISTANCE: 10,
        T.LEGAL_RIGHTS: 15,
        T.REPORT_COMPLAINT: 15,
        T.OTHER: 10,
    }
    for ptype, days in expected.items():
        assert p.resolve_limit(ptype, U.NORMAL) == Limit(working_days=days)
        assert p.resolve_limit(ptype, U.URGENT) == Limit(working_days=3)
        assert p.resolve_limit(ptype, U.VERY_URGENT) == Limit(working_days=1)
    assert p.resolve_limit(None, U.NORMAL) == Limit(working_days=10)  # untyped: 其他诉求
    assert p.working_time.deadline.isoformat() == "18:00:00"
    assert (p.ladder.warning_percent, p.ladder.urging_percent) == (50, 80)
    assert p.ladder.listed_supervision_after_working_days == 5
    assert p.extension.max_requests == 1
    assert p.max_extension_days(Limit(working_days=15)) == 15
    assert p.evaluation.window_days == 7
    assert p.evaluation.max_changes == 1
    assert p.reopen.max_reopens == 1


def _policy_raw() -> dict[str, Any]:
    raw = yaml.safe_load(data_path("sla_policy.yaml").read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def _drop_type(raw: dict[str, Any]) -> None:
    del raw["resolve"]["normal"]["by_type"]["举报投诉"]


BAD_POLICIES: list[tuple[str, Any, str]] = [
    ("missing type", _drop_type, "resolve.normal: by_type: no limit for 举报投诉"),
    (
        "both units",
        lambda r: r["sign_for"].__setitem__("urgent", {"hours": 4, "working_days": 1}),
        "sign_for.urgent: give exactly one of working_days or hours",
    ),
    (
        "neither unit",
        lambda r: r["sign_for"].__setitem__("urgent", {}),
        "sign_for.urgent: give exactly one",
    ),
    (
        "zero days",
        lambda r: r["resolve"].__setitem__("urgent", {"working_days": 0}),
        "resolve.urgent.working_days",
    ),
    (
        "unquoted time",
        lambda r: r["working_time"].__setitem__("deadline", 1080),
        "working_time.deadline: quote the time",
    ),
    (
        "start after deadline",
        lambda r: r["working_time"].__setitem__("day_start", "19:00"),
        "working_time: day_start must be before deadline",
    ),
    (
        "ladder order",
        lambda r: r["ladder"].__setitem__("warning_percent", 90),
        "ladder: warning_percent must be below urging_percent",
    ),
    (
        "missing urgency",
        lambda r: r["sign_for"].pop("very_urgent"),
        "sign_for: no entry for urgency very_urgent",
    ),
    (
        "unknown type",
        lambda r: r["resolve"]["normal"]["by_type"].__setitem__("投诉", {"working_days": 3}),
        "resolve.normal.by_type.投诉",
    ),
    (
        "unknown key",
        lambda r: r["extension"].__setitem__("max_days", 3),
        "extension.max_days",
    ),
]


@pytest.mark.parametrize(
    ("name", "mutate", "expected"), BAD_POLICIES, ids=[b[0] for b in BAD_POLICIES]
)
def test_bad_policy_names_the_entry(tmp_path: Path, name: str, mutate: Any, expected: str) -> None:
    raw = _policy_raw()
    mutate(raw)
    p = tmp_path / "sla_policy.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(p)
    assert expected in str(info.value)
    assert "sla_policy.yaml" in str(info.value)


def test_unquoted_time_in_yaml_is_caught(tmp_path: Path) -> None:
    text = data_path("sla_policy.yaml").read_text(encoding="utf-8")
    p = tmp_path / "sla_policy.yaml"
    p.write_text(text.replace('deadline: "18:00"', "deadline: 18:00"), encoding="utf-8")
    with pytest.raises(PolicyError, match="quote the time"):
        load_policy(p)


# --- deadlines on real published dates ----------------------------------------------------------

RESOLVE_DEADLINES = [
    # received (local), type, urgency, deadline (local)
    ("2025-09-30 10:00", T.POLICY_CONSULTATION, U.NORMAL, "2025-10-11 18:00"),  # 调休 Saturday
    ("2025-09-30 23:00", T.POLICY_CONSULTATION, U.NORMAL, "2025-10-11 18:00"),  # after 18:00
    ("2025-10-03 10:00", T.POLICY_CONSULTATION, U.NORMAL, "2025-10-11 18:00"),  # on a holiday
    ("2025-09-18 09:00", T.LEGAL_RIGHTS, U.NORMAL, "2025-10-15 18:00"),
    ("2026-02-13 10:00", T.POLICY_CONSULTATION, U.NORMAL, "2026-02-25 18:00"),  # Spring F.
    ("2026-02-13 10:00", T.SUGGESTION, U.NORMAL, "2026-03-05 18:00"),
    ("2026-02-09 10:00", T.OTHER, U.NORMAL, "2026-02-28 18:00"),  # 调休 Saturday
    ("2026-09-24 10:00", T.POLICY_CONSULTATION, U.NORMAL, "2026-09-30 18:00"),  # Mid-Autumn
    ("2026-09-18 10:00", T.REPORT_COMPLAINT, U.NORMAL, "2026-10-15 18:00"),  # National Day
    ("2026-09-30 10:00", T.LEGAL_RIGHTS, U.VERY_URGENT, "2026-10-08 18:00"),
    ("2026-10-09 09:00", T.DIFFICULTY_ASSISTANCE, U.URGENT, "2026-10-13 18:00"),  # 10 Oct Sat
    ("2026-03-02 10:00", T.SUGGESTION, U.NORMAL, "2026-03-16 18:00"),
]


@pytest.mark.parametrize(("received", "ptype", "urgency", "due"), RESOLVE_DEADLINES)
def test_resolve_deadline(received: str, ptype: PetitionType, urgency: Urgency, due: str) -> None:
    c = clock(received, ptype, urgency)
    assert local(deadline(c, cal=CAL)) == due
    assert c.base_deadline == deadline(c, cal=CAL)


SIGN_FOR_DEADLINES = [
    ("2025-09-26 10:00", U.NORMAL, "2025-09-28 18:00"),  # 调休 Sunday
    ("2025-10-03 10:00", U.NORMAL, "2025-10-09 18:00"),  # holiday receipt
    ("2025-09-30 23:59", U.NORMAL, "2025-10-09 18:00"),
    ("2025-10-10 17:00", U.NORMAL, "2025-10-11 18:00"),  # 调休 Saturday
    ("2026-02-13 19:00", U.NORMAL, "2026-02-14 18:00"),
    ("2026-02-14 19:00", U.NORMAL, "2026-02-24 18:00"),
    ("2025-10-01 22:00", U.URGENT, "2025-10-02 02:00"),  # hours run over nights and holidays
    ("2026-02-16 23:30", U.VERY_URGENT, "2026-02-17 00:30"),
    ("2026-10-10 16:30", U.URGENT, "2026-10-10 20:30"),
]


@pytest.mark.parametrize(("received", "urgency", "due"), SIGN_FOR_DEADLINES)
def test_sign_for_deadline(received: str, urgency: Urgency, due: str) -> None:
    c = sign_for_clock(L(received), urgency, cal=CAL)
    assert c.kind is ClockKind.SIGN_FOR
    assert local(deadline(c, cal=CAL)) == due
    assert ladder(c, cal=CAL) == [(LadderStep.OVERDUE, deadline(c, cal=CAL))]


def test_receipt_date_is_the_local_date() -> None:
    # 00:30 in Shanghai on 30 September is still 29 September in UTC: the local date counts
    received = datetime(2025, 9, 29, 16, 30, tzinfo=UTC)
    c = sign_for_clock(received, U.NORMAL, cal=CAL)
    assert local(deadline(c, cal=CAL)) == "2025-10-09 18:00"
    assert c.started_at == L("2025-09-30 18:00")


def test_evening_receipt_starts_at_18() -> None:
    c = clock("2026-03-02 23:00")
    assert c.started_at == L("2026-03-02 18:00")
    assert c.opened_at == L("2026-03-02 23:00")
    assert deadline(c, cal=CAL) == deadline(clock("2026-03-02 10:00"), cal=CAL)


# --- the ladder ---------------------------------------------------------------------------------


LADDERS = [
    (
        "2026-03-02 10:00",
        T.SUGGESTION,
        ["2026-03-09 18:00", "2026-03-12 18:00", "2026-03-16 18:00", "2026-03-23 18:00"],
    ),
    (
        "2026-03-02 10:00",
        T.POLICY_CONSULTATION,
        ["2026-03-04 13:15", "2026-03-05 12:18", "2026-03-05 18:00", "2026-03-12 18:00"],
    ),
    (
        "2025-09-30 10:00",
        T.POLICY_CONSULTATION,
        ["2025-10-10 13:15", "2025-10-11 12:18", "2025-10-11 18:00", "2025-10-17 18:00"],
    ),
]


@pytest.mark.parametrize(("received", "ptype", "steps"), LADDERS)
def test_ladder(received: str, ptype: PetitionType, steps: list[str]) -> None:
    got = ladder(clock(received, ptype), cal=CAL)
    assert [s for s, _ in got] == list(LadderStep)
    assert [local(t) for _, t in got] == steps


def test_hour_clock_ladder_runs_on_the_wall_clock() -> None:
    c = start_clock(ClockKind.RESOLVE, L("2026-02-16 22:00"), Limit(hours=10), cal=CAL)
    assert [local(t) for _, t in ladder(c, cal=CAL)] == [
        "2026-02-17 03:00",
        "2026-02-17 06:00",
        "2026-02-17 08:00",
        "2026-02-28 18:00",  # 5 working days after a holiday morning: 24-28 Feb (28th 调休)
    ]


def test_next_due_walks_the_ladder() -> None:
    c = clock("2026-03-02 10:00")
    steps = ladder(c, cal=CAL)
    fired: list[LadderStep] = []
    for step, at in steps:
        assert next_due(c, fired, cal=CAL) == (step, at)
        fired.append(step)
    assert next_due(c, fired, cal=CAL) is None
    assert next_due(stop(c, L("2026-03-03 09:00")), (), cal=CAL) is None
    s = sign_for_clock(L("2026-03-02 10:00"), U.NORMAL, cal=CAL)
    assert next_due(s, (), cal=CAL) == (LadderStep.OVERDUE, L("2026-03-03 18:00"))
    assert next_due(s, (LadderStep.OVERDUE,), cal=CAL) is None


def test_met_and_overdue() -> None:
    c = clock("2026-03-02 10:00")
    assert met(c, cal=CAL) is None
    assert not is_overdue(c, L("2026-03-16 18:00"), cal=CAL)
    assert is_overdue(c, L("2026-03-16 18:01"), cal=CAL)
    assert met(stop(c, L("2026-03-16 18:00")), cal=CAL) is True
    late = stop(c, L("2026-03-17 09:00"))
    assert met(late, cal=CAL) is False
    assert is_overdue(late, L("2026-03-01 00:00"), cal=CAL)
    with pytest.raises(ClockError):
        stop(late, L("2026-03-18 09:00"))


# --- the province's deadline --------------------------------------------------------------------


def test_provincial_deadline_earlier_wins_with_its_own_ladder() -> None:
    prov = L("2026-03-06 12:00")
    c = resolve_clock(L("2026-03-02 10:00"), T.SUGGESTION, U.NORMAL, prov, cal=CAL)
    assert deadline(c, cal=CAL) == prov
    assert local(own_deadline(c, cal=CAL)) == "2026-03-16 18:00"
    assert [local(t) for _, t in ladder(c, cal=CAL)] == [
        "2026-03-04 15:00",  # 50 % of the working time from the start to the province's deadline
        "2026-03-05 15:06",
        "2026-03-06 12:00",
        "2026-03-13 12:00",
    ]


def test_provincial_deadline_later_loses() -> None:
    c = resolve_clock(L("2026-03-02 10:00"), T.SUGGESTION, U.NORMAL, L("2026-04-30 12:00"), cal=CAL)
    assert local(deadline(c, cal=CAL)) == "2026-03-16 18:00"
    assert ladder(c, cal=CAL) == ladder(clock("2026-03-02 10:00"), cal=CAL)


def test_provincial_deadline_is_not_paused_nor_extended() -> None:
    prov = L("2026-03-06 12:00")
    c = resolve_clock(L("2026-03-02 10:00"), T.SUGGESTION, U.NORMAL, prov, cal=CAL)
    paused = pause(c, L("2026-03-04 10:00"), "material", cal=CAL)
    assert deadline(paused, cal=CAL) == prov  # decided although paused
    assert deadline(resume(paused, L("2026-03-20 10:00")), cal=CAL) == prov
    assert deadline(extend(c, 10), cal=CAL) == prov


# --- pauses -------------------------------------------------------------------------------------


PAUSES = [
    # 10 working days from Monday 2 March 2026: due 16 March 18:00
    ("2026-03-09 10:00", "2026-03-11 10:00", "2026-03-18 18:00"),  # two working days
    ("2026-03-06 10:00", "2026-03-09 10:00", "2026-03-17 18:00"),  # over a weekend: one
    ("2026-03-09 10:00", "2026-03-09 15:00", "2026-03-17 13:30"),  # five hours of one day
    ("2026-03-09 19:00", "2026-03-10 08:00", "2026-03-16 18:00"),  # a night: nothing
    ("2026-03-02 11:00", "2026-03-03 08:30", "2026-03-16 18:00"),  # the uncounted receipt day
    ("2026-03-09 17:00", "2026-03-10 09:30", "2026-03-17 10:30"),  # 1 h + 1 h
]


@pytest.mark.parametrize(("start", "end", "due"), PAUSES)
def test_pause_moves_the_deadline(start: str, end: str, due: str) -> None:
    c = clock("2026-03-02 10:00")
    paused = pause(c, L(start), "material", cal=CAL)
    assert paused.paused
    assert deadline(paused, cal=CAL) is None
    resumed = resume(paused, L(end))
    assert local(deadline(resumed, cal=CAL)) == due
    assert resumed.pauses[0].reason == "material"


def test_pause_over_spring_festival_counts_working_days_only() -> None:
    c = clock("2026-02-09 10:00", T.OTHER)  # due Saturday 28 February (调休)
    assert local(deadline(c, cal=CAL)) == "2026-02-28 18:00"
    # 13 Feb 10:00 → 24 Feb 10:00: the rest of the 13th, Saturday the 14th (调休), 1.5 h of the
    # 24th = exactly two working days; the nine holidays cost nothing
    c2 = resume(pause(c, L("2026-02-13 10:00"), "", cal=CAL), L("2026-02-24 10:00"))
    assert local(deadline(c2, cal=CAL)) == "2026-03-03 18:00"


def test_ladder_while_paused_shows_only_known_steps() -> None:
    c = clock("2026-03-02 10:00")
    paused = pause(c, L("2026-03-10 10:00"), "material", cal=CAL)  # after the warning
    assert [s for s, _ in ladder(paused, cal=CAL)] == [LadderStep.WARNING]
    assert next_due(paused, [LadderStep.WARNING], cal=CAL) is None
    resumed = resume(paused, L("2026-03-11 10:00"))
    assert [local(t) for _, t in ladder(resumed, cal=CAL)][1:3] == [
        "2026-03-13 18:00",
        "2026-03-17 18:00",
    ]


def test_pause_refusals() -> None:
    c = clock("2026-03-02 10:00")
    with pytest.raises(ClockError, match="only a resolve clock"):
        pause(sign_for_clock(L("2026-03-02 10:00"), U.NORMAL, cal=CAL), L("2026-03-02 11:00"), "")
    paused = pause(c, L("2026-03-05 10:00"), "", cal=CAL)
    with pytest.raises(ClockError, match="already paused"):
        pause(paused, L("2026-03-05 11:00"), "", cal=CAL)
    with pytest.raises(ClockError, match="not paused"):
        resume(c, L("2026-03-05 11:00"))
    with pytest.raises(ClockError, match="before the pause"):
        resume(paused, L("2026-03-05 09:00"))
    with pytest.raises(ClockError, match="before the clock was opened"):
        pause(c, L("2026-03-02 09:00"), "", cal=CAL)
    with pytest.raises(ClockError, match="overdue"):
        pause(c, L("2026-03-16 18:00"), "", cal=CAL)
    with pytest.raises(ClockError, match="stopped"):
        pause(stop(c, L("2026-03-03 10:00")), L("2026-03-04 10:00"), "", cal=CAL)
    with pytest.raises(ValueError, match="time zone"):
        pause(c, datetime(2026, 3, 5, 10), "", cal=CAL)


def test_stop_while_paused_closes_the_pause() -> None:
    c = pause(clock("2026-03-02 10:00"), L("2026-03-09 10:00"), "material", cal=CAL)
    done = stop(c, L("2026-03-11 10:00"))
    assert done.pauses[-1].end == L("2026-03-11 10:00")
    assert local(deadline(done, cal=CAL)) == "2026-03-18 18:00"
    assert met(done, cal=CAL) is True


# --- extensions and reopening -------------------------------------------------------------------


def test_extension_adds_working_days() -> None:
    c = clock("2026-02-09 10:00", T.OTHER)  # due 28 Feb
    assert local(deadline(extend(c, 3), cal=CAL)) == "2026-03-04 18:00"
    ext = extend(c, 10)
    assert local(deadline(ext, cal=CAL)) == "2026-03-13 18:00"
    # the fractions are of the extended resolve time: 50 % of 20 days is day 10
    assert local(ladder(ext, cal=CAL)[0][1]) == "2026-02-28 18:00"


def test_extension_refusals() -> None:
    c = clock("2026-02-09 10:00", T.OTHER)
    with pytest.raises(ClockError, match=r"1\.\.10"):
        extend(c, 11)
    with pytest.raises(ClockError, match="already extended"):
        extend(extend(c, 2), 2)
    with pytest.raises(ClockError, match="hour clock"):
        extend(start_clock(ClockKind.RESOLVE, L("2026-03-02 10:00"), Limit(hours=8), cal=CAL), 1)
    with pytest.raises(ClockError, match="only a resolve clock"):
        extend(sign_for_clock(L("2026-03-02 10:00"), U.NORMAL, cal=CAL), 1)
    with pytest.raises(ClockError, match="stopped"):
        extend(stop(c, L("2026-02-10 10:00")), 1)


def test_reopen_clock_is_fresh_and_of_the_same_length() -> None:
    c = extend(
        pause(
            resolve_clock(
                L("2026-03-02 10:00"),
                T.POLICY_CONSULTATION,
                U.NORMAL,
                L("2026-03-04 12:00"),
                cal=CAL,
            ),
            L("2026-03-03 10:00"),
            "",
            cal=CAL,
        ),
        2,
    )
    fresh = reopen_clock(stop(c, L("2026-03-10 10:00")), L("2026-03-12 20:00"), cal=CAL)
    assert fresh.limit == Limit(working_days=3)
    assert fresh.pauses == () and fresh.paused_since is None and fresh.extension_days == 0
    assert fresh.provincial_deadline is None and fresh.stopped_at is None
    assert local(deadline(fresh, cal=CAL)) == "2026-03-17 18:00"


# --- explain ------------------------------------------------------------------------------------


def test_explain_national_day_2025() -> None:
    e = explain(L("2025-09-30 10:00"), T.POLICY_CONSULTATION, U.NORMAL, cal=CAL)
    assert e.sign_for.deadline is not None and e.resolve.deadline is not None
    assert local(e.sign_for.deadline.utc) == "2025-10-09 18:00"
    assert local(e.resolve.deadline.utc) == "2025-10-11 18:00"
    assert e.resolve.decided_by == "policy"
    assert [s.step for s in e.resolve.ladder] == list(LadderStep)
    assert e.calendar_years == {2025: "official"}
    data = e.to_dict()
    text = json.dumps(data, ensure_ascii=False)
    assert '"listed_supervision"' in text
    assert data["resolve"]["deadline"]["local"] == "2025-10-11T18:00:00+08:00"
    assert data["resolve"]["deadline"]["utc"] == "2025-10-11T10:00:00Z"
    assert "2025-10-11 18:00 Sat" in e.to_text()


def test_explain_with_province_pauses_and_notes() -> None:
    e = explain(
        L("2026-02-15 09:00"),  # Spring Festival holiday
        T.LEGAL_RIGHTS,
        U.NORMAL,
        province_deadline=L("2026-03-06 12:00"),
        pauses=[(L("2026-02-25 10:00"), L("2026-02-26 15:00"))],
        cal=CAL,
    )
    assert e.resolve.decided_by == "province"
    assert e.resolve.deadline is not None and local(e.resolve.deadline.utc) == "2026-03-06 12:00"
    assert e.pauses[0].working_time == "1 working day 5:00:00"
    assert any("non-working day" in n for n in e.notes)
    assert "the province's deadline is earlier" in e.to_text()
    json.dumps(e.to_dict())


def test_explain_in_a_year_without_calendar() -> None:
    last = PROVISIONAL_YEARS.stop - 1
    # the deadline itself needs the next year: the caller gets the precise error
    with pytest.raises(CalendarUnavailable) as info:
        explain(datetime(last, 12, 28, 10, tzinfo=SHANGHAI), T.LEGAL_RIGHTS, U.NORMAL, cal=BARE)
    assert info.value.year == last + 1
    # only the listed supervision needs it: the ladder stops there, with a note
    day = next(
        date(last, 12, i)
        for i in range(1, 32)
        if BARE.working_days_between(
            BARE.add_working_days(date(last, 12, i), 15), date(last, 12, 31)
        )
        < 5
    )
    e = explain(
        datetime.combine(day, L("2026-01-01 10:00").timetz()), T.LEGAL_RIGHTS, U.NORMAL, cal=BARE
    )
    assert e.provisional  # a year with no notice (2099) is counted provisionally
    assert [s.step for s in e.resolve.ladder][-1] is LadderStep.OVERDUE
    assert any(f"no working-day calendar for {last + 1}" in n for n in e.notes)
    assert e.calendar_years[last + 1] == "unavailable"


def test_explain_marks_a_provisional_year() -> None:
    received = datetime(OFFICIAL_YEARS.stop - 1, 12, 20, 10, tzinfo=SHANGHAI)
    e = explain(received, T.REPORT_COMPLAINT, U.NORMAL, cal=BARE)
    assert e.provisional
    assert e.resolve.deadline is not None
    assert e.resolve.deadline.local.year == OFFICIAL_YEARS.stop
    assert e.resolve.deadline_provisional
    assert not e.sign_for.deadline_provisional  # the next day, in an official year
    assert [s.provisional for s in e.resolve.ladder][-1]
    assert e.calendar_years[OFFICIAL_YEARS.stop] == "provisional"
    assert any("PROVISIONAL" in n for n in e.notes)
    assert "PROVISIONAL" in e.to_text()
    # a receipt whose clocks stay in official years says nothing of it
    early = explain(received - timedelta(days=48), T.REPORT_COMPLAINT, U.NORMAL, cal=BARE)
    assert not early.provisional and not early.resolve.deadline_provisional
    assert "PROVISIONAL" not in early.to_text()


@pytest.mark.parametrize(
    ("ptype", "pause", "match"),
    [
        (T.SUGGESTION, ("2026-03-05 10:00", "2026-03-04 10:00"), None),
        (T.POLICY_CONSULTATION, ("2026-03-20 10:00", "2026-03-21 10:00"), "overdue"),
    ],
    ids=["ends before it starts", "after the deadline"],
)
def test_explain_rejects_bad_pauses(ptype: T, pause: tuple[str, str], match: str | None) -> None:
    with pytest.raises(ClockError, match=match):
        explain(
            L("2026-03-02 10:00"),
            ptype,
            U.NORMAL,
            pauses=[(L(pause[0]), L(pause[1]))],
            cal=CAL,
        )


def test_clock_state_round_trips_as_json() -> None:
    c = resume(
        pause(clock("2026-03-02 10:00"), L("2026-03-05 10:00"), "m", cal=CAL), L("2026-03-06 10:00")
    )
    again = ClockState.model_validate_json(c.model_dump_json())
    assert again == c
    assert deadline(again, cal=CAL) == deadline(c, cal=CAL)


def test_custom_policy_changes_the_numbers() -> None:
    raw = _policy_raw()
    raw["resolve"]["normal"]["by_type"]["政策咨询"] = {"working_days": 5}
    raw["working_time"]["day_start"] = "00:00"
    pol = SlaPolicy.model_validate(raw)
    c = resolve_clock(L("2026-03-02 10:00"), T.POLICY_CONSULTATION, U.NORMAL, policy=pol, cal=CAL)
    assert local(deadline(c, cal=CAL)) == "2026-03-09 18:00"
    # working windows of 18 h: 50 % of 5 days = 2.5 days → 09:00 on day 3
    assert local(ladder(c, cal=CAL)[0][1]) == "2026-03-05 09:00"


# --- properties ---------------------------------------------------------------------------------

# receipts late enough in the last official year keep clear of the first year without data
receipts = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(OFFICIAL_YEARS.stop - 1, 9, 30)
).map(lambda t: t.replace(tzinfo=SHANGHAI, microsecond=t.microsecond // 1000 * 1000))
types = st.sampled_from(list(PetitionType))
urgencies = st.sampled_from(list(Urgency))


def _in_window(t: datetime) -> bool:
    lt = t.astimezone(SHANGHAI)
    return CAL.is_working_day(lt.date()) and "08:30" <= lt.strftime("%H:%M") <= "18:00"


@settings(max_examples=300, deadline=None)
@given(receipts, types, urgencies)
def test_deadline_is_a_working_day_after_receipt(
    received: datetime, ptype: PetitionType, urgency: Urgency
) -> None:
    c = resolve_clock(received, ptype, urgency, cal=CAL)
    due = deadline(c, cal=CAL)
    assert due is not None and due > received
    assert CAL.is_working_day(due.astimezone(SHANGHAI).date())
    assert due.astimezone(SHANGHAI).strftime("%H:%M") == "18:00"
    n = c.limit.working_days
    assert n is not None
    assert (
        CAL.working_days_between(
            received.astimezone(SHANGHAI).date(), due.astimezone(SHANGHAI).date()
        )
        == n
    )
    s = sign_for_clock(received, urgency, cal=CAL)
    s_due = deadline(s, cal=CAL)
    assert s_due is not None and s_due > received
    if s.limit.hours is not None:
        assert s_due - received == timedelta(hours=s.limit.hours)
    else:
        assert CAL.is_working_day(s_due.astimezone(SHANGHAI).date())


@settings(max_examples=300, deadline=None)
@given(
    receipts, types, st.floats(min_value=0.0, max_value=0.99), st.integers(min_value=1, max_value=8)
)
def test_pausing_k_working_days_moves_the_deadline_by_k(
    received: datetime, ptype: PetitionType, where: float, k: int
) -> None:
    c = resolve_clock(received, ptype, U.NORMAL, cal=CAL)
    due = deadline(c, cal=CAL)
    assert due is not None
    # inside the counted time: the day of receipt is not counted, so a pause there is not k days
    first = max(c.started_at, c.opened_at)
    start = first + (due - first) * where
    end = add_working_time(start, k, cal=CAL)
    moved = deadline(resume(pause(c, start, "", cal=CAL), end), cal=CAL)
    assert moved is not None
    assert moved.astimezone(SHANGHAI).time() == due.astimezone(SHANGHAI).time()
    assert (
        CAL.add_working_days(due.astimezone(SHANGHAI).date(), k)
        == moved.astimezone(SHANGHAI).date()
    )


@settings(max_examples=300, deadline=None)
@given(
    receipts,
    types,
    st.lists(st.tuples(st.integers(0, 10 * 24 * 60), st.integers(0, 3 * 24 * 60)), max_size=3),
)
def test_partial_pauses_keep_deadlines_inside_working_windows(
    received: datetime, ptype: PetitionType, pauses: list[tuple[int, int]]
) -> None:
    c = resolve_clock(received, ptype, U.NORMAL, cal=CAL)
    at = received
    for gap, length in pauses:
        start = at + timedelta(minutes=gap)
        end_before = deadline(c, cal=CAL)
        assert end_before is not None
        if start >= end_before:
            break
        c = resume(pause(c, start, "", cal=CAL), start + timedelta(minutes=length))
        at = start + timedelta(minutes=length)
    due = deadline(c, cal=CAL)
    assert due is not None and due > received
    assert _in_window(due)
    steps = [t for _, t in ladder(c, cal=CAL)]
    assert steps == sorted(steps)


@settings(max_examples=200, deadline=None)
@given(receipts, types, st.integers(min_value=1, max_value=15))
def test_extension_adds_exactly_d_working_days(
    received: datetime, ptype: PetitionType, d: int
) -> None:
    c = resolve_clock(received, ptype, U.NORMAL, cal=CAL)
    assume(d <= c.max_extension_days)
    due = deadline(c, cal=CAL)
    ext = deadline(extend(c, d), cal=CAL)
    assert due is not None and ext is not None
    assert (
        CAL.working_days_between(due.astimezone(SHANGHAI).date(), ext.astimezone(SHANGHAI).date())
        == d
    )
    assert ext.astimezone(SHANGHAI).time() == due.astimezone(SHANGHAI).time()


@settings(max_examples=300, deadline=None)
@given(
    receipts,
    types,
    urgencies,
    st.one_of(st.none(), st.integers(min_value=-2 * 24 * 60, max_value=40 * 24 * 60)),
    st.one_of(st.none(), st.tuples(st.integers(0, 20 * 24 * 60), st.integers(0, 6 * 24 * 60))),
)
def test_ladder_in_order_and_province_wins_iff_earlier(
    received: datetime,
    ptype: PetitionType,
    urgency: Urgency,
    prov_minutes: int | None,
    pause_minutes: tuple[int, int] | None,
) -> None:
    prov = None if prov_minutes is None else received + timedelta(minutes=prov_minutes)
    c = resolve_clock(received, ptype, urgency, prov, cal=CAL)
    if pause_minutes is not None:
        start = received + timedelta(minutes=pause_minutes[0])
        own = own_deadline(c, cal=CAL)
        assert own is not None
        if start < own:
            c = resume(pause(c, start, "", cal=CAL), start + timedelta(minutes=pause_minutes[1]))
    steps = ladder(c, cal=CAL)
    assert [s for s, _ in steps] == list(LadderStep)
    times = [t for _, t in steps]
    assert times == sorted(times)
    own = own_deadline(c, cal=CAL)
    eff = deadline(c, cal=CAL)
    assert own is not None and eff is not None
    if prov is not None and prov < own:
        assert eff == prov
    else:
        assert eff == own
    assert times[2] == eff


def test_add_working_time_examples() -> None:
    assert local(add_working_time(L("2026-03-03 10:00"), 5, cal=CAL)) == "2026-03-10 10:00"
    assert local(add_working_time(L("2026-03-07 23:00"), 5, cal=CAL)) == "2026-03-13 18:00"
    assert local(add_working_time(L("2025-09-30 18:00"), 1, cal=CAL)) == "2025-10-09 18:00"
    assert add_working_time(L("2026-03-03 10:00"), 0, cal=CAL) == L("2026-03-03 10:00")


def test_a_stopped_clock_keeps_the_deadline_it_was_judged_against() -> None:
    # replied on a provisional deadline; the official year arrives later and would move it: the
    # verdict (met) and the deadline every later record shows stay what they were at the stop
    official_2027 = WorkingCalendar(
        CalendarOverrides.model_validate(
            {"years": {2027: {"notice": "TEST ONLY: fictional", "holidays": ["2027-01-11"]}}}
        )
    )
    c = resolve_clock(
        datetime(2026, 12, 20, 10, tzinfo=SHANGHAI), T.REPORT_COMPLAINT, U.NORMAL, cal=BARE
    )
    due = deadline(c, cal=BARE)
    assert due is not None and provisional(c, due, cal=BARE)
    assert deadline(c, cal=official_2027) != due  # a running clock would move
    stopped = stop(c, datetime(2026, 12, 29, 10, tzinfo=SHANGHAI), cal=BARE)
    assert deadline(stopped, cal=official_2027) == due
    assert provisional(stopped, due, cal=official_2027) is True
    assert met(stopped, cal=official_2027) is True
