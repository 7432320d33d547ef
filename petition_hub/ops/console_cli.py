"""``petition-hub console …``: the console (workbench) and its read model.

``console rebuild``: empty the read model (the projected tables and the offsets they were
projected to) and project every topic of the console again, from its beginning to its end as it
is now (:mod:`petition_hub.console.rebuild`); prints the rows per table. The web side's commands
(``serve``, ``users``) join this group.

Consumes: the console's topics (:data:`petition_hub.console.projector.TOPIC_PATTERN`). Emits: the
console's database (``HUB_CONSOLE_DATABASE_URL``, default ``HUB_DATA_DIR/console.db``); text or,
with ``--json``, JSON on standard output. Keeps: nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Coroutine
from typing import Any

import click

from petition_hub.ops.cliopts import broker_option, json_option, table, working
from petition_hub.service.settings import Settings, get_settings


@click.group()
def console() -> None:
    """The console (workbench): its read model of the hub's topics in SQL, its web side."""


def console_settings(*, broker: bool) -> Settings:
    """The settings a console command needs: the PII key always (the read model seals personal
    data with it), the broker when ``broker``."""
    from petition_hub.service.crypto import cipher_for
    from petition_hub.service.security import check

    settings = get_settings()
    check(settings)
    if broker and settings.broker is None:
        raise click.ClickException("HUB_BROKER is not set: which broker holds the hub's topics?")
    try:
        cipher_for(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings


@console.command()
@broker_option
@json_option
def rebuild(as_json: bool) -> None:
    """Empty the read model and project every topic again, to its current end."""
    from petition_hub.console.rebuild import rebuild as run_rebuild
    from petition_hub.console.store import engine_for

    settings = console_settings(broker=True)
    engine = engine_for(settings)
    try:
        with working("projecting the hub's topics…"):
            done = asyncio.run(run_rebuild(settings, engine))
    finally:
        engine.dispose()
    report: dict[str, Any] = {
        "partitions": done.partitions,
        "records": done.records,
        "skipped": done.skipped,
        "undecodable": done.undecodable,
        "rows": done.rows,
        "seconds": round(done.seconds, 1),
    }
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    click.echo(
        f"rebuilt from {done.partitions} partitions in {done.seconds:.1f} s: "
        f"{done.records} records applied, {done.skipped} skipped "
        f"({done.undecodable} unreadable)"
    )
    click.echo(table(["table", "rows"], sorted(done.rows.items()), right_from=1))


@console.command()
@broker_option
def project() -> None:
    """Run the projector alone (no web side): keep the read model up to date until stopped.

    A replica of the console without its pages (any number share the database); ``console
    serve`` runs the same projector beside the web side."""
    from petition_hub.console.projector import run
    from petition_hub.service import logs

    settings = console_settings(broker=True)
    logs.configure(settings.log_level, settings.log_json)
    asyncio.run(until_signalled(run(settings)))


async def until_signalled(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` until it ends or SIGINT / SIGTERM cancels it (it then leaves the consumer
    group at once, rather than after the session timeout)."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
