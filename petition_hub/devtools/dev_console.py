"""``petition-hub dev``'s console: ``petition-hub console serve`` (the pages, the API and the
projector) beside the worker, on the embedded broker, with demo accounts.

The console runs as a process of its own (uvicorn wants its own event loop and signal handling;
the worker's is faust's), which dies with dev even when dev is killed (``PR_SET_PDEATHSIG``, as
the embedded broker). Its database and keys are dev's: ``HUB_DATA_DIR/console.db``, the dev PII
key, ``HUB_DATA_DIR/console-secret.key``.

The demo accounts (:data:`DEMO_ACCOUNTS`, one password: :data:`DEMO_PASSWORD`, for a loopback
demo only) are made once; dev prints them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Final

from petition_hub.service.settings import Settings

__all__ = ["DEMO_ACCOUNTS", "DEMO_PASSWORD", "banner_lines", "ensure_demo_accounts", "start"]

#: username → (role, unit): one office, two units, one leadership (the issue's demo).
DEMO_ACCOUNTS: Final[dict[str, tuple[str, str | None]]] = {
    "office": ("office", None),
    "samr": ("unit", "dept.SAMR"),
    "xinhua": ("unit", "county.410402"),
    "leader": ("leadership", None),
}
#: The demo accounts' password (dev only: the console listens on loopback).
DEMO_PASSWORD: Final = "petition-dev"
_PR_SET_PDEATHSIG: Final = 1


def ensure_demo_accounts(settings: Settings) -> list[str]:
    """Make the demo accounts missing from dev's console database (migrated first); the names
    made."""
    from sqlalchemy import select

    from petition_hub.console.auth import add_user
    from petition_hub.console.models import User
    from petition_hub.console.store import engine_for, migrate, session_factory, transaction

    engine = engine_for(settings)
    try:
        migrate(engine)
        made = []
        with transaction(session_factory(engine)) as db:
            known = set(db.scalars(select(User.username)))
            for name, (role, unit) in DEMO_ACCOUNTS.items():
                if name not in known:
                    add_user(db, name, DEMO_PASSWORD, role, unit)
                    made.append(name)
        return made
    finally:
        engine.dispose()


def _die_with_parent(parent_pid: int) -> None:  # pragma: no cover - runs in the child
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    os.setpgid(0, 0)  # a Ctrl-C in the terminal goes to dev, which stops the console itself


def start(settings: Settings, log_file: Path) -> subprocess.Popen[bytes]:
    """``petition-hub console serve`` with dev's settings (its broker, key, data folder), its
    output in ``log_file``."""
    assert settings.broker is not None and settings.pii_key is not None
    env = {
        **os.environ,
        "HUB_BROKER": settings.broker,
        "HUB_PII_KEY": settings.pii_key.get_secret_value(),
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_APP_ID": settings.app_id,
        "HUB_CONSOLE_PORT": str(settings.console_port),
        "HUB_CONSOLE_BIND": settings.console_bind,
    }
    parent = os.getpid()
    with log_file.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "petition_hub", "console", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=lambda: _die_with_parent(parent),
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop the console (SIGTERM: it leaves its consumer group), then kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def banner_lines(settings: Settings) -> list[str]:
    """What dev's banner says of the console."""
    names = " ".join(DEMO_ACCOUNTS)
    return [
        f"  console  http://{settings.console_bind}:{settings.console_port}/",
        f"           accounts {names}, password {DEMO_PASSWORD}",
    ]
