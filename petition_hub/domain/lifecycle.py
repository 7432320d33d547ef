"""The petition lifecycle as a pure state machine: ``apply(state, event) -> Accepted | Rejection``.

States (domain.md "Lifecycle")::

    received ─> routed ─> signed_for ─> in_progress ⇄ waiting_material ─> replied ─> evaluated
       └─> triage ─> routed               └─> extended (approved)          │            └─> closed
    routed | signed_for ─> returned ─> routed | triage                     └─> reopened (once)

Inputs: the hub's own decisions (:class:`Received`, :class:`Routed`, :class:`TriageRequested`), the
handling unit's status events (:class:`SignedFor`, :class:`InProgress`, :class:`MaterialRequested`,
:class:`MaterialReceived`, :class:`ExtensionRequested`, :class:`Replied`, :class:`Returned`), the
joint-meeting office's decisions (:class:`TriageRouted`, :class:`ExtensionDecided`), the
petitioner's ratings (:class:`Rated`) and the timer (:class:`Tick`). Outputs: the new
:class:`PetitionState` and the effects to publish (:class:`StateChanged` for ``hub.lifecycle``,
:class:`SlaSignal` for ``hub.sla``, :class:`EvaluationInvited`, :class:`ExtensionForwarded`,
:class:`ExtensionAnswered`, :class:`RoutingRequested`, :class:`UnitUrged`); or a :class:`Rejection`
with its reason (for ``hub.rejects``), the state unchanged.

Rules worth knowing:

* Before any event, the clocks are caught up to the event's time: ladder steps and the end of the
  evaluation window that fell due are applied first, in time order, each exactly once (the fired
  steps are part of the state). So the effects do not depend on when the timer happened to tick,
  and :class:`Tick` is just "catch up to now". :func:`next_wakeup` is when the next one is due.
* Event times never go backwards: an event stamped earlier than the last applied one is applied at
  the last one's time (clock skew between units must not make a clock run backwards).
* Only the lead unit (主办) changes the lifecycle; a co-handler (协办) gets ``not_the_lead``, any
  other unit ``not_a_handler``. A unit that returned the petition is no longer a handler.
* The sign-for clock starts at each routing (a re-routed petition gives the new unit its own
  window); the resolve clock starts at receipt and keeps running through returns and triage (the
  petitioner's wait does not restart).
* Material requested after the hub's deadline passed changes the state (waiting_material) but does
  not pause the overdue clock.
* One extension request per petition (policy ``extension.max_requests``). It may be made while
  signed for, in progress, waiting for material or reopened; the office's decision comes back as
  :class:`ExtensionDecided`. Approval → ``extended`` (in progress with the longer deadline).
* Evaluation: revision 0 is the rating, revision 1 the one allowed change. A satisfied rating
  (满意/基本满意) → ``evaluated``, which closes at the end of the evaluation window (7 days after
  the reply) or at once on the change; 不满意 → ``reopened`` with a fresh resolve clock of the
  same length (once; the unit is urged), or ``closed`` dissatisfied when the reopen is used up. No
  rating in the window → ``closed`` unrated. Each reply round has its own evaluation (the second
  round's ratings are again revision 0 and 1).
* A year without calendar data: deadlines in it are reported as unknown (None), ladder steps in
  it are held (no step in a year can be due before the year begins), a clock stopped before the
  year begins was stopped in time; :func:`next_wakeup` raises
  :class:`~.calendar.CalendarUnavailable` when the next wake-up cannot be known, and
  :func:`apply` raises it only when an answer cannot be given at all (a clock opened in that
  year, a step due once the year has begun): the caller flags it and retries after the override
  file is fixed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar, default_calendar
from petition_hub.domain.petition import Channel, Petition, PetitionType, Satisfaction, Urgency
from petition_hub.domain.sla import (
    ClockError,
    ClockKind,
    ClockState,
    LadderStep,
    SlaPolicy,
    deadline,
    default_policy,
    extend,
    known_deadline,
    ladder,
    met,
    next_due,
    own_deadline,
    pause,
    provisional,
    reopen_clock,
    resolve_clock,
    resume,
    sign_for_clock,
    stop,
    year_start,
)

__all__ = [
    "Accepted",
    "ClockPlan",
    "Closure",
    "Effect",
    "EvaluationInvited",
    "Event",
    "ExtensionAnswered",
    "ExtensionDecided",
    "ExtensionForwarded",
    "ExtensionRequested",
    "ExtensionStatus",
    "InProgress",
    "LifecycleState",
    "MaterialReceived",
    "MaterialRequested",
    "PetitionState",
    "Rated",
    "Received",
    "RejectReason",
    "Rejection",
    "Replied",
    "Result",
    "Returned",
    "Routed",
    "RoutingRequested",
    "SignedFor",
    "SlaSignal",
    "SlaSignalKind",
    "StateChanged",
    "Tick",
    "TriageRequested",
    "TriageRouted",
    "UnitUrged",
    "apply",
    "next_wakeup",
    "plans",
]


class LifecycleState(StrEnum):
    RECEIVED = "received"
    TRIAGE = "triage"
    ROUTED = "routed"
    RETURNED = "returned"
    SIGNED_FOR = "signed_for"
    IN_PROGRESS = "in_progress"
    WAITING_MATERIAL = "waiting_material"
    EXTENDED = "extended"
    REPLIED = "replied"
    EVALUATED = "evaluated"
    REOPENED = "reopened"
    CLOSED = "closed"


class ExtensionStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class Closure(StrEnum):
    """How a closed petition ended."""

    RATED = "rated"
    """满意 or 基本满意 (``PetitionState.rating`` says which)."""
    DISSATISFIED = "dissatisfied"
    """不满意 after the reopen was used up."""
    UNRATED = "unrated"
    """No rating within the evaluation window (not counted as satisfied)."""


class RejectReason(StrEnum):
    """Why an event was not applied (``hub.rejects``)."""

    UNKNOWN_PETITION = "unknown_petition"
    ALREADY_RECEIVED = "already_received"
    PETITION_MISMATCH = "petition_mismatch"
    PETITION_CLOSED = "petition_closed"
    NOT_A_HANDLER = "not_a_handler"
    NOT_THE_LEAD = "not_the_lead"
    WRONG_STATE = "wrong_state"
    NOT_SIGNED_FOR = "not_signed_for"
    REPLY_BEFORE_SIGN_FOR = "reply_before_sign_for"
    EMPTY_REPLY = "empty_reply"
    RETURN_WINDOW_PASSED = "return_window_passed"
    ROUTED_TO_RETURNING_UNIT = "routed_to_returning_unit"
    EXTENSION_ALREADY_REQUESTED = "extension_already_requested"
    EXTENSION_NOT_APPLICABLE = "extension_not_applicable"
    EXTENSION_TOO_LONG = "extension_too_long"
    NO_EXTENSION_PENDING = "no_extension_pending"
    EVALUATION_NOT_EXPECTED = "evaluation_not_expected"
    EVALUATION_OUT_OF_ORDER = "evaluation_out_of_order"
    DUPLICATE_EVALUATION = "duplicate_evaluation"


_FROZEN = ConfigDict(frozen=True, extra="forbid")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _utc_opt(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


# --- events -------------------------------------------------------------------------------------


class _Event(BaseModel):
    model_config = _FROZEN

    petition_id: str = Field(min_length=1)
    at: AwareDatetime

    _at_utc = field_validator("at")(_utc)


class Received(_Event):
    """The hub accepted the petition (``hub.petitions``): the resolve clock starts."""

    kind: Literal["received"] = "received"
    channel: Channel
    petition_type: PetitionType | None = None
    urgency: Urgency = Urgency.NORMAL
    provincial_deadline: AwareDatetime | None = None

    _prov_utc = field_validator("provincial_deadline")(_utc_opt)

    @classmethod
    def from_petition(cls, p: Petition) -> Received:
        return cls(
            petition_id=p.petition_id,
            at=p.received_at,
            channel=p.channel,
            petition_type=p.petition_type,
            urgency=p.urgency,
            provincial_deadline=p.provincial_deadline,
        )


class Routed(_Event):
    """The router's decision: lead unit and co-handlers. Starts a sign-for clock."""

    kind: Literal["routed"] = "routed"
    lead_unit: str = Field(min_length=1)
    co_units: tuple[str, ...] = ()


