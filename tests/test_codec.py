"""The typed codec (``schemas/records.py``, ``schemas/codec.py``) against the ``.avsc`` files.

- Every schema of the folder has a ``TypedDict`` whose keys are the latest version's field names,
  whose ``NotRequired`` keys are exactly the fields a later version added, and whose value types
  are the Avro types' (nested records too): the types cannot drift from the files.
- Every builder round-trips: build → :func:`schemas.encode` → :func:`schemas.decode` → the reader
  (or, for a record the hub only writes, the decoded record) gives the same values.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from petition_hub import schemas
from petition_hub.agents.routing_records import unit_record
from petition_hub.domain.lifecycle import (
    Closure,
    LifecycleState,
    PetitionState,
    Received,
    ReplyKind,
    SlaSignal,
    SlaSignalKind,
    apply,
)
from petition_hub.domain.lifecycle.results import Rejection as Refused
from petition_hub.domain.petition import (
    Attachment,
    Channel,
    Enterprise,
    Evaluation,
    Petition,
    Petitioner,
    PetitionerKind,
    PetitionType,
    Satisfaction,
    Urgency,
)
from petition_hub.domain.routing import route
from petition_hub.domain.rules import default_rules
from petition_hub.domain.sla import ClockKind
from petition_hub.schemas import codec, lifecycle_codec
from petition_hub.schemas import records as wire

#: The typed record of each record of the folder (every version of it).
TYPES: dict[str, type] = {
    "cn.gov.ha.petition.Dispatch": wire.Dispatch,
    "cn.gov.ha.petition.Feedback": wire.Feedback,
    "cn.gov.ha.petition.Transfer": wire.Transfer,
    "cn.gov.pds.hub.DeadLetter": wire.DeadLetter,
    "cn.gov.pds.hub.DeadLetterRedrive": wire.DeadLetterRedrive,
    "cn.gov.pds.hub.Evaluation": wire.Evaluation,
    "cn.gov.pds.hub.LifecycleEvent": wire.LifecycleEvent,
    "cn.gov.pds.hub.OfficeDecision": wire.OfficeDecision,
    "cn.gov.pds.hub.Original": wire.Original,
    "cn.gov.pds.hub.Petition": wire.Petition,
    "cn.gov.pds.hub.PrivacyEvent": wire.PrivacyEvent,
    "cn.gov.pds.hub.RepeatLink": wire.RepeatLink,
    "cn.gov.pds.hub.RouteCommand": wire.RouteCommand,
    "cn.gov.pds.hub.Rejection": wire.Rejection,
    "cn.gov.pds.hub.Routed": wire.Routed,
    "cn.gov.pds.hub.SlaEvent": wire.SlaEvent,
    "cn.gov.pds.hub.Supervision": wire.Supervision,
    "cn.gov.pds.hub.UnitNotice": wire.UnitNotice,
    "cn.gov.pds.hub.UnitPetition": wire.UnitPetition,
    "cn.gov.pds.hub.UnitStatus": wire.UnitStatus,
}

NOW = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 18, 2, 15, 7, 123000, tzinfo=UTC)


# --- the types against the files ---------------------------------------------------------------


def _versions(record: str) -> list[str]:
    found = [n for n in schemas.names() if schemas.record_name(n) == record]
    return sorted(found, key=lambda n: int(n.rsplit(".v", 1)[1]))


def _named_records() -> dict[str, dict[str, Any]]:
    """Every record type defined in any schema of the folder, by full name (for references)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any, namespace: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, namespace)
        elif isinstance(node, dict):
            space = node.get("namespace", namespace)
            if node.get("type") == "record":
                found.setdefault(f"{space}.{node['name']}", node)
                for f in node["fields"]:
                    walk(f["type"], space)
            elif node.get("type") == "array":
                walk(node["items"], space)

    for name in schemas.names():
        raw = schemas.raw_schema(name)
        walk(raw, raw.get("namespace", ""))
    return found


NAMED = _named_records()
_PRIMITIVES: dict[str, type] = {
    "string": str,
    "int": int,
    "long": int,
    "boolean": bool,
    "double": float,
    "float": float,
    "bytes": bytes,
}


