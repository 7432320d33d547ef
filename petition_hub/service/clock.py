"""What time it is for the hub's clocks: the system's, or one an operator or a test controls.

``HUB_CLOCK_FILE`` names a file holding an ISO 8601 time with an offset
(``2026-11-23T09:00:00+08:00``);
while it is set, routing stamps decisions and the lifecycle fires its timers by that time. It is
for tests and demonstrations (an SLA story that takes weeks runs in seconds); production leaves it
unset. The file is re-read when it changes; a missing or unreadable file is an error, never a
silent fall-back to the system time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class FileClock:
    """Now is what the file says (re-read when its modification time changes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: int | None = None
        self._now = datetime.min.replace(tzinfo=UTC)

    def __call__(self) -> datetime:
        stamp = os.stat(self.path).st_mtime_ns
        if stamp != self._stamp:
            text = self.path.read_text(encoding="utf-8").strip()
            value = datetime.fromisoformat(text)
            if value.tzinfo is None:
                raise ValueError(f"{self.path}: {text!r} has no UTC offset")
            self._now = value.astimezone(UTC)
            self._stamp = stamp
        return self._now


def clock_from(path: Path | None) -> Clock:
    """The system clock, or the controlled one of ``path``."""
    return system_clock if path is None else FileClock(path)
