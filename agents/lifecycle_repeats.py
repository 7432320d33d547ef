"""Repeats become one case, in the lifecycle stage (重复诉求).

A routing record naming an earlier case (``Routed.v4`` ``repeatOf``: a 12345 ``YGDBH`` call) is
the repeat's; the earlier case lives under its own petition id, in its own partition. The stage
asks it as Kafka Streams' foreign-key joins do, over its own co-partitioned topic
``<app>-repeat-links`` (``RepeatLink.v1``), before any clock of the repeat starts:

1. the repeat's partition keeps the routing record parked (``repeat``: no expiry) and writes a
   ``REQUEST`` keyed by the earlier case's id (state ``r:<repeat id>``: asked). The lifecycle's
   outputs are exactly once, each in its source partition, so it writes them to
   ``<app>-repeat-asks``; the stateless ``repeat-links`` stage (:func:`rekey_stage`) writes each
   again to ``<app>-repeat-links``, in the partition of its key, which the lifecycle reads
   (at least once: a link read twice is recognised by what it says, not where it is);
2. the earlier case's partition decides (:func:`petition_hub.domain.repeats.repeat_outcome`):
   linked while it is open and within the window: ``repeat_linked`` on ``hub.lifecycle`` (the
   repeat's id, channel and reference), a ``repeat_linked`` notice to the lead unit (重复诉求), a
   ``linked`` progress message to the repeat's channel (which hears every later step of the case
   too), and ``LINKED`` to the repeat; otherwise ``NEW_CASE`` to the repeat;
3. the repeat's partition records the answer (``r:<repeat id>``: linked or new) and takes its
   parked records again: a linked repeat starts nothing (no clock, no record: counted once); a
   new case starts as any petition, each of its ``hub.lifecycle`` records naming the earlier
   case (``repeatOf``: counted as a repeat).

An enterprise's matter (``Routed.v5`` ``matterKey``: credit code and theme, hashed) on any
channel takes the same path with one hop more: the petition's ``CLAIM`` goes to the matter's
index, in the lifecycle's partition of the matter key (state ``x:<matter key>``: its last case,
open or ended, and when it was received), which forwards it as a ``REQUEST`` to the open case
within the window (step 2 as above), or answers ``NEW_CASE`` and registers the claimant in the
same step: naming the last case if it ended within the window (a repeat, as a 12345 one after its
first case closed), naming none with no case or after the window; a case opened because the
matter's case said no ``REGISTER``s in its place, and a case that ends ``UNREGISTER``s (kept in
the index as ended) (``RepeatLink.v2``).

Every message of the lifecycle is an exactly-once output with an id from its source record; the
re-keyer may repeat one, which the lifecycle recognises (a repeat already linked, an answer to a
question already answered), so a crash or rebalance neither links twice nor opens two cases;
ordering per case holds, every message being keyed by the petition id it is for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import structlog

from petition_hub import schemas
from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar
from petition_hub.domain.lifecycle import LifecycleState
from petition_hub.domain.petition import Channel
from petition_hub.domain.repeats import RepeatOutcome, repeat_outcome
from petition_hub.domain.sla import deadline
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec, lifecycle_codec
from petition_hub.schemas import records as wire
from petition_hub.service import metrics
from petition_hub.service.settings import Settings
from petition_hub.topics import TopicSpec
from petition_hub.topics.names import (
    APP_PLACEHOLDER,
    REPEAT_ASKS,
    REPEAT_LINKS,
    changelog_topic,
    repeat_asks_topic,
    repeat_links_topic,
    stage_group,
)
from petition_hub.topics.spec import declared

from .lifecycle_records import LifecycleRecords, lifecycle_output
from .lifecycle_state import MATTER_MARK, REPEAT_MARK, Entry, PartitionView

if TYPE_CHECKING:
    from .lifecycle_progress import ProgressRecords

log = structlog.get_logger(__name__)

#: The suffixes of the two link topics (``<app>-repeat-asks``, ``<app>-repeat-links``).
ASKS_SUFFIX: Final = REPEAT_ASKS.removeprefix(APP_PLACEHOLDER)
LINKS_SUFFIX: Final = REPEAT_LINKS.removeprefix(APP_PLACEHOLDER)

#: The matter index's messages (key: the matter key).
_INDEX: Final = frozenset({"CLAIM", "REGISTER", "UNREGISTER"})
#: States in which a case leaves its matter's index: its handling here is over.
_ENDED: Final = frozenset({LifecycleState.CLOSED, LifecycleState.TRANSFERRED})

#: A repeat's link, as kept (``r:<repeat id>``): asked, linked, new case.
ASKED: Final = "asked"
LINKED: Final = "linked"
NEW_CASE: Final = "new"


@dataclass
class Repeats:
    """The lifecycle's repeat links (the stage calls it; it renders what to write)."""

    topic: str
    """``<app>-repeat-links``, which the lifecycle reads."""
    asks: str
    """``<app>-repeat-asks``, which it writes."""
    records: LifecycleRecords
    progress: ProgressRecords
    window: timedelta

    # --- the repeat's partition ----------------------------------------------------------------

    def hold(
        self, src: SourceRecord, rec: wire.Routed, state: PartitionState, part: PartitionView
    ) -> list[Output] | None:
        """For a routing record of a petition not known here yet: None to go on (not a repeat,
        or its earlier case answered: a case of its own); else what to write instead (the
        question to the earlier case, or nothing: it waits, or it is linked)."""
        pid = str(rec["petitionId"])
        first = rec.get("repeatOf") or ""
        first = "" if first == pid else first
        matter = rec.get("matterKey") or None
        if not first and not matter:
            return None
        mark = _mark(state, pid)
        if mark is not None and mark["m"] == NEW_CASE:
            return None
        if mark is not None and mark["m"] == LINKED:
            metrics.LIFECYCLE_EVENTS.labels("routing", "ignored").inc()
            return []  # one case: the earlier one's
        part.park(state, src, pid, "repeat")
        if mark is not None:
            return []  # asked already: waits for the answer
        state[REPEAT_MARK + pid.encode()] = json.dumps(
            {"m": ASKED, "first": first, "matter": matter}
        ).encode()
        at = rec["receivedAt"]
        if first:  # a 12345 repeat names its earlier case: asked directly
            ask = _link("REQUEST", first, pid, rec["channel"], rec["channelRef"], at)
            return [self._output(first, ask, f"{src.ref}#q")]
        # an enterprise's matter: its index, in the matter key's partition, knows the open case
        claim = _link("CLAIM", "", pid, rec["channel"], rec["channelRef"], at, matter)
        return [self._output(str(matter), claim, f"{src.ref}#q")]

    def opened(self, state: PartitionState, pid: str, entry: Entry) -> None:
        """A new case ``pid`` opens (``entry``): the earlier case it repeats, if a 12345 repeat's
        (``repeatOf``), and the enterprise matter it is the open case of, if any."""
        mark = _mark(state, pid)
        if mark is not None and mark["m"] == NEW_CASE:
            entry.repeat_of = mark["first"] or None
            entry.matter = mark.get("matter")

    def ended(self, pid: str, entry: Entry) -> list[Output]:
        """A case that ended (closed, transferred) leaves its matter's index, once."""
        if entry.matter is None or entry.state.state not in _ENDED:
            return []
        gone = _link("UNREGISTER", pid, pid, "", "", entry.state.received_at, entry.matter)
        out = self._output(entry.matter, gone, f"{pid}#matter-ended")
        entry.matter = None
        return [out]

    # --- the link topic ------------------------------------------------------------------------

    def on_link(
        self,
        src: SourceRecord,
        state: PartitionState,
        part: PartitionView,
        cal: WorkingCalendar,
    ) -> tuple[str | None, list[Output]]:
        """A ``RepeatLink``: a question (answered here) or an answer (recorded). Returns the
        repeat's id when its parked records are to be taken again, and what to write."""
        link = codec.read_repeat_link(schemas.decode(src.value or b"")[1])
        if link["kind"] == "REQUEST":
            return None, self._answer(src, link, part, cal)
        if link["kind"] in _INDEX:
            return None, self._index(src, link, state)
        pid = link["repeatId"]
        mark = _mark(state, pid)
        if mark is not None and mark["m"] != ASKED:
            return None, []  # answered already (a replay)
        # No mark: the answer came before its question's routing record. After a crash the
        # stage replays its sources in no set order across topics, and the question, on the
        # broker already, is not written again (exactly once): dropping the answer would leave
        # the petition waiting for ever. It is recorded now; the routing record goes by it.
        outcome = LINKED if link["kind"] == "LINKED" else NEW_CASE
        matter = mark.get("matter") if mark is not None else link.get("matterKey")
        # a matter's claim answered by an earlier case (ended, or its window over) is a repeat
        # of that case and names it, as a 12345 repeat does; answered by none, it names none
        asked_first = mark["first"] if mark is not None else ""
        first = asked_first or (link["firstId"] if outcome == NEW_CASE else "")
        state[REPEAT_MARK + pid.encode()] = json.dumps(
            {"m": outcome, "first": first, "matter": matter}
        ).encode()
        metrics.LIFECYCLE_EVENTS.labels("repeat", outcome).inc()
        log.info("repeat answered", petition_id=pid, first=link["firstId"], outcome=outcome)
        out: list[Output] = []
        if matter and outcome == NEW_CASE and link["firstId"]:
            # an earlier case said no (it ended, or the window is over): this case is the
            # matter's open case now (the index's own "none" registered it already)
            mine = _link("REGISTER", "", pid, link["repeatChannel"], link["repeatRef"], link["at"])
            out.append(self._output(matter, {**mine, "matterKey": matter}, f"{src.ref}#r"))
        return pid, out

    def _index(
        self, src: SourceRecord, link: wire.RepeatLink, state: PartitionState
    ) -> list[Output]:
        """An enterprise matter's index (in the matter key's partition): its last case, open or
        ended, and when that case was received. A claim within the window of an open case is
        forwarded to it as a ``REQUEST`` (which answers the claimant as a 12345 repeat's earlier
        case does); within the window of an ended one it is answered ``NEW_CASE`` naming that
        case (a repeat: 重复诉求); with none, or after the window, ``NEW_CASE`` naming none. Who
        is answered ``NEW_CASE`` is registered in the same step (two claims of one matter never
        both open a case)."""
        matter = str(link.get("matterKey") or "")
        key = MATTER_MARK + matter.encode()
        raw = state.get(key)
        known: dict[str, Any] | None = None if raw is None else dict(json.loads(raw))
        case = None if known is None else str(known["case"])
        kind = link["kind"]
        if kind == "UNREGISTER":  # the case ended: kept, so that a later claim names it
            if known is not None and case == link["firstId"]:
                state[key] = json.dumps({**known, "ended": True}).encode()
            return []
        mine = {"case": link["repeatId"], "at": link["at"].isoformat()}
        if kind == "REGISTER" or case is None or case == link["repeatId"]:
            state[key] = json.dumps(mine).encode()
            if kind == "REGISTER":
                return []
            none: wire.RepeatLink = {**link, "kind": "NEW_CASE", "firstId": ""}
            return [self._output(link["repeatId"], none, f"{src.ref}#a")]
        assert known is not None and case is not None
        since = known.get("at")  # absent in an index written before it was kept
        if since is not None and link["at"] - datetime.fromisoformat(since) > self.window:
            known["ended"], case = True, ""  # the window is over: a matter of its own again
        if known.get("ended"):
            state[key] = json.dumps(mine).encode()
            metrics.LIFECYCLE_EVENTS.labels("repeat", "matter_ended" if case else "new").inc()
            again: wire.RepeatLink = {**link, "kind": "NEW_CASE", "firstId": case}
            return [self._output(link["repeatId"], again, f"{src.ref}#a")]
        metrics.LIFECYCLE_EVENTS.labels("repeat", "matter_open").inc()
        ask: wire.RepeatLink = {**link, "kind": "REQUEST", "firstId": case}
        return [self._output(case, ask, f"{src.ref}#f")]

    @staticmethod
    def answered(event_ids: frozenset[str]) -> dict[str, str]:
        """The questions answered by outputs among ``event_ids`` (found on the broker after a
        restore): a question's ref -> the answer sent (its ids: ``#a`` new, ``#l/<n>`` linked)."""
        found: dict[str, str] = {}
        for event_id in event_ids:
            ref, _, tag = event_id.rpartition("#")
            if tag == "a":
                found[ref] = NEW_CASE
            elif tag.startswith("l/"):
                found.setdefault(ref, LINKED)
        return found

    def _answer(
        self, src: SourceRecord, link: wire.RepeatLink, part: PartitionView, cal: WorkingCalendar
    ) -> list[Output]:
        first = link["firstId"]
        entry = part.entries.get(first)
        if entry is not None and entry.seen.get(src.topic, -1) >= src.offset:
            return []  # a replay of what the state already holds
        # A question answered before a crash is answered the same way on the replay: the case's
        # own records are replayed in no set order with it, so the case may be unknown now
        # where it was known (or known where it was not), and a second, different answer (its
        # ids differ) once linked a repeat that had a clock of its own already (seen in CI).
        # Answered "linked", a known case still takes the link again (its state may have lost
        # it; the outputs, the same ids, are not sent twice).
        before = part.answered.get(src.ref)
        if before == NEW_CASE or (before == LINKED and entry is None):
            return []
        if entry is not None and any(lnk[0] == link["repeatId"] for lnk in entry.linked):
            return []  # the re-keyer wrote the question twice: linked once
        outcome = repeat_outcome(entry.state if entry else None, link["at"], self.window)
        if entry is None or outcome is RepeatOutcome.NEW_CASE:
            if entry is not None:
                entry.seen[src.topic] = src.offset
                part.dirty.add(first)
            answer: wire.RepeatLink = {**link, "kind": "NEW_CASE"}
            return [self._output(link["repeatId"], answer, f"{src.ref}#a")]
        entry.seen[src.topic] = src.offset
        entry.linked.append([link["repeatId"], link["repeatChannel"], link["repeatRef"]])
        entry.history.append(
            {
                "kind": "repeat_linked",
                "at": link["at"].isoformat(),
                "repeat_id": link["repeatId"],
                "repeat_channel": link["repeatChannel"],
                "repeat_ref": link["repeatRef"],
            }
        )
        part.dirty.add(first)
        out = self._linked(entry, link, cal)
        linked: wire.RepeatLink = {**link, "kind": "LINKED"}
        out.append(self._output(link["repeatId"], linked, f"{src.ref}#a"))
        return [_with_id(o, f"{src.ref}#l/{n}") for n, o in enumerate(out)]

    def _linked(self, entry: Entry, link: wire.RepeatLink, cal: WorkingCalendar) -> list[Output]:
        """What the earlier, open case writes when a repeat joins it."""
        s = entry.state
        try:
            due = deadline(s.resolve, cal=cal)
        except CalendarUnavailable:
            due = None
        repeat = lifecycle_codec.RepeatRef(
            link["repeatId"], link["repeatChannel"], link["repeatRef"]
        )
        record = lifecycle_codec.lifecycle_event_record(
            s,
            "repeat_linked",
            link["at"],
            deadline=due,
            deadline_provisional=False,
            unit=s.lead_unit,
            repeat_of=entry.repeat_of,
            repeat=repeat,
        )
        out = [lifecycle_output(s.petition_id.encode(), record, "repeat_linked")]
        if s.lead_unit:
            message = (
                f"repeated petition (重复诉求): the same matter came again via "
                f"{link['repeatChannel']} ({link['repeatRef']}); it joins this case, "
                "with no deadline of its own: the reply to this case answers it"
            )
            notice = lifecycle_codec.unit_notice_record(
                s.petition_id, "repeat_linked", link["at"], message, None, due
            )
            out += self.records.notice(s.lead_unit, notice)
        channel = Channel[link["repeatChannel"]]
        out += self.progress.linked(s, channel, link["repeatRef"], link["at"])
        return out

    def _output(self, key: str, link: wire.RepeatLink, event_id: str) -> Output:
        value = schemas.encode(codec.REPEAT_LINK_V2, {"matterKey": None, **link})
        return Output(self.asks, key.encode(), value, event_id=event_id)


