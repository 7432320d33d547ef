"""A unit's dispute of a rating (对评价结果有异议) and the office's decision on it.

Rules:

* Only the lead unit may dispute (the sender check of :mod:`.machine`: a co-handler gets
  ``not_the_lead``), only a 不满意 rating (the petition's last one: ``nothing_to_dispute``
  when there is none), with its reason (``empty_dispute``), once per petition (policy
  ``dispute.max_disputes``: ``dispute_already_made``), within ``dispute.window_working_days``
  working days of the rating on the hub's calendar (the one the SLA clocks use): the window ends
  at the working-day deadline time (18:00 Asia/Shanghai) of the last of them, the day of the
  rating not counted (``dispute_window_passed``). The event's own time is what is checked, as
  for a return's window.
* A dispute may come while the petition is reopened by that 不满意, replied again or closed
  (a 不满意 that used up the reopen closes it at once): the petition's state does not change.
* The office decides on ``office.decisions``: voided or upheld (``no_dispute_pending`` when no
  dispute waits). Neither changes the state: the reopening the 不满意 caused goes on (the
  petitioner's matter is handled again either way); a voided rating only leaves 满意率 and the
  unit's dissatisfied count (the report matches it by its time, ``rated_at``).
"""

from __future__ import annotations

from datetime import datetime

from petition_hub.domain.calendar import WorkingCalendar
from petition_hub.domain.lifecycle.context import _Ctx
from petition_hub.domain.lifecycle.effects import DisputeAnswered, DisputeForwarded
from petition_hub.domain.lifecycle.events import DisputeDecided, RatingDisputed
from petition_hub.domain.lifecycle.results import RejectReason, Result, _reject
from petition_hub.domain.lifecycle.states import DisputeStatus
from petition_hub.domain.sla import SHANGHAI, SlaPolicy

__all__ = ["dispute_window_end", "on_dispute_decided", "on_rating_disputed"]


def dispute_window_end(rated_at: datetime, policy: SlaPolicy, cal: WorkingCalendar) -> datetime:
    """The end of the window to dispute a rating applied at ``rated_at``: the working-day
    deadline time of the ``dispute.window_working_days``-th working day after the rating's day
    (Asia/Shanghai). Raises :class:`~petition_hub.domain.calendar.CalendarUnavailable` when
    the count runs into a year without calendar data."""
    day = rated_at.astimezone(SHANGHAI).date()
    last = cal.add_working_days(day, policy.dispute.window_working_days)
    end = datetime.combine(last, policy.working_time.deadline, tzinfo=SHANGHAI)
    return end.astimezone(rated_at.tzinfo)


def on_rating_disputed(ctx: _Ctx, ev: RatingDisputed) -> Result:
    """The lead unit's dispute (the sender is checked: the lead): forwarded to the office."""
    s = ctx.s
    if s.dissatisfied_at is None or s.dissatisfied_round is None:
        rated = s.rating.value if s.rating is not None else "none yet"
        return _reject(
            RejectReason.NOTHING_TO_DISPUTE,
            f"only a 不满意 rating may be disputed; this petition's rating: {rated}",
        )
    if s.disputes >= ctx.policy.dispute.max_disputes:
        return _reject(
            RejectReason.DISPUTE_ALREADY_MADE,
            f"{s.disputes} dispute(s) made, {ctx.policy.dispute.max_disputes} allowed",
        )
    end = dispute_window_end(s.dissatisfied_at, ctx.policy, ctx.cal)
    if ctx.at > end:
        return _reject(
            RejectReason.DISPUTE_WINDOW_PASSED,
            f"a dispute is possible within {ctx.policy.dispute.window_working_days} working "
            f"days of the rating, until {end.astimezone(SHANGHAI).isoformat()}",
        )
    if not ev.reason.strip():
        return _reject(RejectReason.EMPTY_DISPUTE, "the dispute has no reason")
    ctx.update(disputes=s.disputes + 1, dispute=DisputeStatus.PENDING)
    ctx.effects.append(
        DisputeForwarded(
            petition_id=s.petition_id,
            at=ctx.at,
            unit=ev.unit,
            reason=ev.reason,
            rated_at=s.dissatisfied_at,
            rated_round=s.dissatisfied_round,
        )
    )
    return ctx.accepted()


def on_dispute_decided(ctx: _Ctx, ev: DisputeDecided) -> Result:
    """The office's decision: the rating voided or upheld; the lead unit is told."""
    s = ctx.s
    if s.dispute is not DisputeStatus.PENDING:
        return _reject(RejectReason.NO_DISPUTE_PENDING, "no dispute of a rating is pending")
    assert s.dissatisfied_at is not None and s.dissatisfied_round is not None  # a dispute's
    ctx.update(dispute=DisputeStatus.VOIDED if ev.voided else DisputeStatus.UPHELD)
    ctx.effects.append(
        DisputeAnswered(
            petition_id=s.petition_id,
            at=ctx.at,
            unit=s.lead_unit,
            voided=ev.voided,
            note=ev.note,
            rated_at=s.dissatisfied_at,
            rated_round=s.dissatisfied_round,
        )
    )
    return ctx.accepted()