class TriageRequested(_Event):
    """The router could not decide: to the office's triage."""

    kind: Literal["triage_requested"] = "triage_requested"
    reason: str = ""


class TriageRouted(_Event):
    """The office's triage decision (``office.decisions``)."""

    kind: Literal["triage_routed"] = "triage_routed"
    lead_unit: str = Field(min_length=1)
    co_units: tuple[str, ...] = ()


class _UnitEvent(_Event):
    unit: str = Field(min_length=1)
    """The unit whose status topic the event came from (``dept.<CODE>`` / ``county.<DIV>``)."""


class SignedFor(_UnitEvent):
    kind: Literal["signed_for"] = "signed_for"


class InProgress(_UnitEvent):
    kind: Literal["in_progress"] = "in_progress"


class MaterialRequested(_UnitEvent):
    """The unit asked the petitioner for material: the resolve clock pauses."""

    kind: Literal["material_requested"] = "material_requested"
    reason: str = ""


class MaterialReceived(_UnitEvent):
    kind: Literal["material_received"] = "material_received"


class ExtensionRequested(_UnitEvent):
    kind: Literal["extension_requested"] = "extension_requested"
    days: int = Field(ge=1)
    reason: str = ""


class Replied(_UnitEvent):
    kind: Literal["replied"] = "replied"
    text: str


