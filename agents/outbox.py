"""Sending from agents without waiting on every record, and without ever losing one.

Agents hand records to faust's producer and do not await each delivery: awaiting one send per
event caps a worker at a few thousand events a second. This is safe because faust flushes the
producer before it commits consumer offsets, so an input offset is committed only after every
output of the events before it is on the broker. The one gap is a send that fails for good
after the producer's retries: flush() does not raise for it, and the commit would then skip past
input whose output is lost. So a failed delivery ends the process at once (crash-only): nothing
more is committed, and a restarted worker reads the uncommitted input again; intake's dedup
table makes the replay harmless.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence

import faust
import structlog

log = structlog.get_logger(__name__)

#: Exit status of a worker that stopped because an output could not be delivered (EX_IOERR).
EXIT_DELIVERY_FAILED = 74


def _delivered(fut: asyncio.Future[object]) -> None:
    if fut.cancelled():
        exc: BaseException | None = asyncio.CancelledError("send cancelled")
    else:
        exc = fut.exception()
    if exc is None:
        return
    log.critical("output not delivered; stopping before any offset is committed", error=repr(exc))
    logging.shutdown()
    os._exit(EXIT_DELIVERY_FAILED)


class Outbox:
    """Send records through ``app``'s producer; delivery failures end the worker."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue a record; returns once the producer holds it (not once it is delivered)."""
        fut = await self.app.producer.send(
            topic, key, value, partition=None, timestamp=None, headers=list(headers or ())
        )
        fut.add_done_callback(_delivered)  # type: ignore[attr-defined]
