"""A package that installs anywhere: the hub built as a wheel (``pip wheel .``), installed into a
new virtual environment and run from ``/``, finds everything it reads at run time (topics.yaml,
rules, policies, schemas, calendar) in the package, not in a checkout.

The wheel's dependencies come through pip as usual (its cache makes that quick); the broker is the
test's embedded one; `topics apply`, the worker and `tail` are the installed ``petition-hub``
command, each run from ``/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubtest import TEST_PII_KEY, WorkerProcess, produce
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.data import load_samples
from petition_hub.service.settings import PROJECT_ROOT

pytestmark = [
    pytest.mark.broker,
    pytest.mark.slow,
    # one test process for the three: the module's wheel and virtual environment (minutes of
    # pip) are built once, not once per process that draws one of its tests
    pytest.mark.xdist_group("wheel"),
]

_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "var", "tests"
)


def _run(*args: str | Path, cwd: Path = Path("/"), **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PYTHON"))}
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# the session's, not the module's: xdist may run other modules' tests between the group's, and
# a module fixture is then torn down and built again (seen: minutes of pip twice per run)
@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ``bin/`` folder of a new virtual environment with the hub's wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    # a copy of the sources (links kept as links): setuptools builds in the source folder, and a
    # build/ left there from before could put stale modules in the wheel
    source = root / "source"
    shutil.copytree(PROJECT_ROOT, source, symlinks=True, ignore=_NOT_SOURCES)
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "dist", source
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("petition_hub-*.whl")
    made = _run(sys.executable, "-m", "venv", root / "venv")
    assert made.returncode == 0, made.stderr
    bin_dir = root / "venv" / "bin"
    done = _run(bin_dir / "python", "-m", "pip", "install", "-q", wheel)
    assert done.returncode == 0, done.stderr
    yield bin_dir


def test_the_wheel_is_no_checkout(installed: Path) -> None:
    where = _run(
        installed / "python",
        "-c",
        "import petition_hub.service.settings as s; print(s.get_settings().topics_file)",
    )
    assert where.returncode == 0, where.stderr
    topics_file = Path(where.stdout.strip())
    assert topics_file.is_relative_to(installed.parent), topics_file
    assert topics_file.read_bytes() == (PROJECT_ROOT / "topics.yaml").read_bytes()


def test_the_wheel_brings_two_kafka_clients_only(installed: Path) -> None:
    # aiokafka for the stream runtime, confluent-kafka for the tools and the registry
    found = _run(
        installed / "python",
        "-c",
        "import importlib.util as u; "
        "print(*(m for m in ('aiokafka', 'confluent_kafka', 'kafka') if u.find_spec(m)))",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["aiokafka", "confluent_kafka"]


def test_topics_apply_and_a_worker_from_the_root_folder(
    installed: Path, fresh_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    applied = _run(installed / "petition-hub", "topics", "apply", HUB_BROKER=fresh_broker.url)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "hub.petitions" in applied.stdout

    # the worker answers ready on /health: its stages found their topics, rules, schemas, calendar
    worker = WorkerProcess(
        broker_url=fresh_broker.url,
        app_id=f"hub-wheel-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "worker",
        env_extra={"HUB_PII_KEY": TEST_PII_KEY},
        command=(str(installed / "petition-hub"), "worker"),
        cwd=Path("/"),
    )
    try:
        worker.start(wait_ready=90)
        assert worker.health()["ready"] is True
        # a contract sample through the installed worker; the installed `tail` decodes what it wrote
        sample = load_samples()["hotline-financing.json"]
        produce(fresh_broker.bootstrap, sample.topic, [(sample.key, sample.value, sample.headers)])
        deadline = time.monotonic() + 90
        shown: list[dict[str, Any]] = []
        while not shown and time.monotonic() < deadline:
            tailed = _run(
                installed / "petition-hub",
                "tail",
                "hub.petitions",
                "--from-beginning",
                "--exit-at-end",
                "--json",
                HUB_BROKER=fresh_broker.url,
            )
            assert tailed.returncode == 0, tailed.stdout + tailed.stderr
            shown = [json.loads(line) for line in tailed.stdout.splitlines() if line.strip()]
        assert shown, "the installed tail showed no record on hub.petitions within 90 s"
        assert "PH-" in json.dumps(shown[0], ensure_ascii=False), shown[0]
    finally:
        worker.stop()
