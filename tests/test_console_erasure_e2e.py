"""The console erases what the hub erases, on records a real worker wrote (embedded broker), on
SQLite and PostgreSQL.

A 12345 work order from an enterprise whose contact (王强, 13937500001) did not ask for
confidentiality (so the handling unit may see the contact) is routed by the worker; the projector
(``console project``, a process of its own) brings it into the read model, where the office opens
the sealed contact through the API; the lead unit's own system signs for it with a note naming
the contact. Then ``petition-hub privacy erase`` asks the hub to
erase the petition's personal data, the worker's routing stage orders it and its eraser writes
``erased`` on ``hub.privacy``; afterwards the console's database rows (read raw, not through the
API) hold no personal data of the petition, its state, deadlines and units stay, the API and the
page say it was erased, and ``console rebuild`` from the topics gives the same rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from consoletest import (
    console_env,
    differences,
    run_console,
    snapshot,
    start_projector,
    stop_projector,
    wait_projected,
)
from pgtest import postgres_server, postgres_url  # noqa: F401
from sqlalchemy import LargeBinary, String, Text, select
from sqlalchemy.orm import Session, sessionmaker

from hubtest import WorkerProcess, hub_cli, produce, wait_until
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.console.models import PROJECTED, Event, Petition, PetitionUnit
from petition_hub.console.store import make_engine, session_factory
from petition_hub.domain.petition import Channel, petition_id_for
from webconsole import make_console, signed_in

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
#: The work order's contact.
CONTACT = ("王强", "13937500001")
#: What the petition's texts say (masked in the plain columns, but the petitioner's words).
CONTENT = "每次停电都不提前通知"


def work_order(gdbh: str) -> bytes:
    """A 12345 work order (received now), the contact's name and phone in its text too."""
    body = {
        "GDBH": gdbh,
        "XGCS": 0,
        "SLSJ": datetime.now(BJ).strftime("%Y-%m-%d %H:%M:%S"),
        "LDRXM": CONTACT[0],
        "LDHM": CONTACT[1],
        "QYMC": "平顶山市鹰城精密机械有限公司",
        "TYSHXYDM": "91410402MA0011870T",
        "SQLB": "投诉",
        "SQBT": "频繁停电",
        "SQNR": f"我是{CONTACT[0]}，最近一个月工厂停电六次，{CONTENT}，请回电{CONTACT[1]}。",
        "SSQX": "新华区",
        "XZQHDM": "410402",
        "JJCD": "一般",
        "SFBM": "0",
        "FJ": [],
    }
    return json.dumps(body, ensure_ascii=False).encode()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_an_erasure_by_the_hub_leaves_no_personal_data_in_the_console(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    db: str,
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'console.db'}"
        if db == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    start_worker(hub_topics, HUB_LIFECYCLE_PARK_SECONDS="2")
    under = make_console(tmp_path, database=url)  # migrates; the office's account
    env = console_env(hub_topics.url, f"console-{uuid.uuid4().hex[:6]}", url, tmp_path / "c")
    engine = make_engine(url)
    factory = session_factory(engine)
    projector = start_projector(env, tmp_path / "projector.log")
    try:
        gdbh = f"12345-410400-20261220-{uuid.uuid4().int % 1_000_000:06d}"
        pid = petition_id_for(Channel.HOTLINE, gdbh)
        produce(
            hub_topics.bootstrap, "hotline12345.workorders", [(gdbh.encode(), work_order(gdbh), ())]
        )

        def row() -> Petition | None:
            with factory() as s:
                return s.get(Petition, pid)

        routed = wait_until(
            lambda: (p := row()) is not None and p.contact_sealed is not None and p.lead_unit and p,
            120,
            what=f"{pid} routed, with its sealed contact, in the console",
        )
        lead = routed.lead_unit
        office, _ = signed_in(under, "office1")
        seen = office.get(f"/api/petitions/{pid}/contact")
        assert seen.status_code == 200, seen.text
        contact = seen.json()["contact"]
        assert (contact["contactName"], contact["contactPhone"]) == CONTACT, contact

        # the lead unit's own system signs for it, its note naming the contact
        status = schemas.encode(
            "cn.gov.pds.hub.UnitStatus.v4",
            {
                "petitionId": pid,
                "kind": "SIGNED_FOR",
                "at": datetime.now(BJ),
                "note": f"已电话联系{CONTACT[0]}",
                "author": "unit-sys",
            },
        )
        produce(hub_topics.bootstrap, f"{lead}.status", [(pid.encode(), status, ())])
        wait_until(
            lambda: (p := row()) is not None and p.state == "signed_for",
            120,
            what=f"{pid} signed for in the console",
        )
        assert _personal(factory, pid), "nothing planted in the console: the test proves nothing"

        out = hub_cli(
            hub_topics.url, tmp_path / "cli", "privacy", "erase", pid, "--reference", "GD-0042"
        )
        assert f"{pid}: personal data erased" in out, out
        wait_until(
            lambda: (p := row()) is not None and p.erased_at is not None,
            120,
            what=f"{pid} erased in the console",
        )
        wait_projected(env, engine, [projector], timeout=120)  # the eraser's record too
    finally:
        stop_projector(projector)

    assert _personal(factory, pid) == []
    with factory() as s:
        p = s.get(Petition, pid)
        assert p is not None
        assert (p.title, p.content, p.contact_sealed, p.routing_explanation) == (None,) * 4
        assert (p.state, p.lead_unit, p.erasure_reason) == ("signed_for", lead, "REQUEST")
        assert p.resolve_deadline is not None and p.sign_for_deadline is not None
        units = set(s.scalars(select(PetitionUnit.unit).where(PetitionUnit.petition_id == pid)))
        assert lead in units, units
        kinds = set(s.scalars(select(Event.kind).where(Event.petition_id == pid)))
    assert {"privacy.erasure_requested", "privacy.erasure_due", "privacy.erased"} <= kinds, kinds
    assert {"routed_to_unit", "status.SIGNED_FOR", "state_changed"} <= kinds, kinds

    seen = office.get(f"/api/petitions/{pid}/contact")
    assert seen.status_code == 200 and seen.json()["contact"] is None, seen.text
    page = office.get(f"/petitions/{pid}")
    assert page.status_code == 200 and "已删除" in page.text, page.text[:500]
    assert CONTACT[1] not in page.text and CONTENT not in page.text

    # rebuilt from the topics: the erasure is read with everything before it, the same rows
    before = snapshot(engine)
    run_console(env, "rebuild", "--json")
    diff = differences(before, snapshot(engine), engine)
    assert not diff, "the rebuild differs from the projection:\n" + "\n".join(diff)
    assert _personal(factory, pid) == []
    engine.dispose()


def _personal(factory: sessionmaker[Session], pid: str) -> list[str]:
    """The cells of the projected tables that hold the petition's personal data: a sealed value
    of its row, or a text naming the contact, the phone or quoting its content."""
    found: list[str] = []
    with factory() as s:
        for model in PROJECTED:
            table = model.__table__
            if "petition_id" not in table.columns:
                continue
            for c in table.columns:
                where = (table.columns["petition_id"] == pid, c.is_not(None))
                for (value,) in s.execute(select(c).where(*where)):
                    if isinstance(c.type, LargeBinary):
                        found.append(f"{table.name}.{c.name}: sealed")
                    elif isinstance(c.type, String | Text) and any(
                        x in value for x in (*CONTACT, CONTENT)
                    ):
                        found.append(f"{table.name}.{c.name}: {value}")
    return found
