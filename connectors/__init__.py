"""Intake connectors: one module per upstream channel, each a pure ``decode(key, value, headers)``
and one declaration of its channel (``CHANNEL``, a :class:`~.channel.ChannelSpec`), listed once in
:data:`CHANNELS`; every table of the channels is derived from that list.

Nothing here does Kafka I/O. The intake agent looks its decoder up by topic:

>>> from petition_hub.connectors import PETITION_DECODERS
>>> decode = PETITION_DECODERS["hotline12345.workorders"]

and turns a :class:`~petition_hub.connectors.base.DecodeError` into a dead letter (the original
bytes, unchanged, with ``reason_code`` and ``message``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from petition_hub.domain.petition import Channel

from . import hotline, miniprogram, province
from .base import DecodeError, Decoder, EvaluationDecoder, Reason
from .channel import (
    ChannelSpec,
    EvaluationRequests,
    ProgressTopic,
    evaluation_decoders,
    evaluation_request_topics,
    evaluation_requests,
    input_topics,
    petition_decoders,
    progress_topics,
    time_fields,
)

__all__ = [
    "CHANNELS",
    "EVALUATION_DECODERS",
    "EVALUATION_REQUESTS",
    "EVALUATION_REQUEST_TOPICS",
    "INPUT_TOPICS",
    "PETITION_DECODERS",
    "PROGRESS_TOPICS",
    "TIME_FIELDS",
    "ChannelSpec",
    "DecodeError",
    "Decoder",
    "EvaluationDecoder",
    "EvaluationRequests",
    "ProgressTopic",
    "Reason",
    "hotline",
    "miniprogram",
    "province",
]

#: The channels, each declared once in its module: the one list every table below derives from
#: (and the input topics, the evaluation requests, the lifecycle's outputs and the corpus).
CHANNELS: Final[tuple[ChannelSpec, ...]] = (hotline.CHANNEL, miniprogram.CHANNEL, province.CHANNEL)

#: Topic → decoder of the petition topics.
PETITION_DECODERS: Final[Mapping[str, Decoder]] = petition_decoders(CHANNELS)

#: Topic → the channel's names of the petition's times (``received_at``, ``provincial_deadline``),
#: for intake's messages about a time outside the hub's window.
TIME_FIELDS: Final[Mapping[str, Mapping[str, str]]] = time_fields(CHANNELS)

#: Topic → decoder of the evaluation topics.
EVALUATION_DECODERS: Final[Mapping[str, EvaluationDecoder]] = evaluation_decoders(CHANNELS)

#: The topics the channels own and the hub reads (their petitions, then their ratings).
INPUT_TOPICS: Final[tuple[str, ...]] = input_topics(CHANNELS)

#: Channel → where its petitioners are asked to rate a reply.
EVALUATION_REQUESTS: Final[Mapping[Channel, EvaluationRequests]] = evaluation_requests(CHANNELS)

#: The topics of evaluation requests (the hub writes them), each once.
EVALUATION_REQUEST_TOPICS: Final[tuple[str, ...]] = evaluation_request_topics(CHANNELS)

#: Channel → where its petitioners hear of their petition's progress (the hub writes them).
PROGRESS_TOPICS: Final[Mapping[Channel, ProgressTopic]] = progress_topics(CHANNELS)
