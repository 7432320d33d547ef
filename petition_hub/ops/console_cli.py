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


@console.command()
@broker_option
@click.option("--no-project", is_flag=True, help="serve only (another replica projects)")
def serve(no_project: bool) -> None:
    """Serve the console (pages and API) on HUB_CONSOLE_BIND:HUB_CONSOLE_PORT, 127.0.0.1:8090
    by default, with the projector beside it."""
    from petition_hub.console.serve import serve as run_serve
    from petition_hub.service import logs

    settings = console_settings(broker=True)
    logs.configure(settings.log_level, settings.log_json)
    click.echo(
        f"console: http://{settings.console_bind}:{settings.console_port}/ "
        "(petition-hub console users add … makes the accounts)",
        err=True,
    )
    if settings.console_metrics_port is not None:
        where = f"{settings.console_bind}:{settings.console_metrics_port}"
        click.echo(f"console metrics (no sign-in): http://{where}/metrics", err=True)
    asyncio.run(until_signalled(run_serve(settings, project=not no_project)))


@console.group()
def users() -> None:
    """The console's accounts (roles: office, unit + its unit, leadership, operator)."""


def _user_db() -> Any:
    """A session factory on the migrated console database (no broker, no PII key needed)."""
    from petition_hub.console.store import engine_for, migrate, session_factory

    engine = engine_for(get_settings())
    migrate(engine)
    return session_factory(engine)


@users.command("add")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["office", "unit", "leadership", "operator"]),
    help="what the account may do",
)
@click.option("--unit", help="a unit account's unit: dept.<CODE> or county.<DIV>")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="HUB_CONSOLE_PASSWORD",
    help="asked for when not given (or HUB_CONSOLE_PASSWORD); at least 8 characters",
)
def users_add(username: str, role: str, unit: str | None, password: str) -> None:
    """Make an account (its password hashed with argon2)."""
    from petition_hub.console.auth import UserError, add_user
    from petition_hub.console.store import transaction

    try:
        with transaction(_user_db()) as db:
            add_user(db, username, password, role, unit)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added {username} ({role}{' ' + unit if unit else ''})")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable an account: it can no longer sign in, and its sessions end at once."""
    from petition_hub.console.auth import disable_user
    from petition_hub.console.store import transaction

    with transaction(_user_db()) as db:
        found = disable_user(db, username)
    if not found:
        raise click.ClickException(f"no account {username!r}")
    click.echo(f"disabled {username}")


@users.command("list")
@json_option
def users_list(as_json: bool) -> None:
    """Every account: username, role, unit, disabled, created."""
    from petition_hub.console.auth import list_users
    from petition_hub.console.store import transaction

    with transaction(_user_db()) as db:
        rows = [
            {
                "username": u.username,
                "role": u.role,
                "unit": u.unit,
                "disabled": u.disabled,
                "created_at": u.created_at.isoformat(),
            }
            for u in list_users(db)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    cells = [
        [r["username"], r["role"], r["unit"] or "", "yes" if r["disabled"] else "", r["created_at"]]
        for r in rows
    ]
    click.echo(table(["username", "role", "unit", "disabled", "created"], cells))


async def until_signalled(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` until it ends or SIGINT / SIGTERM cancels it (it then leaves the consumer
    group at once, rather than after the session timeout)."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