class Returned(_UnitEvent):
    """Not the unit's matter (only within its sign-for window): back to routing."""

    kind: Literal["returned"] = "returned"
    reason: str = ""


class ExtensionDecided(_Event):
    """The office approved (``days``; default: as requested) or refused an extension."""

    kind: Literal["extension_decided"] = "extension_decided"
    approved: bool
    days: int | None = Field(default=None, ge=1)
    note: str = ""


class Rated(_Event):
    """The petitioner's rating (mini-program evaluation or 12345 call-back)."""

    kind: Literal["rated"] = "rated"
    satisfaction: Satisfaction
    revision: int = Field(default=0, ge=0, le=1)


class Tick(_Event):
    """The timer: catch the clocks up to ``at``."""

    kind: Literal["tick"] = "tick"


Event = Annotated[
    Received
    | Routed
    | TriageRequested
    | TriageRouted
    | SignedFor
    | InProgress
    | MaterialRequested
    | MaterialReceived
    | ExtensionRequested
    | Replied
    | Returned
    | ExtensionDecided
    | Rated
    | Tick,
    Field(discriminator="kind"),
]
"""Any input of :func:`apply` (a discriminated union on ``kind``, for decoding)."""


# --- effects ------------------------------------------------------------------------------------


class SlaSignalKind(StrEnum):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    EXTENDED = "extended"
    WARNING = "warning"
    URGING = "urging"
    OVERDUE = "overdue"
    LISTED_SUPERVISION = "listed_supervision"
    MET = "met"
    """Stopped in time (signed for / replied by the deadline)."""
    MISSED = "missed"
    """Stopped after the deadline."""
    CANCELLED = "cancelled"
    """A sign-for clock ended by a return."""
    DEADLINE_CHANGED = "deadline_changed"
    """The calendar changed under a running clock (the official year replaced the provisional
    one): its deadline or a pending ladder time moved."""


