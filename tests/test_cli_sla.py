"""`petition-hub sla explain`: what an operator uses to answer "when is this due?"."""

from __future__ import annotations

import json

from click.testing import CliRunner

from petition_hub.ops.cli import main


def test_explain_over_national_day_2026() -> None:
    result = CliRunner().invoke(
        main, ["sla", "explain", "--received", "2026-09-30 10:00", "--type", "举报投诉", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # the holiday (Oct 1-7) does not count; sign-for is due on the first working day after it
    assert data["sign_for"]["deadline"]["local"] == "2026-10-08T18:00:00+08:00"
    assert data["resolve"]["limit"] == "15 working days"


def test_text_output_lists_the_ladder() -> None:
    result = CliRunner().invoke(
        main, ["sla", "explain", "--received", "2026-09-30T10:00:00+08:00", "--type", "政策咨询"]
    )
    assert result.exit_code == 0, result.output
    for step in ("warning", "urging", "overdue", "listed_supervision"):
        assert step in result.output


def test_a_pause_moves_the_resolve_deadline() -> None:
    args = ["sla", "explain", "--received", "2026-11-02 09:00", "--type", "政策咨询", "--json"]
    plain = json.loads(CliRunner().invoke(main, args).output)
    paused = json.loads(
        CliRunner().invoke(main, [*args, "--pause", "2026-11-03 08:30,2026-11-04 08:30"]).output
    )
    assert plain["resolve"]["deadline"]["local"] == "2026-11-05T18:00:00+08:00"
    assert paused["resolve"]["deadline"]["local"] == "2026-11-06T18:00:00+08:00"


def test_bad_input_is_a_clear_error() -> None:
    result = CliRunner().invoke(
        main, ["sla", "explain", "--received", "yesterday", "--type", "举报投诉"]
    )
    assert result.exit_code == 2
    assert "not an ISO-8601 time" in result.output