def _check(avro: Any, hint: Any, where: str) -> None:
    """Assert the Python type ``hint`` is what fastavro gives for the Avro type ``avro``."""
    if isinstance(avro, list) and "null" not in avro:  # e.g. Petition.v2's string | v1's enum
        for branch in avro:  # every branch reads as the same Python type
            _check(branch, hint, where)
    elif isinstance(avro, list):  # a union: ["null", T]
        assert [a for a in avro if a != "null"] and "null" in avro, where
        (inner,) = [a for a in avro if a != "null"]
        assert get_origin(hint) in (Union, types.UnionType), f"{where}: {hint} is not optional"
        rest = [a for a in get_args(hint) if a is not type(None)]
        assert len(rest) == 1 and type(None) in get_args(hint), f"{where}: {hint}"
        _check(inner, rest[0], where)
    elif isinstance(avro, str) and avro in _PRIMITIVES:
        assert hint is _PRIMITIVES[avro], f"{where}: {hint} for Avro {avro}"
    elif isinstance(avro, str):  # a named type defined elsewhere
        _check(NAMED.get(avro, {"type": "enum"}), hint, where)
    elif avro["type"] == "enum":
        assert hint is str, f"{where}: an enum is its symbol, a str (not {hint})"
    elif avro.get("logicalType") == "timestamp-millis":
        assert hint is datetime, f"{where}: {hint} for a timestamp"
    elif avro["type"] == "array":
        assert get_origin(hint) is list, f"{where}: {hint} for an array"
        _check(avro["items"], get_args(hint)[0], f"{where}[]")
    elif avro["type"] == "record":
        assert is_typeddict(hint), f"{where}: {hint} is not a TypedDict"
        _check_record(avro["fields"], (), hint, where)
    else:
        _check(avro["type"], hint, where)


def _check_record(
    fields: list[dict[str, Any]], added: tuple[str, ...], typed: Any, where: str
) -> None:
    names = [f["name"] for f in fields]
    keys = typed.__required_keys__ | typed.__optional_keys__
    assert sorted(keys) == sorted(names), f"{where}: {typed.__name__} keys differ from the schema"
    assert typed.__optional_keys__ == frozenset(added), f"{where}: NotRequired is not {added}"
    hints = get_type_hints(typed)
    for f in fields:
        _check(f["type"], hints[f["name"]], f"{where}.{f['name']}")


def test_every_schema_has_a_typed_record() -> None:
    assert sorted({schemas.record_name(n) for n in schemas.names()}) == sorted(TYPES)


@pytest.mark.parametrize("record", sorted(TYPES))
def test_a_typed_record_is_its_latest_schema(record: str) -> None:
    versions = _versions(record)
    latest = schemas.raw_schema(versions[-1])["fields"]
    first = {f["name"] for f in schemas.raw_schema(versions[0])["fields"]}
    added = tuple(f["name"] for f in latest if f["name"] not in first)
    _check_record(latest, added, TYPES[record], versions[-1])


def test_the_checker_sees_a_drift() -> None:
    """A type with a field renamed, or of the wrong type, is caught."""
    fields = schemas.raw_schema(codec.UNIT_STATUS_V1)["fields"]
    with pytest.raises(AssertionError):
        _check_record([*fields[:-1], {"name": "days", "type": "int"}], (), wire.UnitStatus, "x")
    retyped = [*fields[:-1], {"name": "extensionDays", "type": ["null", "string"]}]
    with pytest.raises(AssertionError):
        _check_record(retyped, (), wire.UnitStatus, "x")


def test_every_hub_schema_name_is_the_codecs() -> None:
    spelled = {v for k, v in vars(codec).items() if re.fullmatch(r"[A-Z_]+_V[0-9]+", k)}
    assert spelled == set(schemas.SCHEMA_IDS) == set(schemas.names())


# --- round trips -------------------------------------------------------------------------------


def _round_trip(name: str, record: Mapping[str, Any]) -> dict[str, Any]:
    sid, decoded = schemas.decode(schemas.encode(name, record))
    assert sid == schemas.schema_id(name)
    return decoded


def _petition(content: str, **kw: Any) -> Petition:
    kw.setdefault("channel", Channel.HOTLINE)
    return Petition(
        channel_ref=kw.pop("ref", "12345-410400-20261118-000042"),
        received_at=RECEIVED,
        content=content,
        petitioner=kw.pop(
            "petitioner",
            Petitioner(kind=PetitionerKind.ENTERPRISE, name="李明", phone="13937512345"),
        ),
        **kw,
    )


