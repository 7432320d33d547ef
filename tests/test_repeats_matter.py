"""An enterprise's matter (issue 14): the matter key (pure) and the matter's index in the
lifecycle processor, without a broker (one partition: the re-keyer's hop is a loop here)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any

from petition_hub import schemas
from petition_hub.agents.lifecycle import LifecycleProcessor
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.domain.lifecycle import LifecycleState
from petition_hub.domain.petition import Channel, petition_id_for
from petition_hub.domain.repeats import matter_key, petition_matter
from petition_hub.domain.rules import default_rules
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.topics.names import LIFECYCLE

BJ = timezone(timedelta(hours=8))
T = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)  # a Monday
ROUTED = "app-routed"
LINKS = "app-repeat-links"
ASKS = "app-repeat-asks"
USCC = "91410402MA0011870T"
MATTER = matter_key(USCC, "T12")


def test_the_matter_key_names_the_code_and_theme_without_the_code() -> None:
    key = matter_key(USCC, "T12")
    assert key is not None and key.startswith("M-") and len(key) == 22, key
    assert USCC not in key and USCC.lower() not in key.lower()
    # as typed or compacted, the same enterprise is the same matter
    assert matter_key(" 91410402ma0011870t ", "T12") == key
    assert matter_key("91410402 MA00 11870T", "T12") == key
    # another theme or another enterprise: another matter
    assert matter_key(USCC, "T26") != key
    assert matter_key("91410481MA0033020K", "T12") != key
    # no credit code or no theme: no matter (each such petition is a case of its own)
    assert matter_key(None, "T12") is None and matter_key("", "T12") is None
    assert matter_key(USCC, None) is None and matter_key(USCC, "") is None


def test_a_provincial_dispatch_and_an_individual_have_no_matter() -> None:
    samples = load_samples()
    got = {}
    for name in (
        "hotline-financing.json",
        "miniprogram-v1-individual.json",
        "province-v1-dispatch.avro.bin",
    ):
        s = samples[name]
        petition = PETITION_DECODERS[s.topic](s.key, s.value, s.headers)
        got[name] = petition_matter(petition, "T12")
    assert got == {
        "hotline-financing.json": matter_key("91410402MA0011870T", "T12"),
        "miniprogram-v1-individual.json": None,
        "province-v1-dispatch.avro.bin": None,
    }, got


class Loop:
    """The lifecycle processor with the re-keyer's hop: what it writes on ``<app>-repeat-asks``
    comes back on ``<app>-repeat-links`` (one partition)."""

    def __init__(self) -> None:
        self.p = LifecycleProcessor(
            rules=default_rules(),
            city="410400",
            routed=ROUTED,
            statuses="app-unit-status-repartition",
            evaluations="app-evaluations-repartition",
            unit_topics=frozenset({"dept.FINOFFICE.petitions"}),
            clock=lambda: T + timedelta(days=3),
            links=(LINKS, ASKS),
        )
        self.state = PartitionState()
        self.p.restored(0, self.state)
        self.offsets: dict[str, int] = {}
        self.asks: list[Output] = []
        self.written: list[Output] = []

    def feed(self, src: SourceRecord) -> None:
        """``src`` and every link it leads to, until nothing is asked any more."""
        queue = deque([src])
        while queue:
            for out in self.p(queue.popleft(), self.state):
                self.written.append(out)
                if out.topic == ASKS:
                    self.asks.append(out)
                    queue.append(self.source(LINKS, out.key, out.value))

    def source(self, topic: str, key: bytes | None, value: bytes | None) -> SourceRecord:
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        return SourceRecord(topic, 0, offset, key, value)

    def route(self, ref: str, at: datetime, matter: str | None, channel: str = "HOTLINE") -> str:
        pid, value = routed_record(ref, at, matter, channel)
        self.feed(self.source(ROUTED, pid.encode(), value))
        return pid

    def lifecycle(self, pid: str) -> list[dict[str, Any]]:
        return [
            dict(schemas.decode(o.value or b"")[1])
            for o in self.written
            if o.topic == LIFECYCLE and o.key == pid.encode()
        ]


def routed_record(ref: str, at: datetime, matter: str | None, channel: str) -> tuple[str, bytes]:
    """A routing decision (``Routed.v5``) of the petition ``ref`` of ``channel``: its id and
    value."""
    pid = petition_id_for(Channel[channel], ref)
    record: dict[str, Any] = {
        "petitionId": pid,
        "revision": 0,
        "kind": "UNITS",
        "lead": "dept.FINOFFICE",
        "co": [],
        "excluded": [],
        "routedAt": at,
        "receivedAt": at,
        "petitionType": "政策咨询",
        "urgency": "NORMAL",
        "provincialDeadline": None,
        "channel": channel,
        "channelRef": ref,
        "rulesVersion": "test",
        "theme": "T12",
        "rule": None,
        "reason": None,
        "matterKey": matter,
    }
    return pid, schemas.encode("cn.gov.pds.hub.Routed.v5", record)


def test_a_second_petition_of_the_matter_joins_the_first_and_a_replay_links_once() -> None:
    loop = Loop()
    first = loop.route("12345-1", T, MATTER)
    assert [r["toState"] for r in loop.lifecycle(first)][:2] == ["received", "routed"]
    second = loop.route("MP-1", T + timedelta(days=1), MATTER, channel="MINIPROGRAM")
    assert loop.lifecycle(second) == [], "a linked petition has no lifecycle of its own"
    linked = [r for r in loop.lifecycle(first) if r["kind"] == "repeat_linked"]
    assert [(r["repeatId"], r["repeatChannel"], r["repeatOf"]) for r in linked] == [
        (second, "MINIPROGRAM", None)
    ], linked
    # the re-keyer relays every message of the story again (at least once): nothing changes
    before = len(loop.written)
    for out in list(loop.asks):
        loop.feed(loop.source(LINKS, out.key, out.value))
    assert [o for o in loop.written[before:] if o.topic != ASKS] == [], loop.written[before:]
    assert len([r for r in loop.lifecycle(first) if r["kind"] == "repeat_linked"]) == 1


def test_no_matter_no_claim_and_another_matter_its_own_case() -> None:
    loop = Loop()
    first = loop.route("12345-1", T, MATTER)
    alone = loop.route("12345-2", T + timedelta(hours=1), None)
    other = loop.route("12345-3", T + timedelta(hours=2), matter_key(USCC, "T26"))
    for pid in (first, alone, other):
        got = [r["toState"] for r in loop.lifecycle(pid)][:2]
        assert got == ["received", "routed"], (pid, got)
        assert all(r["repeatOf"] is None for r in loop.lifecycle(pid)), pid
    assert not [r for r in loop.lifecycle(first) if r["kind"] == "repeat_linked"]


def _close(loop: Loop, pid: str) -> None:
    """``pid``'s case ends (closed): it tells its matter's index, once."""
    entry = loop.p.parts[0].entries[pid]
    assert entry.matter == MATTER
    entry.state = entry.state.model_copy(update={"state": LifecycleState.CLOSED})
    assert loop.p.repeats is not None
    gone = loop.p.repeats.ended(pid, entry)
    assert [o.key for o in gone] == [MATTER.encode()] and loop.p.repeats.ended(pid, entry) == []
    loop.feed(loop.source(LINKS, gone[0].key, gone[0].value))


def test_after_an_ended_case_the_next_petition_opens_its_own_naming_it_a_repeat() -> None:
    loop = Loop()
    first = loop.route("12345-1", T, MATTER)
    _close(loop, first)
    later = loop.route("MP-2", T + timedelta(days=2), MATTER, channel="MINIPROGRAM")
    assert [r["toState"] for r in loop.lifecycle(later)][:2] == ["received", "routed"]
    # the matter came again after its case closed, within the window: 重复诉求, naming it
    assert {r["repeatOf"] for r in loop.lifecycle(later)} == {first}, loop.lifecycle(later)
    assert not [r for r in loop.lifecycle(first) if r["kind"] == "repeat_linked"]
    # and it is the matter's open case now: the next one joins it
    again = loop.route("12345-9", T + timedelta(days=3), MATTER)
    assert loop.lifecycle(again) == []
    linked = [r["repeatId"] for r in loop.lifecycle(later) if r["kind"] == "repeat_linked"]
    assert linked == [again], linked


def test_after_the_window_a_petition_of_the_matter_opens_its_own_and_takes_the_index() -> None:
    loop = Loop()
    first = loop.route("12345-1", T, MATTER)
    late = loop.route("MP-3", T + timedelta(days=31), MATTER, channel="MINIPROGRAM")
    assert [r["toState"] for r in loop.lifecycle(late)][:2] == ["received", "routed"]
    assert not [r for r in loop.lifecycle(first) if r["kind"] == "repeat_linked"]
    after = loop.route("12345-4", T + timedelta(days=32), MATTER)
    assert loop.lifecycle(after) == []
    linked = [r["repeatId"] for r in loop.lifecycle(late) if r["kind"] == "repeat_linked"]
    assert linked == [after], linked


def test_after_an_ended_case_and_the_window_a_petition_of_the_matter_is_no_repeat() -> None:
    loop = Loop()
    first = loop.route("12345-1", T, MATTER)
    _close(loop, first)
    late = loop.route("MP-4", T + timedelta(days=31), MATTER, channel="MINIPROGRAM")
    assert [r["toState"] for r in loop.lifecycle(late)][:2] == ["received", "routed"]
    assert all(r["repeatOf"] is None for r in loop.lifecycle(late)), loop.lifecycle(late)


def _link_kind(out: Output) -> str:
    return str(schemas.decode(out.value or b"")[1]["kind"])


def test_an_answer_replayed_before_its_routing_record_is_kept() -> None:
    """After a crash the lifecycle replays its sources in no set order across topics: the answer
    to a question may come before the routing record that asked it (the question, on the broker
    already, is not written again: exactly once). The answer is kept, and the routing record
    goes by it; dropped, the petition waited for ever (seen in the crash test)."""
    before = Loop()
    before.route("12345-1", T, MATTER)
    second = before.route("MP-1", T + timedelta(days=1), MATTER, channel="MINIPROGRAM")
    answers = [o for o in before.asks if o.key == second.encode() and _link_kind(o) == "LINKED"]
    assert len(answers) == 1, [(o.key, _link_kind(o)) for o in before.asks]
    # restarted: the first case's records are in the state, the second's question is not
    after = Loop()
    after.route("12345-1", T, MATTER)
    after.feed(after.source(LINKS, answers[0].key, answers[0].value))
    _, value = routed_record("MP-1", T + timedelta(days=1), MATTER, "MINIPROGRAM")
    outs = after.p(after.source(ROUTED, second.encode(), value), after.state)
    assert outs == [], f"the routing record of a linked repeat writes nothing, wrote {outs}"
    assert second not in after.p.parts[0].parked, "the repeat still waits for an answer"
    assert after.lifecycle(second) == []


def _request(first: str, repeat: str, at: datetime) -> bytes:
    link = {
        "kind": "REQUEST",
        "firstId": first,
        "repeatId": repeat,
        "repeatChannel": "HOTLINE",
        "repeatRef": "12345-2",
        "at": at,
        "matterKey": None,
    }
    return schemas.encode("cn.gov.pds.hub.RepeatLink.v2", link)


def test_a_question_answered_before_a_crash_is_answered_the_same_on_the_replay() -> None:
    """The question of a repeat came to its earlier case's partition before the case's own
    routing record: answered "new" (the repeat's clock started). After a crash the two are
    replayed in the other order: the case is known now, and a second answer, "linked", once
    linked a repeat that had a clock of its own (seen in CI). The answer found on the broker
    at the restore stands."""
    case = petition_id_for(Channel.HOTLINE, "12345-1")
    repeat = petition_id_for(Channel.HOTLINE, "12345-2")
    request = _request(case, repeat, T + timedelta(days=1))
    before = Loop()
    answers = list(before.p(before.source(LINKS, case.encode(), request), before.state))
    assert [_link_kind(o) for o in answers] == ["NEW_CASE"], answers
    # restarted, the state of neither flushed: the case's routing record replayed first
    after = Loop()
    after.route("12345-1", T, None)
    after.p.outputs_found(0, frozenset(str(o.event_id) for o in answers))
    outs = after.p(after.source(LINKS, case.encode(), request), after.state)
    assert outs == [], f"expected no second answer, found writes to {[o.topic for o in outs]}"
    assert not [r for r in after.lifecycle(case) if r["kind"] == "repeat_linked"]
