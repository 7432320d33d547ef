"""The dev demo's units and petitioners: what they answer to the hub's records."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from petition_hub import schemas
from petition_hub.agents.routing import LiveRules, RoutingProcessor
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.devtools.dev import demo_reaction
from petition_hub.runtime.records import SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec

NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)


def test_a_lead_unit_signs_for_works_and_replies_in_that_order() -> None:
    sample = load_samples()["hotline-financing.json"]
    petition = PETITION_DECODERS[sample.topic](sample.key, sample.value, sample.headers)
    value = schemas.encode(schemas.PETITION_V1, codec.petition_record(petition))
    src = SourceRecord("hub.petitions", 0, 0, petition.petition_id.encode(), value)
    outputs = RoutingProcessor(LiveRules(None), "410400", "routed")(src, PartitionState())
    units = [o for o in outputs if o.topic.endswith(".petitions")]
    lead, *co = units
    reactions = demo_reaction(lead.topic, lead.value, random.Random(1), 1.0, NOW)
    assert [r[0] for r in reactions] == [lead.topic.removesuffix(".petitions") + ".status"] * 3
    kinds = [schemas.decode(r[2])[1]["kind"] for r in reactions]
    assert kinds == ["SIGNED_FOR", "IN_PROGRESS", "REPLIED"]
    delays = [r[3] for r in reactions]
    assert delays == sorted(delays) and all(
        r[1] == petition.petition_id.encode() for r in reactions
    )
    for other in co:  # a co-handler leaves the lifecycle to the lead: an opinion at most
        for seed in range(8):
            said = demo_reaction(other.topic, other.value, random.Random(seed), 1.0, NOW)
            assert [schemas.decode(r[2])[1]["kind"] for r in said] in ([], ["OPINION"])


def test_the_demo_sends_opinions_and_both_kinds_of_reply() -> None:
    sample = load_samples()["hotline-financing.json"]
    petition = PETITION_DECODERS[sample.topic](sample.key, sample.value, sample.headers)
    value = schemas.encode(schemas.PETITION_V1, codec.petition_record(petition))
    src = SourceRecord("hub.petitions", 0, 0, petition.petition_id.encode(), value)
    outputs = RoutingProcessor(LiveRules(None), "410400", "routed")(src, PartitionState())
    lead, *co = [o for o in outputs if o.topic.endswith(".petitions")]
    assert co, "the sample petition has a co-handler"
    rng = random.Random(3)
    kinds = set()
    for _ in range(40):
        for r in demo_reaction(lead.topic, lead.value, rng, 1.0, NOW):
            status = schemas.decode(r[2])[1]
            if status["kind"] == "REPLIED":
                kinds.add(status["replyKind"])
    assert kinds == {"RESOLVED", "EXPLAINED"}
    said = [demo_reaction(co[0].topic, co[0].value, rng, 1.0, NOW) for _ in range(20)]
    assert any(said) and not all(said), "some co-handled petitions get an opinion, not all"


def test_a_petitioner_rates_the_reply_through_its_channel() -> None:
    request = {"appealId": "MP1", "petitionRef": "PH-AAAAAAAAAAAAAAAAAAAA", "round": 0}
    body = json.dumps(request).encode()
    [(topic, key, value, _)] = demo_reaction(
        "miniprogram.evaluation-requests", body, random.Random(1), 1.0, NOW
    )
    rating = json.loads(value)
    assert (topic, key) == ("miniprogram.evaluations", b"MP1")
    assert rating["petitionRef"] == request["petitionRef"] and rating["revision"] == 0
    assert rating["satisfaction"] in ("满意", "基本满意", "不满意")


@pytest.mark.parametrize("name", ["cn.gov.pds.hub.UnitNotice.v1", "cn.gov.pds.hub.UnitNotice.v2"])
def test_a_notice_needs_no_answer(name: str) -> None:
    notice = schemas.encode(
        name,
        {
            "eventId": "e",
            "petitionId": "PH-AAAAAAAAAAAAAAAAAAAA",
            "kind": "warning",
            "at": NOW,
            "message": "50%",
        },
    )
    assert demo_reaction("dept.TAX.petitions", notice, random.Random(1), 1.0, NOW) == []
