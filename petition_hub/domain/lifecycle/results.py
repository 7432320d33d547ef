"""What :func:`~.machine.apply` returns: :class:`Accepted` (the new state and the effects) or a
:class:`Rejection` with its reason (for ``hub.rejects``)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from petition_hub.domain.lifecycle.effects import Effect
from petition_hub.domain.lifecycle.states import PetitionState

__all__ = ["Accepted", "RejectReason", "Rejection", "Result"]


class RejectReason(StrEnum):
    """Why an event was not applied (``hub.rejects``)."""

    UNKNOWN_PETITION = "unknown_petition"
    ALREADY_RECEIVED = "already_received"
    PETITION_MISMATCH = "petition_mismatch"
    PETITION_CLOSED = "petition_closed"
    NOT_A_HANDLER = "not_a_handler"
    NOT_THE_LEAD = "not_the_lead"
    """A co-handler (协办) sent what only the lead unit may (anything but an opinion)."""
    OPINION_FROM_LEAD = "opinion_from_lead"
    """The lead unit sent an opinion: it answers by its reply; an opinion is a co-handler's."""
    EMPTY_OPINION = "empty_opinion"
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
    NOTHING_TO_DISPUTE = "nothing_to_dispute"
    """A dispute, but the petition has no 不满意 rating (none yet, or 满意 / 基本满意)."""
    DISPUTE_ALREADY_MADE = "dispute_already_made"
    DISPUTE_WINDOW_PASSED = "dispute_window_passed"
    EMPTY_DISPUTE = "empty_dispute"
    NO_DISPUTE_PENDING = "no_dispute_pending"


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


def _reject(reason: RejectReason, detail: str) -> Rejection:
    return Rejection(reason=reason, detail=detail)
