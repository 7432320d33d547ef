"""What the lifecycle stage keeps, per partition of its changelog, and its in-memory view of it.

The stage's state (:class:`petition_hub.runtime.state.PartitionState`, one changelog per
partition) holds:

- ``<petition id>`` -> :class:`Entry` as JSON (``{"s": state, "ref": channel reference, "seen":
  {topic: last offset applied}, "h": history, "sens": true}`` (``sens`` only for a sensitive
  theme: the unit is not named to the petitioner)): the petition's lifecycle state
  (:class:`petition_hub.domain.lifecycle.PetitionState`), the channel's reference, the last
  offset applied per source topic (a replay applies nothing twice) and the last
  :data:`HISTORY_LIMIT` entries of its history (for the web endpoint);
- ``r:<petition id>`` -> a repeat's link to its earlier case (:mod:`.lifecycle_repeats`);
- ``x:<matter key>`` -> an enterprise matter's last case (open or ended) and its receipt, in
  the matter key's partition (:mod:`.lifecycle_repeats`);
- ``w:<petition id>`` -> the events parked for it, a JSON list of whole source records (topic,
  partition, offset, key, value and headers, base64) and why each waits (``unknown``: its
  routing is not here yet; ``calendar``: a year's calendar is missing; ``repeat``: a repeat's
  routing, until its earlier case answers);
- keys starting with ``\\x00``: the stage's own (not the lifecycle's).

:class:`PartitionView` is derived from it and rebuilt on restore: the entries, decoded; when each
parked petition started waiting; and the due-time index, a heap of (time, petition id) with the
one time that counts per petition, so a tick looks only at what is due.
"""

from __future__ import annotations

import base64
import heapq
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import structlog

from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar
from petition_hub.domain.lifecycle import LifecycleState, PetitionState, next_wakeup
from petition_hub.runtime.records import SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.service import metrics
from petition_hub.service.clock import Clock

log = structlog.get_logger(__name__)

#: Entries kept in a petition's history (the topics keep everything).
HISTORY_LIMIT: Final = 300
#: How long a closed petition stays in the state (for the 已办 list and its history).
CLOSED_RETENTION: Final = timedelta(days=400)
#: How long an event waits when a year's calendar is missing, before it is tried again.
CALENDAR_RETRY: Final = timedelta(minutes=10)
_PARKED: Final = b"w:"
#: The prefix of a repeat's link in the state (``r:<petition id>``: :mod:`.lifecycle_repeats`).
REPEAT_MARK: Final = b"r:"
#: The prefix of an enterprise matter's open case (``x:<matter key>``: :mod:`.lifecycle_repeats`).
MATTER_MARK: Final = b"x:"


@dataclass
class Entry:
    """What the stage keeps per petition (one changelog record, JSON)."""

    state: PetitionState
    channel_ref: str
    seen: dict[str, int] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    contact: bytes | None = None
    """A provincial dispatch's call-back contact as routing sealed it (``HUB_PII_KEY``: never in
    the clear in the state), until the petition closes."""
    sensitive: bool = False
    """Routed on a sensitive theme: the petitioner's progress messages do not name the unit."""
    repeat_of: str | None = None
    """A case a repeat opened (the earlier case closed): the earlier case's petition id."""
    linked: list[list[str]] = field(default_factory=list)
    """The repeats linked to this case: [petition id, channel name, channel reference] each;
    their channels hear this case's progress."""
    matter: str | None = None
    """The enterprise matter this case is the open case of (registered in the matter's index;
    None once it ended and told the index, or not an enterprise's)."""

    def dump(self) -> bytes:
        data: dict[str, Any] = {
            "s": self.state.model_dump(mode="json"),
            "ref": self.channel_ref,
            "seen": self.seen,
            "h": self.history[-HISTORY_LIMIT:],
        }
        if self.contact is not None:  # a Fernet token: URL-safe base64 already
            data["c"] = self.contact.decode("ascii")
        if self.sensitive:  # only when set: entries written before it read the same
            data["sens"] = True
        if self.repeat_of is not None:
            data["rep"] = self.repeat_of
        if self.linked:
            data["lnk"] = self.linked
        if self.matter is not None:
            data["mk"] = self.matter
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def load(cls, raw: bytes) -> Entry:
        data = json.loads(raw)
        contact = data.get("c")
        return cls(
            state=PetitionState.model_validate(data["s"]),
            channel_ref=data["ref"],
            seen=data["seen"],
            history=data["h"],
            contact=None if contact is None else contact.encode("ascii"),
            sensitive=bool(data.get("sens", False)),
            repeat_of=data.get("rep"),
            linked=data.get("lnk", []),
            matter=data.get("mk"),
        )


