"""What people read in the lifecycle's records: the notices' and the province's texts.

The warning ladder's notices carry the numbers of the clock they fired on (its
:class:`~petition_hub.domain.sla.ClockRules`, copied from the ``ladder`` of ``sla_policy.yaml``
when the clock started), so a changed policy changes the texts of the clocks it starts. Times are
Beijing time, to the minute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from petition_hub.domain.lifecycle import (
    Event,
    LifecycleState,
    PetitionState,
    Replied,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
)
from petition_hub.domain.sla import SHANGHAI, ClockKind, ClockRules, default_policy

#: The steps of the warning ladder: each one is a notice to the unit (:func:`step_notice`).
LADDER_SIGNALS: Final = frozenset(
    {
        SlaSignalKind.WARNING,
        SlaSignalKind.URGING,
        SlaSignalKind.OVERDUE,
        SlaSignalKind.LISTED_SUPERVISION,
    }
)
PROVISIONAL_NOTE: Final = (
    "deadline provisional: counted on the statutory holidays; the State Council's arrangement "
    "for that year is not published yet"
)
_CLOCK_WORDS: Final = {ClockKind.SIGN_FOR: "sign for", ClockKind.RESOLVE: "resolve"}


def step_notice(signal: SlaSignalKind, clock: ClockKind, rules: ClockRules) -> str:
    """What the unit reads when a ladder step of ``clock`` fires; the percentages and days are
    those the step fired by (``rules``: the clock's, from the policy's ``ladder``)."""
    words = _CLOCK_WORDS[clock]
    if signal is SlaSignalKind.WARNING:
        return f"{rules.warning_percent}% of the time to {words} has passed (预警)"
    if signal is SlaSignalKind.URGING:
        return f"{rules.urging_percent}% of the time to {words} has passed: urging (催办)"
    # who is told is :mod:`.lifecycle_supervision`'s: the texts say it as it is done
    if signal is SlaSignalKind.OVERDUE:
        return (
            f"the {words} deadline has passed: overdue, under supervision (逾期督办), reported to "
            "the joint-meeting office"
        )
    if signal is SlaSignalKind.LISTED_SUPERVISION:
        days = rules.listed_after_working_days
        return (
            f"{days} working day{'' if days == 1 else 's'} past the {words} deadline: listed "
            "supervision (挂牌督办), reported to the joint-meeting office and the leading group"
        )
    raise ValueError(f"{signal} is not a step of the warning ladder")


def clock_rules(s: PetitionState, clock: ClockKind) -> ClockRules:
    """The policy numbers ``clock`` of ``s`` runs by (the policy in force if it has none)."""
    state = s.sign_for if clock is ClockKind.SIGN_FOR else s.resolve
    return state.rules if state is not None else default_policy().rules


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