class _Effect(BaseModel):
    model_config = _FROZEN

    petition_id: str
    at: datetime


class StateChanged(_Effect):
    """``hub.lifecycle``: a state change, in order per petition."""

    kind: Literal["state_changed"] = "state_changed"
    from_state: LifecycleState | None
    to_state: LifecycleState
    cause: str
    """The event kind that caused it (``evaluation_window_elapsed`` for the timer)."""
    unit: str | None = None
    closure: Closure | None = None


class SlaSignal(_Effect):
    """``hub.sla``: a clock event. ``at`` is when it happened on the clock (a ladder step's
    scheduled time), ``round`` 0 for the first handling and 1.. after reopening."""

    kind: Literal["sla"] = "sla"
    clock: ClockKind
    signal: SlaSignalKind
    round: int = 0
    deadline: datetime | None = None
    unit: str | None = None
    provisional: bool = False
    """``deadline`` was counted on a provisional year."""
    previous_deadline: datetime | None = None
    """For ``deadline_changed``: the deadline announced before."""
    calendar: str = ""
    """For ``deadline_changed``: the digest of the calendar the new times come from."""


class EvaluationInvited(_Effect):
    """To ``miniprogram.evaluation-requests`` / ``hotline12345.callback-requests``."""

    kind: Literal["evaluation_invited"] = "evaluation_invited"
    channel: Channel
    due: datetime
    round: int = 0


class ExtensionForwarded(_Effect):
    """An extension request for the office to decide."""

    kind: Literal["extension_forwarded"] = "extension_forwarded"
    unit: str
    days: int
    reason: str


class ExtensionAnswered(_Effect):
    """The office's decision, for the unit."""

    kind: Literal["extension_answered"] = "extension_answered"
    unit: str | None
    approved: bool
    days: int | None
    deadline: datetime | None
    provisional: bool = False


class RoutingRequested(_Effect):
    """A returned petition goes back to routing, without the units that returned it."""

    kind: Literal["routing_requested"] = "routing_requested"
    exclude_units: tuple[str, ...]
    reason: str


class UnitUrged(_Effect):
    """The unit is urged (催办) on a reopen."""

    kind: Literal["unit_urged"] = "unit_urged"
    unit: str | None
    reason: str


Effect = Annotated[
    StateChanged
    | SlaSignal
    | EvaluationInvited
    | ExtensionForwarded
    | ExtensionAnswered
    | RoutingRequested
    | UnitUrged,
    Field(discriminator="kind"),
]


# --- state --------------------------------------------------------------------------------------


class ClockPlan(BaseModel):
    """What was announced of a running clock: its deadline and the ladder steps still pending,
    with the calendar they were counted on. Compared with a recomputation when the calendar
    changes: a difference is a ``deadline_changed``."""

    model_config = _FROZEN

    clock: ClockKind
    deadline: AwareDatetime | None
    steps: tuple[tuple[LadderStep, AwareDatetime], ...] = ()
    """Pending (not fired) steps as far as the calendar reaches, in order."""
    provisional: bool = False
    """The deadline or a pending step was counted on a provisional year."""


