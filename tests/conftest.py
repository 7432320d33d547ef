"""Fixtures: the embedded broker (real Tansu on a free loopback port), topics, hub workers; and
the test levels (README, "Tests"):

- ``broker``: every test that needs the embedded broker, marked here by the fixtures it uses
  (:data:`BROKER_FIXTURES`) or its module (:data:`BROKER_MODULES`), besides its own marks; a test
  not marked ``broker`` that starts a broker or a hub worker fails, so ``pytest -m "not broker"``
  (the fast loop) starts none;
- ``ops``: the operator-facing tests (:data:`OPS_MODULES`, and every module named ``*cli*``): the
  CLI, compose, Prometheus and its rules, Grafana, the operator tools.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Generator, Iterator
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


#: Fixtures that start the embedded broker or hub workers (conftest's, and two modules' own:
#: test_security's broker behind TLS, test_topics_broker's): a test using one needs a broker.
BROKER_FIXTURES = frozenset(
    {"broker", "fresh_broker", "hub_topics", "start_worker", "tls_broker", "topics_broker"}
)
#: Modules whose tests start a broker themselves: an ``EmbeddedBroker`` of their own, or
#: ``petition-hub dev`` (which starts one) in a subprocess.
BROKER_MODULES = frozenset({"test_embedded_broker", "test_topics_broker", "test_dev", "test_keys"})
#: The operator-facing modules, besides those named ``*cli*``.
OPS_MODULES = frozenset(
    {
        "test_acls",
        "test_compose",
        "test_dlq",
        "test_grafana",
        "test_prometheus_e2e",
        "test_prometheus_rules",
        "test_report",
    }
)


def _needs_broker(item: pytest.Item) -> bool:
    # a parameter of the same name (test_web_auth's broker URLs) is no fixture
    callspec = getattr(item, "callspec", None)
    params = set(callspec.params) if callspec is not None else set()
    fixtures = set(getattr(item, "fixturenames", ())) - params
    return bool(fixtures & BROKER_FIXTURES) or item.path.stem in BROKER_MODULES


def _is_ops(item: pytest.Item) -> bool:
    return item.path.stem in OPS_MODULES or "cli" in item.path.stem.split("_")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the test levels; then the slow tests first (stable otherwise): with one test process
    per core, a long test handed out last would run alone at the end while the other core idles."""
    for item in items:
        if _needs_broker(item):
            item.add_marker(pytest.mark.broker)
        if _is_ops(item):
            item.add_marker(pytest.mark.ops)
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 1)


@contextlib.contextmanager
def _no_broker_for(nodeid: str) -> Iterator[None]:
    """Within: starting an embedded broker or a hub worker fails, naming the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError(
            f"{nodeid} starts a broker or a hub worker but is not marked broker: use a fixture "
            "of BROKER_FIXTURES, or add the module to BROKER_MODULES (tests/conftest.py)"
        )

    saved = EmbeddedBroker.start, WorkerProcess.start
    EmbeddedBroker.start = refuse  # type: ignore[assignment,method-assign]
    WorkerProcess.start = refuse  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        EmbeddedBroker.start, WorkerProcess.start = saved  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """A test not marked ``broker`` starts no broker (its fixtures' set-up included)."""
    if item.get_closest_marker("broker") is not None:
        return (yield)
    with _no_broker_for(item.nodeid):
        return (yield)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-full",
        action="store_true",
        help="the full-length parameters of the reliability suite (docs/reliability.md) and of "
        "test_lifecycle_restart.py (10,000 petitions)",
    )
    parser.addoption(
        "--load-seconds",
        type=int,
        default=None,
        help="how long the reliability suite's load test offers petitions (default: 1800 with "
        "--reliability-full, else 15)",
    )
