"""Re-keyers: the units' status events and the petitioners' ratings, keyed by hub petition id.

The lifecycle (and routing, for returns) keep their state per petition, partitioned by petition
id; the units and the channels key their records otherwise. Each re-keyer is a batch stage that
writes the record again to a hub-internal topic co-partitioned with ``hub.petitions``. Neither
keeps any state.

:class:`StatusRekeyer` (stage ``unit-status``, registered by :mod:`.routing`):

- Consumes: the units' ``dept.<CODE>.status`` / ``county.<DIV>.status`` topics (Avro
  ``UnitStatus`` v4, and v3 to v1 still read; key: the petition id).
- Emits: ``<app>-unit-status-repartition`` (the value unchanged, key: its ``petitionId``, headers
  ``hub-unit``: the unit, from the topic: a unit writes only its own topic, and
  ``hub-source-topic`` / ``-partition`` / ``-offset``: where the unit wrote it, so that a refusal
  names the unit's own record); ``hub.rejects`` for an undecodable event and for one whose Kafka
  key is not its ``petitionId`` (``key_mismatch``: the key decides the partition, so such an
  event would reach a partition that does not hold its petition), each with an ``event_refused``
  notice to the unit on its ``.petitions`` topic (:mod:`.unit_refusals`).

:class:`EvaluationRekeyer` (stages ``evaluations-<channel>``, registered by :mod:`.lifecycle`):

- Consumes: ``miniprogram.evaluations`` (key ``appealId``) and ``hotline12345.callbacks`` (key
  ``GDBH``), JSON in the channels' own terms.
- Emits: ``<app>-evaluations-repartition`` (Avro ``Evaluation.v2``, key: the hub petition id,
  the channel's reference's or, for a provincial dispatch's call-back, the ``petitionRef`` the hub
  sent); ``hub.deadletter`` for what the connector cannot decode, with the reason (the original
  kept whole, encrypted), like intake's dead letters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from petition_hub import schemas
from petition_hub.connectors import EVALUATION_DECODERS, DecodeError, EvaluationDecoder
from petition_hub.runtime.processor import Processor
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec
from petition_hub.service import metrics
from petition_hub.service.clock import Clock, system_clock
from petition_hub.service.crypto import PiiCipher
from petition_hub.service.settings import Settings
from petition_hub.topics import TopicSpec
from petition_hub.topics.names import (
    changelog_topic,
    evaluations_repartition,
    stage_group,
    status_repartition,
)
from petition_hub.topics.spec import declared, unit_petition_topics

from .intake import dead_letter
from .routing_records import rejection, undecodable_reason
from .unit_refusals import refusal_notice, source_headers

log = structlog.get_logger(__name__)

#: Header of a re-keyed status event: the unit it came from (``dept.HUD``).
UNIT_HEADER: Final = "hub-unit"
#: The CloudEvents type of a relayed status event (its bytes are the unit's, decoded later).
UNIT_STATUS_TYPE: Final = codec.UNIT_STATUS_RECORD
#: The rating topics, with their connectors' decoders (in the order of their stages), as the
#: channels declare them.
EVALUATION_TOPICS: Final[Mapping[str, EvaluationDecoder]] = EVALUATION_DECODERS
_HUB_ID: Final = re.compile(r"PH-[A-Z2-7]{20}")


def _unit_of_topic(topic: str) -> str:
    """``dept.HUD.status`` -> ``dept.HUD``."""
    return topic.rsplit(".", 1)[0]


class StatusRekeyer(Processor):
    """Unit status events, re-keyed by petition id and stamped with the unit they came from."""

    def __init__(
        self,
        target: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        unit_topics: frozenset[str] | None = None,
    ):
        self.target = target
        self.clock = clock
        #: the units' ``.petitions`` topics (None: every unit has one); a refusal is told only
        #: on a declared one
        self.unit_topics = unit_topics

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        try:
            sid, decoded = schemas.decode(src.value or b"")
            if sid not in schemas.record_ids(codec.UNIT_STATUS_RECORD):
                raise ValueError(f"schema id {sid} is not a unit status event")
            event = codec.read_unit_status(decoded)
        except Exception as exc:
            return self._refuse(src, None, STATUS_REJECT_REASONS[0], undecodable_reason(exc))
        pid = str(event["petitionId"])
        if src.key != pid.encode():
            # neither value in the message: a unit's key may be anything (say, a phone number)
            what = "has no key" if src.key is None else "is keyed by something else"
            message = f"the event {what}: a unit status event must be keyed by its petitionId"
            return self._refuse(src, pid, STATUS_REJECT_REASONS[1], message)
        headers = [(UNIT_HEADER, _unit_of_topic(src.topic).encode()), *source_headers(src)]
        # relayed as the unit wrote it: its CloudEvents type says what it is whatever the bytes
        return [Output(self.target, pid.encode(), src.value, headers, ce_type=UNIT_STATUS_TYPE)]

    def _refuse(
        self, src: SourceRecord, pid: str | None, reason: str, message: str
    ) -> list[Output]:
        """The rejection, and the unit's ``event_refused`` notice on its ``.petitions`` topic
        (keyed by the petition id when the event names one; never by the unit's own key, which
        may be anything)."""
        at = self.clock()
        notice = refusal_notice(src, pid, reason, message, at)
        unit_topic = f"{_unit_of_topic(src.topic)}.petitions"
        rejected = rejection(src, pid, reason, message, at)
        if self.unit_topics is not None and unit_topic not in self.unit_topics:
            log.warning("no topic for a unit notice", topic=unit_topic, kind=notice["kind"])
            return [rejected]
        key = pid.encode() if pid else None
        return [rejected, Output(unit_topic, key, schemas.encode(codec.NOTICE_V3, notice))]


class EvaluationRekeyer(Processor):
    """A channel's ratings, decoded by its connector and re-keyed by hub petition id; what does
    not decode is dead-lettered with the reason (kept whole, encrypted), as intake does."""

    def __init__(
        self,
        connector: str,
        decode: EvaluationDecoder,
        cipher: PiiCipher,
        target: str,
        clock: Clock = system_clock,
    ) -> None:
        self.connector = connector
        self.decode = decode
        self.cipher = cipher
        self.target = target
        self.clock = clock

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        try:
            evaluation = self.decode(src.key, src.value, src.headers)
        except DecodeError as exc:
            return [self._dead(src, exc.reason_code.value, type(exc).__name__, exc.message)]
        except Exception as exc:  # a connector bug: keep the message, say so
            log.exception("evaluation connector raised", source=src.ref)
            return [self._dead(src, "internal", type(exc).__name__, "the connector raised (a bug)")]
        ref = evaluation.petition_ref
        pid = evaluation.petition_id
        if ref and _HUB_ID.fullmatch(ref):
            # the hub's own id, as it sent it in the request: how a provincial dispatch's 12345
            # call-back (GDBH = the dispatch id) finds its petition
            pid = ref
        record = codec.evaluation_record(evaluation, petition_id=pid)
        value = schemas.encode(codec.EVALUATION_V2, record)
        return [Output(self.target, pid.encode(), value)]

    def _dead(self, src: SourceRecord, reason: str, error: str, message: str) -> Output:
        return dead_letter(src, self.connector, self.cipher, self.clock(), reason, error, message)


#: What the unit-status stage answers on ``hub.rejects`` (a unit's own mistakes).
STATUS_REJECT_REASONS: Final = ("undecodable_status", "key_mismatch")


def status_stage(
    settings: Settings, spec: Mapping[str, TopicSpec], common: dict[str, Any]
) -> Stage:
    """The ``unit-status`` stage over every ``.status`` topic of ``spec``, into its repartition
    topic (as topics.yaml declares it: the partitions of ``hub.petitions``)."""
    status_topics = sorted(t for t in spec if t.endswith(".status"))
    # a refusal's notice goes to the unit's .petitions topic: by the hub's one rule for petition
    # keys, like the other writers of those topics
    unit_topics = unit_petition_topics(spec)
    common = {**common, "petition_keyed": unit_topics}
    repartition = status_repartition(settings.app_id)
    group = stage_group(settings.app_id, "unit-status")
    metrics.create_reject_series({t: STATUS_REJECT_REASONS for t in status_topics})
    return Stage(
        name="unit-status",
        sources=status_topics,
        partitions=spec[status_topics[0]].partitions,
        processor=StatusRekeyer(repartition, unit_topics=frozenset(unit_topics)),
        group=group,
        topics=declared(spec, (repartition, changelog_topic(group)), "the unit-status stage"),
        **common,
    )


def evaluation_stages(
    settings: Settings,
    spec: Mapping[str, TopicSpec],
    common: dict[str, Any],
    cipher: PiiCipher,
) -> list[Stage]:
    """One ``evaluations-<channel>`` stage per rating topic, into its repartition topic (as
    topics.yaml declares it: the partitions of the lifecycle's topics)."""
    evaluations = evaluations_repartition(settings.app_id)
    return [
        Stage(
            name=f"evaluations-{topic.split('.')[0]}",
            sources=(topic,),
            partitions=spec[topic].partitions,
            processor=EvaluationRekeyer(
                f"{decode.__module__.rsplit('.', 1)[-1]}-evaluations", decode, cipher, evaluations
            ),
            group=(group := stage_group(settings.app_id, f"evaluations-{topic.split('.')[0]}")),
            topics=declared(spec, (evaluations, changelog_topic(group)), "a ratings stage"),
            **common,
        )
        for topic, decode in EVALUATION_TOPICS.items()
    ]
