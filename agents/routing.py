"""Routing: canonical petitions to the units that must handle them (属地为主、条块结合).

Two batch stages: ``unit-status``, the units' status events re-keyed by petition id for the
lifecycle (:class:`.rekeyers.StatusRekeyer`), and ``routing``, over four co-partitioned topics
keyed by hub petition id:

- Consumes: ``hub.petitions`` (Avro ``Petition``, v2 or v1), ``office.decisions`` (Avro
  ``OfficeDecision.v1``: the joint-meeting office's triage routes), ``hub.reroute`` (Avro
  ``RouteCommand.v1``, :mod:`.route_commands`: the lifecycle's commands; ``RETURNED``, a unit's
  return the lifecycle accepted within its sign-for window, re-routes the petition without that
  unit, or sends it to triage, the original receipt time kept; ``CLOSED``, the petition closed)
  and ``hub.privacy`` (erasure requests).
- Emits (records built by :mod:`.routing_records`), per petition revision, with the decision
  record (rules version, theme, keywords, rule, location source):
  ``dept.<CODE>.petitions`` / ``county.<DIV>.petitions`` (Avro ``UnitPetition.v3``, one record
  per lead and co-handler), or ``hub.triage`` (the same schema, role TRIAGE), or
  ``province.transfers`` (Avro ``Transfer.v1``, another city's or another province's matter), or
  ``province.feedback`` (Avro ``Feedback.v1``, RETURNED: a provincial dispatch not for this city).
  Office decisions and commands that cannot be applied go to ``hub.rejects`` with the reason.
  Every decision also goes, for the petition's lifecycle, to the hub-internal ``<app>-routed``
  (Avro ``Routed.v3``, co-partitioned, no personal data in the clear: a provincial dispatch's
  call-back contact sealed with ``HUB_PII_KEY``).
- Keeps, per partition: petition id -> the last revision routed, where, when, and the units that
  returned it, where the revision is on hub.petitions, when the petition closed; the petition
  itself until it closes (to route it again on a return or a triage decision). Routing is the one
  owner of a petition's assignment (who handles it, who returned it, whether it waits in
  triage): the lifecycle learns it only from the ``Routed`` records (a return it accepts ends
  the returning unit's part; who comes next is routing's to say) and tells routing, by command,
  of that return and of the closure.
- Personal data's end (:mod:`petition_hub.service.erasure`): from ``hub.privacy`` an operator's
  erasure request (the petition kept here is redacted at once); on a tick, the closed petitions
  whose retention (``HUB_RETENTION_AFTER_CLOSURE_DAYS``) has run out. For each it orders the
  eraser (``erasure_due`` on ``hub.privacy``, with the revision's partition and offset).

The rules are data (``HUB_RULES``: a rules file or directory; default the packaged reference
data); a changed file is picked up within seconds, without a restart, and its version is stamped
on every decision from then on. A file that does not validate is refused (logged) and the
previous version stays in force.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import faust
import structlog

from petition_hub import schemas
from petition_hub.domain.calendar import WorkingCalendar, default_calendar
from petition_hub.domain.petition import Petition
from petition_hub.domain.privacy import redact
from petition_hub.domain.routing import RoutingDecision, apply_triage_decision, route
from petition_hub.domain.rules import RulesError, RuleSet, default_rules, load_rules
from petition_hub.domain.rules import load_rules_from_dir as _load_dir
from petition_hub.runtime.processor import Processor
from petition_hub.runtime.records import Output, SourceRecord, kind_of
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec
from petition_hub.service import metrics
from petition_hub.service.app import stage_options
from petition_hub.service.clock import clock_from
from petition_hub.service.crypto import cipher_for
from petition_hub.service.erasure import DUE, REQUESTED, privacy_event
from petition_hub.service.live import LiveFile, live_calendar
from petition_hub.service.settings import Settings
from petition_hub.topics.names import (
    DECISIONS,
    PETITIONS,
    PRIVACY,
    REROUTE,
    changelog_topic,
    routed_topic,
    stage_group,
)
from petition_hub.topics.spec import declared, stage_specs, unit_petition_topics

from . import route_commands
from .rekeyers import status_stage
from .routing_records import deliveries, rejection, routed, undecodable_reason

log = structlog.get_logger(__name__)


def load_rules_at(path: Path | None) -> RuleSet:
    """The rules of ``HUB_RULES``: a directory, a file (sections it lacks come from the package),
    or ``None`` for the packaged reference data."""
    if path is None:
        return default_rules()
    return _load_dir(path) if path.is_dir() else load_rules([path])


class LiveRules(LiveFile[RuleSet]):
    """The rules in force, re-read when the file changes (checked at most every ``every`` s)."""

    def __init__(self, path: Path | None, every: float = 2.0) -> None:
        super().__init__(
            path,
            load_rules_at,
            what="rules",
            refused=RulesError,
            every=every,
            on_change=_rules_changed,
        )
        metrics.set_info(metrics.RULES_INFO, self.value.version)

    @property
    def rules(self) -> RuleSet:
        return self.value


def _rules_changed(old: RuleSet, new: RuleSet) -> None:
    if new.version != old.version:
        log.info("rules version changed", old=old.version, new=new.version)
        metrics.set_info(metrics.RULES_INFO, new.version)


class RoutingProcessor(Processor):
    """Route each new petition revision; apply the office's triage decisions and the
    lifecycle's commands (units' accepted returns, closures)."""

    def __init__(
        self,
        rules: LiveRules,
        city: str,
        routed: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        calendar: Callable[[], WorkingCalendar] = default_calendar,
        retention: timedelta = timedelta(days=3 * 365),
        seal: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.rules = rules
        #: the PII key's encryption, for a provincial dispatch's call-back contact on ``Routed``
        self.seal = seal
        self.city = city
        self.routed = routed
        self.clock = clock
        self.calendar = calendar
        self.retention = retention
        #: per partition: (when personal data is due for erasure, petition id), a heap; derived
        #: from the state (closed, not yet erased), rebuilt on restore
        self._erase_due: dict[int, list[tuple[float, str]]] = {}

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        try:
            if src.topic == DECISIONS:
                return self.on_decision(src, state)
            if src.topic == REROUTE:
                return self.on_command(src, state)
            if src.topic == PRIVACY:
                return self.on_privacy(src, state)
            return self.on_petition(src, state)
        except Exception as exc:  # a bug must not skip the event: keep it, with why
            log.exception("routing raised", source=src.ref)
            return [self.reject(src, None, "internal", f"routing raised {type(exc).__name__}")]

    @staticmethod
    def _remember(
        state: PartitionState,
        petition: Petition,
        decision: RoutingDecision,
        routed_at: datetime,
        excluded: list[str],
        avro: bytes,
        offset: int | None,
    ) -> None:
        """Keep the decision, and the petition (to route it again). ``offset``: where on
        hub.petitions this revision is (None: the one kept before), for its erasure."""
        pid = petition.petition_id.encode()
        kept: dict[str, Any] = {"off": offset}
        if offset is None:  # the same revision routed again: what is known of it stays
            seen = state.get(pid)
            old = json.loads(seen) if seen is not None else {}
            kept = {k: old[k] for k in ("off", "closed", "erased") if k in old}
        state[pid] = json.dumps(
            {
                "rev": petition.revision,
                "kind": decision.kind,
                "units": [u.key for u in decision.units],
                "routed_at": routed_at.isoformat(),
                "excluded": excluded,
                **kept,
            }
        ).encode()
        state[b"p:" + pid] = avro

    def on_petition(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        try:
            _, body = schemas.decode(src.value or b"")
            petition = codec.petition_of(body)
        except Exception as exc:  # hub.petitions is ours: a record that does not decode is a bug
            return [self.reject(src, None, "undecodable_petition", undecodable_reason(exc))]
        pid = petition.petition_id.encode()
        seen = state.get(pid)
        known = json.loads(seen) if seen is not None else None
        if known is not None and known["rev"] >= petition.revision:
            return []  # this revision was routed already (a replay)
        excluded = list(known["excluded"]) if known else []
        decision = route(petition, self.rules.current(), self.city, frozenset(excluded))
        now = self.clock()
        self._remember(state, petition, decision, now, excluded, src.value or b"", src.offset)
        if src.timestamp_ms:
            # wall time against the record's (the producer's wall time): the hub's clock is
            # the business clock, which HUB_CLOCK_FILE may hold anywhere
            metrics.ROUTING_LATENCY.observe(max(time.time() - src.timestamp_ms / 1000, 0.0))
        return self.emit(petition, decision, now)

    def emit(self, petition: Petition, decision: RoutingDecision, now: datetime) -> list[Output]:
        """The decision's records for its recipients, then the lifecycle's ``Routed``."""
        return [
            *deliveries(petition, decision, now, self.city, self.calendar),
            routed(petition, decision, now, self.routed, self.seal),
        ]

    def on_decision(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        try:
            d = codec.read_office_decision(schemas.decode(src.value or b"")[1])
        except Exception as exc:
            return [self.reject(src, None, "undecodable_decision", undecodable_reason(exc))]
        pid = str(d.get("petitionId", ""))
        if d.get("kind") != "TRIAGE_ROUTE":
            return []  # extension decisions are the lifecycle's
        seen = state.get(pid.encode())
        if seen is None:
            return [self.reject(src, pid, "unknown_petition", f"no petition {pid}")]
        known = json.loads(seen)
        if known["kind"] != "triage":
            return [self.reject(src, pid, "not_in_triage", f"{pid} is not waiting in triage")]
        avro = state[b"p:" + pid.encode()]
        petition = codec.petition_of(schemas.decode(avro)[1])
        try:
            decision = apply_triage_decision(
                petition,
                d["leadUnit"] or "",
                d["coUnits"],
                self.rules.current(),
                city=self.city,
                decided_by=d["decidedBy"],
                note=d.get("note"),
            )
        except ValueError as exc:
            return [self.reject(src, pid, "unknown_unit", str(exc))]
        now = self.clock()
        self._remember(state, petition, decision, now, list(known["excluded"]), avro, None)
        return self.emit(petition, decision, now)

    def on_command(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        """From ``hub.reroute`` (:mod:`.route_commands`, written by the lifecycle): a unit's
        accepted return (route again without it) or a closed petition (the petition is no longer
        needed here; its personal data's retention starts)."""
        try:
            cmd = route_commands.read(src.value or b"")
        except Exception as exc:  # hub.reroute is ours: a record that does not decode is a bug
            return [self.reject(src, None, "undecodable_command", undecodable_reason(exc))]
        pid = cmd.petition_id
        if cmd.kind == "CLOSED":
            self.closed(src.partition, state, pid, cmd.at)
            return []
        seen = state.get(pid.encode())
        avro = state.get(b"p:" + pid.encode())
        if seen is None or avro is None:
            return [self.reject(src, pid, "unknown_petition", f"no routed petition {pid}")]
        known = json.loads(seen)
        unit = cmd.unit or ""
        if unit in known["excluded"]:
            return []  # a replay: routed again already
        petition = codec.petition_of(schemas.decode(avro)[1])
        excluded = [*known["excluded"], unit]
        decision = route(petition, self.rules.current(), self.city, frozenset(excluded))
        now = self.clock()
        self._remember(state, petition, decision, now, excluded, avro, None)
        return self.emit(petition, decision, now)

    def closed(self, partition: int, state: PartitionState, pid: str, at: datetime) -> None:
        """A petition closed at ``at``: drop it, schedule the erasure of its personal data."""
        state.pop(b"p:" + pid.encode(), None)
        seen = state.get(pid.encode())
        if seen is None:
            return
        known = json.loads(seen)
        if known.get("erased") and known.get("closed"):
            return  # a replay of the closure, or erased at a request since
        known["closed"] = at.isoformat()
        state[pid.encode()] = json.dumps(known).encode()
        if not known.get("erased"):
            self._schedule(partition, pid, at + self.retention)

    def _schedule(self, partition: int, pid: str, due: datetime) -> None:
        heapq.heappush(self._erase_due.setdefault(partition, []), (due.timestamp(), pid))

    def restored(self, partition: int, state: PartitionState) -> None:
        """Rebuild the partition's erasure schedule from its state."""
        self._erase_due[partition] = []
        for key, value in state.items():
            if key.startswith((b"p:", b"\x00")):
                continue
            known = json.loads(value)
            if known.get("closed") and not known.get("erased"):
                closed = datetime.fromisoformat(known["closed"])
                self._schedule(partition, key.decode(), closed + self.retention)

    def revoked(self, partition: int) -> None:
        """The partition went to another worker: so does its schedule."""
        self._erase_due.pop(partition, None)

    def tick(self, partition: int, state: PartitionState) -> Sequence[Output]:
        """Order the erasure of every closed petition whose retention has run out (at most
        500 a call: the stage calls again at once while there are outputs)."""
        due = self._erase_due.get(partition)
        now = self.clock().timestamp()
        out: list[Output] = []
        while due and due[0][0] <= now and len(out) < 500:
            _, pid = heapq.heappop(due)
            seen = state.get(pid.encode())
            known = json.loads(seen) if seen is not None else None
            if known is None or known.get("erased") or not known.get("closed"):
                continue  # reopened with a new revision, or erased at a request since
            known["erased"] = True
            state[pid.encode()] = json.dumps(known).encode()
            closed = datetime.fromisoformat(known["closed"])
            key, value, headers = privacy_event(
                codec.privacy_event_record(
                    pid,
                    DUE,
                    "RETENTION",
                    self.clock(),
                    closed_at=closed,
                    partition=partition,
                    offset=known.get("off"),
                )
            )
            out.append(Output(PRIVACY, key, value, headers, event_id=f"{pid}@due:retention"))
        return out

    def on_privacy(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        """From ``hub.privacy``: an operator's erasure request. The petition routing keeps (an
        open one) is replaced by its redacted copy at once; the eraser is ordered to write the
        redacted revision to hub.petitions. Orders and outcomes are skipped (header)."""
        if kind_of(src.headers) != REQUESTED:
            return []
        try:
            request = codec.read_privacy_event(schemas.decode(src.value or b"")[1])
        except Exception as exc:
            return [self.reject(src, None, "undecodable_request", undecodable_reason(exc))]
        pid = str(request["petitionId"])
        seen = state.get(pid.encode())
        if seen is None:
            return [self.reject(src, pid, "unknown_petition", f"no petition {pid}")]
        known = json.loads(seen)
        avro = state.get(b"p:" + pid.encode())
        if avro is not None:
            petition = redact(codec.petition_of(schemas.decode(avro)[1])).petition
            state[b"p:" + pid.encode()] = schemas.encode(
                codec.PETITION, codec.petition_record(petition)
            )
        known["erased"] = True
        state[pid.encode()] = json.dumps(known).encode()
        key, value, headers = privacy_event(
            codec.privacy_event_record(
                pid,
                DUE,
                "REQUEST",
                self.clock(),
                reference=request["reference"],
                requested_by=request["requestedBy"],
                closed_at=datetime.fromisoformat(known["closed"]) if known.get("closed") else None,
                partition=src.partition,
                offset=known.get("off"),
            )
        )
        return [Output(PRIVACY, key, value, headers, event_id=f"{pid}@due:{src.ref}")]

    def reject(self, src: SourceRecord, pid: str | None, reason: str, message: str) -> Output:
        """An event the hub does not apply, with why, on ``hub.rejects``."""
        return rejection(src, pid, reason, message, self.clock())


#: What the routing stage may answer on ``hub.rejects``, by source topic (``internal``: the
#: processor raised); listed for the rejects counter's series at 0.
REJECT_REASONS: Final = {
    PETITIONS: ("internal", "undecodable_petition"),
    DECISIONS: (
        "internal",
        "undecodable_decision",
        "unknown_petition",
        "not_in_triage",
        "unknown_unit",
    ),
    REROUTE: ("internal", "undecodable_command", "unknown_petition"),
    PRIVACY: ("internal", "undecodable_request", "unknown_petition"),
}


def register(app: faust.App, settings: Settings) -> list[Stage]:
    """The unit-status re-keying stage and the routing stage."""
    spec = stage_specs(
        settings.topics_file, settings.app_id, settings.topics_replication_factor_cap
    )
    routed = routed_topic(settings.app_id)
    group = stage_group(settings.app_id, "routing")
    common = stage_options(app, settings)
    metrics.create_reject_series(REJECT_REASONS)
    return [
        status_stage(settings, spec, common),
        Stage(
            name="routing",
            sources=(PETITIONS, DECISIONS, REROUTE, PRIVACY),
            partitions=spec[PETITIONS].partitions,
            processor=RoutingProcessor(
                LiveRules(settings.rules),
                settings.city,
                routed,
                clock_from(settings.clock_file),
                live_calendar(settings.calendar_file).current,
                timedelta(days=settings.retention_after_closure_days),
                cipher_for(settings).encrypt,
            ),
            group=group,
            topics=declared(spec, (routed, changelog_topic(group)), "the routing stage"),
            petition_keyed=unit_petition_topics(spec),
            **common,
        ),
    ]
