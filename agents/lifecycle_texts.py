"""What people read in the lifecycle's records: the notices' and the province's texts.

Times are Beijing time, to the minute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from petition_hub.domain.lifecycle import (
    Event,
    LifecycleState,
    Replied,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
)
from petition_hub.domain.sla import SHANGHAI, ClockKind

PROVISIONAL_NOTE: Final = (
    "deadline provisional: counted on the statutory holidays; the State Council's arrangement "
    "for that year is not published yet"
)
_CLOCK_WORDS: Final = {ClockKind.SIGN_FOR: "sign for", ClockKind.RESOLVE: "resolve"}
_STEP_NOTICE: Final = {
    SlaSignalKind.WARNING: "50% of the time to {clock} has passed (预警)",
    SlaSignalKind.URGING: "80% of the time to {clock} has passed: urging (催办)",
    SlaSignalKind.OVERDUE: "the {clock} deadline has passed: overdue, under supervision (逾期督办)",
    SlaSignalKind.LISTED_SUPERVISION: "5 working days past the {clock} deadline: listed "
    "supervision (挂牌督办), reported to the leading group",
}
#: The steps of the warning ladder: each one is a notice to the unit (:func:`step_notice`).
LADDER_SIGNALS: Final = frozenset(_STEP_NOTICE)


def step_notice(signal: SlaSignalKind, clock: ClockKind) -> str:
    """What the unit reads when a ladder step of ``clock`` fires."""
    return _STEP_NOTICE[signal].format(clock=_CLOCK_WORDS[clock])


def _local(t: datetime | None) -> str:
    return "unknown" if t is None else t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def deadline_changed_text(effect: SlaSignal) -> str:
    """What the unit (and the province) reads when the calendar moved a deadline."""
    words = _CLOCK_WORDS[effect.clock]
    text = (
        f"the working-day calendar changed: the {words} deadline is now "
        f"{_local(effect.deadline)} (was {_local(effect.previous_deadline)}, Beijing time)"
    )
    if effect.deadline == effect.previous_deadline:
        text = f"the working-day calendar changed: a pending {words} reminder moved"
    return f"{text}; {PROVISIONAL_NOTE}" if effect.provisional else f"{text} (official)"


def feedback_message(
    effect: StateChanged, event: Event | None, provisional_deadline: bool
) -> str | None:
    """The message of a provincial dispatch's state change: the reply's text, the closure, or
    the change itself; ``provisional_deadline``: its resolve deadline is provisional (said)."""
    message: str | None = f"{effect.from_state or '-'} -> {effect.to_state}: {effect.cause}"
    if isinstance(event, Replied) and effect.to_state is LifecycleState.REPLIED:
        message = event.text
    elif effect.closure is not None:
        message = f"closed ({effect.closure.value})"
    return f"{message} [{PROVISIONAL_NOTE}]" if provisional_deadline else message