class PetitionState(BaseModel):
    """What the hub keeps per petition (a table row keyed by petition id)."""

    model_config = _FROZEN

    petition_id: str
    channel: Channel
    petition_type: PetitionType | None = None
    urgency: Urgency = Urgency.NORMAL
    received_at: AwareDatetime
    provincial_deadline: AwareDatetime | None = None
    state: LifecycleState
    lead_unit: str | None = None
    co_units: tuple[str, ...] = ()
    returned_by: tuple[str, ...] = ()
    sign_for: ClockState | None = None
    sign_for_fired: tuple[LadderStep, ...] = ()
    resolve: ClockState
    resolve_fired: tuple[LadderStep, ...] = ()
    resume_to: LifecycleState | None = None
    """While waiting for material: the state the material's arrival returns to."""
    extension: ExtensionStatus = ExtensionStatus.NONE
    extension_requests: int = 0
    extension_days_requested: int | None = None
    reopens: int = 0
    round: int = 0
    rating: Satisfaction | None = None
    rating_revision: int | None = None
    evaluation_due: AwareDatetime | None = None
    closure: Closure | None = None
    updated_at: AwareDatetime
    plans: tuple[ClockPlan, ...] = ()
    """The running clocks as last announced (sign for first)."""
    calendar: str = ""
    """Digest of the working-day calendar ``plans`` were counted on."""

    @property
    def provisional(self) -> bool:
        """A running clock's announced times were counted on a provisional year."""
        return any(p.provisional for p in self.plans)

    @property
    def handlers(self) -> tuple[str, ...]:
        return () if self.lead_unit is None else (self.lead_unit, *self.co_units)


class Accepted(BaseModel):
    """The event fits: the new state and what to publish, in order."""

    model_config = ConfigDict(frozen=True)

    state: PetitionState
    effects: tuple[Effect, ...] = ()


class Rejection(BaseModel):
    """The event does not fit and changed nothing (``hub.rejects``)."""

    model_config = ConfigDict(frozen=True)

    reason: RejectReason
    detail: str = ""


Result = Accepted | Rejection

_HANDLING: Final = frozenset(
    {
        LifecycleState.SIGNED_FOR,
        LifecycleState.IN_PROGRESS,
        LifecycleState.EXTENDED,
        LifecycleState.REOPENED,
    }
)
_BEFORE_SIGN_FOR: Final = frozenset(
    {
        LifecycleState.RECEIVED,
        LifecycleState.TRIAGE,
        LifecycleState.ROUTED,
        LifecycleState.RETURNED,
    }
)
_STEP_SIGNAL: Final = {
    LadderStep.WARNING: SlaSignalKind.WARNING,
    LadderStep.URGING: SlaSignalKind.URGING,
    LadderStep.OVERDUE: SlaSignalKind.OVERDUE,
    LadderStep.LISTED_SUPERVISION: SlaSignalKind.LISTED_SUPERVISION,
}


class _Ctx:
    """One application: the (caught-up) state being built and the effects so far."""

    __slots__ = ("at", "cal", "effects", "now", "policy", "s")

    def __init__(
        self,
        s: PetitionState,
        at: datetime,
        policy: SlaPolicy,
        cal: WorkingCalendar,
        now: datetime | None = None,
    ) -> None:
        self.s = s
        self.at = at
        self.policy = policy
        self.cal = cal
        self.now = now
        self.effects: list[Effect] = []

    def update(self, **changes: object) -> None:
        self.s = self.s.model_copy(update=changes)

    def move(
        self,
        to: LifecycleState,
        cause: str,
        unit: str | None = None,
        closure: Closure | None = None,
        at: datetime | None = None,
    ) -> None:
        self.effects.append(
            StateChanged(
                petition_id=self.s.petition_id,
                at=at or self.at,
                from_state=self.s.state,
                to_state=to,
                cause=cause,
                unit=unit,
                closure=closure,
            )
        )
        self.update(state=to, closure=closure)

    def sla(
        self,
        clock: ClockState,
        signal: SlaSignalKind,
        at: datetime | None = None,
        unit: str | None = None,
    ) -> None:
        due = known_deadline(clock, cal=self.cal)
        self.effects.append(
            SlaSignal(
                petition_id=self.s.petition_id,
                at=at or self.at,
                clock=clock.kind,
                signal=signal,
                round=self.s.round,
                deadline=due,
                unit=unit if unit is not None else self.s.lead_unit,
                provisional=provisional(clock, due, cal=self.cal),
            )
        )

    def accepted(self) -> Accepted:
        s = self.s.model_copy(
            update={
                "updated_at": self.at,
                "plans": plans(self.s, cal=self.cal),
                "calendar": self.cal.digest,
            }
        )
        return Accepted(state=s, effects=tuple(self.effects))


