"""Supervision reaches the supervisors: which ladder steps the joint-meeting office (联席会议办公室)
and the leading group (领导小组) are told of, and their records.

- A petition a unit holds: overdue (逾期督办) goes to the office, listed supervision (挂牌督办) to
  the office and the leading group; warning and urging are the unit's alone.
- A petition nobody holds (in triage, received, returned): the office answers for it (the step
  names :data:`~petition_hub.domain.lifecycle.OFFICE_UNIT`), so every step goes to the office,
  listed supervision to the leading group too.

Each record is a ``Supervision.v1`` on ``office.supervision`` / ``leadinggroup.supervision``
(keyed by petition id, no personal data); the unit's own notice says who was told.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from petition_hub import schemas
from petition_hub.domain.lifecycle import OFFICE_UNIT, PetitionState, SlaSignal, SlaSignalKind
from petition_hub.domain.sla import ClockRules
from petition_hub.runtime.records import Output
from petition_hub.schemas import codec, lifecycle_codec
from petition_hub.topics.names import LEADING_GROUP_SUPERVISION, OFFICE_SUPERVISION

__all__ = ["LEADING_GROUP", "OFFICE", "supervision", "supervisors"]

#: The supervisors' names in ``reportedTo``.
OFFICE: Final = "office"
LEADING_GROUP: Final = "leading_group"
_TOPIC: Final = {OFFICE: OFFICE_SUPERVISION, LEADING_GROUP: LEADING_GROUP_SUPERVISION}
#: Who is told of a step of a petition a unit holds.
_HELD: Final = {
    SlaSignalKind.OVERDUE: (OFFICE,),
    SlaSignalKind.LISTED_SUPERVISION: (OFFICE, LEADING_GROUP),
}


def supervisors(signal: SlaSignalKind, held: bool) -> tuple[str, ...]:
    """Who is told of the ladder step ``signal``: of a petition a unit holds (``held``), or of
    one nobody holds (the office answers for it: it hears every step)."""
    if held:
        return _HELD.get(signal, ())
    if signal is SlaSignalKind.LISTED_SUPERVISION:
        return (OFFICE, LEADING_GROUP)
    return (OFFICE,)


def supervision(
    s: PetitionState,
    effect: SlaSignal,
    rules: ClockRules,
    message: str,
    unit_name: Callable[[str], str],
) -> list[Output]:
    """The records of the ladder step ``effect`` of ``s`` for its supervisors (none when it is
    the unit's alone); ``message`` says what happened, ``rules`` are the clock's numbers."""
    held = s.lead_unit is not None
    told = supervisors(effect.signal, held)
    if not told:
        return []
    unit = effect.unit or s.lead_unit or OFFICE_UNIT
    late = (
        rules.listed_after_working_days if effect.signal is SlaSignalKind.LISTED_SUPERVISION else 0
    )
    if not held:
        message += f" (nobody holds the petition, {s.state.value}: the office answers for it)"
    record = lifecycle_codec.supervision_record(
        s,
        effect,
        unit,
        unit_name(unit),
        working_days_late=late,
        reported_to=told,
        message=message,
    )
    value = schemas.encode(codec.SUPERVISION_V1, record)
    return [Output(_TOPIC[who], s.petition_id.encode(), value) for who in told]