def rekey(src: SourceRecord, state: PartitionState) -> Sequence[Output]:
    """The ``repeat-links`` stage's one step: the link again, into its key's partition (the
    producer's default partitioner: the hub's rule for petition keys)."""
    return [Output(src.topic.removesuffix(ASKS_SUFFIX) + LINKS_SUFFIX, src.key, src.value)]


def rekey_stage(settings: Settings, spec: Mapping[str, TopicSpec], common: dict[str, Any]) -> Stage:
    """The stateless ``repeat-links`` stage: ``<app>-repeat-asks`` to ``<app>-repeat-links``."""
    asks = repeat_asks_topic(settings.app_id)
    links = repeat_links_topic(settings.app_id)
    group = stage_group(settings.app_id, "repeat-links")
    return Stage(
        name="repeat-links",
        sources=(asks,),
        partitions=spec[asks].partitions,
        processor=rekey,
        group=group,
        topics=declared(spec, (asks, links, changelog_topic(group)), "the repeat-links stage"),
        **common,
    )


def linked_channels(entry: Entry) -> list[tuple[Channel, str]]:
    """The channels and references of the repeats linked to ``entry`` (they hear its progress)."""
    return [(Channel[channel], ref) for _, channel, ref in entry.linked]


def _link(
    kind: str,
    first: str,
    repeat: str,
    channel: str,
    ref: str,
    at: datetime,
    matter: str | None = None,
) -> wire.RepeatLink:
    return {
        "kind": kind,
        "firstId": first,
        "repeatId": repeat,
        "repeatChannel": channel,
        "repeatRef": ref,
        "at": at,
        "matterKey": matter,
    }


def _mark(state: PartitionState, pid: str) -> dict[str, str] | None:
    raw = state.get(REPEAT_MARK + pid.encode())
    return None if raw is None else dict(json.loads(raw))


def _with_id(out: Output, event_id: str) -> Output:
    return replace(out, event_id=event_id)
