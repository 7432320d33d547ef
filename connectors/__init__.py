"""Intake connectors: one module per upstream channel, each a pure ``decode(key, value, headers)``.

Nothing here does Kafka I/O. The intake agent looks its decoder up by topic:

>>> from petition_hub.connectors import PETITION_DECODERS
>>> decode = PETITION_DECODERS["hotline12345.workorders"]

and turns a :class:`~petition_hub.connectors.base.DecodeError` into a dead letter (the original
bytes, unchanged, with ``reason_code`` and ``message``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from . import hotline, miniprogram, province
from .base import DecodeError, Decoder, EvaluationDecoder, Reason

__all__ = [
    "EVALUATION_DECODERS",
    "PETITION_DECODERS",
    "TIME_FIELDS",
    "DecodeError",
    "Decoder",
    "EvaluationDecoder",
    "Reason",
    "hotline",
    "miniprogram",
    "province",
]

#: Topic → decoder of the petition topics.
PETITION_DECODERS: Final[Mapping[str, Decoder]] = {
    hotline.TOPIC: hotline.decode,
    miniprogram.TOPIC: miniprogram.decode,
    province.TOPIC: province.decode,
}

#: Topic → the channel's names of the petition's times (``received_at``, ``provincial_deadline``),
#: for intake's messages about a time outside the hub's window.
TIME_FIELDS: Final[Mapping[str, Mapping[str, str]]] = {
    hotline.TOPIC: hotline.TIME_FIELDS,
    miniprogram.TOPIC: miniprogram.TIME_FIELDS,
    province.TOPIC: province.TIME_FIELDS,
}

#: Topic → decoder of the evaluation topics.
EVALUATION_DECODERS: Final[Mapping[str, EvaluationDecoder]] = {
    hotline.EVALUATION_TOPIC: hotline.decode_evaluation,
    miniprogram.EVALUATION_TOPIC: miniprogram.decode_evaluation,
}
