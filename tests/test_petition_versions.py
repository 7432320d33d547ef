"""``hub.petitions`` carries two versions of ``Petition``: the hub writes v2 (the channel a string),
and v1 records (the channel an Avro enum) stay on the compacted topic for a long time and are
still read, by routing as by everything else, as the same petitions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from petition_hub import schemas
from petition_hub.agents.routing import LiveRules, RoutingProcessor
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.devtools.corpus import generate_all
from petition_hub.domain.petition import Petition
from petition_hub.runtime.records import SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _petitions() -> list[Petition]:
    samples = load_samples().values()
    petitions = [PETITION_DECODERS[s.topic](s.key, s.value, s.headers) for s in samples]
    items = generate_all(10, seed=5, broken_every=0)
    return petitions + [PETITION_DECODERS[i.topic](i.key, i.value, i.headers) for i in items]


def test_the_hub_writes_version_2() -> None:
    assert schemas.PETITION == schemas.PETITION_V2 == "cn.gov.pds.hub.Petition.v2"
    assert schemas.schema_id(schemas.PETITION_V2) == 1024
    assert schemas.schema_id(schemas.PETITION_V1) == 1001


def test_a_v1_record_reads_as_the_same_petition_as_a_v2_record() -> None:
    for petition in _petitions():
        record = codec.petition_record(petition)
        sid1, body1 = schemas.decode(schemas.encode(schemas.PETITION_V1, record))
        sid2, body2 = schemas.decode(schemas.encode(schemas.PETITION_V2, record))
        assert (sid1, sid2) == (1001, 1024)
        assert body1 == body2
        assert codec.petition_of(body1) == petition == codec.petition_of(body2)


def test_routing_reads_a_v1_record_on_hub_petitions() -> None:
    # the same petition as v1 and as v2, each to a fresh routing state: the same records out
    for petition in _petitions():
        outs = []
        for version in (schemas.PETITION_V1, schemas.PETITION_V2):
            value = schemas.encode(version, codec.petition_record(petition))
            src = SourceRecord("hub.petitions", 0, 0, petition.petition_id.encode(), value)
            router = RoutingProcessor(LiveRules(None), "410400", "routed", clock=lambda: NOW)
            outs.append(router(src, PartitionState()))
        v1, v2 = outs
        assert v1 and "hub.rejects" not in {o.topic for o in v1}
        assert [(o.topic, o.key, o.value) for o in v1] == [(o.topic, o.key, o.value) for o in v2]


def test_version_2_takes_a_channel_version_1_has_no_symbol_for() -> None:
    # a fourth channel needs no new schema version: v2 writes any channel name, v1 could not
    record = codec.petition_record(_petitions()[0]) | {"channel": "PORTAL"}
    assert schemas.decode(schemas.encode(schemas.PETITION_V2, record))[1]["channel"] == "PORTAL"
    with pytest.raises(schemas.EncodeError):
        schemas.encode(schemas.PETITION_V1, record)
