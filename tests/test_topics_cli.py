"""`petition-hub topics apply|diff` as an operator runs them, against the embedded broker."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hubtest import create_topics, run_hub
from petition_hub.broker.embedded import EmbeddedBroker

pytestmark = pytest.mark.broker


def _cli(broker: EmbeddedBroker, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"HUB_BROKER": broker.url, "HUB_DATA_DIR": str(tmp), "PATH": "/usr/bin:/bin"}
    return run_hub("topics", *args, env=env)


def test_apply_is_idempotent_and_diff_shows_partition_drift(
    fresh_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    create_topics(fresh_broker.bootstrap, {"hub.triage": 6})  # topics.yaml says 12

    first = _cli(fresh_broker, tmp_path, "apply")
    assert "+ create hub.petitions" in first.stdout
    assert "hub.triage" in first.stdout and "6 partitions" in first.stdout
    second = _cli(fresh_broker, tmp_path, "apply")
    assert "+ create" not in second.stdout  # nothing left to create: idempotent
    assert second.stdout.count("\n+") == 0

    diff = _cli(fresh_broker, tmp_path, "diff")
    assert diff.returncode == 1, diff.stdout + diff.stderr
    assert "hub.triage" in diff.stdout and "12" in diff.stdout
    drift = [line for line in diff.stdout.splitlines() if line.startswith("!")]
    assert drift and all("hub.triage" in line for line in drift)


def test_diff_on_a_reconciled_broker_is_clean(fresh_broker: EmbeddedBroker, tmp_path: Path) -> None:
    assert _cli(fresh_broker, tmp_path, "apply").returncode == 0
    diff = _cli(fresh_broker, tmp_path, "diff")
    assert diff.returncode == 0, diff.stdout
    assert "up to date" in diff.stdout


def test_a_bad_topics_file_names_the_line(fresh_broker: EmbeddedBroker, tmp_path: Path) -> None:
    bad = tmp_path / "topics.yaml"
    bad.write_text(
        "defaults:\n  partitions: 3\n  replication_factor: 1\n  config:\n"
        "    cleanup.policy: delete\n    retention.ms: '1000'\n"
        "topics:\n  - name: a.b\n    description: x\n    partitions: many\n"
    )
    env_run = run_hub(
        "topics",
        "diff",
        env={"HUB_BROKER": fresh_broker.url, "HUB_TOPICS_FILE": str(bad), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert env_run.returncode == 2
    assert f"{bad}:10" in env_run.stdout + env_run.stderr


def test_apply_and_diff_report_as_json(fresh_broker: EmbeddedBroker, tmp_path: Path) -> None:
    import json

    applied = _cli(fresh_broker, tmp_path, "apply", "--json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    report = json.loads(applied.stdout)
    created = {c["topic"] for c in report["changes"] if c["outcome"] == "applied"}
    assert report["command"] == "apply" and "hub.petitions" in created, report["changes"][:3]
    first = next(c for c in report["changes"] if c["topic"] == "hub.petitions")
    assert first["kind"] == "create" and first["declared"]["partitions"] >= 1, first

    diff = _cli(fresh_broker, tmp_path, "diff", "--json")
    found = json.loads(diff.stdout)
    assert diff.returncode == found["exit_code"] == 0, diff.stdout
    assert found["command"] == "diff" and not found["drift"], found["changes"]
    assert "hub.petitions" in found["up_to_date"], found["up_to_date"][:5]
