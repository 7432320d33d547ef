"""Input sanity (issue 11, defects 4 and 7), without a broker.

4. A time a petition's SLA clocks count from (receipt, an edit's receipt, the province's deadline)
   outside the hub's window (before 2000, or received more than a day after the hub's clock) is a
   dead letter ``bad_value`` naming the field, not a petition that makes routing overflow later
   (a dispatch received at 9999-12-31T23:00Z ended on hub.rejects as ``internal``).
7. A unit status event whose Kafka key is not its petitionId is refused (``key_mismatch`` on
   hub.rejects), not re-keyed as if it were the petition's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import faust
import pytest

from hubtest import TEST_PII_KEY, court_dispatch, pii_cipher, set_clock
from petition_hub import schemas
from petition_hub.agents import intake
from petition_hub.agents.intake import DEADLETTER_TOPIC, PETITIONS_TOPIC, IntakeProcessor
from petition_hub.agents.rekeyers import StatusRekeyer
from petition_hub.agents.routing import LiveRules, RoutingProcessor
from petition_hub.data import load_samples
from petition_hub.domain.petition import petition_id_for
from petition_hub.domain.validation import (
    DEADLINE_MAX_AHEAD,
    EARLIEST_TIME,
    RECEIPT_MAX_AHEAD,
    TimeOutOfRange,
    check_times,
)
from petition_hub.runtime.deadletter import DeadLetter, unseal
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.service.app import faust_settings
from petition_hub.service.clock import FileClock
from petition_hub.service.settings import Settings
from petition_hub.topics.names import REJECTS

#: The hub's clock in these tests.
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
BJ = timedelta(hours=8)
END_OF_TIME = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)


def _processor(topic: str, now: datetime = NOW) -> IntakeProcessor:
    channel = next(c for c in intake.channels() if c.topic == topic)
    return IntakeProcessor(channel, pii_cipher(), clock=lambda: now)


def _intake(
    topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]] = ()
) -> list[Output]:
    src = SourceRecord(topic, 0, 7, key, value, tuple(headers))
    return list(_processor(topic)(src, PartitionState()))


def _dead_letter(outputs: list[Output]) -> DeadLetter:
    assert [o.topic for o in outputs] == [DEADLETTER_TOPIC]
    return unseal(outputs[0].key, outputs[0].value or b"", pii_cipher())


def _hotline(**changes: Any) -> tuple[bytes, bytes]:
    sample = load_samples()["hotline-financing.json"]
    order = json.loads(sample.value)
    order.update(changes)
    return sample.key, json.dumps(order, ensure_ascii=False).encode()


def _appeal(**changes: Any) -> tuple[bytes, bytes]:
    sample = load_samples()["miniprogram-v2-enterprise.json"]
    appeal = json.loads(sample.value)
    appeal.update(changes)
    return sample.key, json.dumps(appeal, ensure_ascii=False).encode()


def _dispatch_v2(received: datetime, deadline: datetime | None) -> tuple[bytes, bytes]:
    sample = load_samples()["province-v2-deadline.avro.bin"]
    _, record = schemas.decode(sample.value)
    record.update(receivedAt=received, provincialDeadline=deadline)
    return sample.key, schemas.encode(102, record)


def _local(at: datetime) -> str:
    """``at`` as a 12345 ``SLSJ`` (Asia/Shanghai wall clock)."""
    return f"{(at + BJ):%Y-%m-%d %H:%M:%S}"


# --- defect 4: the time window, at intake -----------------------------------------------------


def test_the_dispatch_of_the_issue_is_a_dead_letter_not_a_petition() -> None:
    """The report: a dispatch received at 9999-12-31T23:00Z passed intake and made routing
    overflow (hub.rejects, ``internal``); now it never becomes a petition."""
    value = court_dispatch("HA-20261202-000001", END_OF_TIME)
    outputs = _intake("province.dispatch", b"HA-20261202-000001", value)
    letter = _dead_letter(outputs)
    assert letter.reason == "bad_value"
    assert letter.error_class == "TimeOutOfRange"
    assert letter.message.startswith("receivedAt is more than a day after the hub's clock")
    assert "9999-12-31T23:00Z" in letter.message  # a time is not personal: it may be said
    assert letter.source.value == value  # the original, byte for byte, for a redrive


@pytest.mark.parametrize(
    ("changes", "field", "why"),
    [
        ({"SLSJ": "1999-12-31 23:59:59"}, "SLSJ", "is before 2000-01-01"),
        ({"SLSJ": _local(NOW + timedelta(days=2))}, "SLSJ", "more than a day after"),
        ({"SLSJ": "9999-12-31 23:59:59"}, "SLSJ", "more than a day after"),
        # an operator's edit carries the receipt time again: checked the same way
        ({"XGCS": 3, "SLSJ": _local(NOW + timedelta(days=400))}, "SLSJ", "more than a day"),
    ],
)
def test_hotline_times_outside_the_window(changes: dict[str, Any], field: str, why: str) -> None:
    letter = _dead_letter(_intake("hotline12345.workorders", *_hotline(**changes)))
    assert letter.reason == "bad_value"
    assert letter.message.startswith(f"{field} ") and why in letter.message


@pytest.mark.parametrize(
    ("submitted", "field", "why"),
    [
        ("1970-01-01T00:00:00Z", "submittedAt", "is before 2000-01-01"),
        ((NOW + timedelta(hours=25)).isoformat(), "submittedAt", "more than a day after"),
        ("9999-12-31T23:59:59+00:00", "submittedAt", "more than a day after"),
    ],
)
def test_miniprogram_times_outside_the_window(submitted: str, field: str, why: str) -> None:
    letter = _dead_letter(_intake("miniprogram.appeals", *_appeal(submittedAt=submitted)))
    assert letter.reason == "bad_value"
    assert letter.message.startswith(f"{field} ") and why in letter.message


@pytest.mark.parametrize(
    ("received", "deadline", "field", "why"),
    [
        (NOW, END_OF_TIME, "provincialDeadline", "more than a year after"),
        (NOW, NOW + timedelta(days=400), "provincialDeadline", "more than a year after"),
        (NOW, datetime(1999, 1, 1, tzinfo=UTC), "provincialDeadline", "before 2000-01-01"),
        (datetime(1990, 1, 1, tzinfo=UTC), NOW, "receivedAt", "before 2000-01-01"),
    ],
)
def test_province_times_outside_the_window(
    received: datetime, deadline: datetime, field: str, why: str
) -> None:
    letter = _dead_letter(_intake("province.dispatch", *_dispatch_v2(received, deadline)))
    assert letter.reason == "bad_value"
    assert letter.message.startswith(f"{field} ") and why in letter.message


def test_times_inside_the_window_are_petitions_and_route() -> None:
    """The window's edges are petitions, and routing computes their deadlines without error
    (the old failure was an OverflowError there)."""
    cases = [
        ("hotline12345.workorders", _hotline(SLSJ=_local(EARLIEST_TIME))),
        ("hotline12345.workorders", _hotline(SLSJ=_local(NOW + timedelta(hours=23)))),
        ("miniprogram.appeals", _appeal(submittedAt=(NOW + RECEIPT_MAX_AHEAD).isoformat())),
        ("province.dispatch", _dispatch_v2(NOW, NOW + DEADLINE_MAX_AHEAD)),
        ("province.dispatch", _dispatch_v2(EARLIEST_TIME, EARLIEST_TIME)),
    ]
    router = RoutingProcessor(LiveRules(None), "410400", "routed", clock=lambda: NOW)
    for topic, (key, value) in cases:
        outputs = _intake(topic, key, value)
        assert [o.topic for o in outputs] == [PETITIONS_TOPIC], topic
        src = SourceRecord(PETITIONS_TOPIC, 0, 0, outputs[0].key, outputs[0].value)
        routed = router(src, PartitionState())
        assert routed and REJECTS not in {o.topic for o in routed}, topic


def test_check_times_names_the_field_and_says_why() -> None:
    check_times(NOW, received={"SLSJ": NOW + timedelta(hours=23)})
    check_times(NOW, received={"SLSJ": None}, deadlines={"provincialDeadline": None})
    with pytest.raises(TimeOutOfRange) as info:
        check_times(NOW, received={"receivedAt": END_OF_TIME})
    assert info.value.field == "receivedAt"
    assert info.value.message == (
        "receivedAt is more than a day after the hub's clock "
        "(9999-12-31T23:00Z; the hub's clock: 2026-12-02T08:00Z)"
    )
    with pytest.raises(TimeOutOfRange) as info:
        check_times(NOW, deadlines={"provincialDeadline": datetime(1, 1, 1, tzinfo=UTC)})
    assert info.value.field == "provincialDeadline"
    assert "before 2000-01-01" in info.value.message


def test_the_window_follows_the_hubs_clock(tmp_path: Path) -> None:
    """The hub's clock is the intake processor's (HUB_CLOCK_FILE when set): a petition received
    in November is three days ahead of a clock set to 1 June, and after it when set later."""
    clock = tmp_path / "clock"
    set_clock(clock, datetime(2026, 11, 13, 9, 0, tzinfo=UTC))
    channel = next(c for c in intake.channels() if c.topic == "hotline12345.workorders")
    processor = IntakeProcessor(channel, pii_cipher(), clock=FileClock(clock))
    key, value = _hotline()  # received 2026-11-16
    src = SourceRecord("hotline12345.workorders", 0, 1, key, value)
    assert _dead_letter(list(processor(src, PartitionState()))).reason == "bad_value"
    set_clock(clock, datetime(2026, 11, 17, 9, 0, tzinfo=UTC))
    assert [o.topic for o in processor(src, PartitionState())] == [PETITIONS_TOPIC]


def test_intake_stages_read_the_hubs_clock_file(tmp_path: Path) -> None:
    """A worker's intake uses HUB_CLOCK_FILE (as routing and the lifecycle do)."""
    clock = tmp_path / "clock"
    set_clock(clock, datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    settings = Settings(broker="tansu://127.0.0.1:9", pii_key=TEST_PII_KEY, clock_file=clock)
    app = faust.App("input-sanity", **faust_settings(settings, "tansu://127.0.0.1:9"))
    for stage in intake.register(app, settings):
        assert isinstance(stage.processor, IntakeProcessor)
        assert stage.processor.clock() == datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


# --- defect 7: a unit status event keyed by another petition ----------------------------------

PID = petition_id_for("province", "HA-20261202-000001")
OTHER = petition_id_for("province", "HA-20261202-000002")


def _status(pid: str) -> bytes:
    return schemas.encode(
        "cn.gov.pds.hub.UnitStatus.v1", {"petitionId": pid, "kind": "SIGNED_FOR", "at": NOW}
    )


def _rekey(key: bytes | None, value: bytes) -> list[Output]:
    src = SourceRecord("dept.COURT.status", 1, 42, key, value)
    rekeyer = StatusRekeyer("hub-unit-status-repartition", clock=lambda: NOW)
    return list(rekeyer(src, PartitionState()))


def test_a_status_keyed_by_its_petition_is_rekeyed() -> None:
    outputs = _rekey(PID.encode(), _status(PID))
    assert [(o.topic, o.key) for o in outputs] == [("hub-unit-status-repartition", PID.encode())]
    headers = dict(outputs[0].headers)
    assert headers["hub-unit"] == b"dept.COURT"
    # where the unit wrote it, for a refusal to name the unit's own record
    source = [headers[f"hub-source-{h}"] for h in ("topic", "partition", "offset")]
    assert source == [b"dept.COURT.status", b"1", b"42"]


def test_an_undecodable_status_is_refused_and_its_unit_told() -> None:
    outputs = _rekey(b"13803750001", b"\x00\x00\x00\x03\xf5garbage")
    assert [(o.topic, o.key) for o in outputs] == [
        (REJECTS, b"13803750001"),
        ("dept.COURT.petitions", None),  # no petition id known, never the unit's own key
    ]
    _, notice = schemas.decode(outputs[1].value or b"")
    assert (notice["kind"], notice["reason"], notice["eventKind"]) == (
        "event_refused",
        "undecodable_status",
        None,
    )
    assert "dept.COURT.status partition 1 offset 42" in notice["message"], notice["message"]


@pytest.mark.parametrize(
    "key", [OTHER.encode(), b"13803750001", b"", None], ids=["other", "phone", "empty", "none"]
)
def test_a_status_keyed_by_something_else_is_rejected(key: bytes | None) -> None:
    value = _status(PID)
    outputs = _rekey(key, value)
    # nothing re-keyed: the rejection, and the unit told on its own topic, keyed by the petition
    assert [(o.topic, o.key) for o in outputs[1:]] == [("dept.COURT.petitions", PID.encode())]
    assert outputs[0].topic == REJECTS
    _, notice = schemas.decode(outputs[1].value or b"")
    assert (notice["kind"], notice["reason"], notice["eventKind"]) == (
        "event_refused",
        "key_mismatch",
        "SIGNED_FOR",
    )
    assert (notice["sourceTopic"], notice["sourcePartition"], notice["sourceOffset"]) == (
        "dept.COURT.status",
        1,
        42,
    )
    if key:  # the unit's own key is never echoed
        assert key.decode() not in notice["message"]
    _, rejection = schemas.decode(outputs[0].value or b"")
    assert rejection["reason"] == "key_mismatch"
    assert rejection["petitionId"] == PID
    assert rejection["original"] == value
    assert (rejection["sourceTopic"], rejection["sourceOffset"]) == ("dept.COURT.status", 42)
    assert "petitionId" in rejection["message"]
    if key:  # the message says what is wrong, not what the key held
        assert key.decode() not in rejection["message"]
