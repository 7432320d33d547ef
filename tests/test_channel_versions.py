"""``Routed``, ``UnitPetition`` and ``Evaluation`` carry the channel as a string since their
versions 2, 3 and 2 (as ``Petition.v2`` does, tests/test_petition_versions.py): the hub writes
those, and records of the versions before (the channel an Avro enum) are still read, by the stage
that reads each (the lifecycle: ``Routed``, ``Evaluation``; the units, played by the demo's:
``UnitPetition``), as the same records. A fourth channel needs no new version of any of them."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import fastavro
import pytest

from petition_hub import schemas
from petition_hub.agents.lifecycle import LifecycleProcessor
from petition_hub.agents.rekeyers import UNIT_HEADER
from petition_hub.agents.routing import LiveRules, RoutingProcessor
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.devtools.corpus import generate_all
from petition_hub.devtools.dev import demo_reaction
from petition_hub.domain.petition import Evaluation, Petition, Satisfaction
from petition_hub.domain.routing import route
from petition_hub.domain.rules import default_rules
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec
from petition_hub.topics.names import TRIAGE, is_unit_topic

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
ROUTED = "app-routed"
STATUS = "app-unit-status-repartition"
RATINGS = "app-evaluations-repartition"

#: Each record's version the hub writes, and the versions before it (still read).
VERSIONS = [
    (codec.ROUTED_V5, 1042, (codec.ROUTED_V1, codec.ROUTED_V2, codec.ROUTED_V3, codec.ROUTED_V4)),
    (codec.UNIT_PETITION_V3, 1027, (codec.UNIT_PETITION_V1, codec.UNIT_PETITION_V2)),
    (codec.EVALUATION_V2, 1028, (codec.EVALUATION_V1,)),
]


def _petitions() -> list[Petition]:
    samples = load_samples().values()
    petitions = [PETITION_DECODERS[s.topic](s.key, s.value, s.headers) for s in samples]
    items = generate_all(10, seed=5, broken_every=0)
    return petitions + [PETITION_DECODERS[i.topic](i.key, i.value, i.headers) for i in items]


def _route(petition: Petition) -> list[Output]:
    value = schemas.encode(codec.PETITION, codec.petition_record(petition))
    src = SourceRecord("hub.petitions", 0, 0, petition.petition_id.encode(), value)
    router = RoutingProcessor(LiveRules(None), "410400", ROUTED, clock=lambda: NOW)
    return list(router(src, PartitionState()))


def _as(name: str, value: bytes | None) -> bytes:
    """The record of ``value`` written again with the schema ``name`` (an older version, which
    has not the fields added later)."""
    fields = {f["name"] for f in schemas.raw_schema(name)["fields"]}
    record = schemas.decode(value or b"")[1]
    return schemas.encode(name, {k: v for k, v in record.items() if k in fields})


def _lifecycle() -> tuple[LifecycleProcessor, PartitionState]:
    p = LifecycleProcessor(
        rules=default_rules(),
        city="410400",
        routed=ROUTED,
        statuses=STATUS,
        evaluations=RATINGS,
        unit_topics=frozenset(),
        clock=lambda: NOW + timedelta(days=1),
    )
    state = PartitionState()
    p.restored(0, state)
    return p, state


def _same(a: list[Output], b: list[Output]) -> bool:
    return [(o.topic, o.key, o.value, o.headers) for o in a] == [
        (o.topic, o.key, o.value, o.headers) for o in b
    ]


def _newest_record(name: str, p: Petition) -> dict[str, object]:
    """A record of ``p`` as the hub writes it with the schema ``name``."""
    if name == codec.ROUTED_V5:
        return dict(codec.routed_record(p, route(p, default_rules()), NOW))
    if name == codec.UNIT_PETITION_V3:
        return schemas.decode(_unit_outputs(p)[0].value or b"")[1]
    return dict(codec.evaluation_record(_evaluation(p)))


@pytest.mark.parametrize(("name", "sid", "older"), VERSIONS, ids=lambda v: str(v))
def test_the_ids_and_the_channel_a_string(name: str, sid: int, older: tuple[str, ...]) -> None:
    assert schemas.schema_id(name) == sid
    assert all(schemas.record_name(o) == schemas.record_name(name) for o in older)
    # a fourth channel needs no new version: the newest writes any channel name, the older not
    record = _newest_record(name, _petitions()[0]) | {"channel": "PORTAL"}
    assert schemas.decode(schemas.encode(name, record))[1]["channel"] == "PORTAL"
    for version in older:
        with pytest.raises(schemas.EncodeError):
            schemas.encode(version, record)


def _evaluation(p: Petition) -> Evaluation:
    return Evaluation(
        channel=p.channel,
        ref=p.channel_ref,
        satisfaction=Satisfaction.BASICALLY_SATISFIED,
        comment="还行",
        evaluated_at=NOW + timedelta(days=1),
    )


def _unit_outputs(p: Petition) -> list[Output]:
    return [o for o in _route(p) if is_unit_topic(o.topic) or o.topic == TRIAGE]


def test_routing_writes_the_newest_versions() -> None:
    routed = units = 0
    for petition in _petitions():
        for out in _route(petition):
            sid = schemas.split_header(out.value or b"")[0]
            if out.topic == ROUTED:
                assert sid == schemas.schema_id(codec.ROUTED_V5)
                routed += 1
            elif is_unit_topic(out.topic) or out.topic == TRIAGE:
                assert sid == schemas.schema_id(codec.UNIT_PETITION_V3)
                units += 1
    assert routed and units


def test_the_lifecycle_reads_a_routed_v1_record() -> None:
    # the same decision as v1 and as v2, each to a fresh lifecycle: the same records out
    read = 0
    for petition in _petitions():
        (routed,) = [o for o in _route(petition) if o.topic == ROUTED]
        outs, views = [], []
        for value in (_as(codec.ROUTED_V1, routed.value), routed.value or b""):
            p, state = _lifecycle()
            outs.append(list(p(SourceRecord(ROUTED, 0, 0, routed.key, value), state)))
            views.append(p.petition(petition.petition_id))  # what the API shows of it
        (v1, v2), (v1_view, v2_view) = outs, views
        assert schemas.split_header(_as(codec.ROUTED_V1, routed.value))[0] == 1014
        assert _same(v1, v2) and v1_view == v2_view
        read += bool(v1)
    assert read


def test_the_lifecycle_reads_an_evaluation_v1_record() -> None:
    # a petition routed to a unit, signed for and replied to, then rated: v1 and v2 alike
    rated = 0
    for petition in _petitions():
        outputs = _route(petition)
        (routed,) = [o for o in outputs if o.topic == ROUTED]
        record = codec.read_routed(schemas.decode(routed.value or b"")[1])
        if record["kind"] != "UNITS" or record["lead"] is None:
            continue
        pid, unit = petition.petition_id, record["lead"].encode()
        rating = schemas.encode(codec.EVALUATION_V2, codec.evaluation_record(_evaluation(petition)))
        outs = []
        for value in (_as(codec.EVALUATION_V1, rating), rating):
            p, state = _lifecycle()
            p(SourceRecord(ROUTED, 0, 0, pid.encode(), routed.value), state)
            for i, (kind, text) in enumerate([("SIGNED_FOR", None), ("REPLIED", "已解决")]):
                status = {"petitionId": pid, "kind": kind, "at": NOW, "replyText": text}
                status_value = schemas.encode(codec.UNIT_STATUS_V1, status)
                headers = ((UNIT_HEADER, unit),)
                p(SourceRecord(STATUS, 0, i, pid.encode(), status_value, headers), state)
            outs.append(list(p(SourceRecord(RATINGS, 0, 0, pid.encode(), value), state)))
        v1, v2 = outs
        assert schemas.split_header(_as(codec.EVALUATION_V1, rating))[0] == 1002
        assert _same(v1, v2)
        lifecycle = [schemas.decode(o.value or b"")[1] for o in v1 if o.topic == "hub.lifecycle"]
        assert "evaluated" in {e["toState"] for e in lifecycle}
        rated += 1
    assert rated


def _read_as(newest: str, older: str, value: bytes) -> dict[str, object]:
    """What a unit holding the ``newest`` schema reads of a record written with ``older``."""
    _, body = schemas.split_header(value)
    writer, reader = schemas.parsed_schema(older), schemas.parsed_schema(newest)
    record = fastavro.schemaless_reader(io.BytesIO(body), writer, reader)
    assert isinstance(record, dict)
    return record


def test_a_unit_reads_unit_petition_v1_and_v2_records() -> None:
    # the demo's units react alike to each version; a unit decoding with v3 reads the older ones
    seen = 0
    for petition in _petitions():
        for out in _unit_outputs(petition):
            v3 = out.value or b""
            newest = schemas.decode(v3)[1]
            reactions = []
            for version in (codec.UNIT_PETITION_V1, codec.UNIT_PETITION_V2):
                value = _as(version, v3)
                reactions.append(demo_reaction(out.topic, value, random.Random(1), 1.0, NOW))
                read = _read_as(codec.UNIT_PETITION_V3, version, value)
                assert read["channel"] == newest["channel"] == petition.channel.name
                if version == codec.UNIT_PETITION_V2:
                    assert read == newest
            reactions.append(demo_reaction(out.topic, v3, random.Random(1), 1.0, NOW))
            assert reactions[0] == reactions[1] == reactions[2]
            seen += 1
    assert seen
