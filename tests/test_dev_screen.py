"""What `petition-hub dev` shows: petitions that arrive now, lines that fit a terminal, the
calendar's warnings, a command line that works from any folder (tests/test_dev.py runs it)."""

from __future__ import annotations

import itertools
import shlex
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.devtools.corpus import generate_all
from petition_hub.devtools.dev import DEMO_ROUND, demo_stream
from petition_hub.devtools.dev_screen import (
    COLUMNS,
    banner,
    calendar_warnings,
    cli_line,
    fit,
    summary_lines,
    width,
    wrap,
)
from petition_hub.domain.calendar import (
    OFFICIAL_YEARS,
    PROVISIONAL_YEARS,
    CalendarOverrides,
    WorkingCalendar,
)

NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)


def _received(n_rounds: int, clock: datetime) -> list[datetime]:
    """The receipt times of the demo's generated petitions (after the contract's samples)."""
    skip = len(load_samples())
    per_round = 3 * DEMO_ROUND
    messages = itertools.islice(demo_stream(clock=lambda: clock), skip, skip + n_rounds * per_round)
    times = []
    for topic, key, value, headers in messages:
        try:
            petition = PETITION_DECODERS[topic](key, value, headers)
        except Exception:  # the broken ones: dead letters, no receipt time
            continue
        times.append(petition.received_at)
    return times


def test_demo_petitions_arrive_now() -> None:
    times = _received(2, NOW)
    assert len(times) > DEMO_ROUND
    # all received before they are sent, none long before: the SLA ladder sees fresh petitions
    assert max(times) <= NOW
    assert min(times) >= NOW - timedelta(hours=5), min(times)


def test_the_demo_follows_the_clock() -> None:
    later = NOW + timedelta(days=40)
    assert min(_received(1, later)) >= later - timedelta(hours=5)


def test_the_tests_corpus_is_unchanged_and_now_only_moves_its_times() -> None:
    plain = generate_all(30, seed=7)
    assert plain == generate_all(30, seed=7)
    # the seeded days of 2026, as the tests' corpora always had
    assert plain[0].value is not None and b"2026-" in plain[0].value
    moved = generate_all(30, seed=7, ending=NOW)
    # the same seeded choices: the same kinds, outcomes and reasons, other times and references
    assert [(i.channel, i.kind, i.expected, i.expected_reason) for i in moved] == [
        (i.channel, i.kind, i.expected, i.expected_reason) for i in plain
    ]
    assert [asdict(i) for i in moved] != [asdict(i) for i in plain]


def test_demo_rounds_do_not_reuse_references() -> None:
    # thirty rounds a second apart: their petitions all received on the same day or two
    rounds = [
        generate_all(DEMO_ROUND, seed=2026 + r, ending=NOW + timedelta(seconds=r))
        for r in range(30)
    ]
    fresh = [
        i.petition_id
        for items in rounds
        for i in items
        if i.expected == "petition" and i.kind not in ("edit", "repeat")
    ]
    assert len(fresh) > 30 * DEMO_ROUND and len(fresh) == len(set(fresh))


def test_width_counts_chinese_characters_twice_and_fit_cuts_to_columns() -> None:
    assert width("dept.TAX 12") == 11
    assert width("市税务局") == 8
    line = "petitions in: 12 " + "市场监管局 " * 30
    cut = fit(line)
    assert width(cut) <= COLUMNS and cut.endswith("…")
    assert fit("short") == "short"


def test_the_summary_fits_a_terminal() -> None:
    lines = summary_lines(12)
    assert lines[0].startswith("[  12s] petitions in: ")
    assert all(width(line) <= COLUMNS for line in lines), lines


def test_a_provisional_next_year_is_said_on_screen() -> None:
    last_official = max(OFFICIAL_YEARS)
    cal = WorkingCalendar(CalendarOverrides())
    lines = calendar_warnings(cal, date(last_official, 12, 2))
    assert any(f"{last_official + 1} is provisional" in line for line in lines), lines
    assert any("petition-hub calendar import" in line for line in lines)
    assert all(width(line) <= COLUMNS for line in lines)


def test_a_year_without_any_calendar_is_said_on_screen() -> None:
    beyond = PROVISIONAL_YEARS.stop
    lines = calendar_warnings(WorkingCalendar(CalendarOverrides()), date(beyond - 1, 6, 1))
    assert any(f"{beyond} has no calendar" in line for line in lines), lines


def test_official_years_need_no_warning() -> None:
    first = min(OFFICIAL_YEARS)
    assert calendar_warnings(WorkingCalendar(CalendarOverrides()), date(first, 6, 1)) == []


@pytest.mark.parametrize("key_file", [Path("var/dev-pii.key"), None])
def test_the_cli_line_has_absolute_paths(key_file: Path | None) -> None:
    line = cli_line("tansu://127.0.0.1:9092", key_file, Path("var"))
    words = shlex.split(line.replace('"$(cat ', "").replace(')"', ""))
    paths = [w.partition("=")[2] or w for w in words if "var" in w]
    assert paths and all(Path(p).is_absolute() for p in paths), line
    assert line.endswith("petition-hub dlq list")


def test_the_banner_fits_but_keeps_the_command_line_and_paths_whole() -> None:
    deep = Path("/" + "x" * 120)
    cli = cli_line("tansu://127.0.0.1:9092", deep / "dev-pii.key", Path("/v"))
    key = f"{deep / 'dev-pii.key'}  (dev key: give it to tools as HUB_PII_KEY)"
    topics = f"141 created from {deep / 'topics.yaml'}"
    text = banner(
        bootstrap="127.0.0.1:9092",
        topics=topics,
        port=9108,
        demo="5 messages/s\n           second line",
        key=key,
        cli=cli,
        calendar=["  calendar " + "y" * 200],
    )
    lines = text.splitlines()
    whole = [f"  CLI      {cli}", f"  key      {key}", f"  topics   {topics}"]
    assert all(line in lines for line in whole), text
    assert all(width(line) <= COLUMNS for line in lines if line not in whole)
    assert lines[-1] == "  stop     Ctrl-C"


def test_a_long_log_line_is_folded_not_cut() -> None:
    line = (
        "2026-12-02T19:00:00Z [warning  ] rejected  [petition_hub.agents.routing_records] "
        "reason=not_in_triage source=office.decisions/3@1234 error=PH-7YJ5VTTMAAEDFKE7P6NX is "
        "not waiting in triage 诉求已由牵头单位签收，不能再分派" + "x" * 130
    )
    folded = wrap(line).split("\n")
    assert len(folded) >= 3 and all(width(f) <= COLUMNS for f in folded), folded
    assert all(f.startswith("    ") for f in folded[1:]), folded
    # nothing lost: the pieces put back together are the line (the breaks were at spaces or cuts)
    assert "".join(f.strip() for f in folded).replace(" ", "") == line.replace(" ", "")
    assert wrap("short") == "short"
