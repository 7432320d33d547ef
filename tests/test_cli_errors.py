"""A configuration or connection problem is one line on standard error and a non-zero exit, for
``worker`` and every command; the traceback only with ``--debug`` (issue 13, "the first hour").

Each case runs the real console script in a subprocess (``python -m petition_hub``), as an
operator would, against a broker address nobody listens on unless the case needs one.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtest import TEST_PII_KEY, run_hub
from petition_hub.broker.embedded import EmbeddedBroker, free_port

pytestmark = pytest.mark.ops


def _closed_broker() -> str:
    """A loopback address nobody listens on: a port just freed."""
    return f"kafka://127.0.0.1:{free_port()}"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_") and k != "FORCE_COLOR"}
    data = tmp_path / "var"
    data.mkdir(exist_ok=True)
    return {
        **env,
        "HUB_BROKER": _closed_broker(),
        "HUB_DATA_DIR": str(data),
        "HUB_PII_KEY": TEST_PII_KEY,
        "HUB_METRICS_PORT": str(free_port()),
        **extra,
    }


def _one_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit non-zero with exactly one line on standard error, no traceback, naming ``words``."""
    assert result.returncode != 0, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


@pytest.fixture
def listening() -> Iterator[int]:
    """A loopback port another process (here: this one) listens on."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def test_worker_against_a_closed_broker(tmp_path: Path) -> None:
    env = _env(tmp_path)
    line = _one_line(run_hub("worker", env=env, timeout=60), "cannot reach the broker")
    assert env["HUB_BROKER"].partition("://")[2] in line


def test_worker_with_a_bad_key(tmp_path: Path) -> None:
    _one_line(run_hub("worker", env=_env(tmp_path, HUB_PII_KEY="not-a-key")), "HUB_PII_KEY")


def test_worker_with_broken_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "themes.yaml").write_text("themes: [\n", encoding="utf-8")
    env = _env(tmp_path, HUB_RULES=str(rules))
    _one_line(run_hub("worker", env=env), "routing rules", "themes.yaml")


def test_worker_on_a_busy_port(tmp_path: Path, listening: int) -> None:
    env = _env(tmp_path, HUB_METRICS_PORT=str(listening))
    _one_line(run_hub("worker", env=env), f"127.0.0.1:{listening}", "in use")


def test_worker_with_a_missing_topics_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "topics.yaml"
    env = _env(tmp_path, HUB_TOPICS_FILE=str(missing))
    _one_line(run_hub("worker", env=env), str(missing), "cannot read")


def test_worker_with_an_unreachable_schema_registry(tmp_path: Path, broker: EmbeddedBroker) -> None:
    """The broker answers; the registry it must register its schemas with does not."""
    registry = f"http://127.0.0.1:{free_port()}"
    env = _env(tmp_path, HUB_BROKER=broker.url, HUB_SCHEMA_REGISTRY_URL=registry)
    _one_line(run_hub("worker", env=env, timeout=120), "127.0.0.1")


@pytest.mark.slow
def test_a_tool_against_a_closed_broker(tmp_path: Path) -> None:
    """Not only the worker: a tool's Kafka client failing is one line too."""
    _one_line(run_hub("dlq", "list", env=_env(tmp_path), timeout=90))


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "themes.yaml").write_text("themes: [\n", encoding="utf-8")
    env = _env(tmp_path, HUB_RULES=str(rules))
    result = run_hub("--debug", "rules", "explain", "续贷", env=env)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "RulesError" in result.stderr


def test_broker_option_beside_the_environment(tmp_path: Path) -> None:
    """``-b`` wins over HUB_BROKER: the line names the address given on the command line."""
    given = _closed_broker()
    line = _one_line(run_hub("worker", "-b", given, env=_env(tmp_path)), "cannot reach")
    assert given.partition("://")[2] in line


def test_topics_apply_with_a_missing_topics_file(tmp_path: Path) -> None:
    missing = tmp_path / "topics.yaml"
    result = run_hub("topics", "apply", env=_env(tmp_path, HUB_TOPICS_FILE=str(missing)))
    _one_line(result, str(missing))
    assert result.stdout == ""
