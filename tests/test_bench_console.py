"""``petition-hub bench --only console`` end to end on a small city (nothing timed here: the
figures exist, are positive and consistent, and the exit status says whether the targets were
met). The speed itself is the bench's to report, never a test's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from petition_hub.devtools import bench_console
from petition_hub.devtools.bench_console import (
    TARGET_KEEPS_UP,
    TARGET_P95_MS,
    ConsoleBenchResult,
    meets_targets,
)
from petition_hub.ops.cli import main

pytestmark = pytest.mark.slow


def test_the_console_bench_runs_on_records_the_hub_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a small city: 150 petitions through the hub's processors, copied to 400 rows
    monkeypatch.setattr(bench_console, "QUICK", (150, 400))
    monkeypatch.setattr(bench_console, "QUICK_REQUESTS", 2)
    monkeypatch.delenv("HUB_BENCH_DATABASE_URL", raising=False)
    out = tmp_path / "bench.json"
    done = CliRunner().invoke(main, ["bench", "--only", "console", "--quick", "--json", str(out)])
    assert done.exception is None or isinstance(done.exception, SystemExit), done.output
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert not any(k.startswith("copy_") for k in figures), "--only console ran the data path"
    fields = set(ConsoleBenchResult.__dataclass_fields__)
    assert set(figures) == fields, set(figures) ^ fields
    assert figures["console_petitions"] == 150 and figures["console_rows"] == 400, figures
    # the records projected are the pipeline's: several per petition (routing's copies to the
    # units, the lifecycle's events, the SLA clocks, the units' actions)
    assert figures["console_records"] > 3 * 150, figures["console_records"]
    lists = figures["console_lists"]
    assert lists["all"] == 400 and lists["open"] > 0 and lists["done"] > 0, lists
    assert lists["overdue"] > 0 and lists["triage"] > 0, lists
    for key in ("console_projection_eps", "console_projection_pps", "console_pipeline_pps"):
        assert figures[key] > 0, (key, figures[key])
    assert set(figures["console_stage_pps"]) == {"intake", "routing", "lifecycle"}
    ratio = figures["console_projection_pps"] / figures["console_pipeline_pps"]
    assert figures["console_projection_ratio"] == pytest.approx(ratio, rel=0.01)
    routes = figures["console_routes"]
    assert len(routes) >= 15 and "/health (baseline)" in routes, sorted(routes)
    for name, f in routes.items():
        assert 0 < f["p50_ms"] <= f["p95_ms"], (name, f)
    worst = max(f["p95_ms"] for f in routes.values() if f["target"])
    assert figures["console_p95_ms"] == worst
    # the exit status follows the figures; the table is printed too
    expected = 0 if meets_targets(worst, figures["console_projection_ratio"]) else 1
    assert figures["console_passed"] is (expected == 0)
    assert done.exit_code == expected, (done.exit_code, done.output[-2000:])
    assert "projection / pipeline" in done.output and "worst p95" in done.output


def test_the_targets() -> None:
    assert meets_targets(TARGET_P95_MS, TARGET_KEEPS_UP)
    assert not meets_targets(TARGET_P95_MS + 0.1, 5.0)
    assert not meets_targets(1.0, TARGET_KEEPS_UP * 0.99)
