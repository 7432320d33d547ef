"""The CloudEvents headers a stage puts on its outputs (:mod:`petition_hub.runtime.cloudevents`),
on what the routing stage makes of a contract sample; read back with the ``cloudevents``
library. Over a whole ``dev`` run on the broker: ``tests/test_cloudevents_e2e.py``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from petition_hub import schemas
from petition_hub.agents.routing import LiveRules, RoutingProcessor
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.runtime.cloudevents import (
    HEADERS,
    ID_HEADER,
    event_id_of,
    frame_output,
)
from petition_hub.runtime.records import KIND_HEADER, Output, SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec

AT_MS = 1_780_000_000_000


def _routed() -> tuple[SourceRecord, list[Output]]:
    sample = load_samples()["hotline-financing.json"]
    petition = PETITION_DECODERS[sample.topic](sample.key, sample.value, sample.headers)
    value = schemas.encode(codec.PETITION, codec.petition_record(petition))
    src = SourceRecord("hub.petitions", 3, 17, petition.petition_id.encode(), value, (), AT_MS)
    outputs = RoutingProcessor(LiveRules(None), "410400", "routed")(src, PartitionState())
    return src, list(outputs)


def test_every_output_is_a_cloudevent_the_library_reads() -> None:
    src, outputs = _routed()
    assert len(outputs) >= 3
    ids = set()
    for n, out in enumerate(outputs):
        headers = frame_output(out, "routing", src, n)[1]
        assert {k for k, _ in headers} >= set(HEADERS)
        event = from_binary(KafkaMessage(dict(headers), out.key, out.value or b""), JSONFormat())
        sid, _ = schemas.split_header(out.value or b"")
        assert event.get_type() == schemas.record_name(sid)
        assert event.get_source() == "/petition-hub/routing"
        assert event.get_datacontenttype() == "application/avro"
        assert event.get_time() == datetime.fromtimestamp(AT_MS / 1000, UTC)
        assert event.get_specversion() == "1.0"
        ids.add(event.get_id())
    assert len(ids) == len(outputs)


def test_ids_are_stable_across_deliveries_and_kept_when_given() -> None:
    src, outputs = _routed()
    first = [event_id_of(frame_output(o, "routing", src, n)[1]) for n, o in enumerate(outputs)]
    again = [event_id_of(frame_output(o, "routing", src, n)[1]) for n, o in enumerate(outputs)]
    assert first == again == [f"routing/hub.petitions:3:17/{n}" for n in range(len(outputs))]
    given = Output("hub.lifecycle", b"k", outputs[0].value, event_id="PH-X@tick:sign_for/0")
    assert event_id_of(frame_output(given, "lifecycle", None, 0)[1]) == "PH-X@tick:sign_for/0"


def test_kind_type_json_and_relayed_headers() -> None:
    src, outputs = _routed()
    kinded = Output("hub.privacy", b"k", outputs[0].value, ((KIND_HEADER, b"erasure_due"),))
    headers = dict(frame_output(kinded, "routing", src, 0)[1])
    assert headers["ce_type"].endswith(b".erasure_due") and headers[KIND_HEADER] == b"erasure_due"
    request = Output("x.evaluation-requests", b"k", b'{"a": 1}', ce_type="cn.gov.pds.hub.Req")
    headers = dict(frame_output(request, "lifecycle", src, 1)[1])
    assert headers["content-type"] == b"application/json"
    assert headers["ce_type"] == b"cn.gov.pds.hub.Req"
    # a record relayed with the CloudEvents headers of its writer gets the hub's own
    relayed = Output("t", b"k", b"\x01opaque", ((ID_HEADER, b"theirs"), ("hub-unit", b"dept.TAX")))
    stamped = frame_output(relayed, "unit-status", src, 0)[1]
    assert [k for k, _ in stamped].count(ID_HEADER) == 1
    assert dict(stamped)[ID_HEADER] == b"unit-status/hub.petitions:3:17/0"
    assert dict(stamped)["content-type"] == b"application/octet-stream"


def test_a_lifecycle_record_carries_its_id_in_body_and_header() -> None:
    """The id the stage gives an output is the ``ce_id`` header and, where the record's schema has
    one, its ``eventId``: a reader of either finds the same id."""
    record = {
        "eventId": "",
        "petitionId": "PH-X",
        "kind": "reopened",
        "clock": None,
        "deadline": None,
        "at": datetime(2026, 6, 1, tzinfo=UTC),
        "message": "请重新办理",
    }
    out = Output("dept.TAX.petitions", b"PH-X", schemas.encode(codec.NOTICE_V3, record))
    value, headers = frame_output(replace(out, event_id="PH-X@src/0"), "lifecycle", None, 0)
    assert value is not None and schemas.decode(value)[1]["eventId"] == "PH-X@src/0"
    assert event_id_of(headers) == "PH-X@src/0"
    src = SourceRecord("dept.TAX.status", 0, 5, b"PH-X", b"", (), AT_MS)
    value, headers = frame_output(out, "unit-status", src, 1)  # an id made by the stage
    assert value is not None and schemas.decode(value)[1]["eventId"] == event_id_of(headers)
    assert event_id_of(headers) == "unit-status/dept.TAX.status:0:5/1"
