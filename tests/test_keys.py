"""Dead-letter keys fail closed: a worker or tool without HUB_PII_KEY refuses to start, on any
broker, with one line; only `petition-hub dev` makes a key, says where, and gives it to its
worker and, through the CLI line it prints, to the operator's tools."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hubtest import produce, read_topic, run_hub, stop_process
from petition_hub.broker.embedded import EmbeddedBroker, free_port
from petition_hub.service.crypto import DEV_KEY_FILE, PiiCipher

pytestmark = [pytest.mark.broker]


def _env(**hub: str) -> dict[str, str]:
    """This environment without any HUB_* setting (a developer's HUB_PII_KEY included), plus
    ``hub``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("HUB_")}, **hub}


def _hub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return run_hub(*args, env=env, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"petition-hub {' '.join(args)} ran on instead of refusing to start")


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit non-zero with exactly one line on stderr, naming ``words``; no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, result.stdout
    assert len(lines) == 1, result.stderr
    assert all(w in lines[0] for w in words), lines
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("scheme", ["tansu", "kafka"])
def test_worker_without_a_key_refuses_to_start(
    fresh_broker: EmbeddedBroker, tmp_path: Path, scheme: str
) -> None:
    env = _env(
        HUB_BROKER=f"{scheme}://{fresh_broker.bootstrap}",
        HUB_DATA_DIR=str(tmp_path),
        HUB_METRICS_PORT=str(free_port()),
    )
    _refused(_hub(env, "worker"), "HUB_PII_KEY", "not set")
    assert not (tmp_path / DEV_KEY_FILE).exists()  # no key made up on the spot


def test_worker_with_a_key_that_is_not_one_refuses_to_start(
    fresh_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    env = _env(
        HUB_BROKER=fresh_broker.url,
        HUB_DATA_DIR=str(tmp_path),
        HUB_METRICS_PORT=str(free_port()),
        HUB_PII_KEY="not-a-fernet-key",
    )
    _refused(_hub(env, "worker"), "HUB_PII_KEY", "Fernet")


@pytest.mark.parametrize(
    "args",
    [("dlq", "list"), ("dlq", "show", "x:0:0"), ("dlq", "redrive", "--reason", "bad_json")],
    ids=["list", "show", "redrive"],
)
def test_tool_without_a_key_refuses_to_start(
    fresh_broker: EmbeddedBroker, tmp_path: Path, args: tuple[str, ...]
) -> None:
    env = _env(HUB_BROKER=fresh_broker.url, HUB_DATA_DIR=str(tmp_path))
    _refused(_hub(env, *args), "HUB_PII_KEY", "not set")
    assert not (tmp_path / DEV_KEY_FILE).exists()


@pytest.mark.slow
def test_dev_makes_its_key_prints_where_and_gives_it_to_worker_and_tools(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    # a relative data directory: dev must still print where the key is absolutely
    env = _env(HUB_DATA_DIR="var", HUB_METRICS_PORT=str(free_port()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "petition_hub", "dev", "--no-demo"],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline()]
        while banner[-1] and "stop" not in banner[-1]:
            banner.append(proc.stdout.readline())
        text = "".join(banner)
        key_file = home.resolve() / "var" / DEV_KEY_FILE
        assert f"key      {key_file}" in text, text
        PiiCipher(key_file.read_text())  # a Fernet key
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        cli = re.search(r"CLI\s+(.+petition-hub dlq list)", text)
        assert cli is not None, text
        assert f'HUB_PII_KEY="$(cat {key_file})"' in cli.group(1)
        bootstrap = re.search(r"^\s+broker\s+(\S+)", text, re.MULTILINE)
        assert bootstrap is not None, text

        # dev's worker seals with that key: a broken work order's dead letter, listed by the
        # operator's tool from another folder with exactly the line dev printed
        produce(bootstrap.group(1), "hotline12345.workorders", [(b"K1", b"{not json", ())])
        read_topic(bootstrap.group(1), "hub.deadletter", min_count=1, timeout=60)
        path = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        listed = subprocess.run(
            ["bash", "-c", cli.group(1)],
            env={**_env(), "PATH": path},
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        (line,) = listed.stdout.strip().splitlines()
        assert line.startswith("hotline12345.workorders:") and " bad_json " in line, line
    finally:
        stop_process(proc, signal.SIGINT, 30)
