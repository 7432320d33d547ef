"""The stage's lease: it produces only while the group may still count it as the owner."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer

#: The share of the session (and rebalance) timeout a stage may go on producing after its last
#: sign of membership (a heartbeat, a join, or the start of a rebalance): past it, the group may
#: already have given its partitions to another worker, so it stops producing (see ``Lease``).
LEASE_SHARE = 0.5


class LeaseLost(Exception):
    """The stage may have lost its partitions: it must not produce, flush or commit any more."""


class Lease:
    """Whether this worker may still be the owner of its partitions, as far as it can tell.

    Without broker transactions (Tansu) nothing fences a worker the group has moved on from: a
    worker whose heartbeats stalled (a loaded host), or that took longer than the rebalance
    timeout to finish its batch, would go on writing after the new owner restored and read back
    the outputs, and those would be duplicates. So the stage produces only while a sign of
    membership is recent: the last successful heartbeat (or join) less than half the session
    timeout ago, and, once a rebalance is under way, less than half the rebalance timeout since
    it began. A worker that outlives its lease stops at once (``LeaseLost``): no output, no state,
    no commit; the group gives its partitions to whoever rejoins, who restores them.

    Reads aiokafka's group coordinator (``_do_heartbeat``, ``_rejoin_needed_fut``): no public API
    says when the last heartbeat succeeded. ``tests/test_stage_reliability.py`` fails if that
    changes.
    """

    def __init__(self, session: float, rebalance: float) -> None:
        self.session = session
        self.rebalance = rebalance
        self.beat = time.monotonic()
        self.rebalance_since: float | None = None
        self._coordinator: Any = None

    def watch(self, consumer: AIOKafkaConsumer) -> None:
        """Hook the consumer's heartbeats (after ``consumer.start()``)."""
        coordinator = consumer._coordinator
        beat = coordinator._do_heartbeat

        async def heartbeat() -> bool:
            ok = bool(await beat())
            if ok:  # the coordinator still counts this member (rebalancing or not)
                self.beat = time.monotonic()
            return ok

        coordinator._do_heartbeat = heartbeat
        self._coordinator = coordinator

    def joined(self) -> None:
        """A join (or sync) completed: a fresh session, no rebalance under way."""
        self.beat = time.monotonic()
        self.rebalance_since = None

    def rebalancing(self) -> bool:
        """A rebalance was requested (this worker must rejoin): finish quickly."""
        fut = getattr(self._coordinator, "_rejoin_needed_fut", None)
        if fut is None or not fut.done():
            return False
        if self.rebalance_since is None:
            self.rebalance_since = time.monotonic()
        return True

    def fresh(self) -> bool:
        """The fast path: a heartbeat recent enough, and no rebalance outlasting its share."""
        now = time.monotonic()
        if self.rebalancing():
            assert self.rebalance_since is not None
            if now - self.rebalance_since > self.rebalance * LEASE_SHARE:
                return False
        return now - self.beat <= self.session * LEASE_SHARE

    async def check(self) -> None:
        """Raise :class:`LeaseLost` unless this worker may still own its partitions. When the
        last heartbeat is old (the loop was busy: a long restore, a loaded host) it asks the
        group coordinator at once, with a heartbeat of its own: an accepted one proves that the
        group still counts this member, so nobody else can own its partitions yet."""
        if self.fresh():
            return
        now = time.monotonic()
        if self.rebalance_since is not None and (
            now - self.rebalance_since > self.rebalance * LEASE_SHARE
        ):
            raise LeaseLost(f"rebalance under way for {now - self.rebalance_since:.1f}s")
        stale = now - self.beat
        try:
            member = self._coordinator is not None and await asyncio.wait_for(
                self._coordinator._do_heartbeat(), self.session * LEASE_SHARE
            )
        except Exception:  # no answer in time (or an error) is no proof of membership
            member = False
        if not member:
            raise LeaseLost(f"no heartbeat for {stale:.1f}s, and the group does not confirm it")
