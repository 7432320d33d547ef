"""``petition-hub schemas``: the hub's schemas and a Schema Registry.

- ``register``: register every hub schema under its subjects with ``HUB_SCHEMA_REGISTRY_URL``
  (or ``--url``), as the worker does at start (:mod:`petition_hub.service.registry_sync`), and
  print each subject, schema and the id the registry gave it (``--json``: a list of objects).
- ``serve``: the built-in registry on a port of its own (:mod:`petition_hub.service.registry_web`):
  the hub's subjects and ids, or with ``--assign-ids`` an empty registry that assigns its own ids
  as Confluent's does (to try the hub against one: point ``HUB_SCHEMA_REGISTRY_URL`` at it).

Consumes topics.yaml and schemas/; keeps nothing.
"""

from __future__ import annotations

import asyncio
import json

import click

from petition_hub.service.settings import get_settings


@click.group()
def schemas() -> None:
    """The hub's Avro schemas and a Schema Registry."""


@schemas.command()
@click.option("--url", help="the registry (default: HUB_SCHEMA_REGISTRY_URL)")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of the table")
def register(url: str | None, as_json: bool) -> None:
    """Register the hub's schemas (every subject of topics.yaml) and show the ids given."""
    from petition_hub.service.registry_sync import RegistrationError, register_all
    from petition_hub.topics import load_topics

    settings = get_settings()
    url = url or settings.schema_registry_url
    if not url:
        raise click.ClickException("no registry: set HUB_SCHEMA_REGISTRY_URL or pass --url")
    declared = load_topics(settings.topics_file, settings.app_id).topics
    try:
        done = register_all(url, declared)
    except RegistrationError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        rows = [{"subject": r.subject, "schema": r.name, "id": r.schema_id} for r in done]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    width = max((len(r.subject) for r in done), default=0)
    for r in done:
        click.echo(f"{r.subject:<{width}}  {r.schema_id:>6}  {r.name}")
    ids = {r.schema_id for r in done}
    click.echo(f"{len(done)} registrations, {len(ids)} schemas, at {url}", err=True)


@schemas.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--assign-ids", is_flag=True, help="start empty and assign ids (not the hub's)")
def serve(host: str, port: int, assign_ids: bool) -> None:
    """The built-in Schema Registry on a port of its own (Ctrl-C stops it)."""
    from petition_hub.service.registry import AssigningRegistry, Registry, SchemaView
    from petition_hub.service.registry_web import serve as serve_registry
    from petition_hub.topics import load_topics

    settings = get_settings()
    registry: Registry = (
        AssigningRegistry()
        if assign_ids
        else SchemaView(load_topics(settings.topics_file, settings.app_id).topics)
    )

    async def run() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(serve_registry(registry, host, port, ready))
        await ready.wait()
        mode = "assigning its own ids" if assign_ids else "the hub's schemas and ids"
        click.echo(f"schema registry on http://{host}:{port} ({mode})", err=True)
        await task

    try:
        asyncio.run(run())
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    except KeyboardInterrupt:
        pass
