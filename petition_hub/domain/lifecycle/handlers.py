"""The handler of each event kind, once the clocks are caught up and the sender is checked.

Rules worth knowing:

* The sign-for clock starts at each routing (a re-routed petition gives the new unit its own
  window); the resolve clock starts at receipt and keeps running through returns and triage (the
  petitioner's wait does not restart).
* Material requested after the hub's deadline passed changes the state (waiting_material) but does
  not pause the overdue clock.
* One extension request per petition (policy ``extension.max_requests``). It may be made while
  signed for, in progress, waiting for material or reopened; the office's decision comes back as
  :class:`ExtensionDecided`. Approval → ``extended`` (in progress with the longer deadline).
* A transfer to the province (:class:`TransferredToProvince`) may come while nobody handles the
  petition (received, in triage, returned): ``transferred``, then at once ``closed`` as
  transferred. The resolve clock is cancelled (not met, not missed): no unit answers for it.
* Evaluation: revision 0 is the rating, revision 1 the one allowed change. A satisfied rating
  (满意/基本满意) → ``evaluated``, which closes at the end of the evaluation window (7 days after
  the reply) or at once on the change; 不满意 → ``reopened`` with a fresh resolve clock of the
  same length (once; the unit is urged), or ``closed`` dissatisfied when the reopen is used up. No
  rating in the window → ``closed`` unrated. Each reply round has its own evaluation (the second
  round's ratings are again revision 0 and 1).
* A 不满意 may be disputed by the lead unit, and the office decides: :mod:`.disputes`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from petition_hub.domain.calendar import CalendarUnavailable
from petition_hub.domain.lifecycle.context import _Ctx
from petition_hub.domain.lifecycle.disputes import on_dispute_decided, on_rating_disputed
from petition_hub.domain.lifecycle.effects import (
    EvaluationInvited,
    ExtensionAnswered,
    ExtensionForwarded,
    OpinionRelayed,
    RoutingRequested,
    SlaSignalKind,
    UnitUrged,
)
from petition_hub.domain.lifecycle.events import (
    DisputeDecided,
    ExtensionDecided,
    ExtensionRequested,
    Handled,
    InProgress,
    MaterialReceived,
    MaterialRequested,
    OpinionGiven,
    Rated,
    RatingDisputed,
    Replied,
    Returned,
    Routed,
    SignedFor,
    TransferredToProvince,
    TriageRequested,
    TriageRouted,
)
from petition_hub.domain.lifecycle.results import Accepted, Rejection, RejectReason, Result, _reject
from petition_hub.domain.lifecycle.states import Closure, ExtensionStatus, LifecycleState
from petition_hub.domain.petition import Satisfaction
from petition_hub.domain.sla import (
    ClockError,
    ClockState,
    deadline,
    extend,
    known_deadline,
    met,
    own_deadline,
    pause,
    provisional,
    reopen_clock,
    resume,
    sign_for_clock,
    stop,
    year_start,
)

_HANDLING: Final = frozenset(
    {
        LifecycleState.SIGNED_FOR,
        LifecycleState.IN_PROGRESS,
        LifecycleState.EXTENDED,
        LifecycleState.REOPENED,
    }
)
#: Nobody handles the petition: where routing may still hand it to the province.
_UNHELD: Final = frozenset(
    {LifecycleState.RECEIVED, LifecycleState.TRIAGE, LifecycleState.RETURNED}
)
#: Where the unit's extension request, the office's answer and the unit's reply may come.
_HANDLING_OR_WAITING: Final = _HANDLING | {LifecycleState.WAITING_MATERIAL}
_BEFORE_SIGN_FOR: Final = frozenset(
    {
        LifecycleState.RECEIVED,
        LifecycleState.TRIAGE,
        LifecycleState.ROUTED,
        LifecycleState.RETURNED,
    }
)


def _wrong_state(ctx: _Ctx, kind: str) -> Rejection:
    return _reject(RejectReason.WRONG_STATE, f"{kind} does not fit state {ctx.s.state.value}")


def _route(ctx: _Ctx, lead: str, co: tuple[str, ...], cause: str) -> Accepted:
    clock = sign_for_clock(ctx.at, ctx.s.urgency, policy=ctx.policy, cal=ctx.cal)
    ctx.update(
        lead_unit=lead,
        co_units=tuple(u for u in dict.fromkeys(co) if u != lead),
        sign_for=clock,
        sign_for_fired=(),
    )
    ctx.move(LifecycleState.ROUTED, cause, unit=lead)
    ctx.sla(clock, SlaSignalKind.STARTED)
    return ctx.accepted()


def _on_routed(ctx: _Ctx, ev: Routed) -> Result:
    if ctx.s.state not in (LifecycleState.RECEIVED, LifecycleState.RETURNED):
        return _wrong_state(ctx, ev.kind)
    if ev.lead_unit in ctx.s.returned_by:
        return _reject(
            RejectReason.ROUTED_TO_RETURNING_UNIT, f"{ev.lead_unit} returned this petition"
        )
    return _route(ctx, ev.lead_unit, ev.co_units, ev.kind)


def _on_triage_requested(ctx: _Ctx, ev: TriageRequested) -> Result:
    if ctx.s.state not in (LifecycleState.RECEIVED, LifecycleState.RETURNED):
        return _wrong_state(ctx, ev.kind)
    ctx.move(LifecycleState.TRIAGE, ev.kind)
    return ctx.accepted()


def _on_triage_routed(ctx: _Ctx, ev: TriageRouted) -> Result:
    if ctx.s.state is not LifecycleState.TRIAGE:
        return _wrong_state(ctx, ev.kind)
    # the office may overrule an earlier return: no returned_by check
    return _route(ctx, ev.lead_unit, ev.co_units, ev.kind)


def _on_transferred(ctx: _Ctx, ev: TransferredToProvince) -> Result:
    if ctx.s.state not in _UNHELD:
        return _wrong_state(ctx, ev.kind)
    clock = ctx.s.resolve
    if clock.stopped_at is None:
        # the petitioner's matter goes on at the province: this city's clock ends without a
        # verdict (neither met nor missed), so no unit is charged with it
        stopped = stop(clock, ctx.at, cal=ctx.cal)
        ctx.update(resolve=stopped)
        ctx.sla(stopped, SlaSignalKind.CANCELLED)
    ctx.update(lead_unit=None, co_units=(), resume_to=None)
    ctx.move(LifecycleState.TRANSFERRED, ev.kind)
    ctx.move(LifecycleState.CLOSED, ev.kind, closure=Closure.TRANSFERRED)
    return ctx.accepted()


def _met_or_missed(ctx: _Ctx, stopped: ClockState, unit: str) -> None:
    """Announce whether the clock ``unit`` stopped was met."""
    ctx.sla(
        stopped, SlaSignalKind.MET if met(stopped, cal=ctx.cal) else SlaSignalKind.MISSED, unit=unit
    )


def _no_earlier_than_known(end: Callable[[], datetime | None]) -> datetime | None:
    """``end()``, or where the calendar of its year is missing, the start of that year (the
    deadline is no earlier than that)."""
    try:
        return end()
    except CalendarUnavailable as exc:
        return year_start(exc.year)


def _stop_sign_for(ctx: _Ctx, unit: str) -> None:
    clock = ctx.s.sign_for
    if clock is None or clock.stopped_at is not None:
        return
    stopped = stop(clock, ctx.at, cal=ctx.cal)
    ctx.update(sign_for=stopped)
    _met_or_missed(ctx, stopped, unit)


def _on_signed_for(ctx: _Ctx, ev: SignedFor) -> Result:
    if ctx.s.state is not LifecycleState.ROUTED:
        return _wrong_state(ctx, ev.kind)
    _stop_sign_for(ctx, ev.unit)
    ctx.move(LifecycleState.SIGNED_FOR, ev.kind, unit=ev.unit)
    return ctx.accepted()


def _on_in_progress(ctx: _Ctx, ev: InProgress) -> Result:
    if ctx.s.state is LifecycleState.ROUTED:
        return _reject(RejectReason.NOT_SIGNED_FOR, "in_progress before sign-for")
    if ctx.s.state not in (LifecycleState.SIGNED_FOR, LifecycleState.REOPENED):
        return _wrong_state(ctx, ev.kind)
    ctx.move(LifecycleState.IN_PROGRESS, ev.kind, unit=ev.unit)
    return ctx.accepted()


def _on_material_requested(ctx: _Ctx, ev: MaterialRequested) -> Result:
    if ctx.s.state is LifecycleState.ROUTED:
        return _reject(RejectReason.NOT_SIGNED_FOR, "material requested before sign-for")
    if ctx.s.state not in _HANDLING:
        return _wrong_state(ctx, ev.kind)
    back = ctx.s.state
    clock = ctx.s.resolve
    ctx.move(LifecycleState.WAITING_MATERIAL, ev.kind, unit=ev.unit)
    ctx.update(resume_to=back)
    end = _no_earlier_than_known(lambda: own_deadline(clock, cal=ctx.cal))
    if end is not None and ctx.at < end:
        paused = pause(clock, ctx.at, ev.reason, cal=ctx.cal)
        ctx.update(resolve=paused)
        ctx.sla(paused, SlaSignalKind.PAUSED, unit=ev.unit)
    return ctx.accepted()


def _on_material_received(ctx: _Ctx, ev: MaterialReceived) -> Result:
    if ctx.s.state is not LifecycleState.WAITING_MATERIAL:
        return _wrong_state(ctx, ev.kind)
    ctx.move(ctx.s.resume_to or LifecycleState.IN_PROGRESS, ev.kind, unit=ev.unit)
    ctx.update(resume_to=None)
    if ctx.s.resolve.paused_since is not None:
        resumed = resume(ctx.s.resolve, ctx.at)
        ctx.update(resolve=resumed)
        ctx.sla(resumed, SlaSignalKind.RESUMED, unit=ev.unit)
    return ctx.accepted()


def _on_extension_requested(ctx: _Ctx, ev: ExtensionRequested) -> Result:
    s = ctx.s
    if s.state is LifecycleState.ROUTED:
        return _reject(RejectReason.NOT_SIGNED_FOR, "extension requested before sign-for")
    if (
        s.state is LifecycleState.EXTENDED
        or s.extension_requests >= ctx.policy.extension.max_requests
    ):
        return _reject(
            RejectReason.EXTENSION_ALREADY_REQUESTED,
            f"{s.extension_requests} extension request(s) made, "
            f"{ctx.policy.extension.max_requests} allowed",
        )
    if s.state not in _HANDLING_OR_WAITING:
        return _wrong_state(ctx, ev.kind)
    if s.resolve.limit.working_days is None:
        return _reject(RejectReason.EXTENSION_NOT_APPLICABLE, "the resolve clock counts hours")
    if ev.days > s.resolve.max_extension_days:
        return _reject(
            RejectReason.EXTENSION_TOO_LONG,
            f"{ev.days} working days asked, at most {s.resolve.max_extension_days}",
        )
    ctx.update(
        extension=ExtensionStatus.PENDING,
        extension_requests=s.extension_requests + 1,
        extension_days_requested=ev.days,
    )
    ctx.effects.append(
        ExtensionForwarded(
            petition_id=s.petition_id, at=ctx.at, unit=ev.unit, days=ev.days, reason=ev.reason
        )
    )
    return ctx.accepted()


def _on_extension_decided(ctx: _Ctx, ev: ExtensionDecided) -> Result:
    s = ctx.s
    if s.extension is not ExtensionStatus.PENDING:
        return _reject(RejectReason.NO_EXTENSION_PENDING, "no extension request is pending")
    if s.state not in _HANDLING_OR_WAITING:
        return _wrong_state(ctx, ev.kind)
    if not ev.approved:
        ctx.update(extension=ExtensionStatus.REFUSED)
        _answer_extension(ctx, None, s.resolve)
        return ctx.accepted()
    days = ev.days if ev.days is not None else (s.extension_days_requested or 0)
    try:
        extended = extend(s.resolve, days)
    except ClockError as exc:
        return _reject(RejectReason.EXTENSION_TOO_LONG, str(exc))
    ctx.update(resolve=extended, extension=ExtensionStatus.APPROVED)
    if s.state is LifecycleState.WAITING_MATERIAL:
        ctx.update(resume_to=LifecycleState.EXTENDED)
    else:
        ctx.move(LifecycleState.EXTENDED, ev.kind, unit=s.lead_unit)
    ctx.sla(extended, SlaSignalKind.EXTENDED)
    _answer_extension(ctx, days, extended)
    return ctx.accepted()


def _answer_extension(ctx: _Ctx, days: int | None, resolve: ClockState) -> None:
    """Tell the lead unit the office's answer: approved for ``days`` (None: refused), with the
    deadline of the ``resolve`` clock it leaves."""
    due = known_deadline(resolve, cal=ctx.cal)
    ctx.effects.append(
        ExtensionAnswered(
            petition_id=ctx.s.petition_id,
            at=ctx.at,
            unit=ctx.s.lead_unit,
            approved=days is not None,
            days=days,
            deadline=due,
            provisional=provisional(resolve, due, cal=ctx.cal),
        )
    )


def _on_replied(ctx: _Ctx, ev: Replied) -> Result:
    s = ctx.s
    if s.state in _BEFORE_SIGN_FOR:
        return _reject(RejectReason.REPLY_BEFORE_SIGN_FOR, f"reply in state {s.state.value}")
    if s.state not in _HANDLING_OR_WAITING:
        return _wrong_state(ctx, ev.kind)
    if not ev.text.strip():
        return _reject(RejectReason.EMPTY_REPLY, "the reply has no text")
    stopped = stop(s.resolve, ctx.at, cal=ctx.cal)
    # the window starts when the invitation is actually sent: a reply applied late (a lagging
    # consumer, a parked event) still leaves the petitioner the whole window
    sent = ctx.at if ctx.now is None else max(ctx.at, ctx.now)
    due = sent + timedelta(days=ctx.policy.evaluation.window_days)
    ctx.update(resolve=stopped, resume_to=None, evaluation_due=due, reply_kind=ev.result)
    _met_or_missed(ctx, stopped, ev.unit)
    ctx.move(LifecycleState.REPLIED, ev.kind, unit=ev.unit, reply_kind=ev.result)
    ctx.effects.append(
        EvaluationInvited(
            petition_id=s.petition_id, at=sent, channel=s.channel, due=due, round=s.round
        )
    )
    return ctx.accepted()


def _on_opinion(ctx: _Ctx, ev: OpinionGiven) -> Result:
    """A co-handler's opinion (the sender is checked: a co-handler of the current routing) goes
    to the lead unit and into the history; the state stays."""
    if not ev.text.strip():
        return _reject(RejectReason.EMPTY_OPINION, "the opinion has no text")
    lead = ctx.s.lead_unit
    assert lead is not None  # a co-handler exists only beside a lead
    ctx.effects.append(
        OpinionRelayed(
            petition_id=ctx.s.petition_id, at=ctx.at, unit=ev.unit, lead=lead, text=ev.text
        )
    )
    return ctx.accepted()


def _on_returned(ctx: _Ctx, ev: Returned) -> Result:
    s = ctx.s
    if s.state not in (LifecycleState.ROUTED, LifecycleState.SIGNED_FOR):
        return _wrong_state(ctx, ev.kind)
    clock = s.sign_for
    end = None if clock is None else _no_earlier_than_known(lambda: deadline(clock, cal=ctx.cal))
    if end is None or ctx.at > end:
        return _reject(
            RejectReason.RETURN_WINDOW_PASSED,
            "the sign-for window has passed" + ("" if end is None else f" ({end.isoformat()})"),
        )
    if clock is not None and clock.stopped_at is None:
        ctx.sla(stop(clock, ctx.at, cal=ctx.cal), SlaSignalKind.CANCELLED, unit=ev.unit)
    returned_by = (*s.returned_by, ev.unit)
    ctx.update(
        lead_unit=None, co_units=(), returned_by=returned_by, sign_for=None, sign_for_fired=()
    )
    ctx.move(LifecycleState.RETURNED, ev.kind, unit=ev.unit)
    ctx.effects.append(
        RoutingRequested(
            petition_id=s.petition_id, at=ctx.at, exclude_units=returned_by, reason=ev.reason
        )
    )
    return ctx.accepted()


def _on_rated(ctx: _Ctx, ev: Rated) -> Result:
    s = ctx.s
    pol = ctx.policy
    if s.state is LifecycleState.REPLIED:
        if ev.revision != 0:
            return _reject(RejectReason.EVALUATION_OUT_OF_ORDER, "a change before the rating")
    elif s.state is LifecycleState.EVALUATED:
        if ev.revision == 0:
            return _reject(RejectReason.DUPLICATE_EVALUATION, "the rating is already recorded")
    else:
        return _reject(RejectReason.EVALUATION_NOT_EXPECTED, f"rating in state {s.state.value}")
    ctx.update(rating=ev.satisfaction, rating_revision=ev.revision)
    if ev.satisfaction is Satisfaction.DISSATISFIED:  # what a dispute (.disputes) names
        ctx.update(dissatisfied_at=ctx.at, dissatisfied_round=s.round)
    final = ev.revision >= pol.evaluation.max_changes
    if ev.satisfaction is not Satisfaction.DISSATISFIED:
        if final:
            ctx.move(LifecycleState.CLOSED, ev.kind, closure=Closure.RATED)
        elif s.state is LifecycleState.REPLIED:
            ctx.move(LifecycleState.EVALUATED, ev.kind)
        return ctx.accepted()
    if s.reopens >= pol.reopen.max_reopens:
        ctx.move(LifecycleState.CLOSED, ev.kind, closure=Closure.DISSATISFIED)
        return ctx.accepted()
    fresh = reopen_clock(s.resolve, ctx.at, cal=ctx.cal)
    ctx.update(
        resolve=fresh,
        resolve_fired=(),
        reopens=s.reopens + 1,
        round=s.round + 1,
        evaluation_due=None,
    )
    ctx.move(LifecycleState.REOPENED, ev.kind)
    ctx.sla(fresh, SlaSignalKind.STARTED)
    ctx.effects.append(
        UnitUrged(
            petition_id=s.petition_id,
            at=ctx.at,
            unit=s.lead_unit,
            reason="the petitioner is dissatisfied (不满意): reopened",
        )
    )
    return ctx.accepted()


#: Each event kind's handler (the event's class → its handler, which takes that class).
_HANDLERS: Final[Mapping[type[Handled], Callable[[_Ctx, Any], Result]]] = {
    Routed: _on_routed,
    TriageRequested: _on_triage_requested,
    TriageRouted: _on_triage_routed,
    TransferredToProvince: _on_transferred,
    SignedFor: _on_signed_for,
    InProgress: _on_in_progress,
    MaterialRequested: _on_material_requested,
    MaterialReceived: _on_material_received,
    ExtensionRequested: _on_extension_requested,
    Replied: _on_replied,
    OpinionGiven: _on_opinion,
    Returned: _on_returned,
    ExtensionDecided: _on_extension_decided,
    Rated: _on_rated,
    RatingDisputed: on_rating_disputed,
    DisputeDecided: on_dispute_decided,
}


def handle(ctx: _Ctx, event: Handled) -> Result:
    """Hand ``event`` to its handler."""
    return _HANDLERS[type(event)](ctx, event)