FINANCING = _petition(
    "我公司在某银行的500万元流动资金贷款下月到期，银行通知到期后不再续贷，希望协调银行予以续贷。",
    petition_type=PetitionType.DIFFICULTY_ASSISTANCE,
    urgency=Urgency.URGENT,
    title="请求协调续贷",
    region_code="410402",
    region_name="新华区",
    enterprise=Enterprise(name="平顶山某机械有限公司", uscc="91410400MA3X00001K"),
    attachments=(Attachment(name="合同.pdf", url="https://example.org/a.pdf"),),
    provincial_deadline=datetime(2026, 12, 18, 10, 0, tzinfo=UTC),
    flags=(),
)


def test_a_petition_round_trips() -> None:
    decoded = _round_trip(codec.PETITION, codec.petition_record(FINANCING))
    assert decoded == codec.petition_record(FINANCING)
    assert codec.petition_of(decoded) == FINANCING


def test_an_evaluation_round_trips_under_another_id() -> None:
    e = Evaluation(
        channel=Channel.HOTLINE,
        ref="12345-410400-20261118-000042",
        petition_ref="PH-ABCDEFGHIJKLMNOPQRST",
        satisfaction=Satisfaction.BASICALLY_SATISFIED,
        comment="还行",
        evaluated_at=NOW,
        revision=1,
    )
    decoded = _round_trip(codec.EVALUATION_V2, codec.evaluation_record(e))
    assert codec.evaluation_of(decoded) == e
    other = codec.evaluation_record(e, petition_id="PH-ABCDEFGHIJKLMNOPQRST")
    read = codec.read_evaluation(_round_trip(codec.EVALUATION_V2, other))
    assert read == other and read["petition_id"] == "PH-ABCDEFGHIJKLMNOPQRST"


def test_routing_records_round_trip() -> None:
    rules = default_rules()
    decision = route(FINANCING, rules)
    assert decision.kind == "units" and decision.co
    record = unit_record(FINANCING, decision, "LEAD", NOW)
    assert codec.read_unit_petition(_round_trip(codec.UNIT_PETITION_V3, record)) == record
    co = codec.with_role(record, "CO_HANDLER")
    assert codec.read_unit_petition(_round_trip(codec.UNIT_PETITION_V3, co)) == co
    assert co["role"] == "CO_HANDLER" and record["role"] == "LEAD"
    routed = codec.routed_record(FINANCING, decision, NOW)
    assert codec.read_routed(_round_trip(codec.ROUTED_V5, routed)) == routed
    assert routed["callbackContact"] is None  # a 12345 call: 12345 knows its callers
    assert decision.lead is not None
    assert routed["kind"] == "UNITS" and routed["lead"] == decision.lead.key


def test_a_transfer_round_trips() -> None:
    p = _petition("甲方拖欠工程款。", region_code="320583")
    decision = route(p, default_rules())
    assert decision.kind == "province_transfer"
    transfer = codec.transfer_record(p, decision, "410400")
    assert _round_trip(codec.TRANSFER_V1, transfer) == transfer
    assert transfer["transferId"] == f"410400-{p.petition_id}"


def test_feedback_and_a_rejection_round_trip() -> None:
    feedback = codec.feedback_record(
        "HA-20261118-000042",
        "410400",
        "EVALUATED",
        "已办结",
        NOW,
        handling_unit="市财政局",
        due=NOW + timedelta(days=5),
        satisfaction=Satisfaction.SATISFIED,
    )
    assert _round_trip(codec.FEEDBACK_V1, feedback) == feedback
    assert feedback["satisfaction"] == "SATISFIED"
    rejected = codec.rejection_record(
        "office.decisions", 2, 17, "PH-X", "unknown_unit", "no such unit", NOW, b"\x00\x01"
    )
    assert codec.read_rejection(_round_trip(codec.REJECTION_V1, rejected)) == rejected


def _state() -> PetitionState:
    result = apply(
        None,
        Received(
            petition_id=FINANCING.petition_id,
            at=RECEIVED,
            channel=Channel.PROVINCE,
            petition_type=PetitionType.SUGGESTION,
            urgency=Urgency.NORMAL,
        ),
    )
    assert not isinstance(result, Refused)
    return result.state


