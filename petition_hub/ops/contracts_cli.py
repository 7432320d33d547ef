"""``petition-hub contracts``: write the hub's machine-readable contracts.

``contracts asyncapi`` the topics (AsyncAPI 3, from ``topics.yaml`` and the Avro schemas:
:mod:`.contracts`), ``contracts openapi`` the worker's HTTP endpoints (OpenAPI 3.1:
:mod:`petition_hub.service.openapi`); to stdout or ``--output PATH``. The committed copies are
``docs/asyncapi.yaml`` and ``docs/openapi.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

# the generators are imported by the commands that run them: every other command starts faster

_OUTPUT = click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="write the document here (default: standard output)",
)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc


def openapi_json() -> str:
    """The worker's OpenAPI document as the committed file spells it."""
    from petition_hub.service import openapi

    return json.dumps(openapi.document(), ensure_ascii=False, indent=2) + "\n"


@click.group()
def contracts() -> None:
    """Machine-readable contracts: AsyncAPI of the topics, OpenAPI of the worker's web."""


@contracts.command("asyncapi")
@_OUTPUT
def contracts_asyncapi(output: Path | None) -> None:
    """The topics of topics.yaml (HUB_TOPICS_FILE) and their Avro schemas, as AsyncAPI 3."""
    from petition_hub.ops.contracts import asyncapi_yaml
    from petition_hub.service.settings import get_settings

    _write(asyncapi_yaml(get_settings().topics_file), output)


@contracts.command("openapi")
@_OUTPUT
def contracts_openapi(output: Path | None) -> None:
    """The worker's HTTP endpoints (health, metrics, views, schema registry), as OpenAPI 3.1."""
    _write(openapi_json(), output)
