"""``petition-hub``: the hub's one console script (see interface.md, "Command line").

Each command is a thin shell: it reads settings, calls one function of the package, prints.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from . import logs
from .settings import Settings, get_settings


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise click.ClickException(f"invalid HUB_* setting: {exc}") from exc


@click.group()
@click.version_option(package_name="petition-hub")
def main() -> None:
    """The enterprise petition hub (企业诉求): intake, routing, SLA clocks, metrics."""


@main.command()
@click.option("--demo-rate", default=5.0, show_default=True, help="demo petitions per second")
@click.option("--no-demo", is_flag=True, help="run without the demo stream")
def dev(demo_rate: float, no_demo: bool) -> None:
    """The whole hub on one machine: embedded broker, topics, a worker, a demo stream."""
    from .dev import run_dev

    settings = _settings()
    logs.configure("WARNING", settings.log_json)
    sys.exit(run_dev(settings, demo_rate=None if no_demo else demo_rate))


@main.command()
def worker() -> NoReturn:
    """A stream worker against HUB_BROKER (start more to scale out)."""
    from .app import create_app
    from .runner import run_worker

    settings = _settings()
    if settings.broker is None:
        raise click.ClickException(
            "HUB_BROKER is not set: point it at Kafka (kafka://host:9092), "
            "or run `petition-hub dev` for the embedded broker"
        )
    logs.configure(settings.log_level, settings.log_json)
    run_worker(create_app(settings), settings)


@main.group()
def topics() -> None:
    """Reconcile the broker with topics.yaml."""


def _topics_broker(settings: Settings) -> str:
    if settings.broker is None:
        raise click.ClickException("HUB_BROKER is not set: which broker should I reconcile?")
    return settings.bootstrap_servers()


@topics.command("apply")
@click.option(
    "--delete-unexpected",
    is_flag=True,
    help="also delete topics on the broker that topics.yaml does not declare",
)
def topics_apply(delete_unexpected: bool) -> None:
    """Create what is missing, grow partitions, report drift. Deletes nothing unless asked."""
    from .topics import run_apply

    settings = _settings()
    text, code = run_apply(
        _topics_broker(settings),
        settings.embedded,
        settings.topics_file,
        delete_unexpected,
        app_id=settings.app_id,
        replication_factor_cap=settings.topics_replication_factor_cap,
    )
    click.echo(text)
    sys.exit(code)


@topics.command("diff")
def topics_diff() -> None:
    """Report how the broker differs from topics.yaml (exit 1 on drift); change nothing."""
    from .topics import run_diff

    settings = _settings()
    text, code = run_diff(
        _topics_broker(settings),
        settings.embedded,
        settings.topics_file,
        app_id=settings.app_id,
        replication_factor_cap=settings.topics_replication_factor_cap,
    )
    click.echo(text)
    sys.exit(code)
