"""Applying a batch of records to the console's database, in the caller's one transaction: the
rows they produce and the offsets the projection goes on from.

Why the result does not depend on who applies what, or twice:

- **Once per event**: an event whose id is in ``events`` is skipped, and so is a record below
  the offset stored for its partition (another replica, or this one before a crash, applied it).
- **One writer at a time**: on PostgreSQL each batch first takes a transaction-level advisory
  lock (:data:`LOCK_KEY`), on SQLite the write lock (``BEGIN IMMEDIATE``, :mod:`.store`): the
  check above and the writes that follow see every batch committed before. Batches are a few
  thousand records: replicas take turns per batch, which costs little and rules out two
  replicas merging into the same petition row from stale reads.
- **Order between topics does not matter**: a petition's row is merged from several topics read
  in any interleaving, so each column has one rule that gives the same answer in any order
  (:func:`merge_routing`, :func:`merge_lifecycle`, :func:`merge_clock`): routing's columns from
  the newest (revision, routedAt); the state from the lifecycle (in order on its one partition
  per petition), routing's ``triage`` / ``routed`` only until the lifecycle speaks; deadlines from
  the latest event that set them; overdue and supervision derived from the rounds whose clocks
  fired (:func:`derive`).
- **An erasure sticks**: a petition the hub erased (``hub.privacy``) keeps no personal data
  whether its erasure is projected after its other records or before them (partitions read at
  different speeds, a rebuild): :func:`merge_erasure` empties the personal columns and sets
  ``erased_at`` (a row of its own when the petition has none yet: the tombstone),
  :func:`merge_routing` leaves them empty on an erased petition, and every batch that touches an
  erased petition ends by dropping the free texts of its history, extension requests and
  refusals (:func:`scrub`), those it has just added included.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, cast

from sqlalchemy import bindparam, delete, insert, select, text, tuple_, update
from sqlalchemy.orm import Session

from .erasing import merge_erasure, scrub
from .models import (
    PERSONAL_COLUMNS,
    PROJECTED,
    ConsumedOffset,
    Event,
    ExtensionRequest,
    Petition,
    PetitionUnit,
    Refusal,
    table_of,
)
from .projection import (
    HANDLING,
    Clock,
    Extension,
    Lifecycle,
    Projection,
    RefusalRow,
    Routing,
)

#: The PostgreSQL advisory lock every batch takes (an arbitrary constant: "PHCONSOL").
LOCK_KEY: Final = 0x5048434F4E534F4C

#: Rows per ``IN (...)`` query (SQLite allows 32,766 parameters; PostgreSQL 65,535).
_CHUNK: Final = 500


@dataclass(frozen=True)
class Applied:
    """What one batch did."""

    records: int
    """Records applied (new events)."""
    skipped: int
    """Records skipped: already applied (event id, or below the stored offset) or unreadable."""
    reseek: dict[tuple[str, int], int]
    """Partitions whose records did not start where the projection stands (after a rebuild
    emptied the offsets, or a replica that fell behind): nothing of theirs was applied; read them
    again from here."""


@dataclass(frozen=True)
class Item:
    """A record of a batch: where it was read and what it projects to (None: nothing to apply)."""

    topic: str
    partition: int
    offset: int
    projection: Projection | None


def lock(session: Session) -> None:
    """Take the batch lock (PostgreSQL; SQLite holds its write lock from ``BEGIN IMMEDIATE``)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def stored_offsets(
    session: Session, partitions: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The next offsets stored for ``partitions`` (those with none are left out)."""
    wanted = sorted(set(partitions))
    found: dict[tuple[str, int], int] = {}
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        rows = session.execute(
            select(
                ConsumedOffset.topic, ConsumedOffset.partition, ConsumedOffset.next_offset
            ).where(tuple_(ConsumedOffset.topic, ConsumedOffset.partition).in_(chunk))
        )
        found.update({(t, p): n for t, p, n in rows})
    return found


def apply_batch(
    session: Session,
    items: Sequence[Item],
    ends: Mapping[tuple[str, int], int],
    log_start: Mapping[tuple[str, int], int],
) -> Applied:
    """Apply ``items`` (in their order, each partition's in offset order) and store ``ends``
    (partition -> next offset) in the session's transaction; the caller commits.

    A partition's records apply only from where the projection stands: its stored next offset,
    or where its log starts (``log_start``) when none is stored or the log starts later
    (retention). Records before that are skipped (applied already); records that start after it
    are not applied at all (:attr:`Applied.reseek`): no gap is ever stepped over."""
    lock(session)
    now = datetime.now(UTC)
    stored = stored_offsets(session, ends)
    first: dict[tuple[str, int], int] = {}
    for i in items:
        tp = (i.topic, i.partition)
        first[tp] = min(first.get(tp, i.offset), i.offset)
    expected = {tp: max(stored.get(tp, 0), log_start.get(tp, 0)) for tp in ends}
    reseek = {tp: at for tp, at in expected.items() if first.get(tp, at) > at}
    fresh = [
        i
        for i in items
        if (i.topic, i.partition) not in reseek and i.offset >= expected[(i.topic, i.partition)]
    ]
    projections = [i.projection for i in fresh if i.projection is not None]
    ids = {p.event.event_id for p in projections}
    seen = _existing_events(session, ids)
    todo: list[Projection] = []
    for p in projections:
        if p.event.event_id not in seen:
            seen.add(p.event.event_id)
            todo.append(p)
    pids = {pid for p in todo for pid in (p.event.petition_id, *p.touches) if pid}
    # everything the merges look at is loaded up front, a few queries per batch; within the
    # batch the session must not flush before each lookup (autoflush), which made a batch's
    # cost grow with its square
    with session.no_autoflush:
        petitions, loaded = _load_petitions(session, pids)
        units = _load_units(session, {p.event.petition_id for p in todo if p.routing})
        extensions = _Extensions(
            session, {p.event.petition_id for p in todo if p.extension and p.event.petition_id}
        )
        refusals = _load_refusals(session, [p.refusal for p in todo if p.refusal])
        for p in todo:
            _merge_one(session, p, petitions, units, extensions, refusals)
    if todo:
        # the history in one statement (executemany): the bulk of a batch's rows
        session.execute(insert(table_of(Event)), [_fields(p.event) for p in todo])
    for petition in petitions.values():
        derive(petition)
        petition.updated_at = now
    _write_petitions(session, petitions, loaded)
    for rows in units.values():
        _mark_current(rows)
    erased = sorted(pid for pid, row in petitions.items() if row.erased_at is not None)
    if erased:
        session.flush()  # the batch's own rows first: scrub reaches them too
        scrub(session, erased)
    _store_offsets(session, {tp: n for tp, n in ends.items() if tp not in reseek}, stored, now)
    return Applied(records=len(todo), skipped=len(items) - len(todo), reseek=reseek)


def _merge_one(
    session: Session,
    p: Projection,
    petitions: Mapping[str, Petition],
    units: dict[str, dict[str, PetitionUnit]],
    extensions: _Extensions,
    refusals: dict[tuple[str, int, int], Refusal],
) -> None:
    """Merge one record's projection into the batch's rows (its event row aside)."""
    petition = petitions[p.event.petition_id] if p.event.petition_id else None
    if petition is not None and p.erasure is not None:
        merge_erasure(petition, p.erasure)
    if petition is not None and p.routing is not None:
        merge_routing(petition, p.routing)
        _merge_unit(session, units, petition.petition_id, p.routing)
    if petition is not None and p.lifecycle is not None:
        merge_lifecycle(petition, p.lifecycle)
        if p.lifecycle.repeat_id:
            # the repeat joined this case: no lifecycle of its own, so routing's guess of its
            # state never applies (its lead and routing columns still do)
            linked = petitions[p.lifecycle.repeat_id]
            linked.state, linked.repeat_of = "linked", petition.petition_id
    if petition is not None and p.clock is not None:
        merge_clock(petition, p.clock)
    if petition is not None and p.extension is not None:
        extensions.merge(petition.petition_id, p.extension)
    if p.refusal is not None:
        _merge_refusal(session, refusals, p.refusal)


def _fields(row: object) -> dict[str, object]:
    # dataclasses.asdict deep-copies every value: a plain copy of the fields is what is needed
    return dict(vars(row))


# --- loading -------------------------------------------------------------------------------------


def _existing_events(session: Session, ids: set[str]) -> set[str]:
    """Which of ``ids`` are in ``events`` already."""
    found: set[str] = set()
    wanted = sorted(ids)
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        found.update(session.scalars(select(Event.event_id).where(Event.event_id.in_(chunk))))
    return found


def _load_petitions(session: Session, pids: set[str]) -> tuple[dict[str, Petition], _Loaded]:
    """The rows of ``pids`` (:class:`_PlainPetition`) and their columns as loaded (none for a
    new one), for :func:`_write_petitions`."""
    found: dict[str, Petition] = {}
    loaded: _Loaded = {}
    table = table_of(Petition)
    wanted = sorted(pids)
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        for row in session.execute(select(table).where(table.c.petition_id.in_(chunk))):
            values = row._asdict()
            found[values["petition_id"]] = _PlainPetition.of(values)
            loaded[values["petition_id"]] = values
    for pid in wanted:
        if pid not in found:
            fresh = dict.fromkeys(_petition_keys()) | _NEW
            fresh.update(petition_id=pid, co_units=[], excluded_units=[], suggested_units=[])
            found[pid] = _PlainPetition.of(fresh)
    return found, loaded


class _PlainPetition:
    """A petition's columns as plain attributes, for the merges of a batch; never a session's
    (:func:`_write_petitions` writes it), typed as the model the merges are written for. On a
    mapped :class:`~.models.Petition` each attribute set goes through the ORM's events: a third
    of applying a batch."""

    @classmethod
    def of(cls, values: Mapping[str, object]) -> Petition:
        plain = cls()
        vars(plain).update(values)
        return cast("Petition", plain)


#: The columns of a petition new to the console that are not null (and its lists, empty).
_NEW: Final[dict[str, object]] = {"round": 0, "overdue": False, "identity_withheld": False}
_NEW.update(sensitive=False, sign_for_deadline_provisional=False, deadline_provisional=False)

#: A batch's petitions as loaded: petition id -> column -> value.
_Loaded = dict[str, dict[str, object]]


@functools.cache
def _petition_keys() -> tuple[str, ...]:
    return tuple(c.key for c in table_of(Petition).columns)


def _write_petitions(session: Session, petitions: Mapping[str, Petition], loaded: _Loaded) -> None:
    """The batch's petitions written with a few statements (executemany): the new rows in one,
    the others grouped by the columns that changed, one statement a group. Only those columns
    are set: SQLite rewrites every index on a column an UPDATE sets, changed or not."""
    table = table_of(Petition)
    keys = _petition_keys()
    new: list[dict[str, object]] = []
    changed: dict[tuple[str, ...], list[dict[str, object]]] = defaultdict(list)
    for pid, petition in petitions.items():
        values = vars(petition)
        now = {k: values.get(k) for k in keys}
        before = loaded.get(pid)
        if before is None:
            new.append(now)
            continue
        columns = tuple(k for k in keys if now[k] != before[k])
        if columns:
            changed[columns].append({"pk": pid, **{f"v_{k}": now[k] for k in columns}})
    if new:
        session.execute(insert(table), new)
    for columns, rows in changed.items():
        session.execute(
            update(table)
            .where(table.c.petition_id == bindparam("pk"))
            .values({k: bindparam(f"v_{k}") for k in columns}),
            rows,
        )


def _load_units(session: Session, pids: set[str | None]) -> dict[str, dict[str, PetitionUnit]]:
    found: dict[str, dict[str, PetitionUnit]] = defaultdict(dict)
    wanted = sorted(p for p in pids if p)
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        for row in session.scalars(select(PetitionUnit).where(PetitionUnit.petition_id.in_(chunk))):
            found[row.petition_id][row.unit] = row
    return found


# --- merging -------------------------------------------------------------------------------------


def _routing_key(revision: int | None, routed_at: datetime | None) -> tuple[int, datetime]:
    return (-1 if revision is None else revision, routed_at or datetime.min.replace(tzinfo=UTC))


def merge_routing(petition: Petition, routing: Routing) -> None:
    """Routing's columns from the newest (revision, routedAt) copy; state and lead from it only
    while the lifecycle has said nothing of the petition."""
    if _routing_key(routing.revision, routing.routed_at) < _routing_key(
        petition.revision, petition.routed_at
    ):
        return
    petition.revision = routing.revision
    columns = dict(routing.columns)
    if routing.role == "TRIAGE":
        # a triage copy has no sign-for deadline: keep what a unit's copy said
        columns.pop("sign_for_deadline", None)
    # the deadlines are routing's only until the lifecycle's clocks speak (see merge_clock)
    if petition.resolve_deadline_at is not None:
        columns.pop("resolve_deadline", None)
        columns.pop("deadline_provisional", None)
    if petition.sign_for_deadline_at is not None:
        columns.pop("sign_for_deadline", None)
        columns.pop("sign_for_deadline_provisional", None)
    if petition.erased_at is not None:
        # a copy projected after the erasure (a unit topic read behind hub.privacy, a rebuild)
        for name in PERSONAL_COLUMNS:
            columns.pop(name, None)
    for name, value in columns.items():
        setattr(petition, name, value)
    if petition.state_at is None:  # the lifecycle has not spoken
        if petition.state != "linked":
            petition.state = "triage" if routing.role == "TRIAGE" else "routed"
        petition.lead_unit = None if routing.role == "TRIAGE" else routing.lead


def merge_lifecycle(petition: Petition, life: Lifecycle) -> None:
    """The lifecycle's word (its events come in order, one partition per petition)."""
    if life.to_state is not None:
        petition.state = life.to_state
        petition.state_at = life.at
        if life.to_state == "signed_for":
            petition.signed_for_at = life.at
        elif life.to_state == "replied":
            petition.replied_at = life.at
        elif life.to_state == "closed":
            petition.closed_at = life.at
        if life.closure is not None:
            petition.closure = life.closure
        if life.satisfaction is not None:
            petition.satisfaction = life.satisfaction
        if life.reply_kind is not None:
            petition.reply_kind = life.reply_kind
    elif petition.state_at is None:
        # an event other than a state change before any: the petition is past routing's guess
        petition.state_at = life.at
    petition.lead_unit = life.lead_unit
    petition.round = life.round
    if life.repeat_of is not None:
        petition.repeat_of = life.repeat_of
    if life.deadline is not None and not (
        # a moved deadline (hub.sla deadline_changed) stands against older lifecycle events
        petition.resolve_deadline_source == "sla"
        and petition.resolve_deadline_at is not None
        and life.at < petition.resolve_deadline_at
    ):
        petition.resolve_deadline = life.deadline
        petition.deadline_provisional = life.deadline_provisional
        petition.resolve_deadline_at = life.at
        petition.resolve_deadline_source = "lifecycle"


def merge_clock(petition: Petition, clock: Clock) -> None:
    """A clock event: the ladder's rounds, and a deadline it started or moved."""
    if clock.clock == "resolve":
        if clock.signal == "overdue":
            petition.overdue_round = max(petition.overdue_round or 0, clock.round)
        elif clock.signal == "listed_supervision":
            petition.listed_round = max(petition.listed_round or 0, clock.round)
    if clock.deadline is None:
        return
    if clock.clock == "resolve":
        # the lifecycle's events carry the resolve deadline after each of them, in order; a
        # calendar change moves it with no lifecycle event (deadline_changed): that one counts
        # against lifecycle events older than it, whichever topic is read first
        if clock.signal == "deadline_changed" and (
            petition.resolve_deadline_source != "lifecycle"
            or petition.resolve_deadline_at is None
            or clock.at > petition.resolve_deadline_at
        ):
            petition.resolve_deadline = clock.deadline
            petition.deadline_provisional = clock.deadline_provisional
            petition.resolve_deadline_at = clock.at
            petition.resolve_deadline_source = "sla"
    elif clock.signal in ("started", "deadline_changed"):
        # the sign-for clock is hub.sla's alone (in order, one partition per petition): started
        # at each routing, moved by a calendar change; routing's copy only until it speaks
        petition.sign_for_deadline = clock.deadline
        petition.sign_for_deadline_provisional = clock.deadline_provisional
        petition.sign_for_deadline_at = clock.at


def derive(petition: Petition) -> None:
    """The columns that follow from the others: overdue (逾期) and supervision (督办 / 挂牌督办),
    both only while a unit handles the petition, on the current round's resolve clock."""
    handling = petition.state in HANDLING
    listed = handling and (
        petition.listed_round is not None and petition.listed_round >= petition.round
    )
    overdue = handling and (
        petition.overdue_round is not None and petition.overdue_round >= petition.round
    )
    petition.overdue = bool(overdue or listed)
    petition.supervision = "listed_supervision" if listed else "overdue" if overdue else None


def _merge_unit(
    session: Session,
    units: dict[str, dict[str, PetitionUnit]],
    pid: str,
    routing: Routing,
) -> None:
    if routing.unit is None:
        return
    rows = units[pid]
    row = rows.get(routing.unit)
    key = _routing_key(routing.revision, routing.routed_at)
    if row is None:
        row = PetitionUnit(
            petition_id=pid, unit=routing.unit, role=routing.role, revision=routing.revision
        )
        row.routed_at = routing.routed_at
        session.add(row)
        rows[routing.unit] = row
    elif key >= _routing_key(row.revision, row.routed_at):
        row.role, row.revision, row.routed_at = routing.role, routing.revision, routing.routed_at


def _mark_current(rows: Mapping[str, PetitionUnit]) -> None:
    """The units of the newest routing are current; the others were routed to earlier."""
    newest = max((_routing_key(r.revision, r.routed_at) for r in rows.values()), default=None)
    for r in rows.values():
        r.current = _routing_key(r.revision, r.routed_at) == newest


class _Extensions:
    """The extension requests of a batch's petitions, and who decided each (the office's
    decision on ``office.decisions``, whichever of it and the lifecycle's answer comes first)."""

    _DECIDED: Final = ("office.EXTENSION_APPROVED", "office.EXTENSION_REFUSED")

    def __init__(self, session: Session, pids: set[str | None]) -> None:
        self.session = session
        self.requests: dict[str, list[ExtensionRequest]] = defaultdict(list)
        #: the office's latest decision per petition: (at, author, note)
        self.decided: dict[str, tuple[datetime, str | None, str | None]] = {}
        wanted = sorted(p for p in pids if p)
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            for row in session.scalars(
                select(ExtensionRequest).where(ExtensionRequest.petition_id.in_(chunk))
            ):
                self.requests[row.petition_id].append(row)
            for pid, at, author, note in session.execute(
                select(Event.petition_id, Event.at, Event.author, Event.text).where(
                    Event.petition_id.in_(chunk), Event.kind.in_(self._DECIDED)
                )
            ):
                self._decision(str(pid), at, author, note)

    def _decision(
        self, pid: str, at: datetime | None, author: str | None, note: str | None
    ) -> None:
        if at is not None and (pid not in self.decided or self.decided[pid][0] <= at):
            self.decided[pid] = (at, author, note)

    def merge(self, pid: str, ext: Extension) -> None:
        rows = self.requests[pid]
        if ext.what == "requested":
            if all(r.requested_at != ext.at for r in rows):
                row = ExtensionRequest(
                    petition_id=pid,
                    requested_at=ext.at,
                    unit=ext.unit,
                    days=ext.days,
                    reason=ext.reason,
                )
                self.session.add(row)
                rows.append(row)
            return
        if ext.what == "decided":
            self._decision(pid, ext.at, ext.author, ext.reason)
            # a request the lifecycle answered before the decision was projected
            for row in rows:
                if row.decision is not None and row.decided_by is None:
                    row.decided_by, row.note = ext.author, ext.reason
            return
        asked = [r for r in rows if r.requested_at <= ext.at]
        if not asked:
            return
        pending = max(asked, key=lambda r: r.requested_at)
        pending.decision = "approved" if ext.approved else "refused"
        pending.decided_at = ext.at
        if ext.approved and ext.days is not None:
            pending.days = ext.days
        decided = self.decided.get(pid)
        if decided is not None and pending.decided_by is None:
            pending.decided_by, pending.note = decided[1], decided[2]


def _load_refusals(
    session: Session, found: Sequence[RefusalRow | None]
) -> dict[tuple[str, int, int], Refusal]:
    keys = sorted(
        {(r.source_topic, r.source_partition, r.source_offset) for r in found if r is not None}
    )
    rows: dict[tuple[str, int, int], Refusal] = {}
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        for row in session.scalars(
            select(Refusal).where(
                tuple_(Refusal.source_topic, Refusal.source_partition, Refusal.source_offset).in_(
                    chunk
                )
            )
        ):
            rows[(row.source_topic, row.source_partition, row.source_offset)] = row
    return rows


def _merge_refusal(
    session: Session, rows: dict[tuple[str, int, int], Refusal], refusal: RefusalRow
) -> None:
    key = (refusal.source_topic, refusal.source_partition, refusal.source_offset)
    values = {k: v for k, v in _fields(refusal).items() if k != "told"}
    row = rows.get(key)
    if row is None:
        rows[key] = Refusal(**values)
        session.add(rows[key])
        return
    # two records report a refusal: the unit's notice (its words win) and hub.rejects (fills
    # what the notice lacks); the same row whichever is projected first
    for name, value in values.items():
        if value is not None and (refusal.told or getattr(row, name) is None):
            setattr(row, name, value)


def _store_offsets(
    session: Session,
    ends: Mapping[tuple[str, int], int],
    stored: Mapping[tuple[str, int], int],
    now: datetime,
) -> None:
    new = [
        {"topic": t, "partition": p, "next_offset": end, "updated_at": now}
        for (t, p), end in ends.items()
        if (t, p) not in stored
    ]
    if new:
        session.execute(insert(table_of(ConsumedOffset)), new)
    moved = [
        {"t": t, "p": p, "n": end, "now": now}
        for (t, p), end in ends.items()
        if (t, p) in stored and end > stored[(t, p)]
    ]
    if moved:
        table = table_of(ConsumedOffset)
        session.execute(
            update(table)
            .where(table.c.topic == bindparam("t"), table.c.partition == bindparam("p"))
            .values(next_offset=bindparam("n"), updated_at=bindparam("now")),
            moved,
        )


def empty(session: Session) -> None:
    """Delete every projected row and every stored offset (``console rebuild``)."""
    lock(session)
    for table in PROJECTED:
        session.execute(delete(table))
