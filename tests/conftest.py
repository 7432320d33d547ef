"""Fixtures: the embedded broker (real Tansu on a free loopback port), topics, hub workers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hubtest import WorkerProcess
from petition_hub.broker.embedded import EmbeddedBroker


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One embedded broker for the whole session (tests that need a clean one use fresh_broker)."""
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedBroker(log_file=log) as b:
        yield b


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own: Tansu starts in well under a second, so isolation is cheap."""
    with EmbeddedBroker(log_file=tmp_path / "tansu.log") as b:
        yield b


@pytest.fixture
def hub_topics(fresh_broker: EmbeddedBroker) -> EmbeddedBroker:
    """``fresh_broker`` with every topic of topics.yaml created."""
    from petition_hub.service.settings import PROJECT_ROOT
    from petition_hub.topics import run_apply

    text, code = run_apply(fresh_broker.bootstrap, True, PROJECT_ROOT / "topics.yaml", False)
    assert code == 0, text
    return fresh_broker


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Factory: start ``petition-hub worker`` subprocesses; all are stopped after the test."""
    started: list[WorkerProcess] = []
    app_id = f"hub-test-{uuid.uuid4().hex[:8]}"

    def start(broker: EmbeddedBroker, wait_ready: float = 60.0, **env: str) -> WorkerProcess:
        w = WorkerProcess(
            broker_url=broker.url,
            app_id=env.pop("app_id", app_id),
            data_dir=tmp_path / "worker",
            env_extra=env,
        )
        started.append(w)
        return w.start(wait_ready=wait_ready)

    yield start
    for w in started:
        w.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow tests first (stable otherwise): with one test process per core, a long test
    handed out last would run alone at the end while the other core idles."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-full",
        action="store_true",
        help="the reliability suite's full-length parameters (docs/reliability.md)",
    )
    parser.addoption(
        "--load-seconds",
        type=int,
        default=None,
        help="how long the reliability suite's load test offers petitions (default: 1800 with "
        "--reliability-full, else 15)",
    )