def test_lifecycle_records_round_trip() -> None:
    s = _state()
    event = lifecycle_codec.lifecycle_event_record(
        s,
        "state_changed",
        NOW,
        deadline=NOW + timedelta(days=20),
        deadline_provisional=True,
        from_state=LifecycleState.REPLIED,
        to_state=LifecycleState.CLOSED,
        cause="rated",
        unit="dept.FINOFFICE",
        closure=Closure.RATED,
        satisfaction=Satisfaction.DISSATISFIED,
        extension_days=5,
        approved=False,
        note="说明",
        reply_kind=ReplyKind.EXPLAINED,
    )
    assert codec.read_lifecycle_event(_round_trip(codec.LIFECYCLE_V5, event)) == event
    assert event["replyKind"] == "explained"
    disputed = lifecycle_codec.lifecycle_event_record(
        s,
        "dispute_decided",
        NOW,
        deadline=None,
        deadline_provisional=False,
        unit="dept.FINOFFICE",
        note="经核实",
        dispute_outcome="voided",
        rated_at=NOW - timedelta(days=2),
    )
    assert codec.read_lifecycle_event(_round_trip(codec.LIFECYCLE_V5, disputed)) == disputed
    assert (disputed["disputeOutcome"], disputed["ratedAt"]) == ("voided", NOW - timedelta(days=2))
    # v5: a repeat linked to the open case, and a case a repeat opened after the earlier closed
    linked = lifecycle_codec.lifecycle_event_record(
        s,
        "repeat_linked",
        NOW,
        deadline=None,
        deadline_provisional=False,
        repeat=lifecycle_codec.RepeatRef("PH-REPEAT", "HOTLINE", "12345-410400-20261118-000043"),
    )
    assert codec.read_lifecycle_event(_round_trip(codec.LIFECYCLE_V5, linked)) == linked
    assert (linked["repeatId"], linked["repeatChannel"]) == ("PH-REPEAT", "HOTLINE")
    opened = lifecycle_codec.lifecycle_event_record(
        s, "state_changed", NOW, deadline=None, deadline_provisional=False, repeat_of="PH-FIRST"
    )
    assert codec.read_lifecycle_event(_round_trip(codec.LIFECYCLE_V5, opened))["repeatOf"] == (
        "PH-FIRST"
    )
    assert (event["channel"], event["petitionType"]) == ("PROVINCE", "意见建议")
    assert (event["toState"], event["satisfaction"]) == ("closed", "DISSATISFIED")
    signal = SlaSignal(
        petition_id=s.petition_id,
        at=NOW,
        clock=ClockKind.RESOLVE,
        signal=SlaSignalKind.DEADLINE_CHANGED,
        round=1,
        deadline=NOW + timedelta(days=3),
        provisional=False,
        previous_deadline=NOW + timedelta(days=2),
    )
    sla = lifecycle_codec.sla_event_record(s, signal, "dept.FINOFFICE")
    assert codec.read_sla_event(_round_trip(codec.SLA_V2, sla)) == sla
    assert (sla["clock"], sla["signal"], sla["urgency"]) == (
        "resolve",
        "deadline_changed",
        "NORMAL",
    )
    notice = lifecycle_codec.unit_notice_record(
        s.petition_id, "reopened", NOW, "请重新办理", "resolve", None, provisional=True
    )
    assert _round_trip(codec.NOTICE_V3, notice) == notice
    refused = lifecycle_codec.unit_notice_record(
        s.petition_id,
        "event_refused",
        NOW,
        "not applied",
        None,
        None,
        refused=lifecycle_codec.RefusedEvent(
            "dept.HUD.status", 2, 12345678901, "REPLIED", "R-1", "x"
        ),
    )
    read = _round_trip(codec.NOTICE_V3, refused)
    assert read == refused
    assert (read["sourceTopic"], read["sourcePartition"], read["sourceOffset"]) == (
        "dept.HUD.status",
        2,
        12345678901,
    )
    assert (read["eventKind"], read["eventRef"], read["reason"]) == ("REPLIED", "R-1", "x")


def test_privacy_events_round_trip() -> None:
    event = codec.privacy_event_record(
        "PH-X",
        "erasure_due",
        "REQUEST",
        NOW,
        reference="REQ-1",
        requested_by="operator",
        closed_at=NOW - timedelta(days=1),
        partition=3,
        offset=12345678901,
        revision=2,
        fields=("petitioner.name",),
    )
    assert codec.read_privacy_event(_round_trip(codec.PRIVACY_EVENT_V1, event)) == event
    assert event["kind"] == "ERASURE_DUE"


