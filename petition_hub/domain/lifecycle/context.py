"""One application of an event: the state being built and the effects so far."""

from __future__ import annotations

from datetime import datetime

from petition_hub.domain.calendar import WorkingCalendar
from petition_hub.domain.lifecycle.clockplans import plans
from petition_hub.domain.lifecycle.effects import Effect, SlaSignal, SlaSignalKind, StateChanged
from petition_hub.domain.lifecycle.results import Accepted
from petition_hub.domain.lifecycle.states import Closure, LifecycleState, PetitionState, ReplyKind
from petition_hub.domain.sla import ClockState, SlaPolicy, known_deadline, provisional


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
        reply_kind: ReplyKind | None = None,
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
                reply_kind=reply_kind,
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
