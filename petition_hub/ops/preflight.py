"""What ``petition-hub worker`` checks before it starts a stream worker, so that a configuration
or connection problem is one line, not a worker that starts and dies with a traceback.

Consumes: the settings. Emits: a :class:`PreflightError` naming the first problem (the key, the
topics file, the routing rules, the calendar, the web port, the broker). Keeps: nothing (the web
port and the broker are tried and released at once).
"""

from __future__ import annotations

import errno
import socket

from petition_hub.agents.routing import load_rules_at
from petition_hub.domain.calendar import CalendarConfigError, WorkingCalendar
from petition_hub.domain.rules import RulesError
from petition_hub.ops.cliopts import one_line
from petition_hub.service.crypto import cipher_for
from petition_hub.service.live import calendar_file
from petition_hub.service.settings import Settings
from petition_hub.topics import TopicsFileError, load_topics


class PreflightError(Exception):
    """A problem the worker would die of; the message is one line."""


def _rules(settings: Settings) -> None:
    try:
        load_rules_at(settings.rules)
    except RulesError as exc:
        where = f" (HUB_RULES={settings.rules})" if settings.rules else ""
        raise PreflightError(f"{one_line(exc)}{where}") from exc


def check_port(host: str, port: int) -> None:
    """Raise when ``host``:``port`` cannot be listened on (another process holds it)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server does
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = "already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise PreflightError(
                f"the web port {host}:{port} is {why} (another worker? set HUB_METRICS_PORT)"
            ) from exc


def check_broker(bootstrap: str, timeout: float = 5.0) -> None:
    """Raise unless at least one of the ``host:port,…`` answers a TCP connection."""
    problems = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return
        except (OSError, ValueError) as exc:
            problems.append(f"{server}: {getattr(exc, 'strerror', None) or exc}")
    raise PreflightError(f"cannot reach the broker ({'; '.join(problems)}): is HUB_BROKER right?")


def check_worker(settings: Settings) -> None:
    """Every check, cheapest first; raise :class:`PreflightError` at the first problem."""
    try:
        cipher_for(settings)  # fail closed: dead letters sealed with a key nobody could read
    except ValueError as exc:
        raise PreflightError(str(exc)) from exc
    try:
        load_topics(settings.topics_file, settings.app_id)
    except TopicsFileError as exc:
        raise PreflightError(f"topics file (HUB_TOPICS_FILE): {exc}") from exc
    _rules(settings)
    try:
        WorkingCalendar.load(calendar_file(settings.calendar_file))
    except CalendarConfigError as exc:
        raise PreflightError(f"calendar (HUB_CALENDAR_FILE): {exc}") from exc
    check_port(settings.bind, settings.metrics_port)
    check_broker(settings.bootstrap_servers())
