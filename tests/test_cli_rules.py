"""`petition-hub rules explain|dry-run` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubtest import hub_cli, produce
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.ops.cli import main
from petition_hub.schemas import codec
from petition_hub.service.settings import PROJECT_ROOT


def test_explain_a_sample() -> None:
    result = CliRunner().invoke(main, ["rules", "explain", "--sample", "hotline-financing.json"])
    assert result.exit_code == 0, result.output
    assert "Decision: units: lead 平顶山市金融工作局 (dept.FINOFFICE)" in result.output
    assert "Theme: T12" in result.output and "续贷" in result.output
    assert "Rules version: " in result.output


def test_explain_a_text_as_json() -> None:
    result = CliRunner().invoke(
        main,
        [
            "rules",
            "explain",
            "县税务局多收了城镇土地使用税，要求退还。",
            "--region-name",
            "叶县",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["theme"] == "T16"
    assert record["location"]["source"] == "region_name"
    assert record["decision"].startswith("units: lead dept.TAX")


def test_explain_needs_a_text_or_a_sample() -> None:
    result = CliRunner().invoke(main, ["rules", "explain"])
    assert result.exit_code != 0 and "TEXT or --sample" in result.output


@pytest.mark.broker
def test_dry_run_over_recent_petitions(fresh_broker: EmbeddedBroker, tmp_path: Path) -> None:
    petitions = [
        PETITION_DECODERS[s.topic](s.key, s.value, s.headers) for s in load_samples().values()
    ]
    produce(
        fresh_broker.bootstrap,
        "hub.petitions",
        [
            (
                p.petition_id.encode(),
                schemas.encode(schemas.PETITION, codec.petition_record(p)),
                (),
            )
            for p in petitions
        ],
    )
    candidate = tmp_path / "next"
    candidate.mkdir()
    themes = (PROJECT_ROOT / "petition_hub" / "data" / "themes.yaml").read_text(encoding="utf-8")
    # the financing theme's lead moves from the finance office to the reform commission
    changed = themes.replace("    lead: FINOFFICE\n", "    lead: DRC\n", 1)
    assert changed != themes
    (candidate / "themes.yaml").write_text("version: next\n" + changed, encoding="utf-8")
    out = hub_cli(fresh_broker.url, tmp_path, "rules", "dry-run", str(candidate))
    assert f"→ next: 1 of {len(petitions)} petitions route differently" in out
    assert "dept.FINOFFICE.petitions" in out and "dept.DRC.petitions" in out
