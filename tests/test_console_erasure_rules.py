"""The projection's erasure rules on hand-made records (no broker; the records a real worker and
eraser write are in ``test_console_erasure_e2e.py``), on SQLite and PostgreSQL: once the hub
erases a petition (``hub.privacy`` ``erasure_due`` / ``erased``), the console's rows hold none of
its personal data, keep its non-personal history (states, deadlines, units), and are the same
whatever the order the topics are read in: an erasure projected before the petition's own
records (a tombstone) holds against them."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from consoletest import snapshot
from pgtest import postgres_server, postgres_url  # noqa: F401
from sqlalchemy import Engine, LargeBinary, String, Text, select
from test_console_projection_rules import AT, NAME, PHONE, PID, apply, rec, story

from petition_hub import schemas
from petition_hub.console.models import PROJECTED, Event, ExtensionRequest, Petition, PetitionUnit
from petition_hub.console.projection import Record
from petition_hub.console.store import make_engine, migrate, session_factory
from petition_hub.schemas import codec


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'console.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    e = make_engine(url)
    migrate(e)
    yield e
    e.dispose()


#: A name the masker does not know (not the contact's), in a unit's reply: only erasure drops it.
QUOTED = "李秀英"


def privacy(kind: str, offset: int, **changes: Any) -> Record:
    record = codec.privacy_event_record(
        PID,
        kind,
        "REQUEST",
        AT + timedelta(days=2, minutes=offset),
        reference="GD-2026-0042",
        requested_by="ops-li",
        fields=("petitioner.contact_name", "petitioner.phone", "content")
        if kind == "erased"
        else (),
    )
    value = schemas.encode(codec.PRIVACY_EVENT_V1, {**record, **changes})
    return rec("hub.privacy", offset, value, ce_id=f"{PID}@{kind}")


def erasure() -> list[Record]:
    return [privacy("erasure_requested", 0), privacy("erasure_due", 1), privacy("erased", 2)]


def handled() -> list[Record]:
    """The story, with a reply quoting the petitioner by a name of their own (not the
    contact's) and a refused event."""
    reply = schemas.encode(
        "cn.gov.pds.hub.UnitStatus.v4",
        {
            "petitionId": PID,
            "kind": "REPLIED",
            "at": AT + timedelta(days=1),
            "replyText": f"{QUOTED}女士：留抵退税已办理。",
            "replyKind": "RESOLVED",
            "author": "tax1",
        },
    )
    rejection = schemas.encode(
        "cn.gov.pds.hub.Rejection.v1",
        {
            "sourceTopic": "dept.TAX.status",
            "sourcePartition": 0,
            "sourceOffset": 0,
            "petitionId": PID,
            "reason": "wrong_state",
            "message": f"reply to {QUOTED} before sign-for",
            "rejectedAt": AT + timedelta(days=1),
            "original": None,
        },
    )
    return [
        *story(),
        rec("dept.TAX.status", 0, reply, ce_id=None),
        rec("hub.rejects", 0, rejection),
    ]


def _planted(engine: Engine) -> list[str]:
    """Every text cell of the projected tables holding a planted value, and every sealed one."""
    found = []
    with session_factory(engine)() as s:
        for model in PROJECTED:
            table = model.__table__
            for c in table.columns:
                for (value,) in s.execute(select(c).where(c.is_not(None))):
                    if isinstance(c.type, LargeBinary):
                        found.append(f"{table.name}.{c.name}: sealed")
                    elif isinstance(c.type, String | Text) and any(
                        x in value for x in (NAME, PHONE, QUOTED, "留抵退税")
                    ):
                        found.append(f"{table.name}.{c.name}: {value}")
    return found


def test_an_erased_petition_keeps_its_history_without_its_personal_data(engine: Engine) -> None:
    apply(engine, handled())
    assert _planted(engine), "the story plants nothing: the test would prove nothing"
    apply(engine, erasure())
    assert _planted(engine) == []
    with session_factory(engine)() as s:
        p = s.get(Petition, PID)
        assert p is not None
        assert (p.erased_at, p.erasure_reason) == (AT + timedelta(days=2, minutes=1), "REQUEST")
        assert (p.title, p.content, p.contact_sealed, p.routing_explanation) == (None,) * 4
        # what is no personal data stays: state, lead, deadlines, units, the enterprise
        assert (p.state, p.lead_unit, p.overdue, p.supervision) == (
            "signed_for",
            "dept.TAX",
            True,
            "overdue",
        )
        assert p.resolve_deadline == AT + timedelta(days=24)
        assert p.enterprise_name == "平顶山市某某有限公司" and p.channel_ref == "12345-0001"
        units = {(u.unit, u.role) for u in s.scalars(select(PetitionUnit))}
        assert units == {("dept.TAX", "LEAD"), ("county.410402", "CO_HANDLER")}
        (ext,) = s.scalars(select(ExtensionRequest))
        assert (ext.days, ext.decision, ext.decided_by, ext.reason, ext.note) == (
            3,
            "approved",
            "office-zhang",
            None,
            None,
        )
        history = {e.kind: (e.author, e.text, e.reason) for e in s.scalars(select(Event))}
    assert history["status.REPLIED"] == ("tax1", None, "RESOLVED")
    assert history["privacy.erased"] == (
        "ops-li",
        "petitioner.contact_name, petitioner.phone, content",
        "REQUEST",
    )
    assert history["privacy.erasure_requested"] == ("ops-li", "GD-2026-0042", "REQUEST")
    assert {"state_changed", "extension_answered", "sla.resolve.overdue"} <= history.keys()


def test_an_erasure_read_first_holds_against_what_comes_later(engine: Engine) -> None:
    """hub.privacy read ahead of the unit topics (or the only one read so far): the erasure
    leaves a tombstone row, and the petition's records projected after it bring no personal data
    in; applying the erasure again changes nothing."""
    apply(engine, erasure())
    with session_factory(engine)() as s:
        p = s.get(Petition, PID)
        assert p is not None and p.erased_at is not None, "no tombstone"
    for r in handled():
        apply(engine, [r])
    assert _planted(engine) == []
    once = snapshot(engine)
    once.pop("consumed_offsets")
    again = [
        Record(r.topic, r.partition, r.offset + 3, r.key, r.value, r.headers) for r in erasure()
    ]
    assert apply(engine, again).records == 0  # the same event ids, written again
    after = snapshot(engine)
    after.pop("consumed_offsets")
    assert after == once


@pytest.mark.parametrize("seed", range(3))
def test_the_order_of_the_topics_does_not_matter(tmp_path: Path, seed: int) -> None:
    """Each topic's records in order, the topics interleaved at random, one batch per record:
    the same rows as all of them in one batch (what ``console rebuild`` does)."""
    records = [*handled(), *erasure()]
    by_topic: dict[str, list[Record]] = {}
    for r in records:
        by_topic.setdefault(r.topic, []).append(r)
    rng = random.Random(seed)
    snapshots = []
    for i in range(3):
        queues = {t: list(rs) for t, rs in by_topic.items()}
        e = make_engine(f"sqlite:///{tmp_path / f'{seed}-{i}.db'}")
        migrate(e)
        while any(queues.values()):
            t = rng.choice([t for t, q in queues.items() if q])
            apply(e, [queues[t].pop(0)])
        assert _planted(e) == []
        snap = snapshot(e)
        snap.pop("consumed_offsets")
        snapshots.append(snap)
        e.dispose()
    e = make_engine(f"sqlite:///{tmp_path / f'{seed}-all.db'}")
    migrate(e)
    apply(e, records)
    whole = snapshot(e)
    whole.pop("consumed_offsets")
    e.dispose()
    for a, b in itertools.pairwise([whole, *snapshots]):
        assert a == b


def test_a_request_alone_erases_nothing(engine: Engine) -> None:
    """``erasure_requested`` is the operator's ask, which the hub may refuse: history only."""
    apply(engine, [*handled(), privacy("erasure_requested", 0)])
    with session_factory(engine)() as s:
        p = s.get(Petition, PID)
        assert p is not None and p.erased_at is None and p.contact_sealed is not None
