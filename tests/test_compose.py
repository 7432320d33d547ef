"""docker-compose.yml: the production-like stack (Apache Kafka in KRaft mode, a Schema Registry,
topics job, workers).

No Docker engine runs in CI, so the file is checked by reading it (PyYAML) and by
``docker-compose config -q`` (Debian's docker-compose 1.29), which validates it without one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # PyYAML resolves the anchors and `<<` merge keys, so services carry the shared settings.
    with COMPOSE_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _env(service: dict[str, Any]) -> dict[str, Any]:
    """A service's environment as a mapping (compose allows a list of NAME=value too)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return dict(env)


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def test_expected_services(services: dict[str, dict[str, Any]]) -> None:
    assert {"kafka", "topics", "worker"} <= services.keys()


def test_kafka_is_apache_kafka(services: dict[str, dict[str, Any]]) -> None:
    image = services["kafka"]["image"]
    name, _, tag = image.partition(":")
    assert name == "apache/kafka"
    assert tag and tag != "latest", "pin the Kafka version"
    assert int(tag.split(".")[0]) >= 3


def test_kafka_runs_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    env = _env(services["kafka"])
    roles = [role.strip() for role in str(env["KAFKA_PROCESS_ROLES"]).split(",")]
    assert "controller" in roles and "broker" in roles
    assert "KAFKA_NODE_ID" in env
    assert "KAFKA_CONTROLLER_QUORUM_VOTERS" in env
    assert "KAFKA_CONTROLLER_LISTENER_NAMES" in env
    assert "CONTROLLER" in str(env["KAFKA_LISTENERS"])
    assert "PLAINTEXT://kafka:9092" in str(env["KAFKA_ADVERTISED_LISTENERS"])
    # Single node: the offsets topic cannot have more replicas than there are brokers.
    assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 1


def test_no_zookeeper(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    # Comments may say "no ZooKeeper"; the configuration itself must not mention it.
    assert "zookeeper" not in yaml.safe_dump(compose).lower()
    for name, service in services.items():
        assert "zookeeper" not in name.lower()
        assert "zookeeper" not in str(service.get("image", "")).lower()
        assert not any("ZOOKEEPER" in key for key in _env(service)), name


def test_kafka_data_on_named_volume(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["kafka"]["volumes"]
    sources = [str(v).split(":")[0] if isinstance(v, str) else v["source"] for v in volumes]
    assert any(source in (compose.get("volumes") or {}) for source in sources)


def test_worker_runs_worker(services: dict[str, dict[str, Any]]) -> None:
    assert _command(services["worker"]) == ["worker"]


def test_topics_job_applies_topics(services: dict[str, dict[str, Any]]) -> None:
    topics = services["topics"]
    assert _command(topics) == ["topics", "apply"]
    assert str(topics.get("restart")) == "no"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_worker_waits_for_topics(services: dict[str, dict[str, Any]]) -> None:
    depends_on = services["worker"]["depends_on"]
    assert depends_on["topics"]["condition"] == "service_completed_successfully"


def test_hub_services_use_the_hub_image(services: dict[str, dict[str, Any]]) -> None:
    for name in ("topics", "worker"):
        service = services[name]
        assert "build" in service, name
        assert service["image"] == services["worker"]["image"], name
    # The image's entrypoint is the console script; compose passes only its arguments.
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert "FROM python:3.11-slim" in dockerfile
    assert 'ENTRYPOINT ["petition-hub"]' in dockerfile
    assert 'CMD ["worker"]' in dockerfile
    assert "\nUSER " in dockerfile


def test_every_hub_broker_points_at_kafka(services: dict[str, dict[str, Any]]) -> None:
    brokers = {
        name: _env(service)["HUB_BROKER"]
        for name, service in services.items()
        if "HUB_BROKER" in _env(service)
    }
    assert {"topics", "worker"} <= brokers.keys()
    for name, broker in brokers.items():
        scheme, _, hosts = str(broker).partition("://")
        assert scheme == "kafka", name
        for host in hosts.split(","):
            assert host.split(":")[0] in services, f"{name}: {host} is not a compose service"
            assert host.split(":")[0] == "kafka", name


def test_worker_settings(services: dict[str, dict[str, Any]]) -> None:
    env = _env(services["worker"])
    assert str(env["HUB_CITY"]) == "410400"
    assert str(env["HUB_METRICS_PORT"]) == "9108"
    assert "HUB_PII_KEY" in env
    exposed = [str(p) for p in services["worker"].get("expose", [])] + [
        str(p) for p in services["worker"].get("ports", [])
    ]
    assert any(p.split("/")[0].split(":")[-1] == "9108" for p in exposed)


@pytest.mark.parametrize("name", ["kafka", "worker"])
def test_healthchecks(services: dict[str, dict[str, Any]], name: str) -> None:
    healthcheck = services[name].get("healthcheck")
    assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)


def test_worker_healthcheck_hits_metrics(services: dict[str, dict[str, Any]]) -> None:
    test = " ".join(map(str, services["worker"]["healthcheck"]["test"]))
    assert "python" in test  # the slim image has no curl
    assert "localhost:9108/metrics" in test


def test_kafka_healthcheck_talks_to_the_broker(services: dict[str, dict[str, Any]]) -> None:
    test = " ".join(map(str, services["kafka"]["healthcheck"]["test"]))
    assert "/opt/kafka/bin/" in test
    assert "localhost:9092" in test


@pytest.mark.skipif(
    shutil.which("docker-compose") is None and not os.environ.get("HUB_REQUIRE_TOOLS"),
    reason="docker-compose not installed (CI installs it and sets HUB_REQUIRE_TOOLS)",
)
def test_docker_compose_config_validates() -> None:
    # As in CI: no HUB_* settings (HUB_PII_KEY unset must still validate), no COMPOSE_* overrides.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "COMPOSE_"))}
    result = subprocess.run(
        ["docker-compose", "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_schema_registry_for_production(services: dict[str, dict[str, Any]]) -> None:
    registry = services["schema-registry"]
    assert registry["image"].startswith("confluentinc/cp-schema-registry:")
    env = _env(registry)
    assert env["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"] == "PLAINTEXT://kafka:9092"
    assert "healthcheck" in registry
    for name in ("topics", "worker"):
        assert _env(services[name])["HUB_SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