def _reject(reason: RejectReason, detail: str) -> Rejection:
    return Rejection(reason=reason, detail=detail)


# --- catching up --------------------------------------------------------------------------------


def _running(s: PetitionState) -> list[tuple[ClockState, tuple[LadderStep, ...]]]:
    """The running clocks with their fired steps, sign for first."""
    clocks = [(s.sign_for, s.sign_for_fired), (s.resolve, s.resolve_fired)]
    return [(c, f) for c, f in clocks if c is not None and c.stopped_at is None]


def _plan(clock: ClockState, fired: tuple[LadderStep, ...], cal: WorkingCalendar) -> ClockPlan:
    try:
        steps = ladder(clock, cal=cal)
    except CalendarUnavailable:  # as far as the calendar reaches: the rest is held
        steps = []
        done = set(fired)
        try:
            while (nd := next_due(clock, done, cal=cal)) is not None:
                steps.append(nd)
                done.add(nd[0])
        except CalendarUnavailable:
            pass
    pending = tuple((step, at) for step, at in steps if step not in fired)
    due = known_deadline(clock, cal=cal)
    prov = provisional(clock, due, cal=cal) or any(
        provisional(clock, at, cal=cal) for _, at in pending
    )
    return ClockPlan(clock=clock.kind, deadline=due, steps=pending, provisional=prov)


def plans(state: PetitionState, *, cal: WorkingCalendar | None = None) -> tuple[ClockPlan, ...]:
    """The running clocks' deadlines and pending ladder times on ``cal`` (what is announced)."""
    if state.state is LifecycleState.CLOSED:
        return ()
    c = cal or default_calendar()
    return tuple(_plan(clock, fired, c) for clock, fired in _running(state))


def _recalendar(ctx: _Ctx) -> None:
    """The calendar changed since the plans were counted: every running clock whose deadline or
    pending ladder time moved is announced again (``deadline_changed``); steps that fired stay
    fired. A clock announced before plans were kept is adopted silently."""
    s = ctx.s
    before = {p.clock: p for p in s.plans}
    now = plans(s, cal=ctx.cal)
    for plan in now:
        old = before.get(plan.clock)
        if old is None or (old.deadline, old.steps) == (plan.deadline, plan.steps):
            continue
        ctx.effects.append(
            SlaSignal(
                petition_id=s.petition_id,
                at=ctx.at,
                clock=plan.clock,
                signal=SlaSignalKind.DEADLINE_CHANGED,
                round=s.round,
                deadline=plan.deadline,
                unit=s.lead_unit,
                provisional=plan.provisional,
                previous_deadline=old.deadline,
                calendar=ctx.cal.digest,
            )
        )
    ctx.update(plans=now, calendar=ctx.cal.digest)


