"""The CLI's console helpers: tables measured by display width, JSON and broker options."""

from __future__ import annotations

import unicodedata

from click.testing import CliRunner

from petition_hub.ops.cli import main
from petition_hub.ops.cliopts import table


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_a_table_lines_up_chinese_and_latin_names() -> None:
    text = table(
        ["单位", "代码", "受理"],
        [["国家税务总局平顶山市税务局", "dept.TAX", 12], ["合计", "", 3]],
        right_from=2,
    )
    lines = text.splitlines()
    assert len(lines) == 3
    # the code column starts at the same display column on every line
    starts = {
        _width(line[: line.index(code)])
        for line, code in zip(lines[:2], ["代码", "dept.TAX"], strict=True)
    }
    assert len(starts) == 1
    # numbers aligned right: every line ends at the same display column
    assert len({_width(line) for line in lines}) == 1


def test_every_data_command_takes_json_and_broker_commands_take_b() -> None:
    runner = CliRunner()
    for args in (
        ["dlq", "list"],
        ["dlq", "show"],
        ["dlq", "redrive"],
        ["report"],
        ["rules", "dry-run"],
        ["tail"],
        ["privacy", "erase"],
        ["topics", "apply"],
        ["topics", "diff"],
        ["console", "rebuild"],
    ):
        out = runner.invoke(main, [*args, "--help"]).output
        assert "--json" in out and "-b, --broker" in out, args
    for args in (["worker"],):
        assert "-b, --broker" in runner.invoke(main, [*args, "--help"]).output, args
    for args in (["rules", "explain"], ["sla", "explain"], ["calendar", "status"], ["bench"]):
        assert "--json" in runner.invoke(main, [*args, "--help"]).output, args
    assert "--json" in runner.invoke(main, ["topics", "acls", "--help"]).output
    assert "--debug" in runner.invoke(main, ["--help"]).output
