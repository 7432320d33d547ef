"""Configuration that a running worker picks up without a restart: the rules and the calendar.

:class:`LiveFile` holds a value loaded from a file or folder and loads it again when a file's
modification time changes (looked at no more often than every ``every`` seconds, so the hot path
pays a clock read). A new version that does not load is refused with its errors logged, and the
previous one stays in force: a typo in a data file never stops the hub or blanks its rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import structlog

from petition_hub.data import data_path
from petition_hub.domain.calendar import CalendarConfigError, WorkingCalendar
from petition_hub.service import metrics

log = structlog.get_logger(__name__)

T = TypeVar("T")

__all__ = ["LiveFile", "calendar_file", "live_calendar"]


class LiveFile(Generic[T]):
    """The value of ``load(path)``, reloaded when the file changes. ``path`` None is the
    packaged default, loaded once. ``on_change(old, new)`` runs after a successful reload."""

    def __init__(
        self,
        path: Path | None,
        load: Callable[[Path | None], T],
        *,
        what: str,
        refused: type[Exception] | tuple[type[Exception], ...],
        every: float = 2.0,
        on_change: Callable[[T, T], None] | None = None,
    ) -> None:
        self.path = path
        self.every = every
        self._load = load
        self._what = what
        self._refused = refused
        self._on_change = on_change
        self.value = load(path)
        self._stamp = self._mtime()
        self._checked = time.monotonic()

    def _mtime(self) -> float:
        if self.path is None:
            return 0.0
        try:
            files = self.path.iterdir() if self.path.is_dir() else [self.path]
            return max((f.stat().st_mtime for f in files), default=0.0)
        except OSError:
            return self._stamp  # gone for a moment (an editor replacing it): keep what we have

    def current(self) -> T:
        """The value in force now."""
        now = time.monotonic()
        if self.path is None or now - self._checked < self.every:
            return self.value
        self._checked = now
        stamp = self._mtime()
        if stamp == self._stamp:
            return self.value
        self._stamp = stamp
        try:
            new = self._load(self.path)
        except self._refused as exc:
            log.error(f"new {self._what} refused; the previous version stays", error=str(exc))
            return self.value
        old, self.value = self.value, new
        if self._on_change is not None:
            self._on_change(old, new)
        return new


def _load_calendar(path: Path | None) -> WorkingCalendar:
    return WorkingCalendar.load(path)


def _calendar_changed(old: WorkingCalendar, new: WorkingCalendar) -> None:
    gained = sorted(set(new.official_years()) - set(old.official_years()))
    log.info(
        "working-day calendar changed; open clocks are recomputed",
        digest=new.digest,
        official_now=gained,
    )
    metrics.set_info(metrics.CALENDAR_INFO, new.digest)


_calendars: dict[Path, LiveFile[WorkingCalendar]] = {}


def calendar_file(path: Path | None) -> Path:
    """The override file in force: ``HUB_CALENDAR_FILE``, or the packaged one."""
    return path if path is not None else data_path("calendar_overrides.yaml")


def live_calendar(path: Path | None) -> LiveFile[WorkingCalendar]:
    """The working-day calendar of ``HUB_CALENDAR_FILE`` (None: the packaged override file, also
    watched), one per file in a process, so every stage of a worker counts on the same one."""
    path = calendar_file(path)
    if path not in _calendars:
        live = LiveFile(
            path,
            _load_calendar,
            what="working-day calendar",
            refused=CalendarConfigError,
            on_change=_calendar_changed,
        )
        metrics.set_info(metrics.CALENDAR_INFO, live.value.digest)
        _calendars[path] = live
    return _calendars[path]