def _catch_up(ctx: _Ctx) -> None:
    """Announce what a calendar change moved, then fire every ladder step due by ``ctx.at`` and
    close an elapsed evaluation window, in time order."""
    s = ctx.s
    if s.state is LifecycleState.CLOSED:
        return
    if s.calendar != ctx.cal.digest:
        _recalendar(ctx)
        s = ctx.s
    due: list[tuple[datetime, int, ClockKind, LadderStep]] = []
    for order, (kind, clock, fired) in enumerate(
        (
            (ClockKind.SIGN_FOR, s.sign_for, s.sign_for_fired),
            (ClockKind.RESOLVE, s.resolve, s.resolve_fired),
        )
    ):
        if clock is None or clock.stopped_at is not None:
            continue
        done = set(fired)
        try:
            while (nd := next_due(clock, done, cal=ctx.cal)) is not None and nd[1] <= ctx.at:
                done.add(nd[0])
                due.append((nd[1], order, kind, nd[0]))
        except CalendarUnavailable as exc:
            # the next step lies in a year without calendar data: it is held (flagged by the
            # caller through next_wakeup), unless that year had begun, which must not pass quietly
            if ctx.at >= year_start(exc.year):
                raise
    window = s.evaluation_due
    closes = (
        window is not None
        and window <= ctx.at
        and s.state in (LifecycleState.REPLIED, LifecycleState.EVALUATED)
    )
    if closes:
        assert window is not None
        due = [d for d in due if d[0] <= window]
    for at, _, kind, step in sorted(due, key=lambda d: (d[0], d[1])):
        if kind is ClockKind.SIGN_FOR:
            assert ctx.s.sign_for is not None
            ctx.update(sign_for_fired=(*ctx.s.sign_for_fired, step))
            ctx.sla(ctx.s.sign_for, _STEP_SIGNAL[step], at=at)
        else:
            ctx.update(resolve_fired=(*ctx.s.resolve_fired, step))
            ctx.sla(ctx.s.resolve, _STEP_SIGNAL[step], at=at)
    if closes:
        assert window is not None
        closure = Closure.UNRATED if s.state is LifecycleState.REPLIED else Closure.RATED
        ctx.move(LifecycleState.CLOSED, "evaluation_window_elapsed", closure=closure, at=window)


def next_wakeup(state: PetitionState, *, cal: WorkingCalendar | None = None) -> datetime | None:
    """When :func:`apply` with a :class:`Tick` will next have something to do (the next ladder
    step of a running clock, or the end of the evaluation window); None when nothing is pending
    (closed, or paused with nothing scheduled)."""
    if state.state is LifecycleState.CLOSED:
        return None
    c = cal or default_calendar()
    times: list[datetime] = []
    missing: CalendarUnavailable | None = None
    clocks = [(state.resolve, state.resolve_fired)]
    if state.sign_for is not None:
        clocks.append((state.sign_for, state.sign_for_fired))
    for clock, fired in clocks:
        try:
            nd = next_due(clock, fired, cal=c)
        except CalendarUnavailable as exc:
            missing = exc
            continue
        if nd is not None:
            times.append(nd[1])
    if state.evaluation_due is not None and state.state in (
        LifecycleState.REPLIED,
        LifecycleState.EVALUATED,
    ):
        times.append(state.evaluation_due)
    if missing is not None and (not times or min(times) >= year_start(missing.year)):
        raise missing  # the next wake-up cannot be known: the caller flags it and retries
    return min(times) if times else None


# --- handlers -----------------------------------------------------------------------------------


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


def _stop_sign_for(ctx: _Ctx, unit: str) -> None:
    clock = ctx.s.sign_for
    if clock is None or clock.stopped_at is not None:
        return
    stopped = stop(clock, ctx.at, cal=ctx.cal)
    ctx.update(sign_for=stopped)
    ctx.sla(
        stopped, SlaSignalKind.MET if met(stopped, cal=ctx.cal) else SlaSignalKind.MISSED, unit=unit
    )


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
    try:
        end = own_deadline(clock, cal=ctx.cal)
    except CalendarUnavailable as exc:
        end = year_start(exc.year)  # it is no earlier than that
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
    if s.state not in _HANDLING and s.state is not LifecycleState.WAITING_MATERIAL:
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
    if s.state not in _HANDLING and s.state is not LifecycleState.WAITING_MATERIAL:
        return _wrong_state(ctx, ev.kind)
    if not ev.approved:
        ctx.update(extension=ExtensionStatus.REFUSED)
        ctx.effects.append(
            ExtensionAnswered(
                petition_id=s.petition_id,
                at=ctx.at,
                unit=s.lead_unit,
                approved=False,
                days=None,
                deadline=(due := known_deadline(s.resolve, cal=ctx.cal)),
                provisional=provisional(s.resolve, due, cal=ctx.cal),
            )
        )
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
    ctx.effects.append(
        ExtensionAnswered(
            petition_id=s.petition_id,
            at=ctx.at,
            unit=s.lead_unit,
            approved=True,
            days=days,
            deadline=(due := known_deadline(extended, cal=ctx.cal)),
            provisional=provisional(extended, due, cal=ctx.cal),
        )
    )
    return ctx.accepted()


