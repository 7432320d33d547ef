"""The hub's settings, read once from the environment (``HUB_*``), in one typed place.

Every setting has a default that makes ``petition-hub dev`` work on a fresh machine; production
values come from docker-compose.yml.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from petition_hub.data import data_path

#: The repository root when the hub runs from a checkout (``pip install -e .``); the tests and the
#: developer tools use it. The hub itself reads nothing from it: what it reads at run time is
#: package data (:func:`petition_hub.data.data_path`), so a wheel works from any directory.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: The packaged topics.yaml: petition_hub/data/topics.yaml is a symbolic link to the repository's
#: top-level topics.yaml (the one source of truth); building a wheel copies the file it points to.
PACKAGED_TOPICS_FILE = data_path("topics.yaml")

#: URL schemes of HUB_BROKER: ``kafka`` is Apache Kafka (stock faust driver); ``tansu`` is a
#: Tansu broker, driven with the workarounds in :mod:`petition_hub.broker.transport`.
BROKER_SCHEMES = ("kafka", "tansu")


class Settings(BaseSettings):
    """Settings of one hub process."""

    model_config = SettingsConfigDict(env_prefix="HUB_", frozen=True, extra="ignore")

    broker: str | None = Field(
        default=None,
        description="kafka://host:port[,host:port] for Apache Kafka, tansu://host:port for a "
        "running Tansu broker; unset means `dev` starts the embedded broker.",
    )
    city: str = Field(default="410400", pattern=r"^\d{6}$")
    metrics_port: int = Field(default=9108, ge=0, le=65535)
    schema_registry_url: str | None = None
    pii_key: SecretStr | None = None
    rules: Path | None = None
    calendar_file: Path | None = Field(
        default=None,
        description="The working-day calendar's override file (official corrections and notices "
        "transcribed with `petition-hub calendar import`); unset means the packaged one. A "
        "running worker picks up a change within seconds.",
    )
    topics_file: Path = Field(
        default=PACKAGED_TOPICS_FILE,
        description="The topics' declaration; unset means the one shipped in the package.",
    )
    topics_replication_factor_cap: int | None = Field(
        default=None,
        ge=1,
        description="Cap topics.yaml's replication factors (1 for a single-broker Kafka); "
        "the embedded broker is always capped at 1.",
    )
    app_id: str = "petition-hub"
    data_dir: Path = Path("var")
    clock_file: Path | None = Field(
        default=None,
        description="Tests and demos only: a file with the time the hub's clocks read "
        "(petition_hub.service.clock); unset means the system clock.",
    )
    lifecycle_park_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a unit status or rating for a petition the lifecycle does not know "
        "yet waits for the petition's routing before it is rejected as unknown.",
    )
    repeat_window_days: int = Field(
        default=30,
        gt=0,
        description="A repeat (a 12345 YGDBH call) received within this many days of the earlier "
        "case's receipt, while that case is open, is linked to it (one case, one clock, counted "
        "once); later, or after the case closed, it opens a case of its own naming the earlier.",
    )
    console_database_url: SecretStr | None = Field(
        default=None,
        description="The console's database (SQLAlchemy URL: sqlite:///path, "
        "postgresql://user:password@host/db); unset means an SQLite file console.db in "
        "HUB_DATA_DIR. A secret: it may carry a password.",
    )
    log_level: str = "INFO"
    log_json: bool = False
    # --- security (issue 11) ---------------------------------------------------------------------
    bind: str = Field(
        default="127.0.0.1",
        description="The address the worker's web port listens on; loopback unless a deployment "
        "says otherwise (compose sets 0.0.0.0 on its own network).",
    )
    api_tokens: SecretStr | None = Field(
        default=None,
        description="Bearer tokens (comma-separated) for the worker's HTTP endpoints other than "
        "/health, /metrics and the read-only schema registry's; unset means those endpoints "
        "answer 401 to everyone.",
    )
    max_message_bytes: int = Field(
        default=1_048_588,
        ge=1024,
        description="The largest channel message intake takes in (key, value and headers); a "
        "larger one is a dead letter `too_large` (default: Kafka's own message.max.bytes).",
    )
    retention_after_closure_days: int = Field(
        default=3 * 365,
        ge=1,
        description="How long personal data is kept after a petition is closed; then the hub "
        "writes redacted revisions so compaction drops it.",
    )
    # --- the console (issue 15): its web side ---------------------------------------------------
    console_port: int = Field(
        default=8090,
        ge=0,
        le=65535,
        description="The console's HTTP port (`petition-hub console serve`).",
    )
    console_bind: str = Field(
        default="127.0.0.1",
        description="The address the console listens on; loopback unless a deployment says "
        "otherwise (compose: 0.0.0.0 on its own network).",
    )
    console_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="A port of its own for the console's metrics (Prometheus text, no sign-in: "
        "route templates, statuses, latency, the projection's lag), on HUB_CONSOLE_BIND; for "
        "Prometheus on a network only it reaches (compose: 9109, not published). Unset means "
        "none: /metrics on the console's port, for a signed-in operator or the office or an "
        "API token.",
    )
    console_secret: SecretStr | None = Field(
        default=None,
        description="The key that signs the console's session cookies and CSRF tokens (every "
        "replica needs the same); unset means a key file in HUB_DATA_DIR, made on first use.",
    )
    console_session_hours: float = Field(
        default=8.0,
        gt=0,
        description="How long a console sign-in lasts (a working day).",
    )
    console_secure_cookies: bool = Field(
        default=False,
        description="Mark the console's cookies Secure (set it when the console is served over "
        "HTTPS, behind a proxy).",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme, _, hosts = value.rpartition("://")
        scheme = scheme or "kafka"
        if scheme not in BROKER_SCHEMES:
            raise ValueError(f"HUB_BROKER scheme {scheme!r} is not one of {BROKER_SCHEMES}")
        if not hosts or any(":" not in h for h in hosts.replace(";", ",").split(",")):
            raise ValueError(f"HUB_BROKER {value!r}: expected {scheme}://host:port[,host:port]")
        return f"{scheme}://{hosts}"

    @property
    def embedded(self) -> bool:
        """True when the broker is Tansu (embedded or started by a test fixture)."""
        return self.broker is None or self.broker.startswith("tansu://")

    def bootstrap_servers(self) -> str:
        """The broker list as Kafka clients want it: ``host:port,host:port``."""
        if self.broker is None:
            raise RuntimeError("HUB_BROKER is not set (only `petition-hub dev` starts a broker)")
        return self.broker.partition("://")[2].replace(";", ",")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (read from the environment once)."""
    return Settings()
