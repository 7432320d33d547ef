"""A channel's one declaration (:class:`ChannelSpec`) and the tables derived from a list of them.

Each connector module declares its channel once, as ``CHANNEL: ChannelSpec``: the domain's
:class:`~petition_hub.domain.petition.Channel`, the topic it reads, its decoder, the names of the
petition's times, its rating topic and decoder if it collects ratings, where the hub asks its
petitioners to rate a reply, and where it tells them how their petition progresses.
:data:`petition_hub.connectors.CHANNELS` lists them; every table that needs the channels (intake's
decoders, the rating re-keyers, the input topics, the topics of evaluation requests and of
progress, the lifecycle's outputs, the developer corpus) is one of the functions below applied to
that list, so a new channel is one module and one line in the list.

Pure: no Kafka I/O, like the decoders themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from petition_hub.domain.petition import Channel

from .base import Decoder, EvaluationDecoder

__all__ = [
    "ChannelSpec",
    "EvaluationRequests",
    "ProgressTopic",
    "evaluation_decoders",
    "evaluation_request_topics",
    "evaluation_requests",
    "input_topics",
    "petition_decoders",
    "progress_topics",
    "time_fields",
]


class EvaluationRequests(NamedTuple):
    """Where the hub asks a channel's petitioners to rate a reply (JSON, in the channel's terms)."""

    topic: str
    ref_field: str
    """The field of the request that holds the channel's reference (``GDBH``, ``appealId``)."""


class ProgressTopic(NamedTuple):
    """Where the hub tells a channel's petitioners how their petition progresses (JSON, the
    hub's own shape; keyed by the channel's reference, held in ``ref_field``)."""

    topic: str
    ref_field: str
    """The field of a message that holds the channel's reference (``GDBH``, ``appealId``)."""


@dataclass(frozen=True)
class ChannelSpec:
    """One upstream channel, as the hub's tables need it."""

    channel: Channel
    topic: str
    """The topic of its petitions (owned by the channel)."""
    decode: Decoder
    time_fields: Mapping[str, str]
    """The petition's times (``Petition`` field → the channel's name), for intake's messages."""
    requests: EvaluationRequests
    """Where its petitioners are asked to rate a reply (another channel's topic, when it has
    none: the provincial platform's petitioners are called back by the 12345 hotline)."""
    evaluation_topic: str | None = None
    """The topic of its ratings, when it collects them."""
    decode_evaluation: EvaluationDecoder | None = field(default=None)
    progress: ProgressTopic | None = None
    """Where its petitioners hear of their petition's progress; None when the channel hears
    otherwise (the province: ``province.feedback``)."""

    def __post_init__(self) -> None:
        if (self.evaluation_topic is None) != (self.decode_evaluation is None):
            raise ValueError(
                f"channel {self.channel}: a rating topic needs a rating decoder, and the reverse"
            )


def _unique(specs: Iterable[ChannelSpec]) -> tuple[ChannelSpec, ...]:
    """``specs`` as a tuple; :class:`ValueError` when a channel or a topic is declared twice."""
    found = tuple(specs)
    channels = [s.channel for s in found]
    topics = [
        t
        for s in found
        for t in (s.topic, s.evaluation_topic, s.progress.topic if s.progress else None)
        if t is not None
    ]
    if len(set(channels)) != len(channels) or len(set(topics)) != len(topics):
        raise ValueError("a channel or a channel's topic is declared twice")
    return found


def petition_decoders(specs: Iterable[ChannelSpec]) -> dict[str, Decoder]:
    """Topic → decoder of the petition topics."""
    return {s.topic: s.decode for s in _unique(specs)}


def time_fields(specs: Iterable[ChannelSpec]) -> dict[str, Mapping[str, str]]:
    """Topic → the channel's names of the petition's times."""
    return {s.topic: s.time_fields for s in _unique(specs)}


def evaluation_decoders(specs: Iterable[ChannelSpec]) -> dict[str, EvaluationDecoder]:
    """Topic → decoder of the rating topics (channels that collect ratings, in list order)."""
    return {
        s.evaluation_topic: s.decode_evaluation
        for s in _unique(specs)
        if s.evaluation_topic is not None and s.decode_evaluation is not None
    }


def input_topics(specs: Iterable[ChannelSpec]) -> tuple[str, ...]:
    """The topics the channels own and the hub reads: each channel's petitions, then its
    ratings."""
    return tuple(t for s in _unique(specs) for t in (s.topic, s.evaluation_topic) if t is not None)


def evaluation_requests(specs: Iterable[ChannelSpec]) -> dict[Channel, EvaluationRequests]:
    """Channel → where its petitioners are asked to rate a reply."""
    return {s.channel: s.requests for s in _unique(specs)}


def evaluation_request_topics(specs: Iterable[ChannelSpec]) -> tuple[str, ...]:
    """The topics of evaluation requests, each once, in list order."""
    return tuple(dict.fromkeys(s.requests.topic for s in _unique(specs)))


def progress_topics(specs: Iterable[ChannelSpec]) -> dict[Channel, ProgressTopic]:
    """Channel → where its petitioners hear of their petition's progress (channels that have
    such a topic, in list order)."""
    return {s.channel: s.progress for s in _unique(specs) if s.progress is not None}
