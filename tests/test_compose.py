"""docker-compose.yml: the production-like stack (Apache Kafka in KRaft mode, a Schema Registry,
topics job, two workers, Prometheus with the hub's rules, Grafana with its dashboard), and
docker-compose.kafka3.yml, the switch to three Kafka nodes.

No Docker engine runs in CI, so the files are checked by reading them (PyYAML) and by
``docker-compose config`` (Debian's docker-compose 1.29), which validates them without one.
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
KAFKA3_FILE = ROOT / "docker-compose.kafka3.yml"
DOCKERFILE = ROOT / "Dockerfile"
WORKERS = ("worker-1", "worker-2")
HUB_SERVICES = ("topics", *WORKERS, "console")

needs_docker_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None and not os.environ.get("HUB_REQUIRE_TOOLS"),
    reason="docker-compose not installed (CI installs it and sets HUB_REQUIRE_TOOLS)",
)


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
    assert {
        "kafka",
        "schema-registry",
        "topics",
        *WORKERS,
        "postgres",
        "console",
        "prometheus",
        "grafana",
    } <= services.keys()


def test_the_console_serves_on_postgres_behind_loopback(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    console = services["console"]
    assert _command(console) == ["console", "serve"]
    env = _env(console)
    url = str(env["HUB_CONSOLE_DATABASE_URL"])
    assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url, url
    # the console's own bind (HUB_BIND is the workers'): every interface of the container
    assert env["HUB_CONSOLE_BIND"] == "0.0.0.0", env.get("HUB_CONSOLE_BIND")
    assert "HUB_API_TOKENS" in env and "HUB_PII_KEY" in env
    port = str(env["HUB_CONSOLE_PORT"])
    # published on the host's loopback only: people reach it through their own proxy
    assert console["ports"] == [f"127.0.0.1:{port}:{port}"], console["ports"]
    assert console["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert console["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert f"localhost:{port}/health" in " ".join(console["healthcheck"]["test"])
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:") and postgres["image"] != "postgres:latest"
    assert "pg_isready" in postgres["healthcheck"]["test"]
    sources = [str(v).split(":")[0] for v in postgres["volumes"]]
    assert any(source in (compose.get("volumes") or {}) for source in sources)


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


@pytest.mark.parametrize("name", WORKERS)
def test_worker_runs_worker(services: dict[str, dict[str, Any]], name: str) -> None:
    assert _command(services[name]) == ["worker"]
    assert services[name]["hostname"] == name  # Prometheus's instance label


def test_topics_job_applies_topics(services: dict[str, dict[str, Any]]) -> None:
    topics = services["topics"]
    assert _command(topics) == ["topics", "apply"]
    assert str(topics.get("restart")) == "no"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", WORKERS)
def test_worker_waits_for_topics(services: dict[str, dict[str, Any]], name: str) -> None:
    depends_on = services[name]["depends_on"]
    assert depends_on["topics"]["condition"] == "service_completed_successfully"


def test_hub_services_use_the_hub_image(services: dict[str, dict[str, Any]]) -> None:
    for name in HUB_SERVICES:
        service = services[name]
        assert "build" in service, name
        assert service["image"] == services["topics"]["image"], name
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
    assert set(HUB_SERVICES) <= brokers.keys()
    for name, broker in brokers.items():
        scheme, _, hosts = str(broker).partition("://")
        assert scheme == "kafka", name
        for host in hosts.split(","):
            assert host.split(":")[0] in services, f"{name}: {host} is not a compose service"
            assert host.split(":")[0] == "kafka", name


@pytest.mark.parametrize("name", WORKERS)
def test_worker_settings(services: dict[str, dict[str, Any]], name: str) -> None:
    env = _env(services[name])
    assert str(env["HUB_CITY"]) == "410400"
    assert str(env["HUB_METRICS_PORT"]) == "9108"
    assert "HUB_PII_KEY" in env
    # the web port on the compose network; its tokens come from the shell, never from the file
    assert str(env["HUB_BIND"]) == "0.0.0.0"
    assert "HUB_API_TOKENS" in env and env["HUB_API_TOKENS"] is None
    exposed = [str(p) for p in services[name].get("expose", [])] + [
        str(p) for p in services[name].get("ports", [])
    ]
    assert any(p.split("/")[0].split(":")[-1] == "9108" for p in exposed)


def test_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    long_running = [name for name, s in services.items() if str(s.get("restart")) != "no"]
    assert {
        "kafka",
        "schema-registry",
        *WORKERS,
        "postgres",
        "console",
        "prometheus",
        "grafana",
    } <= set(long_running)
    for name in long_running:
        healthcheck = services[name].get("healthcheck")
        assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable", False)


@pytest.mark.parametrize("name", WORKERS)
def test_worker_healthcheck_hits_health(services: dict[str, dict[str, Any]], name: str) -> None:
    test = " ".join(map(str, services[name]["healthcheck"]["test"]))
    assert "python" in test  # the slim image has no curl
    # readiness (/health answers 503 until the partitions are restored), not the metrics page
    assert "localhost:9108/health" in test
    assert "/metrics" not in test


def test_kafka_healthcheck_talks_to_the_broker(services: dict[str, dict[str, Any]]) -> None:
    test = " ".join(map(str, services["kafka"]["healthcheck"]["test"]))
    assert "/opt/kafka/bin/" in test
    assert "localhost:9092" in test


def _docker_compose(*args: str) -> subprocess.CompletedProcess[str]:
    # As in CI: no HUB_* settings (HUB_PII_KEY unset must still validate), no COMPOSE_* overrides.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "COMPOSE_"))}
    return subprocess.run(
        ["docker-compose", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_docker_compose
def test_docker_compose_config_validates() -> None:
    result = _docker_compose("config", "-q")
    assert result.returncode == 0, result.stderr
    services = _docker_compose("config", "--services")
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == {
        "kafka",
        "schema-registry",
        "topics",
        *WORKERS,
        "postgres",
        "console",
        "prometheus",
        "grafana",
    }


@needs_docker_compose
def test_three_kafka_nodes_with_the_override() -> None:
    result = _docker_compose("-f", COMPOSE_FILE.name, "-f", KAFKA3_FILE.name, "config")
    assert result.returncode == 0, result.stderr
    merged = yaml.safe_load(result.stdout)["services"]
    nodes = ["kafka", "kafka-2", "kafka-3"]
    others = {"schema-registry", "topics", *WORKERS, "postgres", "console", "prometheus", "grafana"}
    assert {*nodes, *others} == set(merged)
    voters = "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"
    for i, name in enumerate(nodes, start=1):
        env = _env(merged[name])
        assert str(env["KAFKA_NODE_ID"]) == str(i)
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert f"PLAINTEXT://{name}:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
        assert str(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == "3"
        assert str(env["KAFKA_MIN_INSYNC_REPLICAS"]) == "2"
        assert merged[name]["healthcheck"]["test"]
        assert merged[name]["volumes"], name
    assert len({_env(merged[n])["CLUSTER_ID"] for n in nodes}) == 1
    for name in HUB_SERVICES:
        env = _env(merged[name])
        assert env["HUB_BROKER"] == "kafka://kafka:9092,kafka-2:9092,kafka-3:9092", name
        assert str(env["HUB_TOPICS_REPLICATION_FACTOR_CAP"]) == "3", name
        assert "HUB_PII_KEY" in env and str(env["HUB_CITY"]) == "410400", name
    for name in WORKERS:
        env = _env(merged[name])
        assert env["HUB_BIND"] == "0.0.0.0" and "HUB_API_TOKENS" in env, name
    for node in nodes:
        assert merged["topics"]["depends_on"][node]["condition"] == "service_healthy"


def test_prometheus_scrapes_the_consoles_metrics_port(services: dict[str, dict[str, Any]]) -> None:
    """The console's metrics port (no sign-in) is Prometheus's to reach on the compose network,
    never published on the host; the scrape job finds every replica by the service's name."""
    console = services["console"]
    port = str(_env(console)["HUB_CONSOLE_METRICS_PORT"])
    assert port != str(_env(console)["HUB_CONSOLE_PORT"])
    assert not any(str(p).split(":")[-1].split("/")[0] == port for p in console["ports"]), console[
        "ports"
    ]
    assert port in [str(p) for p in console.get("expose", [])], console.get("expose")
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text("utf-8"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "petition-hub-console"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert "authorization" not in job and "bearer_token_file" not in job  # no secret to mount
    (dns,) = job["dns_sd_configs"]
    assert (dns["names"], dns["type"], str(dns["port"])) == (["console"], "A", port), dns
    assert "console" in services["prometheus"]["depends_on"]


def test_prometheus_has_the_rules_and_scrapes_every_worker(
    services: dict[str, dict[str, Any]],
) -> None:
    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:v2.")
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text("utf-8"))
    (hub,) = [job for job in config["scrape_configs"] if job["job_name"] == "petition-hub"]
    targets = sorted(t for static in hub["static_configs"] for t in static["targets"])
    assert targets == sorted(f"{services[w]['hostname']}:9108" for w in WORKERS)


def test_grafana_is_provisioned(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    assert grafana["image"].startswith("grafana/grafana:")
    volumes = {str(v).split(":")[0]: str(v).split(":")[1] for v in grafana["volumes"]}
    assert volumes["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/hub.yml").read_text("utf-8")
    )["providers"][0]
    assert volumes["./deploy/grafana/dashboards"] == provider["options"]["path"]
    home = _env(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == provider["options"]["path"] + "/petition-hub.json"
    assert (ROOT / "deploy/grafana/dashboards/petition-hub.json").is_file()
    source = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text("utf-8")
    )["datasources"][0]
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in grafana["depends_on"]
    assert any(str(p).endswith(":3000") for p in grafana["ports"])


def test_schema_registry_for_production(services: dict[str, dict[str, Any]]) -> None:
    registry = services["schema-registry"]
    assert registry["image"].startswith("confluentinc/cp-schema-registry:")
    env = _env(registry)
    assert env["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"] == "PLAINTEXT://kafka:9092"
    assert "healthcheck" in registry
    for name in HUB_SERVICES:
        assert _env(services[name])["HUB_SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
