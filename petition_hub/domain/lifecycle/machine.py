"""Applying an event: :func:`apply` catches the clocks up, checks the event's petition and sender,
and hands it to its handler (:mod:`.handlers`).

Rules worth knowing:

* Before any event, the clocks are caught up to the event's time: ladder steps and the end of the
  evaluation window that fell due are applied first, in time order, each exactly once (the fired
  steps are part of the state). So the effects do not depend on when the timer happened to tick,
  and :class:`Tick` is just "catch up to now". :func:`next_wakeup` is when the next one is due.
* Event times never go backwards: an event stamped earlier than the last applied one is applied at
  the last one's time (clock skew between units must not make a clock run backwards).
* Only the lead unit (主办) changes the lifecycle; a co-handler (协办) may send an opinion
  (:class:`OpinionGiven`, to the lead and the history; the lead's own opinion is refused
  ``opinion_from_lead``), anything else from it gets ``not_the_lead``, any other unit
  ``not_a_handler``. A unit that returned the petition is no longer a handler.
* A closed petition takes nothing more but a dispute of its rating and the office's decision on
  it (:mod:`.disputes`).
* A year without calendar data: deadlines in it are reported as unknown (None), ladder steps in
  it are held (no step in a year can be due before the year begins), a clock stopped before the
  year begins was stopped in time; :func:`next_wakeup` raises
  :class:`~petition_hub.domain.calendar.CalendarUnavailable` when the next wake-up cannot be
  known, and
  :func:`apply` raises it only when an answer cannot be given at all (a clock opened in that
  year, a step due once the year has begun): the caller flags it and retries after the override
  file is fixed.
"""

from __future__ import annotations

from datetime import datetime

from petition_hub.domain.calendar import WorkingCalendar, default_calendar
from petition_hub.domain.lifecycle.catchup import _catch_up
from petition_hub.domain.lifecycle.context import _Ctx
from petition_hub.domain.lifecycle.effects import SlaSignalKind, StateChanged
from petition_hub.domain.lifecycle.events import (
    DisputeDecided,
    Event,
    OpinionGiven,
    RatingDisputed,
    Received,
    Tick,
    _UnitEvent,
)
from petition_hub.domain.lifecycle.handlers import handle
from petition_hub.domain.lifecycle.results import (
    Accepted,
    Rejection,
    RejectReason,
    Result,
    _reject,
)
from petition_hub.domain.lifecycle.states import LifecycleState, PetitionState
from petition_hub.domain.sla import SlaPolicy, default_policy, resolve_clock

__all__ = ["apply"]


def apply(
    state: PetitionState | None,
    event: Event,
    *,
    policy: SlaPolicy | None = None,
    cal: WorkingCalendar | None = None,
    now: datetime | None = None,
) -> Result:
    """Apply ``event`` to ``state`` (None: the petition is not known yet). Pure: the same inputs
    give the same result. ``now`` is when the effects are published (the hub's clock; default
    the event's time): an evaluation window starts then. See the module documentation for the
    rules."""
    pol = policy or default_policy()
    c = cal or default_calendar()
    if state is None:
        if isinstance(event, Received):
            return _start(event, pol, c)
        return _reject(RejectReason.UNKNOWN_PETITION, f"no petition {event.petition_id}")
    if event.petition_id != state.petition_id:
        return _reject(
            RejectReason.PETITION_MISMATCH,
            f"event for {event.petition_id} applied to {state.petition_id}",
        )
    if isinstance(event, Received):
        return _reject(RejectReason.ALREADY_RECEIVED, "the petition is already known")
    at = max(event.at, state.updated_at)
    ctx = _Ctx(state, at, pol, c, now)
    _catch_up(ctx)
    if isinstance(event, Tick):
        if not ctx.effects:  # nothing happened (the calendar bookkeeping may have)
            return Accepted(state=ctx.s, effects=())
        return ctx.accepted()
    # the sender first: a unit that does not handle the petition learns nothing of it (the
    # refusal comes back to the unit)
    if isinstance(event, _UnitEvent) and (refused := _check_sender(ctx, event)) is not None:
        return refused
    # a 不满意 that used up the reopen closes the petition: its dispute and the office's
    # decision still come (.disputes)
    closed_ok = isinstance(event, RatingDisputed | DisputeDecided)
    if ctx.s.state is LifecycleState.CLOSED and not closed_ok:
        how = ctx.s.closure.value if ctx.s.closure is not None else "closed"
        return _reject(RejectReason.PETITION_CLOSED, f"the petition is closed ({how})")
    return handle(ctx, event)


def _check_sender(ctx: _Ctx, event: _UnitEvent) -> Rejection | None:
    """Only the lead unit changes the lifecycle and only a co-handler gives an opinion: a
    co-handler's other events get ``not_the_lead``, the lead's opinion ``opinion_from_lead``,
    any other unit ``not_a_handler``."""
    if event.unit not in ctx.s.handlers:
        return _reject(
            RejectReason.NOT_A_HANDLER, f"{event.unit} is not a handler of this petition"
        )
    lead = ctx.s.lead_unit
    if isinstance(event, OpinionGiven):
        if event.unit == lead:
            return _reject(
                RejectReason.OPINION_FROM_LEAD,
                f"{lead} leads: the lead answers by its reply; an opinion is a co-handler's",
            )
        return None
    if event.unit != lead:
        what = getattr(event, "kind", "this")  # every unit event's class names its kind
        return _reject(
            RejectReason.NOT_THE_LEAD,
            f"only the lead unit ({lead}) may send {what}; {event.unit} co-handles: a "
            "co-handler may send an opinion (OPINION, 协办意见)",
        )
    return None


def _start(ev: Received, policy: SlaPolicy, cal: WorkingCalendar) -> Accepted:
    clock = resolve_clock(
        ev.at, ev.petition_type, ev.urgency, ev.provincial_deadline, policy=policy, cal=cal
    )
    s = PetitionState(
        petition_id=ev.petition_id,
        channel=ev.channel,
        petition_type=ev.petition_type,
        urgency=ev.urgency,
        received_at=ev.at,
        provincial_deadline=ev.provincial_deadline,
        state=LifecycleState.RECEIVED,
        resolve=clock,
        updated_at=ev.at,
    )
    ctx = _Ctx(s, ev.at, policy, cal)
    ctx.effects.append(
        StateChanged(
            petition_id=s.petition_id,
            at=ev.at,
            from_state=None,
            to_state=LifecycleState.RECEIVED,
            cause=ev.kind,
        )
    )
    ctx.sla(clock, SlaSignalKind.STARTED)
    return ctx.accepted()