def _on_replied(ctx: _Ctx, ev: Replied) -> Result:
    s = ctx.s
    if s.state in _BEFORE_SIGN_FOR:
        return _reject(RejectReason.REPLY_BEFORE_SIGN_FOR, f"reply in state {s.state.value}")
    if s.state not in _HANDLING and s.state is not LifecycleState.WAITING_MATERIAL:
        return _wrong_state(ctx, ev.kind)
    if not ev.text.strip():
        return _reject(RejectReason.EMPTY_REPLY, "the reply has no text")
    stopped = stop(s.resolve, ctx.at, cal=ctx.cal)
    # the window starts when the invitation is actually sent: a reply applied late (a lagging
    # consumer, a parked event) still leaves the petitioner the whole window
    sent = ctx.at if ctx.now is None else max(ctx.at, ctx.now)
    due = sent + timedelta(days=ctx.policy.evaluation.window_days)
    ctx.update(resolve=stopped, resume_to=None, evaluation_due=due)
    ctx.sla(
        stopped,
        SlaSignalKind.MET if met(stopped, cal=ctx.cal) else SlaSignalKind.MISSED,
        unit=ev.unit,
    )
    ctx.move(LifecycleState.REPLIED, ev.kind, unit=ev.unit)
    ctx.effects.append(
        EvaluationInvited(
            petition_id=s.petition_id, at=sent, channel=s.channel, due=due, round=s.round
        )
    )
    return ctx.accepted()


def _on_returned(ctx: _Ctx, ev: Returned) -> Result:
    s = ctx.s
    if s.state not in (LifecycleState.ROUTED, LifecycleState.SIGNED_FOR):
        return _wrong_state(ctx, ev.kind)
    clock = s.sign_for
    try:
        end = None if clock is None else deadline(clock, cal=ctx.cal)
    except CalendarUnavailable as exc:
        end = year_start(exc.year)  # it is no earlier than that
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
    if ctx.s.state is LifecycleState.CLOSED:
        how = ctx.s.closure.value if ctx.s.closure is not None else "closed"
        return _reject(RejectReason.PETITION_CLOSED, f"the petition is closed ({how})")
    if isinstance(event, _UnitEvent):
        if event.unit not in ctx.s.handlers:
            return _reject(
                RejectReason.NOT_A_HANDLER, f"{event.unit} is not a handler of this petition"
            )
        if event.unit != ctx.s.lead_unit:
            return _reject(
                RejectReason.NOT_THE_LEAD, f"{event.unit} co-handles; {ctx.s.lead_unit} leads"
            )
    if isinstance(event, Routed):
        return _on_routed(ctx, event)
    if isinstance(event, TriageRequested):
        return _on_triage_requested(ctx, event)
    if isinstance(event, TriageRouted):
        return _on_triage_routed(ctx, event)
    if isinstance(event, SignedFor):
        return _on_signed_for(ctx, event)
    if isinstance(event, InProgress):
        return _on_in_progress(ctx, event)
    if isinstance(event, MaterialRequested):
        return _on_material_requested(ctx, event)
    if isinstance(event, MaterialReceived):
        return _on_material_received(ctx, event)
    if isinstance(event, ExtensionRequested):
        return _on_extension_requested(ctx, event)
    if isinstance(event, Replied):
        return _on_replied(ctx, event)
    if isinstance(event, Returned):
        return _on_returned(ctx, event)
    if isinstance(event, ExtensionDecided):
        return _on_extension_decided(ctx, event)
    return _on_rated(ctx, event)


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
