"""The console's copy of an erasure: when the hub erases a petition's personal data
(``hub.privacy``: ``erasure_due``, ``erased``), no personal field stays in its row, now or later,
and the free texts of its history, extension requests and refusals go too (see :mod:`.apply`,
which calls these within the batch's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import update
from sqlalchemy.orm import Session

from .models import PERSONAL_COLUMNS, Event, ExtensionRequest, Petition, Refusal, table_of
from .projection import Erasure

#: History entries whose text the console wrote itself from codes and ids (the units of a triage
#: decision, a repeat's channel reference, a dispute's outcome, an erasure's field names or
#: request reference): kept on an erased petition; every other entry's text is free text a person
#: wrote, which may quote the petitioner.
CODED_TEXTS: Final = (
    "office.TRIAGE_ROUTE",
    "repeat_linked",
    "dispute_decided",
    "privacy.erased",
    "privacy.erasure_requested",
    "privacy.erasure_due",
)

#: Petitions per ``IN (...)`` statement.
_CHUNK: Final = 500


def merge_erasure(petition: Petition, erasure: Erasure) -> None:
    """The hub erased the petition's personal data: none stays in its row, now or later (the
    earliest erasure's time and reason, whichever is projected first)."""
    if petition.erased_at is None or (erasure.at, erasure.reason) < (
        petition.erased_at,
        petition.erasure_reason or "",
    ):
        petition.erased_at, petition.erasure_reason = erasure.at, erasure.reason
    for name in PERSONAL_COLUMNS:
        setattr(petition, name, None)


def scrub(session: Session, pids: Sequence[str]) -> None:
    """Drop the free texts of erased petitions ``pids``: their history's (but for
    :data:`CODED_TEXTS`), their extension requests' reasons and notes, their refusals' messages.
    Idempotent; a few statements per batch, only for a batch that touches an erased petition."""
    events, extensions, refusals = table_of(Event), table_of(ExtensionRequest), table_of(Refusal)
    for i in range(0, len(pids), _CHUNK):
        chunk = list(pids[i : i + _CHUNK])
        session.execute(
            update(events)
            .where(
                events.c.petition_id.in_(chunk),
                events.c.text.is_not(None),
                events.c.kind.not_in(CODED_TEXTS),
            )
            .values(text=None)
        )
        session.execute(
            update(extensions)
            .where(
                extensions.c.petition_id.in_(chunk),
                (extensions.c.reason.is_not(None)) | (extensions.c.note.is_not(None)),
            )
            .values(reason=None, note=None)
        )
        session.execute(
            update(refusals)
            .where(refusals.c.petition_id.in_(chunk), refusals.c.message.is_not(None))
            .values(message=None)
        )
