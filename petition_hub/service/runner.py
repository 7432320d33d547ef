"""Running a faust app as a worker process, with the hub's logging."""

from __future__ import annotations

from typing import NoReturn

import faust

from petition_hub.service.settings import Settings


def worker_for(app: faust.App, settings: Settings) -> faust.Worker:
    """A faust worker that leaves logging to :mod:`petition_hub.service.logs`."""
    return faust.Worker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
    )


def run_worker(app: faust.App, settings: Settings) -> NoReturn:
    """Run ``app`` until SIGINT/SIGTERM; exits the process with the worker's status."""
    worker_for(app, settings).execute_from_commandline()
