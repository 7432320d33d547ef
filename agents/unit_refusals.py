"""What a unit hears when the hub refuses one of its status events (``event_refused`` notices).

A refused ``UnitStatus`` event (by the ``unit-status`` re-keyer: it does not decode, it is keyed
by something else; or by the lifecycle: it does not fit the petition) goes to ``hub.rejects``,
which units may not read, and comes back to the unit as a ``UnitNotice.v3`` of kind
``event_refused`` on its own ``.petitions`` topic: its own ``.status`` topic, partition and offset
(where the unit wrote it, not the hub's internal repartition topic), the event's kind and the
unit's own id of it, the reason code and, in ``message``, the reason in a clerk's words and what
to do.

Nothing of the event's free text (note, reply text) is echoed, and no value the hub holds that the
unit may not see: only the unit's own event's place, kind and id, unit keys, states and times.

The re-keyer stamps every relayed event with where the unit wrote it (:data:`SOURCE_HEADERS`:
topic, partition, offset; no personal data) so the lifecycle, which reads the repartition topic,
can name it (:func:`unit_source`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from petition_hub import schemas
from petition_hub.runtime.records import SourceRecord
from petition_hub.schemas import codec, lifecycle_codec
from petition_hub.schemas import records as wire

#: Headers of a re-keyed status event: where the unit wrote it (its ``.status`` topic, partition,
#: offset, as ASCII text).
SOURCE_TOPIC_HEADER: Final = "hub-source-topic"
SOURCE_PARTITION_HEADER: Final = "hub-source-partition"
SOURCE_OFFSET_HEADER: Final = "hub-source-offset"
SOURCE_HEADERS: Final = (SOURCE_TOPIC_HEADER, SOURCE_PARTITION_HEADER, SOURCE_OFFSET_HEADER)

#: The kind of the notice.
REFUSED_KIND: Final = "event_refused"

#: Each reason code in a clerk's words: what went wrong and what to do.
REASON_TEXTS: Final = {
    "undecodable_status": "the event could not be read (it does not fit the UnitStatus schema); "
    "send it again as the contract describes",
    "undecodable_unit": "the event could not be read (it does not fit the UnitStatus schema); "
    "send it again as the contract describes",
    "key_mismatch": "the event's Kafka key is not its petitionId; send it again keyed by the "
    "petition id",
    "unknown_petition": "the hub knows no petition with this id for your unit; check the id",
    "bad_value": "a time in the event cannot be right; send it again with the time it happened",
    "internal": "the hub could not process it (a fault of the hub, reported to its operators); "
    "no need to send it again before they contact you",
    "petition_closed": "the petition is already closed; nothing more can be recorded on it",
    "not_a_handler": "your unit does not handle this petition (not the lead, not a co-handler)",
    "not_the_lead": "only the lead unit (主办) may do this; a co-handler (协办) may send an "
    "opinion (OPINION, 协办意见), which goes to the lead",
    "opinion_from_lead": "your unit leads this petition: the lead answers by its reply; an "
    "opinion is a co-handler's",
    "empty_opinion": "the opinion has no text; send it again with the opinion in note",
    "wrong_state": "this step does not fit where the petition is now",
    "not_signed_for": "the petition must be signed for (签收) first; sign for it, then send this "
    "again",
    "reply_before_sign_for": "a reply can only come after the unit has signed for (签收) the "
    "petition; sign for it first, then reply",
    "empty_reply": "the reply has no text; send it again with the answer in replyText",
    "return_window_passed": "a petition can be returned only within the sign-for time; it is "
    "now yours to handle",
    "routed_to_returning_unit": "your unit returned this petition before",
    "extension_already_requested": "an extension was already requested; only one is allowed",
    "extension_not_applicable": "this petition's time limit is counted in hours: it cannot be "
    "extended",
    "extension_too_long": "more working days were asked than the rules allow",
    "no_extension_pending": "no extension request is waiting for an answer",
    "nothing_to_dispute": "only a 不满意 (dissatisfied) rating may be disputed, and this "
    "petition has none",
    "dispute_already_made": "a rating of this petition was already disputed; only one dispute "
    "is allowed",
    "dispute_window_passed": "a rating may be disputed only within 5 working days of it; the "
    "time has passed",
    "empty_dispute": "the dispute has no reason; send it again with the reason in note",
    "no_dispute_pending": "no dispute of a rating is waiting for a decision",
}


def unit_source(src: SourceRecord) -> tuple[str, int, int]:
    """Where the unit wrote ``src``: its own topic, partition and offset, from the re-keyer's
    headers (``src`` itself when it has none: read from the unit's topic, or relayed by an
    older re-keyer)."""
    headers = {name: value for name, value in src.headers if value is not None}
    try:
        return (
            headers[SOURCE_TOPIC_HEADER].decode(),
            int(headers[SOURCE_PARTITION_HEADER]),
            int(headers[SOURCE_OFFSET_HEADER]),
        )
    except (KeyError, ValueError):
        return src.topic, src.partition, src.offset


def source_headers(src: SourceRecord) -> list[tuple[str, bytes]]:
    """The headers naming where the unit wrote ``src`` (read from its own topic)."""
    values = (src.topic, str(src.partition), str(src.offset))
    return [(name, value.encode()) for name, value in zip(SOURCE_HEADERS, values, strict=True)]


def _event_of(value: bytes | None) -> tuple[str | None, str | None]:
    """The event's kind and the unit's own id of it, as the unit wrote them (None, None when the
    record does not decode)."""
    try:
        sid, decoded = schemas.decode(value or b"")
        if sid not in schemas.record_ids(codec.UNIT_STATUS_RECORD):
            return None, None
        rec = codec.read_unit_status(decoded)
        return str(rec["kind"]), rec.get("eventId")
    except Exception:  # what does not decode has no kind to name
        return None, None


def refusal_text(
    where: tuple[str, int, int], kind: str | None, ref: str | None, reason: str, detail: str
) -> str:
    """The notice's message: which event, why in words, and the hub's own detail."""
    topic, partition, offset = where
    what = f"Your {kind} event" if kind else "Your event"
    if ref:
        what += f" {ref}"
    words = REASON_TEXTS.get(reason, reason.replace("_", " "))
    text = f"{what} ({topic} partition {partition} offset {offset}) was not applied: {words}."
    return f"{text} ({detail})" if detail else text


def refusal_notice(
    src: SourceRecord, pid: str | None, reason: str, detail: str, at: datetime
) -> wire.UnitNotice:
    """The ``event_refused`` notice of the status event ``src`` (read from the unit's topic or
    the repartition topic), refused for ``reason`` (``detail``: the hub's own words, never a
    value of the event)."""
    where = unit_source(src)
    kind, ref = _event_of(src.value)
    refused = lifecycle_codec.RefusedEvent(*where, kind=kind, ref=ref, reason=reason)
    return lifecycle_codec.unit_notice_record(
        pid or "",
        REFUSED_KIND,
        at,
        refusal_text(where, kind, ref, reason, detail),
        None,
        None,
        refused=refused,
    )


def unit_of(src: SourceRecord, header: str) -> str | None:
    """The unit of a status event: the re-keyer's ``header`` (``hub-unit``) or, read from the
    unit's own topic, the topic's (``dept.HUD.status`` -> ``dept.HUD``)."""
    stamped = dict(src.headers).get(header)
    if stamped:
        return stamped.decode()
    if src.topic.endswith(".status"):
        return src.topic.rsplit(".", 1)[0]
    return None
