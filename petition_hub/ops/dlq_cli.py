"""``petition-hub dlq list|show|redrive``: the commands over :mod:`petition_hub.ops.dlq`.

Consumes: ``hub.deadletter`` (through :func:`petition_hub.ops.dlq.entries`). Emits: text or, with
``--json``, JSON on standard output; a spinner on standard error while the topic is read; redrives
(records on the source topics or ``hub.petitions``, and their markers on ``hub.deadletter``).
Keeps: nothing.
"""

from __future__ import annotations

import json
from typing import Any

import click

from petition_hub.ops.cliopts import broker_option, json_option, working
from petition_hub.ops.dlq import Entry, entries, find, format_list, format_show, masked_original
from petition_hub.service.crypto import PiiCipher, cipher_for
from petition_hub.service.logs import scrub_text
from petition_hub.service.security import check, confluent_config
from petition_hub.service.settings import get_settings


@click.group()
def dlq() -> None:
    """Inspect and resend dead letters (personal data masked when shown)."""


def _context() -> tuple[str, PiiCipher, dict[str, Any]]:
    """The broker, the dead letters' key and the tools' Kafka login."""
    settings = get_settings()
    check(settings)
    if settings.broker is None:
        raise click.ClickException("HUB_BROKER is not set: which broker holds the dead letters?")
    try:
        cipher = cipher_for(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings.bootstrap_servers(), cipher, confluent_config(settings)


def _entries() -> tuple[str, list[Entry], dict[str, Any]]:
    bootstrap, cipher, options = _context()
    with working("reading hub.deadletter…"):
        found = entries(bootstrap, cipher, options=options)
    return bootstrap, found, options


def entry_json(entry: Entry, original: bool = False) -> dict[str, Any]:
    """A dead letter as ``--json`` shows it: no personal data (the original masked)."""
    d = entry.letter
    at = entry.dead_lettered_at
    out: dict[str, Any] = {
        "id": entry.id,
        "position": entry.position,
        "dead_lettered_at": at.isoformat() if at else None,
        "connector": entry.connector,
        "reason": entry.reason,
        "problem": entry.problem,
        "redrives": [{**r, "redrivenAt": r["redrivenAt"].isoformat()} for r in entry.redrives],
    }
    if d is not None:
        out |= {
            "error_class": d.error_class,
            "message": scrub_text(d.message),
            "source": f"{d.source.topic}:{d.source.partition}:{d.source.offset}",
            "size": None
            if d.source.value is None
            else d.value_size
            if d.truncated
            else len(d.source.value),
            "truncated": d.truncated,
            "redrive_of": d.redrive_of,
        }
        if original:
            out["original"] = masked_original(d)
    return out


@dlq.command("list")
@click.option("--reason", help="only this reason code (e.g. bad_json)")
@click.option("--connector", help="only this channel (hotline, miniprogram, province)")
@broker_option
@json_option
def dlq_list(reason: str | None, connector: str | None, as_json: bool) -> None:
    """Every dead letter, oldest first: id, time, channel, reason, size, message (or why it
    cannot be read: a wrong or rotated-out key, or a record that is not a dead letter)."""
    _, found, _ = _entries()
    items = [
        e
        for e in found
        if (reason is None or e.reason == reason)
        and (connector is None or e.connector == connector)
    ]
    if as_json:
        click.echo(json.dumps([entry_json(e) for e in items], ensure_ascii=False, indent=2))
    else:
        click.echo(format_list(items))


@dlq.command("show")
@click.argument("dead_letter_id")
@broker_option
@json_option
def dlq_show(dead_letter_id: str, as_json: bool) -> None:
    """One dead letter: metadata, redrives, and the original with personal data masked."""
    _, found, _ = _entries()
    entry = find(found, dead_letter_id)
    if entry is None:
        raise click.ClickException(f"no dead letter {dead_letter_id}")
    if entry.letter is None:  # one line on stderr, exit 1: a wrong key, or not a dead letter
        raise click.ClickException(format_show(entry))
    if as_json:
        click.echo(json.dumps(entry_json(entry, original=True), ensure_ascii=False, indent=2))
    else:
        click.echo(format_show(entry))


@dlq.command("redrive")
@click.argument("dead_letter_ids", nargs=-1)
@click.option("--reason", help="every dead letter with this reason code")
@click.option(
    "--via",
    type=click.Choice(["source", "connector"]),
    default="source",
    show_default=True,
    help="resend to the source topic, or decode with the current connector into hub.petitions",
)
@click.option("--include-redriven", is_flag=True, help="also those already redriven")
@click.option("--dry-run", is_flag=True, help="say what would be done; send nothing")
@broker_option
@json_option
def dlq_redrive(
    dead_letter_ids: tuple[str, ...],
    reason: str | None,
    via: str,
    include_redriven: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Send selected dead letters again (by id, or all of one --reason); records each redrive.

    Those that cannot be read, or whose whole original (of a truncated letter) is not on its
    source topic any more, are reported and left; the exit status is 1 when any was not redriven.
    """
    from petition_hub.ops.dlq import redrive

    if not dead_letter_ids and reason is None:
        raise click.ClickException("name dead letter ids, or --reason")
    bootstrap, found, options = _entries()
    wanted = set(dead_letter_ids)
    selected = [
        e
        for e in found
        if (e.id in wanted or e.position in wanted or (reason is not None and e.reason == reason))
        and (include_redriven or not e.redrives or e.id in wanted or e.position in wanted)
    ]
    missing = wanted - {e.id for e in selected} - {e.position for e in selected}
    if missing:
        raise click.ClickException(f"no dead letter {', '.join(sorted(missing))}")
    with working(f"redriving {len(selected)} dead letter(s)…"):
        results = redrive(bootstrap, selected, via, dry_run=dry_run, options=options)
    if as_json:
        shown = [
            {"id": r.id, "via": r.via, "outcome": r.outcome, "redriven": r.redriven}
            for r in results
        ]
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
    else:
        for result in results:
            click.echo(f"{result.id}: {result.outcome}")
        if not selected:
            click.echo("nothing to redrive")
    left = sum(not r.redriven for r in results)
    if left:
        raise click.ClickException(f"{left} of {len(results)} dead letters not redriven")
