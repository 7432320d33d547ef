"""Typed namespaces over a partition's state, without a broker: the keys and values they write are
byte for byte those the processors write by hand, so existing changelogs restore."""

from __future__ import annotations

import json

import pytest
from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from petition_hub.runtime.marks import MARKS_KEY, write_marks
from petition_hub.runtime.state import RESERVED, JsonNamespace, Namespace, PartitionState

PARKED = JsonNamespace(b"w:")
PETITIONS = Namespace(b"p:")
KNOWN = JsonNamespace(b"", excluding=(b"p:", b"w:"))


def _replayed(state: PartitionState) -> PartitionState:
    """What a new owner restores from the changelog records ``state`` wrote."""
    again = PartitionState()
    for key, value in state.dirty.items():
        again.restore(key, value)
    return again


def test_namespaces_write_the_keys_and_values_processors_write_by_hand() -> None:
    state = PartitionState()
    PARKED.set(state, "P-1", [{"offset": 3}])
    PETITIONS.set(state, "P-1", b"\x00avro")
    KNOWN.set(state, "P-1", {"revision": 2})
    assert state.dirty == {
        b"w:P-1": json.dumps([{"offset": 3}]).encode(),
        b"p:P-1": b"\x00avro",
        b"P-1": json.dumps({"revision": 2}).encode(),
    }


def test_namespaces_read_a_changelog_written_by_hand() -> None:
    """Existing changelogs restore: what the processors wrote before namespaces reads back."""
    old = PartitionState()
    old[b"w:P-1"] = json.dumps([{"offset": 3}]).encode()
    old[b"p:P-1"] = b"\x00avro"
    old[b"P-1"] = json.dumps({"revision": 2}).encode()
    write_marks(old, {TopicPartition("out", 0): 7})  # the stage's own key
    state = _replayed(old)
    assert PARKED.get(state, "P-1") == [{"offset": 3}]
    assert PETITIONS.get(state, "P-1") == b"\x00avro"
    assert KNOWN.get(state, "P-1") == {"revision": 2}
    assert PARKED.get(state, "P-2") is None
    # each namespace sees its own keys only, never the stage's marks
    assert list(KNOWN.items(state)) == [("P-1", {"revision": 2})]
    assert list(PARKED.names(state)) == ["P-1"]
    assert list(PETITIONS.items(state)) == [("P-1", b"\x00avro")]


def test_delete_writes_a_tombstone_and_says_whether_there_was_something() -> None:
    state = PartitionState()
    PARKED.set(state, "P-1", [])
    state.dirty.clear()
    assert PARKED.contains(state, "P-1")
    assert PARKED.delete(state, "P-1") is True
    assert PARKED.delete(state, "P-1") is False
    assert state.dirty == {b"w:P-1": None}
    assert not PARKED.contains(state, "P-1")
    assert len(_replayed(state)) == 0


def test_a_name_in_a_nested_namespace_is_refused() -> None:
    with pytest.raises(ValueError, match="another namespace"):
        KNOWN.set(PartitionState(), "p:P-1", 1)


def test_the_stage_keys_are_no_namespace() -> None:
    assert MARKS_KEY.startswith(RESERVED)
    with pytest.raises(ValueError, match="belong to the stage"):
        Namespace(RESERVED + b"x")
    with pytest.raises(ValueError, match="longer prefix"):
        Namespace(b"p:", excluding=(b"w:",))


#: names of the bare-pid namespace: not under the other prefixes, nor the stage's
NAMES = st.text(min_size=1).filter(lambda t: not t.startswith(("p:", "w:", "\x00")))


@given(st.dictionaries(NAMES, st.integers()))
def test_a_namespace_round_trips_through_the_changelog(values: dict[str, int]) -> None:
    state = PartitionState()
    for name, value in values.items():
        KNOWN.set(state, name, value)
        PETITIONS.set(state, name, str(value).encode())
    again = _replayed(state)
    assert dict(KNOWN.items(again)) == values
    assert {n: int(v) for n, v in PETITIONS.items(again)} == values
    assert {k: v for k, v in again.items()} == {k: v for k, v in state.items()}


def test_marks_skip_an_output_the_broker_refused() -> None:
    """An output refused for the record's own sake (its source became a dead letter) wrote
    nothing: the marks count the others, and recording them does not raise (it used to end the
    stage's loop)."""
    import asyncio
    from types import SimpleNamespace

    from petition_hub.runtime.marks import Marks, read_marks

    async def run() -> PartitionState:
        marks = Marks("test", {"hub.sla": 12}, "127.0.0.1:1", {})
        written: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        written.set_result(SimpleNamespace(topic="hub.sla", partition=3, offset=41))
        refused: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        refused.set_exception(ValueError("MessageSizeTooLarge"))
        marks.track(3, written)
        marks.track(3, refused)
        state = PartitionState()
        marks.record({3: state})
        return state

    assert read_marks(asyncio.run(run())) == {TopicPartition("hub.sla", 3): 42}