@dataclass
class PartitionView:
    """The derived, in-memory view of one partition's state."""

    entries: dict[str, Entry] = field(default_factory=dict)
    due: list[tuple[float, str]] = field(default_factory=list)
    scheduled: dict[str, float] = field(default_factory=dict)
    parked: dict[str, float] = field(default_factory=dict)  # pid -> when first parked (monotonic)
    dirty: set[str] = field(default_factory=set)  # changed since the last state flush
    #: questions of repeats answered before the last crash, by their source record's ref: the
    #: answer sent ("new" or "linked"; agents.lifecycle_repeats), found on the broker at restore
    answered: dict[str, str] = field(default_factory=dict)

    @classmethod
    def restore(cls, state: PartitionState) -> PartitionView:
        """The entries and parked petitions of a restored partition (not yet scheduled)."""
        part = cls()
        now = time.monotonic()
        for key, raw in state.items():
            if key.startswith(b"\x00"):
                continue
            if key.startswith(_PARKED):
                part.parked[key[2:].decode()] = now  # waits a full period again after a restart
                continue
            if key.startswith((REPEAT_MARK, MATTER_MARK)):  # agents.lifecycle_repeats
                continue
            entry = Entry.load(raw)
            part.entries[entry.state.petition_id] = entry
        return part

    def flush(self, state: PartitionState) -> None:
        """Write each changed petition's entry, once however many events changed it."""
        for pid in self.dirty:
            entry = self.entries.get(pid)
            if entry is not None:
                state[pid.encode()] = entry.dump()
        self.dirty.clear()

    def forget(self, state: PartitionState, pid: str) -> None:
        """Drop a petition (closed, and its retention over) from the view and the state."""
        del self.entries[pid]
        self.dirty.discard(pid)
        state.pop(pid.encode(), None)

    # --- the due-time index ----------------------------------------------------------------------

    def schedule(self, pid: str, s: PetitionState, cal: WorkingCalendar, clock: Clock) -> None:
        """Index the next time ``pid`` (in state ``s``) is due: the end of a closed petition's
        retention; now for one counted on another calendar than ``cal`` (its clocks are
        recomputed, what moved is announced); else the next step of its clocks or the end of its
        evaluation window (none: nothing pending). A step in a year without a calendar is tried
        again after :data:`CALENDAR_RETRY`."""
        try:
            if s.state is LifecycleState.CLOSED:
                when: datetime | None = s.updated_at + CLOSED_RETENTION
            elif s.calendar != cal.digest:
                when = clock()  # counted on another calendar: recompute (and announce) now
            else:
                when = next_wakeup(s, cal=cal)
        except CalendarUnavailable as exc:
            calendar_missing(exc)
            when = clock() + CALENDAR_RETRY
        if when is None:
            self.unschedule(pid)
        else:
            self.schedule_at(pid, when)

    def recalendar(self, cal: WorkingCalendar, now: datetime) -> None:
        """``cal`` came into force: every open petition counted on another calendar is due now."""
        for pid, entry in self.entries.items():
            s = entry.state
            if s.state is not LifecycleState.CLOSED and s.calendar != cal.digest:
                self.schedule_at(pid, now)

    def schedule_at(self, pid: str, when: datetime) -> None:
        """``pid`` is next due at ``when`` (replacing any earlier time)."""
        at = when.timestamp()
        if self.scheduled.get(pid) == at:
            return
        self.scheduled[pid] = at
        heapq.heappush(self.due, (at, pid))

    def unschedule(self, pid: str) -> None:
        """Nothing is pending for ``pid``."""
        self.scheduled.pop(pid, None)

    def pop_due(self, limit: float) -> str | None:
        """The next petition due at or before ``limit`` (a timestamp), taken off the index; None
        when nothing is. Heap entries of times since replaced are dropped on the way."""
        while self.due and self.due[0][0] <= limit:
            at, pid = heapq.heappop(self.due)
            if self.scheduled.get(pid) == at:
                del self.scheduled[pid]
                return pid
        return None

    # --- parking: events that arrive before their petition's routing, or their year's calendar ---

    def park(self, state: PartitionState, src: SourceRecord, pid: str, why: str) -> bool:
        """Keep ``src`` whole in the state until ``pid`` can take it; False for a replay of an
        event parked already."""
        key = _PARKED + pid.encode()
        waiting = json.loads(state[key]) if key in state else []
        if any(w["t"] == src.topic and w["o"] == src.offset for w in waiting):
            return False
        waiting.append(
            {
                "t": src.topic,
                "p": src.partition,
                "o": src.offset,
                "k": _b64(src.key),
                "v": _b64(src.value),
                "h": [[n, _b64(v)] for n, v in src.headers],
                "why": why,
            }
        )
        state[key] = json.dumps(waiting).encode()
        self.parked.setdefault(pid, time.monotonic())
        return True

    def unpark(self, state: PartitionState, pid: str, first: str) -> list[SourceRecord]:
        """Take what waits for ``pid`` out of the state, records of topic ``first`` first (the
        routing record: the others need the petition it makes known), then by topic and offset."""
        key = _PARKED + pid.encode()
        if key not in state:
            return []
        waiting = json.loads(state[key])
        del state[key]
        self.parked.pop(pid, None)
        return [
            _unparked(w) for w in sorted(waiting, key=lambda w: (w["t"] != first, w["t"], w["o"]))
        ]

    def expired(
        self, state: PartitionState, now: float, park_seconds: float, retry_seconds: float
    ) -> Iterator[tuple[str, list[SourceRecord] | None]]:
        """The parked petitions whose wait is over at ``now`` (monotonic), one at a time; the
        caller acts on each before the next is looked at. ``(pid, None)``: try again now (the
        petition is known, or a missing calendar's ``retry_seconds`` have passed: what still
        lacks it parks again and waits another period); ``(pid, records)``: given up after
        ``park_seconds``, what waited (out of the state), to reject."""
        for pid, since in list(self.parked.items()):
            key = _PARKED + pid.encode()
            if key not in state:
                self.parked.pop(pid, None)
                continue
            waiting = json.loads(state[key])
            if pid in self.entries:  # the petition is known now (its year's calendar came)
                yield pid, None
                continue
            if any(w["why"] == "repeat" for w in waiting):
                continue  # a repeat waits for its earlier case's answer, however long it takes
            if any(w["why"] == "calendar" for w in waiting):
                # waiting for a year's calendar (the override file, read at start): tried again
                # now and then
                if now - since >= retry_seconds:
                    yield pid, None
                    if pid in self.parked:
                        self.parked[pid] = now
                continue
            if now - since < park_seconds:
                continue
            del state[key]
            self.parked.pop(pid, None)
            yield pid, [_unparked(w) for w in waiting]


def calendar_missing(exc: CalendarUnavailable) -> None:
    """A year's calendar is missing: flagged in a metric, logged once."""
    if metrics.flag_calendar_missing(exc.year):
        log.warning("no official working-day calendar; events wait for it", year=exc.year)


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


def _unb64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)


def _unparked(w: dict[str, Any]) -> SourceRecord:
    return SourceRecord(
        w["t"],
        w["p"],
        w["o"],
        _unb64(w["k"]),
        _unb64(w["v"]),
        tuple((n, _unb64(v)) for n, v in w["h"]),
    )
