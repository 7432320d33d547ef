"""The petition lifecycle as a pure state machine: ``apply(state, event) -> Accepted | Rejection``.

States (domain.md "Lifecycle")::

    received ─> routed ─> signed_for ─> in_progress ⇄ waiting_material ─> replied ─> evaluated
       └─> triage ─> routed               └─> extended (approved)          │            └─> closed
    routed | signed_for ─> returned ─> routed | triage                     └─> reopened (once)
    received | triage | returned ─> transferred (to the province) ─> closed (transferred)

Inputs: the hub's own decisions (:class:`Received`, :class:`Routed`, :class:`TriageRequested`,
:class:`TransferredToProvince`), the
handling unit's status events (:class:`SignedFor`, :class:`InProgress`, :class:`MaterialRequested`,
:class:`MaterialReceived`, :class:`ExtensionRequested`, :class:`Replied`: resolved or explained,
:class:`Returned`) and its co-handlers' opinions (:class:`OpinionGiven`), the
joint-meeting office's decisions (:class:`TriageRouted`, :class:`ExtensionDecided`,
:class:`DisputeDecided`: on the lead's dispute of a 不满意, :class:`RatingDisputed`), the
petitioner's ratings (:class:`Rated`) and the timer (:class:`Tick`). Outputs: the new
:class:`PetitionState` and the effects to publish (:class:`StateChanged` for ``hub.lifecycle``,
:class:`SlaSignal` for ``hub.sla``, :class:`EvaluationInvited`, :class:`ExtensionForwarded`,
:class:`ExtensionAnswered`, :class:`RoutingRequested`, :class:`UnitUrged`, :class:`OpinionRelayed`,
:class:`DisputeForwarded`, :class:`DisputeAnswered`);
or a :class:`Rejection`
with its reason (for ``hub.rejects``), the state unchanged.

Where each part lives:

* :mod:`.states`: :class:`PetitionState` and its enums, :class:`ClockPlan`;
* :mod:`.events`: the inputs; :mod:`.effects`: the outputs; :mod:`.results`: :class:`Accepted`,
  :class:`Rejection` and the reasons;
* :mod:`.machine`: :func:`apply`, with the rules that hold for every event; :mod:`.handlers`: one
  handler per event kind, with the rules of each;
* :mod:`.catchup`: catching the clocks up to an event's time, :func:`next_wakeup`;
  :mod:`.clockplans`: what is announced of the running clocks (:func:`plans`);
* :mod:`.context`: one application of an event (the state being built, the effects so far).
"""

from petition_hub.domain.lifecycle.catchup import next_wakeup
from petition_hub.domain.lifecycle.clockplans import plans
from petition_hub.domain.lifecycle.disputes import dispute_window_end
from petition_hub.domain.lifecycle.effects import (
    DisputeAnswered,
    DisputeForwarded,
    Effect,
    EvaluationInvited,
    ExtensionAnswered,
    ExtensionForwarded,
    OpinionRelayed,
    RoutingRequested,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
    UnitUrged,
)
from petition_hub.domain.lifecycle.events import (
    DisputeDecided,
    Event,
    ExtensionDecided,
    ExtensionRequested,
    InProgress,
    MaterialReceived,
    MaterialRequested,
    OpinionGiven,
    Rated,
    RatingDisputed,
    Received,
    Replied,
    Returned,
    Routed,
    SignedFor,
    Tick,
    TransferredToProvince,
    TriageRequested,
    TriageRouted,
)
from petition_hub.domain.lifecycle.machine import apply
from petition_hub.domain.lifecycle.results import Accepted, Rejection, RejectReason, Result
from petition_hub.domain.lifecycle.states import (
    LEADING_GROUP_UNIT,
    OFFICE_UNIT,
    ClockPlan,
    Closure,
    DisputeStatus,
    ExtensionStatus,
    LifecycleState,
    PetitionState,
    ReplyKind,
)

__all__ = [
    "LEADING_GROUP_UNIT",
    "OFFICE_UNIT",
    "Accepted",
    "ClockPlan",
    "Closure",
    "DisputeAnswered",
    "DisputeDecided",
    "DisputeForwarded",
    "DisputeStatus",
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
    "OpinionGiven",
    "OpinionRelayed",
    "PetitionState",
    "Rated",
    "RatingDisputed",
    "Received",
    "RejectReason",
    "Rejection",
    "Replied",
    "ReplyKind",
    "Result",
    "Returned",
    "Routed",
    "RoutingRequested",
    "SignedFor",
    "SlaSignal",
    "SlaSignalKind",
    "StateChanged",
    "Tick",
    "TransferredToProvince",
    "TriageRequested",
    "TriageRouted",
    "UnitUrged",
    "apply",
    "dispute_window_end",
    "next_wakeup",
    "plans",
]
