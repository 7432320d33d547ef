"""The state a stage keeps per source partition."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping


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
