"""Every table of the channels derives from one list (``connectors.CHANNELS``), so adding a channel
is one connector module and one line in that list (``docs/architecture.md``, "Adding a fourth
channel"): a real connector (``portal_channel.py``) put in a list of channels shows up in every
derived table, and the hub's own tables are those derivations of the real list."""

from __future__ import annotations

import json

import portal_channel
import pytest

from petition_hub import connectors
from petition_hub.agents import lifecycle_records, rekeyers
from petition_hub.connectors import hotline, miniprogram, province
from petition_hub.connectors.channel import (
    ChannelSpec,
    evaluation_decoders,
    evaluation_request_topics,
    evaluation_requests,
    input_topics,
    petition_decoders,
    time_fields,
)
from petition_hub.devtools import corpus
from petition_hub.domain.petition import Channel
from petition_hub.service.settings import PROJECT_ROOT
from petition_hub.topics import load_topics, names

#: A list with the portal in the provincial channel's place (the enum cannot grow at run time).
WITH_PORTAL = (hotline.CHANNEL, miniprogram.CHANNEL, portal_channel.CHANNEL)


def test_a_channel_in_the_list_is_in_every_derived_table() -> None:
    assert petition_decoders(WITH_PORTAL)["portal.cases"] is portal_channel.decode
    assert time_fields(WITH_PORTAL)["portal.cases"] == {"received_at": "submittedAt"}
    assert evaluation_decoders(WITH_PORTAL)["portal.ratings"] is portal_channel.decode_evaluation
    assert input_topics(WITH_PORTAL) == (
        "hotline12345.workorders",
        "hotline12345.callbacks",
        "miniprogram.appeals",
        "miniprogram.evaluations",
        "portal.cases",
        "portal.ratings",
    )
    requests = evaluation_requests(WITH_PORTAL)[Channel.PROVINCE]
    assert requests == ("portal.rating-requests", "caseNo")
    assert evaluation_request_topics(WITH_PORTAL) == (
        "hotline12345.callback-requests",
        "miniprogram.evaluation-requests",
        "portal.rating-requests",
    )
    # and the one it replaced is in none of them
    for table in (petition_decoders(WITH_PORTAL), time_fields(WITH_PORTAL)):
        assert province.TOPIC not in table


def test_the_derived_decoder_decodes_the_new_channel() -> None:
    value = {"caseNo": "P-1", "content": "融资难", "submittedAt": "2026-11-21T09:15:32+08:00"}
    decode = petition_decoders(WITH_PORTAL)["portal.cases"]
    petition = decode(b"P-1", json.dumps(value).encode(), ())
    assert (petition.channel_ref, petition.content) == ("P-1", "融资难")
    rating = {"caseNo": "P-1", "satisfaction": "满意", "evaluatedAt": "2026-11-22T09:00:00Z"}
    evaluation = evaluation_decoders(WITH_PORTAL)["portal.ratings"](
        b"P-1", json.dumps(rating, ensure_ascii=False).encode(), ()
    )
    assert evaluation.petition_id == petition.petition_id


def test_a_channel_or_topic_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        petition_decoders((*connectors.CHANNELS, portal_channel.CHANNEL))
    with pytest.raises(ValueError, match="rating topic needs a rating decoder"):
        ChannelSpec(
            channel=Channel.PROVINCE,
            topic="portal.cases",
            decode=portal_channel.decode,
            time_fields={},
            requests=portal_channel.RATING_REQUESTS,
            evaluation_topic="portal.ratings",
        )


def test_the_hubs_tables_are_derived_from_the_list() -> None:
    channels = connectors.CHANNELS
    assert [s.channel for s in channels] == list(Channel)
    assert petition_decoders(channels) == connectors.PETITION_DECODERS
    assert time_fields(channels) == connectors.TIME_FIELDS
    assert evaluation_decoders(channels) == connectors.EVALUATION_DECODERS
    assert evaluation_decoders(channels) == rekeyers.EVALUATION_TOPICS
    assert input_topics(channels) == names.INPUT_TOPICS
    assert set(evaluation_request_topics(channels)) <= set(names.HUB_TOPICS)
    assert evaluation_requests(channels) == connectors.EVALUATION_REQUESTS
    spec = {t.name: t for t in load_topics(PROJECT_ROOT / "topics.yaml").topics}
    outputs = lifecycle_records.lifecycle_outputs(spec)
    assert set(evaluation_request_topics(channels)) <= set(outputs)
    # the developer corpus: one generator per channel, for the channel's petition topic
    assert tuple(s.channel.value for s in channels) == corpus.CHANNELS
    assert {s.channel.value: s.topic for s in channels} == corpus.TOPICS
    assert [c.channel for c in corpus.CORPORA] == list(corpus.CHANNELS)
