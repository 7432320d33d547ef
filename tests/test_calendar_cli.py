"""``petition-hub calendar`` and ``sla explain`` across the year boundary, as an operator runs them.

The State Council's real notices for 2025 and 2026 (../shared/reference/calendar-notices) must
import as exactly what chinesecalendar has; a damaged one is refused naming its line; a notice for
a year the hub counts provisionally is written to the override file, and from then on the year is
official for every command reading that file.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hubtest import run_hub

NOTICES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "calendar-notices"
BASELINE = Path(__file__).parent / "data" / "sla_explain_2026-11-02.json"
needs_notices = pytest.mark.skipif(not NOTICES.is_dir(), reason=f"no {NOTICES}")

#: A clearly fictional notice for 2027, in the State Council's form (test data, not a fact).
FICTIONAL_2027 = """国务院办公厅关于2027年部分节假日安排的通知（测试用，虚构）

一、元旦：1月1日（周五）至3日（周日）放假，共3天。
二、春节：2月5日（农历除夕、周五）至2月11日（周四）放假调休，共7天。2月20日（周六）上班。
三、清明节：4月3日（周六）至5日（周一）放假，共3天。
四、劳动节：5月1日（周六）至5日（周三）放假调休，共5天。4月25日（周日）上班。
五、端午节：6月9日（周三）放假1天，不调休。
六、中秋节：9月15日（周三）放假1天，不调休。
七、国庆节：10月1日（周五）至7日（周四）放假调休，共7天。9月26日（周日）、10月9日（周六）上班。
"""


def hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``petition-hub ARGS`` from another folder, as an operator would run it."""
    return run_hub(*args, env={**os.environ, "HUB_METRICS_PORT": "1", **(env or {})}, cwd="/")


def explain_json(received: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = hub("sla", "explain", "--received", received, "--type", "举报投诉", "--json", env=env)
    assert out.returncode == 0, f"expected exit 0, got {out.returncode}: {out.stderr}"
    return dict(json.loads(out.stdout))


def test_explain_across_the_year_boundary_is_provisional() -> None:
    e = explain_json("2026-12-20 10:00")
    assert e["provisional"] is True
    assert e["resolve"]["deadline"]["local"] == "2027-01-11T18:00:00+08:00"
    assert e["resolve"]["deadline_provisional"] is True
    assert e["sign_for"]["deadline_provisional"] is False
    assert e["calendar_years"] == {"2026": "official", "2027": "provisional"}
    assert any("PROVISIONAL" in n for n in e["notes"])
    text = hub("sla", "explain", "--received", "2026-12-20 10:00", "--type", "举报投诉").stdout
    assert "due 2027-01-11 18:00 Mon (+08:00)  PROVISIONAL" in text


def _only(new: Any, old: Any) -> Any:
    """``new`` with only the keys ``old`` has (what the command answered before this change)."""
    if isinstance(old, dict):
        return {k: _only(new[k], v) for k, v in old.items()}
    if isinstance(old, list):
        return [_only(n, o) for n, o in zip(new, old, strict=True)]
    return new


def test_explain_within_official_years_is_unchanged() -> None:
    e = explain_json("2026-11-02 10:00")
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    assert _only(e, baseline) == baseline
    assert e["provisional"] is False


@needs_notices
@pytest.mark.parametrize("year", [2025, 2026])
def test_import_of_the_real_notices_reproduces_chinesecalendar(year: int) -> None:
    out = hub("calendar", "import", str(NOTICES / f"{year}.txt"))
    assert out.returncode == 0, out.stderr
    assert f"identical to the hub's official {year} (chinesecalendar" in out.stdout
    assert f"{year}-10  H" in out.stdout  # National Day starts the month off


@needs_notices
def test_a_damaged_notice_is_refused_naming_its_line(tmp_path: Path) -> None:
    lines = (NOTICES / "2026.txt").read_text(encoding="utf-8").splitlines()
    typo = [
        x.replace("2月15日（农历腊月二十八、周日）", "2月16日（农历腊月二十八、周日）")
        for x in lines
    ]
    damaged = tmp_path / "typo.txt"
    damaged.write_text("\n".join(typo), encoding="utf-8")
    out = hub("calendar", "import", str(damaged), "--write", env=_file_env(tmp_path))
    assert out.returncode != 0
    number = next(i for i, x in enumerate(typo, 1) if "2月16日" in x)
    assert f"line {number}:" in out.stderr and "nothing written" in out.stderr
    removed = tmp_path / "removed.txt"
    removed.write_text("\n".join(x for x in lines if not x.startswith("三、")), encoding="utf-8")
    out = hub("calendar", "import", str(removed))
    number = next(i for i, x in enumerate(lines, 1) if x.startswith("四、")) - 1
    assert out.returncode != 0 and f"line {number}: number 三 missing" in out.stderr, out.stderr


def _file_env(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "calendar.yaml"
    if not path.exists():
        path.write_text("# the operator's calendar file\nyears: {}\n", encoding="utf-8")
    return {"HUB_CALENDAR_FILE": str(path)}


def test_import_write_makes_the_year_official(tmp_path: Path) -> None:
    env = _file_env(tmp_path)
    notice = tmp_path / "2027.txt"
    notice.write_text(FICTIONAL_2027, encoding="utf-8")
    review = hub("calendar", "import", str(notice), env=env)
    assert review.returncode == 0, review.stderr
    assert "differs from the hub's provisional 2027" in review.stdout
    assert "2027-02-20 work" in review.stdout  # the make-up Saturday the law alone cannot know
    assert "calendar.yaml" in review.stdout and "--write" in review.stdout

    written = hub("calendar", "import", str(notice), "--write", env=env)
    assert written.returncode == 0, written.stderr
    assert "2027 added" in written.stdout
    text = (tmp_path / "calendar.yaml").read_text(encoding="utf-8")
    assert text.startswith("# the operator's calendar file")
    assert "2027-02-20" in text

    status = hub("calendar", "status", "--json", env={**env, "HUB_CLOCK_FILE": _clock(tmp_path)})
    assert status.returncode == 0, status.stderr
    years = {y["year"]: y for y in json.loads(status.stdout)["years"]}
    assert [years[y]["source"] for y in (2025, 2026, 2027, 2028)] == [
        "official",
        "official",
        "official",
        "provisional",
    ]
    assert "测试用，虚构" in years[2027]["origin"]
    e = explain_json("2026-12-20 10:00", env=env)
    assert e["provisional"] is False and e["calendar_years"]["2027"] == "notice"
    again = hub("calendar", "import", str(notice), "--write", env=env)
    assert again.returncode == 0 and "already in" in again.stdout


def _clock(tmp_path: Path) -> str:
    path = tmp_path / "clock"
    path.write_text("2026-12-02T10:00:00+08:00")
    return str(path)


def test_status_says_where_each_year_comes_from(tmp_path: Path) -> None:
    out = hub("calendar", "status", env={"HUB_CLOCK_FILE": _clock(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "2027  provisional" in out.stdout and "2026  official" in out.stdout
    assert "open clocks on a provisional year: unknown" in out.stdout
    assert "petition-hub calendar import NOTICE.txt --write" in out.stdout


def test_a_broken_calendar_file_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text("years:\n  2027:\n    notice: x\n    holidays: [2027-13-01]\n")
    out = hub("calendar", "status", env={"HUB_CALENDAR_FILE": str(path)})
    assert out.returncode != 0
    assert f"{path}:4: years.2027.holidays.0" in out.stderr, out.stderr
