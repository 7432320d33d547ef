"""The projection's rules on hand-made records (no broker), on SQLite and PostgreSQL: personal
data only sealed, each event once, the same rows whatever the order the topics are read in, no
gap stepped over, and a refusal reported twice is one row."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from consoletest import snapshot
from pgtest import postgres_server, postgres_url  # noqa: F401
from sqlalchemy import Engine, String, Text, select

from hubtest import TEST_PII_KEY
from petition_hub import schemas
from petition_hub.console.apply import Item, apply_batch
from petition_hub.console.models import PROJECTED, ExtensionRequest, Petition, PetitionUnit, Refusal
from petition_hub.console.projection import Record, project
from petition_hub.console.sealing import open_personal
from petition_hub.console.store import make_engine, migrate, session_factory
from petition_hub.service.crypto import PiiCipher

CIPHER = PiiCipher(TEST_PII_KEY)
PID = "PH-TESTCONSOLE0000000001"
AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
PHONE, NAME = "13912345678", "王小明"


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


def unit_petition(role: str = "LEAD", routed_at: datetime = AT, **changes: Any) -> bytes:
    record: dict[str, Any] = {
        "petitionId": PID,
        "revision": 0,
        "channel": "HOTLINE",
        "channelRef": "12345-0001",
        "role": role,
        "leadUnit": None if role == "TRIAGE" else "dept.TAX",
        "coUnits": [] if role == "TRIAGE" else ["county.410402"],
        "receivedAt": AT - timedelta(hours=1),
        "routedAt": routed_at,
        "petitionType": "政策咨询",
        "urgency": "NORMAL",
        "title": "留抵退税咨询",
        "content": f"我是{NAME}，电话{PHONE}，想咨询留抵退税。",
        "locationKind": "county",
        "locationCode": "410402",
        "locationName": "新华区",
        "enterpriseName": "平顶山市某某有限公司",
        "enterpriseUscc": "91410400MA0000000X",
        "contactName": NAME,
        "contactPhone": PHONE,
        "identityWithheld": False,
        "sensitive": False,
        "attachments": [],
        "signForDeadline": AT + timedelta(days=1),
        "resolveDeadline": AT + timedelta(days=20),
        "provincialDeadline": None,
        "deadlineNote": None,
        "signForDeadlineProvisional": False,
        "resolveDeadlineProvisional": False,
        "repeatOf": None,
        "rulesVersion": "test",
        "theme": "T16",
        "themeName": "税收",
        "keywords": [],
        "routingRule": "theme",
        "locationSource": "text",
        "excludedUnits": [],
        "reason": None,
        "explanation": "税收 → dept.TAX",
        **changes,
    }
    return schemas.encode("cn.gov.pds.hub.UnitPetition.v3", record)


def lifecycle(kind: str, at: datetime, to_state: str | None = None, **changes: Any) -> bytes:
    record: dict[str, Any] = {
        "eventId": "x",
        "petitionId": PID,
        "kind": kind,
        "at": at,
        "fromState": None,
        "toState": to_state,
        "cause": None,
        "unit": "dept.TAX",
        "leadUnit": "dept.TAX",
        "closure": None,
        "satisfaction": None,
        "round": 0,
        "channel": "HOTLINE",
        "petitionType": "政策咨询",
        "deadline": AT + timedelta(days=20),
        "deadlineProvisional": False,
        "extensionDays": None,
        "approved": None,
        "note": None,
        "replyKind": None,
        "disputeOutcome": None,
        "ratedAt": None,
        "repeatOf": None,
        "repeatId": None,
        "repeatChannel": None,
        "repeatRef": None,
        **changes,
    }
    return schemas.encode("cn.gov.pds.hub.LifecycleEvent.v5", record)


def sla(
    signal: str, at: datetime, round_: int = 0, deadline: datetime = AT + timedelta(days=20)
) -> bytes:
    return schemas.encode(
        "cn.gov.pds.hub.SlaEvent.v2",
        {
            "eventId": "x",
            "petitionId": PID,
            "clock": "resolve",
            "signal": signal,
            "at": at,
            "deadline": deadline,
            "round": round_,
            "unit": "dept.TAX",
            "channel": "HOTLINE",
            "petitionType": "政策咨询",
            "urgency": "NORMAL",
            "deadlineProvisional": False,
            "previousDeadline": None,
        },
    )


def rec(
    topic: str, offset: int, value: bytes, ce_id: str | None = None, partition: int = 0
) -> Record:
    headers = [("ce_id", (ce_id or f"{topic}/{offset}").encode())]
    return Record(topic, partition, offset, PID.encode(), value, headers)


def apply(engine: Engine, records: list[Record]) -> Any:
    """One batch of ``records`` (each partition's next offset after its last)."""
    items = [Item(r.topic, r.partition, r.offset, project(r, CIPHER)) for r in records]
    ends: dict[tuple[str, int], int] = {}
    for r in records:
        ends[(r.topic, r.partition)] = max(ends.get((r.topic, r.partition), 0), r.offset + 1)
    with session_factory(engine)() as s, s.begin():
        return apply_batch(s, items, ends, {})


def story() -> list[Record]:
    """A petition's records on four topics: routed to the tax bureau (lead) and a county
    (co-handler), signed for, extension asked, approved by the office, overdue."""
    return [
        rec("dept.TAX.petitions", 0, unit_petition("LEAD")),
        rec("county.410402.petitions", 0, unit_petition("CO_HANDLER")),
        rec("hub.lifecycle", 0, lifecycle("state_changed", AT, "routed", fromState="received")),
        rec("hub.lifecycle", 1, lifecycle("state_changed", AT + timedelta(hours=1), "signed_for")),
        rec(
            "hub.lifecycle",
            2,
            lifecycle(
                "extension_requested", AT + timedelta(hours=2), extensionDays=3, note="需协调"
            ),
        ),
        rec(
            "office.decisions",
            0,
            schemas.encode(
                "cn.gov.pds.hub.OfficeDecision.v2",
                {
                    "petitionId": PID,
                    "kind": "EXTENSION_APPROVED",
                    "leadUnit": None,
                    "coUnits": [],
                    "extensionDays": 3,
                    "note": "同意",
                    "decidedBy": "office-zhang",
                    "decidedAt": AT + timedelta(hours=3),
                },
            ),
            ce_id=None,
        ),
        rec(
            "hub.lifecycle",
            3,
            lifecycle(
                "extension_answered",
                AT + timedelta(hours=3),
                extensionDays=3,
                approved=True,
                deadline=AT + timedelta(days=23),
            ),
        ),
        rec("hub.sla", 0, sla("started", AT, deadline=AT + timedelta(days=1))),
        # the official calendar arrives: the resolve deadline moves with no lifecycle event
        rec(
            "hub.sla",
            1,
            sla("deadline_changed", AT + timedelta(hours=5), deadline=AT + timedelta(days=24)),
        ),
        rec("hub.sla", 2, sla("overdue", AT + timedelta(days=24))),
    ]


def test_personal_data_is_sealed_and_nowhere_else(engine: Engine) -> None:
    apply(engine, story())
    with session_factory(engine)() as s:
        p = s.get(Petition, PID)
        assert p is not None
        assert PHONE not in (p.content or "") and NAME not in (p.content or ""), p.content
        assert open_personal(CIPHER, p.contact_sealed) == {
            "contactName": NAME,
            "contactPhone": PHONE,
            "content": f"我是{NAME}，电话{PHONE}，想咨询留抵退税。",
        }
        assert p.enterprise_name == "平顶山市某某有限公司", "the enterprise is no personal data"
        for model in PROJECTED:
            text_columns = [c for c in model.__table__.columns if isinstance(c.type, String | Text)]
            for row in s.execute(select(*text_columns)):
                for value in row:
                    assert value is None or (PHONE not in value and NAME not in value), (
                        f"{model.__tablename__}: {value}"
                    )


def test_the_story_projects_what_happened(engine: Engine) -> None:
    apply(engine, story())
    with session_factory(engine)() as s:
        p = s.get(Petition, PID)
        assert p is not None
        assert (p.state, p.lead_unit, p.overdue, p.supervision) == (
            "signed_for",
            "dept.TAX",
            True,
            "overdue",
        )
        assert p.resolve_deadline == AT + timedelta(days=24), p.resolve_deadline
        units = {(u.unit, u.role, u.current) for u in s.scalars(select(PetitionUnit))}
        assert units == {("dept.TAX", "LEAD", True), ("county.410402", "CO_HANDLER", True)}
        (ext,) = s.scalars(select(ExtensionRequest))
        assert (ext.unit, ext.days, ext.decision, ext.decided_by, ext.note) == (
            "dept.TAX",
            3,
            "approved",
            "office-zhang",
            "同意",
        )


def test_each_event_applies_once(engine: Engine) -> None:
    records = story()
    first = apply(engine, records)
    once = snapshot(engine)
    # the same records again: below the stored offsets
    again = apply(engine, records)
    # the same events written again after them (a redelivery: same ce_id, offsets of its own)
    count = Counter(r.topic for r in records)
    later = [
        Record(r.topic, r.partition, r.offset + count[r.topic], r.key, r.value, r.headers)
        for r in records
        if r.topic != "office.decisions"  # no ce_id: its place is its id
    ]
    moved = apply(engine, later)
    assert (first.records, again.records, moved.records) == (len(records), 0, 0)
    after = snapshot(engine)
    assert after.pop("consumed_offsets") != once.pop("consumed_offsets")
    assert after == once


@pytest.mark.parametrize("seed", range(3))
def test_the_order_of_the_topics_does_not_matter(tmp_path: Path, seed: int) -> None:
    """The records of each topic in order, the topics interleaved in several ways, one batch
    per record: the same rows (and the same as all in one batch)."""
    import random

    records = story()
    by_topic: dict[str, list[Record]] = {}
    for r in records:
        by_topic.setdefault(r.topic, []).append(r)
    rng = random.Random(seed)
    orders = []
    for _ in range(4):
        queues = {t: list(rs) for t, rs in by_topic.items()}
        order = []
        while any(queues.values()):
            t = rng.choice([t for t, q in queues.items() if q])
            order.append(queues[t].pop(0))
        orders.append(order)
    snapshots = []
    for i, order in enumerate(orders):
        e = make_engine(f"sqlite:///{tmp_path / f'{seed}-{i}.db'}")
        migrate(e)
        for r in order:
            apply(e, [r])
        snap = snapshot(e)
        snap.pop("consumed_offsets")
        snapshots.append(snap)
    e = make_engine(f"sqlite:///{tmp_path / f'{seed}-all.db'}")
    migrate(e)
    apply(e, records)
    whole = snapshot(e)
    whole.pop("consumed_offsets")
    for a, b in itertools.pairwise([whole, *snapshots]):
        assert a == b


def test_no_gap_is_stepped_over(engine: Engine) -> None:
    records = story()
    apply(engine, records[:3])  # lifecycle offset 0 applied: it goes on from 1
    skipping = [r for r in records if r.topic == "hub.lifecycle" and r.offset >= 2]
    done = apply(engine, skipping)
    assert done.records == 0 and done.reseek == {("hub.lifecycle", 0): 1}, done
    with session_factory(engine)() as s:
        p = s.get(Petition, PID)
        assert p is not None and p.state == "routed", "offset 2 applied before offset 1"


def test_a_refusal_told_twice_is_one_row_whichever_comes_first(engine: Engine) -> None:
    notice = schemas.encode(
        "cn.gov.pds.hub.UnitNotice.v3",
        {
            "eventId": "n",
            "petitionId": PID,
            "kind": "event_refused",
            "clock": None,
            "deadline": None,
            "at": AT,
            "message": "Your REPLIED event was not applied: sign for it first.",
            "deadlineProvisional": False,
            "previousDeadline": None,
            "sourceTopic": "dept.TAX.status",
            "sourcePartition": 1,
            "sourceOffset": 7,
            "eventKind": "REPLIED",
            "eventRef": "e-1",
            "reason": "wrong_state",
            "fromUnit": None,
        },
    )
    rejection = schemas.encode(
        "cn.gov.pds.hub.Rejection.v1",
        {
            "sourceTopic": "dept.TAX.status",
            "sourcePartition": 1,
            "sourceOffset": 7,
            "petitionId": PID,
            "reason": "wrong_state",
            "message": "reply in state routed",
            "rejectedAt": AT,
            "original": None,
        },
    )
    rows = []
    first = [rec("dept.TAX.petitions", 0, notice), rec("hub.rejects", 0, rejection)]
    then = [rec("hub.rejects", 1, rejection, "r2"), rec("dept.TAX.petitions", 1, notice, "n2")]
    for pair in (first, then):
        with session_factory(engine)() as s, s.begin():
            for row in s.scalars(select(Refusal)):
                s.delete(row)
        for r in pair:
            apply(engine, [r])
        with session_factory(engine)() as s:
            (row,) = s.scalars(select(Refusal))
            rows.append((row.unit, row.event_kind, row.event_ref, row.reason, row.message))
    assert (
        rows[0]
        == rows[1]
        == (
            "dept.TAX",
            "REPLIED",
            "e-1",
            "wrong_state",
            "Your REPLIED event was not applied: sign for it first.",
        )
    )
