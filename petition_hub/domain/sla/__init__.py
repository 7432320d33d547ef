"""SLA policy and clock arithmetic: deadlines, pauses, extensions and the warning ladder.

Everything here is pure: no clock is read (times are passed in), no I/O but loading the policy
file. The policy (``petition_hub/data/sla_policy.yaml``, :class:`SlaPolicy`) holds every number of
domain.md "SLA clocks" as a default; :class:`ClockState` is one running clock (sign for, or
resolve) and the functions :func:`start_clock`, :func:`pause`, :func:`resume`, :func:`extend`,
:func:`stop`, :func:`deadline`, :func:`ladder` and :func:`next_due` are all the workers need.
:func:`explain` is what ``petition-hub sla explain`` prints.

Where each part lives:

* :mod:`.policy`: the policy file and its numbers (:class:`SlaPolicy`, :func:`load_policy`);
* :mod:`.state`: :class:`ClockState`, the clock kinds and ladder steps;
* :mod:`.worktime`: how time is counted (working days, working windows, Beijing time);
* :mod:`.clocks`: opening and changing clocks (start, pause, resume, extend, stop);
* :mod:`.deadlines`: deadlines and the ladder (and whether a stopped clock met its deadline);
* :mod:`.explanation`: ``petition-hub sla explain``.
"""

from petition_hub.domain.sla.clocks import (
    extend,
    pause,
    reopen_clock,
    resolve_clock,
    resume,
    sign_for_clock,
    start_clock,
    stop,
)
from petition_hub.domain.sla.deadlines import (
    deadline,
    is_overdue,
    known_deadline,
    ladder,
    met,
    next_due,
    own_deadline,
    provisional,
)
from petition_hub.domain.sla.explanation import (
    ExplainedClock,
    ExplainedPause,
    ExplainedStep,
    ExplainedTime,
    SlaExplanation,
    explain,
)
from petition_hub.domain.sla.policy import (
    ClockRules,
    DisputePolicy,
    EvaluationPolicy,
    ExtensionPolicy,
    LadderPolicy,
    Limit,
    PolicyError,
    ReopenPolicy,
    ResolveRule,
    SlaPolicy,
    WorkingTime,
    default_policy,
    load_policy,
)
from petition_hub.domain.sla.state import ClockError, ClockKind, ClockState, LadderStep, Pause
from petition_hub.domain.sla.worktime import SHANGHAI, add_working_time, year_start

__all__ = [
    "SHANGHAI",
    "ClockError",
    "ClockKind",
    "ClockRules",
    "ClockState",
    "DisputePolicy",
    "EvaluationPolicy",
    "ExplainedClock",
    "ExplainedPause",
    "ExplainedStep",
    "ExplainedTime",
    "ExtensionPolicy",
    "LadderPolicy",
    "LadderStep",
    "Limit",
    "Pause",
    "PolicyError",
    "ReopenPolicy",
    "ResolveRule",
    "SlaExplanation",
    "SlaPolicy",
    "WorkingTime",
    "add_working_time",
    "deadline",
    "default_policy",
    "explain",
    "extend",
    "is_overdue",
    "known_deadline",
    "ladder",
    "load_policy",
    "met",
    "next_due",
    "own_deadline",
    "pause",
    "provisional",
    "reopen_clock",
    "resolve_clock",
    "resume",
    "sign_for_clock",
    "start_clock",
    "stop",
    "year_start",
]
