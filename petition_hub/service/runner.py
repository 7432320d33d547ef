"""Running a faust app as a worker process, with the hub's logging."""

from __future__ import annotations

from typing import NoReturn

import faust

from petition_hub.service.settings import Settings


def worker_for(app: faust.App, settings: Settings) -> faust.Worker:
    """A faust worker that leaves logging to :mod:`petition_hub.service.logs` and the screen to
    the hub (no start-up spinner)."""
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
    )
    # faust's spinner writes backspaces and cursor codes to stdout even when it is a pipe or a
    # file (a log collector's, dev's screen): they land in the middle of the next line
    worker.spinner = None
    return worker


def run_worker(app: faust.App, settings: Settings) -> NoReturn:
    """Run ``app`` until SIGINT/SIGTERM; exits the process with the worker's status."""
    worker_for(app, settings).execute_from_commandline()
