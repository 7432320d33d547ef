"""Helpers of the console's tests: the projector in a process of its own, the read model's rows
as comparable snapshots, and the lists counted directly from the topics (plainly, from the worker's
definitions in ``agents/views.py``, not with the console's code)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from hubtest import TEST_PII_KEY, stop_process, wait_until
from petition_hub import schemas
from petition_hub.broker.tools import Record
from petition_hub.console.models import PROJECTED

#: The worker's 在办 and 已办 states (agents/views.py HANDLING, DONE), as plain strings.
HANDLING = {"routed", "signed_for", "in_progress", "waiting_material", "extended", "reopened"}
DONE = {"replied", "evaluated", "closed"}

#: Columns that say when a row was written, not what it says: left out of snapshots.
VOLATILE = {"updated_at"}


def console_env(broker_url: str, app_id: str, database_url: str, data_dir: Path) -> dict[str, str]:
    """The environment of a console process."""
    return {
        **os.environ,
        "HUB_BROKER": broker_url,
        "HUB_APP_ID": app_id,
        "HUB_DATA_DIR": str(data_dir),
        "HUB_PII_KEY": TEST_PII_KEY,
        "HUB_CONSOLE_DATABASE_URL": database_url,
        "HUB_LOG_LEVEL": "INFO",
    }


def start_projector(env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``petition-hub console project`` in a process of its own (its log in ``log``)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "petition_hub", "console", "project"],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def stop_projector(proc: subprocess.Popen[bytes]) -> None:
    stop_process(proc)


def run_console(env: Mapping[str, str], *args: str, timeout: float = 600) -> str:
    """``petition-hub console ARGS``; its standard output (fails on a non-zero exit)."""
    result = subprocess.run(
        [sys.executable, "-m", "petition_hub", "console", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"console {' '.join(args)}: {result.stderr[-3000:]}"
    return result.stdout


def projection_lag(env: Mapping[str, str], engine: Engine) -> int:
    """Records of the console's topics not in the database yet (the console's own measure)."""
    from petition_hub.console.projector import lag
    from petition_hub.console.store import session_factory
    from petition_hub.service.settings import Settings

    settings = Settings(
        broker=env["HUB_BROKER"], app_id=env["HUB_APP_ID"], pii_key=env["HUB_PII_KEY"]
    )
    return asyncio.run(lag(settings, session_factory(engine)))


def wait_projected(
    env: Mapping[str, str], engine: Engine, procs: Iterable[subprocess.Popen[bytes]], timeout: float
) -> None:
    """Wait until the projection reached every topic's end (the processes still running)."""
    running = list(procs)

    def caught_up() -> bool:
        for p in running:
            assert p.poll() is None, f"a projector exited with {p.returncode}"
        return projection_lag(env, engine) == 0

    wait_until(caught_up, timeout, interval=1.0, what="the projection to reach the topics' ends")


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every projected table's rows, sorted, without the write times (sealed values compared by
    what they hold: Fernet tokens differ every time)."""
    from petition_hub.console.sealing import open_personal
    from petition_hub.service.crypto import PiiCipher

    cipher = PiiCipher(TEST_PII_KEY)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for model in PROJECTED:
            table = model.__table__
            columns = [c for c in table.columns if c.name not in VOLATILE]
            rows = []
            for row in conn.execute(select(*columns)):
                values = []
                for c, v in zip(columns, row, strict=True):
                    if c.name == "contact_sealed":
                        v = sorted(open_personal(cipher, v).items())
                    values.append(repr(v))
                rows.append(tuple(values))
            out[str(table.name)] = sorted(rows)
    return out


@dataclass
class Direct:
    """The lists counted from the topics' records."""

    lists: dict[str, Counter[str]]
    """Per lead unit: open, overdue, done."""
    triage: set[str]
    event_ids: set[str]
    """Every distinct event id of the records the console projects."""


def _ce_id(r: Record) -> str:
    value = dict(r.headers).get("ce_id")
    return value.decode() if value else f"{r.topic}:{r.partition}:{r.offset}"


def count_directly(lifecycle: list[Record], sla: list[Record]) -> Direct:
    """The worker's lists over every petition, from ``hub.lifecycle`` and ``hub.sla``: a
    petition's state is its last state change's, its lead and round its last record's; it is
    overdue when its resolve clock fired ``overdue`` in its current round."""
    state: dict[str, str] = {}
    lead: dict[str, str | None] = {}
    rounds: dict[str, int] = {}
    seen: set[str] = set()
    # one partition per petition: offset order is the petition's order
    for r in sorted(lifecycle, key=lambda r: (r.partition, r.offset)):
        if _ce_id(r) in seen:
            continue
        seen.add(_ce_id(r))
        rec = schemas.decode(r.value or b"")[1]
        pid = rec["petitionId"]
        if rec["kind"] == "state_changed":
            state[pid] = rec["toState"]
        lead[pid] = rec.get("leadUnit")
        rounds[pid] = rec.get("round") or 0
    overdue_rounds: dict[str, set[int]] = defaultdict(set)
    for r in sla:
        rec = schemas.decode(r.value or b"")[1]
        if rec["clock"] == "resolve" and rec["signal"] in ("overdue", "listed_supervision"):
            overdue_rounds[rec["petitionId"]].add(rec["round"])
    lists: dict[str, Counter[str]] = defaultdict(Counter)
    for pid, s in state.items():
        unit = lead.get(pid)
        if unit is None:
            continue
        if s in HANDLING:
            lists[unit]["open"] += 1
            if any(n >= rounds[pid] for n in overdue_rounds.get(pid, ())):
                lists[unit]["overdue"] += 1
        elif s in DONE:
            lists[unit]["done"] += 1
    triage = {pid for pid, s in state.items() if s == "triage"}
    return Direct(dict(lists), triage, set())


def differences(
    before: dict[str, list[tuple[Any, ...]]],
    after: dict[str, list[tuple[Any, ...]]],
    engine: Engine,
) -> list[str]:
    """What differs between two snapshots: per table, the rows (by primary key) and columns."""
    out: list[str] = []
    for model in PROJECTED:
        table = model.__table__
        columns = [c.name for c in table.columns if c.name not in VOLATILE]
        keys = [columns.index(c.name) for c in table.primary_key.columns]
        old = {tuple(r[i] for i in keys): r for r in before[str(table.name)]}
        new = {tuple(r[i] for i in keys): r for r in after[str(table.name)]}
        for k in sorted(old.keys() ^ new.keys())[:5]:
            out.append(f"{table.name} {k}: only {'before' if k in old else 'after'}")
        for k in sorted(old.keys() & new.keys()):
            changed = [
                f"{c}: {a} -> {b}"
                for c, a, b in zip(columns, old[k], new[k], strict=True)
                if a != b
            ]
            if changed and len(out) < 20:
                out.append(f"{table.name} {k}: {'; '.join(changed)}")
    return out
