"""The lifecycle's read model: what its state shows to the web endpoint and to Prometheus.

Over the partitions a worker holds (:class:`.lifecycle_state.PartitionView`), nothing stored of
its own:

- a petition: its state, whether it is overdue, its deadlines' calendar and its history
  (``GET /petitions/{id}``, :func:`petition`);
- a unit's lists (``GET /units/{unit}/petitions``, :func:`unit_lists`): 在办 (open), 逾期
  (overdue) and 已办 (done), one row per petition (:func:`row`);
- the gauges (:func:`update_gauges`): open and overdue petitions per lead unit, the triage
  backlog, pending timers, clocks counted on a provisional year.

And the history's entries (kept in the state, :class:`.lifecycle_state.Entry`):
:func:`routing_history` for a routing decision, :func:`effect_history` for an effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any, Final

from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar
from petition_hub.domain.lifecycle import (
    DisputeForwarded,
    Effect,
    LifecycleState,
    OpinionRelayed,
    PetitionState,
)
from petition_hub.domain.privacy import mask_text
from petition_hub.domain.sla import deadline, provisional
from petition_hub.schemas import records as wire

from .lifecycle_state import PartitionView

#: A unit handles the petition (在办).
HANDLING: Final = frozenset(
    {
        LifecycleState.ROUTED,
        LifecycleState.SIGNED_FOR,
        LifecycleState.IN_PROGRESS,
        LifecycleState.WAITING_MATERIAL,
        LifecycleState.EXTENDED,
        LifecycleState.REOPENED,
    }
)
#: The unit is done with it (已办).
DONE: Final = frozenset({LifecycleState.REPLIED, LifecycleState.EVALUATED, LifecycleState.CLOSED})


def overdue(s: PetitionState) -> bool:
    """Past the resolve deadline of the current round (its OVERDUE step has fired)."""
    return s.state in HANDLING and any(step.value == "overdue" for step in s.resolve_fired)


def petition(parts: Mapping[int, PartitionView], pid: str) -> dict[str, Any] | None:
    """A petition's state and full history, if one of ``parts`` holds it."""
    for partition, part in parts.items():
        entry = part.entries.get(pid)
        if entry is not None:
            return {
                "petition_id": pid,
                "partition": partition,
                "state": entry.state.model_dump(mode="json"),
                "overdue": overdue(entry.state),
                "provisional": entry.state.provisional,
                "calendar": {str(p.clock): p.model_dump(mode="json") for p in entry.state.plans},
                "history": entry.history,
            }
    return None


def unit_lists(
    parts: Mapping[int, PartitionView], unit: str, cal: WorkingCalendar
) -> dict[str, Any]:
    """The unit's 在办 (open), 逾期 (overdue) and 已办 (done) lists, over ``parts``."""
    lists: dict[str, list[dict[str, Any]]] = {"open": [], "overdue": [], "done": []}
    for part in parts.values():
        for pid, entry in part.entries.items():
            s = entry.state
            if s.lead_unit != unit:
                continue
            r = row(pid, s, cal)
            if s.state in HANDLING:
                lists["open"].append(r)
                if overdue(s):
                    lists["overdue"].append(r)
            elif s.state in DONE:
                lists["done"].append(r)
    for rows in lists.values():
        rows.sort(key=lambda r: (r["resolve_deadline"] or "", r["petition_id"]))
    return {"unit": unit, "partitions": sorted(parts), **lists}


def row(pid: str, s: PetitionState, cal: WorkingCalendar) -> dict[str, Any]:
    """One petition in a unit's list."""
    try:
        due = deadline(s.resolve, cal=cal)
    except CalendarUnavailable:
        due = None
    return {
        "petition_id": pid,
        "state": s.state.value,
        "type": s.petition_type.value if s.petition_type else None,
        "urgency": s.urgency.value,
        "received_at": s.received_at.isoformat(),
        "resolve_deadline": due.isoformat() if due else None,
        "resolve_deadline_provisional": provisional(s.resolve, due, cal=cal),
        "round": s.round,
        "closure": s.closure.value if s.closure else None,
        "rating": s.rating.value if s.rating else None,
    }


def routing_history(rec: wire.Routed, *, applied: bool) -> dict[str, Any]:
    """The history entry of a ``Routed`` decision (``applied``: it changed the state)."""
    return {
        "kind": "routing",
        "at": rec["routedAt"].astimezone(UTC).isoformat(),
        "decision": rec["kind"].lower(),
        "lead": rec["lead"],
        "co": rec["co"],
        "excluded": rec["excluded"],
        "revision": rec["revision"],
        "rules_version": rec["rulesVersion"],
        "theme": rec.get("theme"),
        "rule": rec.get("rule"),
        "reason": rec.get("reason"),
        "applied": applied,
    }


def effect_history(effect: Effect) -> dict[str, Any]:
    """The history entry of an effect: the effect itself (a co-handler's opinion with phone- and
    ID-shaped numbers masked, as the lead reads it)."""
    entry = effect.model_dump(mode="json", exclude={"petition_id"})
    if isinstance(effect, OpinionRelayed):
        entry["text"] = mask_text(effect.text)
    elif isinstance(effect, DisputeForwarded):
        entry["reason"] = mask_text(effect.reason)
    return entry