def test_what_the_units_and_the_office_write_reads_back() -> None:
    status: wire.UnitStatus = {
        "petitionId": "PH-X",
        "kind": "EXTENSION_REQUESTED",
        "at": NOW,
        "note": "需要补充材料",
        "replyText": None,
        "extensionDays": 10,
    }
    assert codec.read_unit_status(_round_trip(codec.UNIT_STATUS_V1, status)) == status
    # v2: a co-handler's opinion, a reply's kind, the unit's own event id; v1 still reads
    opinion: wire.UnitStatus = {
        **status,
        "kind": "OPINION",
        "note": "建议联合现场核查",
        "extensionDays": None,
        "replyKind": None,
        "eventId": "HUD-2026-0001",
    }
    assert codec.read_unit_status(_round_trip(codec.UNIT_STATUS_V2, opinion)) == opinion
    reply: wire.UnitStatus = {**opinion, "kind": "REPLIED", "replyKind": "EXPLAINED"}
    assert codec.read_unit_status(_round_trip(codec.UNIT_STATUS_V2, reply))["replyKind"] == (
        "EXPLAINED"
    )
    decision: wire.OfficeDecision = {
        "petitionId": "PH-X",
        "kind": "TRIAGE_ROUTE",
        "leadUnit": "dept.HUD",
        "coUnits": ["county.410402"],
        "extensionDays": None,
        "note": None,
        "decidedBy": "office",
        "decidedAt": NOW,
    }
    read = codec.read_office_decision(_round_trip(codec.OFFICE_DECISION_V1, decision))
    assert read == decision
    # v3 / v2: a lead's dispute of a rating and the office's decision on it
    dispute: wire.UnitStatus = {**opinion, "kind": "RATING_DISPUTED", "note": "不满意与办理无关"}
    assert codec.read_unit_status(_round_trip(codec.UNIT_STATUS_V3, dispute)) == dispute
    # v4: who in the unit did it (the console's staff account); a v3 record reads without one
    signed: wire.UnitStatus = {**opinion, "kind": "SIGNED_FOR", "note": None, "author": "clerk"}
    assert codec.read_unit_status(_round_trip(codec.UNIT_STATUS_V4, signed)) == signed
    assert "author" not in codec.read_unit_status(_round_trip(codec.UNIT_STATUS_V3, dispute))
    voided: wire.OfficeDecision = {**decision, "kind": "RATING_VOIDED", "note": "经核实"}
    assert codec.read_office_decision(_round_trip(codec.OFFICE_DECISION_V2, voided)) == voided


def test_an_older_version_reads_as_the_latest_type() -> None:
    """A v1 SLA event lacks the fields v2 added: the type says so (NotRequired)."""
    v1 = {
        "eventId": "e",
        "petitionId": "PH-X",
        "clock": "sign_for",
        "signal": "warning",
        "at": NOW,
        "deadline": None,
        "round": 0,
        "unit": None,
        "channel": "HOTLINE",
        "petitionType": None,
        "urgency": "NORMAL",
    }
    read = codec.read_sla_event(_round_trip(codec.SLA_V1, v1))
    assert read == v1 and "deadlineProvisional" not in read
    assert read.get("deadlineProvisional", False) is False


@pytest.mark.parametrize(
    "event_id",
    ["", "x", "PH-ABC@tick:resolve:2026-06-01T01:00:00+00:00:overdue/0", "编号-" * 30, "a" * 300],
)
def test_stamping_an_event_id_is_encoding_it(event_id: str) -> None:
    """``schemas.stamp_event_id`` gives the bytes of the record encoded with the id (one- and
    several-byte lengths, multi-byte UTF-8), for every schema that leads with ``eventId``; any
    other record, and a record whose id is already set, is left as it is."""
    s = _state()
    empty = {
        codec.LIFECYCLE_V5: lifecycle_codec.lifecycle_event_record(
            s, "state_changed", NOW, deadline=None, deadline_provisional=False
        ),
        codec.NOTICE_V3: lifecycle_codec.unit_notice_record(
            s.petition_id, "reopened", NOW, "请重新办理", "resolve", None
        ),
    }
    leading = [
        n for n in schemas.names() if schemas.raw_schema(n)["fields"][0]["name"] == "eventId"
    ]
    assert {codec.LIFECYCLE_V5, codec.SLA_V2, codec.NOTICE_V3, codec.SUPERVISION_V1} <= set(leading)
    for name, record in empty.items():
        stamped = schemas.stamp_event_id(schemas.encode(name, record), event_id)
        assert stamped == schemas.encode(name, {**record, "eventId": event_id}), name
        assert schemas.decode(stamped)[1]["eventId"] == event_id
        assert schemas.stamp_event_id(stamped, "other") == stamped or not event_id
    petition = schemas.encode(codec.PETITION, codec.petition_record(_petition("诉求")))
    assert schemas.stamp_event_id(petition, event_id) == petition
