"""The state a stage keeps per source partition, and typed namespaces over its keys.

A partition's state is a flat map of byte keys to byte values, written to the stage's compacted
changelog as they are (key for key, value for value). Processors share it out by key prefix
(``b"p:" + pid``, ``b"w:" + pid``, the bare ``pid``); a :class:`Namespace` names one such prefix
and its value encoding, so a processor stops slicing and encoding keys by hand. A namespace only
reads and writes the keys it names: the changelog format does not change (existing changelogs
restore as they are).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar

#: Keys starting with this byte belong to the stage itself (its exactly-once marks): processors
#: and namespaces leave them alone.
RESERVED = b"\x00"

V = TypeVar("V")


class PartitionState(MutableMapping[bytes, bytes]):
    """The state of one source partition: a dict that remembers which keys changed."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self.dirty: dict[bytes, bytes | None] = {}

    def __getitem__(self, key: bytes) -> bytes:
        return self._data[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._data[key] = value
        self.dirty[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self._data[key]
        self.dirty[key] = None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Apply one changelog record (``None``: a deletion) without marking it dirty."""
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value


class _Namespace(Generic[V]):
    """The keys of a partition's state that start with ``prefix``, named by the rest of the key
    (UTF-8 text), with values of type ``V``. It keeps no data: one instance (a module constant)
    serves every partition, each call names the partition's state.

    ``excluding``: longer prefixes inside this one that belong to other namespaces (the bare-pid
    namespace, prefix ``b""``, excludes ``b"p:"``); keys under them are not this namespace's.
    """

    def __init__(self, prefix: bytes, *, excluding: Iterable[bytes] = ()) -> None:
        if prefix.startswith(RESERVED):
            raise ValueError(f"keys starting with {RESERVED!r} belong to the stage: {prefix!r}")
        self.prefix = prefix
        self.excluding = (RESERVED, *excluding)
        for other in self.excluding[1:]:
            if not other.startswith(prefix) or other == prefix:
                raise ValueError(f"{other!r} is not a longer prefix inside {prefix!r}")

    def encode(self, value: V) -> bytes:
        raise NotImplementedError

    def decode(self, raw: bytes) -> V:
        raise NotImplementedError

    def key(self, name: str) -> bytes:
        """The state key of ``name`` (byte for byte what the changelog holds)."""
        key = self.prefix + name.encode()
        if self._excluded(key):
            raise ValueError(f"{name!r} falls in another namespace than {self.prefix!r}")
        return key

    def _excluded(self, key: bytes) -> bool:
        return key.startswith(self.excluding)

    def get(self, state: MutableMapping[bytes, bytes], name: str) -> V | None:
        """The value of ``name``, or None when it has none."""
        raw = state.get(self.key(name))
        return None if raw is None else self.decode(raw)

    def set(self, state: MutableMapping[bytes, bytes], name: str, value: V) -> None:
        state[self.key(name)] = self.encode(value)

    def delete(self, state: MutableMapping[bytes, bytes], name: str) -> bool:
        """Remove ``name``; whether it was there."""
        key = self.key(name)
        if key not in state:
            return False
        del state[key]
        return True

    def contains(self, state: MutableMapping[bytes, bytes], name: str) -> bool:
        return self.key(name) in state

    def _scan(self, state: MutableMapping[bytes, bytes]) -> Iterator[tuple[bytes, str]]:
        size = len(self.prefix)
        for key in state:
            if key.startswith(self.prefix) and not self._excluded(key):
                yield key, key[size:].decode()

    def names(self, state: MutableMapping[bytes, bytes]) -> Iterator[str]:
        """The names in this namespace (a scan of the partition's keys; do not add or remove
        keys while iterating)."""
        for _, name in self._scan(state):
            yield name

    def items(self, state: MutableMapping[bytes, bytes]) -> Iterator[tuple[str, V]]:
        """``(name, value)`` pairs of this namespace (as :meth:`names`)."""
        for key, name in self._scan(state):
            yield name, self.decode(state[key])


class Namespace(_Namespace[bytes]):
    """A namespace of byte values, stored as they are."""

    def encode(self, value: bytes) -> bytes:
        return value

    def decode(self, raw: bytes) -> bytes:
        return raw


class JsonNamespace(_Namespace[Any]):
    """A namespace of JSON values (``json.dumps(value).encode()``, as the processors write)."""

    def encode(self, value: Any) -> bytes:
        return json.dumps(value).encode()

    def decode(self, raw: bytes) -> Any:
        return json.loads(raw)
