"""The records of a unit's dispute of a rating (对评价结果有异议) and of the office's decision.

- :class:`~petition_hub.domain.lifecycle.DisputeForwarded` (the lead unit disputed a 不满意):
  ``hub.lifecycle`` ``rating_disputed`` (``LifecycleEvent.v4``: the unit, ``ratedAt`` naming the
  rating, the reason in ``note`` with phone- and ID-shaped numbers masked). The joint-meeting
  office reads it there, as it reads extension requests (``extension_requested``), and answers
  on ``office.decisions`` (``RATING_UPHELD`` / ``RATING_VOIDED``).
- :class:`~petition_hub.domain.lifecycle.DisputeAnswered` (the office decided):
  ``hub.lifecycle`` ``dispute_decided`` (``disputeOutcome``: ``voided`` or ``upheld``,
  ``ratedAt``: the report leaves a voided rating out of 满意率) and a notice to the lead unit
  on its ``.petitions`` topic (``UnitNotice.v3``, kind ``rating_voided`` / ``rating_upheld``,
  the office's note in the message).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol

from petition_hub.domain.lifecycle import DisputeAnswered, DisputeForwarded
from petition_hub.domain.privacy import mask_text
from petition_hub.runtime.records import Output
from petition_hub.schemas import lifecycle_codec
from petition_hub.schemas import records as wire

if TYPE_CHECKING:
    from .lifecycle_records import _Rendering

#: The notice kinds of the office's decision, to the lead unit.
VOIDED_KIND: Final = "rating_voided"
UPHELD_KIND: Final = "rating_upheld"


class _Notices(Protocol):
    def notice(
        self, unit: str, record: wire.UnitNotice, key: bytes | None = None
    ) -> list[Output]: ...


def dispute_records(
    effect: DisputeForwarded | DisputeAnswered,
    r: _Rendering,
    notices: _Notices,
    lifecycle_output: Callable[[bytes, wire.LifecycleEvent, str], Output],
) -> list[Output]:
    """The records of a dispute (``effect``) of the petition ``r.s``; ``lifecycle_output``
    writes a record on ``hub.lifecycle`` (the stage's one writer of it), ``notices`` to a unit."""
    if isinstance(effect, DisputeForwarded):
        record = r.lifecycle(
            effect,
            "rating_disputed",
            unit=effect.unit,
            note=mask_text(effect.reason),
            rated_at=effect.rated_at,
        )
        return [lifecycle_output(r.key, record, "rating_disputed")]
    outcome = "voided" if effect.voided else "upheld"
    record = r.lifecycle(
        effect,
        "dispute_decided",
        unit=effect.unit,
        note=effect.note or None,
        dispute_outcome=outcome,
        rated_at=effect.rated_at,
    )
    out = [lifecycle_output(r.key, record, "dispute_decided")]
    if effect.unit:
        out += notices.notice(effect.unit, _decision_notice(effect, r.s.petition_id))
    return out


def _decision_notice(effect: DisputeAnswered, petition_id: str) -> wire.UnitNotice:
    """The lead unit's notice of the office's decision."""
    rated = effect.rated_at.isoformat(timespec="seconds")
    if effect.voided:
        kind = VOIDED_KIND
        text = (
            f"the joint-meeting office voided the 不满意 rating of {rated} that your unit "
            "disputed: it is not counted in 满意率 or your dissatisfied count (the reopened "
            "handling goes on)"
        )
    else:
        kind = UPHELD_KIND
        text = (
            f"the joint-meeting office upheld the 不满意 rating of {rated} that your unit "
            "disputed: it stands"
        )
    if effect.note:
        text += f"; the office's note: {mask_text(effect.note)}"
    return lifecycle_codec.unit_notice_record(petition_id, kind, effect.at, text, None, None)
