"""Helpers of the console's web tests: a console on a fresh SQLite read model, accounts of each
role, petitions in the read model as the projection leaves them, and signing in as a browser
does (the CSRF token from the form)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hubtest import TEST_API_TOKEN, TEST_PII_KEY, pii_cipher, run_hub, stop_process, wait_until
from petition_hub.broker.embedded import EmbeddedBroker, free_port
from petition_hub.console.actions import Outbound, Sender
from petition_hub.console.app import Console, ReportSource, create_app
from petition_hub.console.models import ExtensionRequest, Petition, PetitionUnit, Refusal, User
from petition_hub.console.sealing import seal_personal
from petition_hub.console.serve import build_console
from petition_hub.console.store import database_url, make_engine, migrate, transaction
from petition_hub.service.settings import Settings

PASSWORD = "correct horse battery"
#: The accounts every test console has: username → (role, unit).
ACCOUNTS: dict[str, tuple[str, str | None]] = {
    "office1": ("office", None),
    "tax1": ("unit", "dept.TAX"),
    "hud1": ("unit", "dept.HUD"),
    "county1": ("unit", "county.410402"),
    "leader1": ("leadership", None),
    "ops1": ("operator", None),
}
#: Now, for the tests: a Monday morning in the city (01:30 UTC is 09:30 in Beijing).
NOW = datetime(2026, 6, 1, 1, 30, tzinfo=UTC)


def refuse_to_send(records: Sequence[Outbound]) -> Any:
    """The sender of a test that must send nothing: it fails the test if called."""
    raise AssertionError(f"nothing should have been sent, but {len(records)} record(s) were")


@dataclass
class ConsoleUnderTest:
    console: Console
    app: Any
    clock: list[datetime] = field(default_factory=lambda: [NOW])

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)


def make_console(
    tmp_path: Path,
    send: Sender | None = None,
    report: ReportSource | None = None,
    broker: str | None = None,
    database: str | None = None,
    **settings: Any,
) -> ConsoleUnderTest:
    """A console on a fresh, migrated database (``database``: a URL; default an SQLite file in
    ``tmp_path``), with :data:`ACCOUNTS`."""
    if database is not None:
        settings["console_database_url"] = SecretStr(database)
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "pii_key": SecretStr(TEST_PII_KEY),
        "api_tokens": SecretStr(TEST_API_TOKEN),
        "broker": broker,
        **settings,
    }
    s = Settings(**values)
    engine = make_engine(database_url(s))
    migrate(engine)
    console = build_console(s, engine, send=send or refuse_to_send, report=report)
    under = ConsoleUnderTest(console, create_app(console))
    console.clock = lambda: under.clock[0]
    with transaction(console.db) as db:
        for name, (role, unit) in ACCOUNTS.items():
            # argon2 is slow on purpose: hash the tests' password once (add_user is the CLI's
            # and test_console_users_cli's)
            db.add(
                User(
                    username=name,
                    password_hash=_hash(),
                    role=role,
                    unit=unit,
                    disabled=False,
                    created_at=NOW,
                )
            )
    return under


@cache
def _hash() -> str:
    return PasswordHasher().hash(PASSWORD)


def add_petition(
    console: Console,
    pid: str,
    *,
    state: str = "routed",
    lead: str | None = "dept.TAX",
    co: Sequence[str] = (),
    routed_at: datetime | None = None,
    received_at: datetime | None = None,
    contact: dict[str, str] | None = None,
    extension: tuple[int, str] | None = None,
    refusal: tuple[str, str, str] | None = None,
    **columns: Any,
) -> None:
    """A petition as the projection leaves it (routed to ``lead`` and ``co``)."""
    received = received_at or NOW - timedelta(hours=1)
    routed = routed_at or received
    values: dict[str, Any] = {
        "channel": "HOTLINE",
        "channel_ref": f"ref-{pid}",
        "petition_type": "政策咨询",
        "urgency": "normal",
        "theme": "T01",
        "theme_name": "税费",
        "county": "410402",
        "location_name": "新华区",
        "title": f"诉求 {pid}",
        "content": "企业咨询留抵退税",
        "enterprise_name": "平顶山某有限公司",
        "state": state,
        "lead_unit": lead,
        "co_units": list(co),
        "received_at": received,
        "routed_at": routed if state != "triage" else None,
        "resolve_deadline": received + timedelta(days=10),
        "sign_for_deadline": routed + timedelta(days=1),
        "contact_sealed": None if contact is None else seal_personal(pii_cipher(), contact),
        "updated_at": routed,
        "state_at": routed,
    }
    row = Petition(petition_id=pid, **(values | columns))
    with transaction(console.db) as db:
        db.add(row)
        if lead is not None:
            db.add(PetitionUnit(petition_id=pid, unit=lead, role="LEAD", current=True))
        for unit in co:
            db.add(PetitionUnit(petition_id=pid, unit=unit, role="CO_HANDLER", current=True))
        if extension is not None:
            days, reason = extension
            db.add(
                ExtensionRequest(
                    petition_id=pid,
                    requested_at=NOW - timedelta(minutes=5),
                    unit=lead,
                    days=days,
                    reason=reason,
                )
            )
        if refusal is not None:
            kind, reason, message = refusal
            db.add(
                Refusal(
                    source_topic=f"{lead}.petitions",
                    source_partition=0,
                    source_offset=7,
                    petition_id=pid,
                    unit=lead,
                    event_kind=kind,
                    reason=reason,
                    message=message,
                    at=NOW,
                )
            )


_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, f"no CSRF token in the page: {html[:300]}"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; the session's CSRF token."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    me = client.get("/api/me")
    assert me.status_code == 200, me.text
    token: str = me.json()["csrf_token"]
    return token


def signed_in(under: ConsoleUnderTest, username: str) -> tuple[TestClient, str]:
    client = under.client()
    return client, sign_in(client, username)


@contextmanager
def serve_console(
    broker: EmbeddedBroker,
    tmp_path: Path,
    accounts: Sequence[tuple[str, str, str | None]],
    **settings: str,
) -> Iterator[str]:
    """``petition-hub console serve`` (with its projector) on ``broker`` in a subprocess, with
    ``accounts`` (username, role, unit) made by ``console users add`` and ``settings`` (more
    environment: ``HUB_CONSOLE_METRICS_PORT=...``); yields its URL once ``/health`` answers,
    stops it after."""
    env = {
        **os.environ,
        "HUB_BROKER": broker.url,
        "HUB_DATA_DIR": str(tmp_path / "console"),
        "HUB_PII_KEY": TEST_PII_KEY,
        "HUB_API_TOKENS": TEST_API_TOKEN,
        "HUB_APP_ID": f"console-test-{uuid.uuid4().hex[:6]}",
        "HUB_CONSOLE_PORT": str(free_port()),
        **settings,
    }
    for name, role, unit in accounts:
        args = ["console", "users", "add", name, "--role", role, "--password", PASSWORD]
        done = run_hub(*args, *(["--unit", unit] if unit else []), env=env)
        assert done.returncode == 0, done.stderr
    listed = run_hub("console", "users", "list", "--json", env=env)
    assert sorted(u["username"] for u in json.loads(listed.stdout)) == sorted(
        a[0] for a in accounts
    ), listed.stdout
    log_path = Path(env["HUB_DATA_DIR"]) / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "petition_hub", "console", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{env['HUB_CONSOLE_PORT']}"

        def healthy() -> bool:
            assert proc.poll() is None, log_path.read_text()
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(healthy, 90, what="the console's /health")
            yield url
        finally:
            stop_process(proc)
