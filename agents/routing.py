"""Routing: canonical petitions to the units that must handle them (属地为主、条块结合).

Two batch stages:

``unit-status``: the units' ``dept.<CODE>.status`` / ``county.<DIV>.status`` topics (3
partitions each) re-keyed by petition id into ``<app>-unit-status-repartition`` (co-partitioned
with ``hub.petitions``), each record stamped with its unit (from the topic: a unit writes only
its own topic). Undecodable events go to ``hub.rejects``, and so do events whose Kafka key is not
their ``petitionId`` (``key_mismatch``: the key decides the partition, so such an event would
reach a partition that does not hold its petition).

``routing``, over four co-partitioned topics keyed by hub petition id:

- Consumes: ``hub.petitions`` (Avro ``Petition.v1``), ``office.decisions`` (Avro
  ``OfficeDecision.v1``: the joint-meeting office's triage routes), ``hub.lifecycle`` (returns
  and closures), ``hub.privacy`` (erasure requests) and the re-keyed unit status events (a
  RETURNED within the unit's sign-for window re-routes the petition without that unit, or sends
  it to triage; the original receipt time is kept).
- Emits, per petition revision, with the decision record (rules version, theme, keywords, rule,
  location source):
  ``dept.<CODE>.petitions`` / ``county.<DIV>.petitions`` (Avro ``UnitPetition.v1``, one record
  per lead and co-handler), or ``hub.triage`` (the same schema, role TRIAGE), or
  ``province.transfers`` (Avro ``Transfer.v1``, another city's or another province's matter), or
  ``province.feedback`` (Avro ``Feedback.v1``, RETURNED: a provincial dispatch not for this city).
  Office decisions that cannot be applied go to ``hub.rejects`` with the reason.
  Every decision also goes, for the petition's lifecycle, to the hub-internal ``<app>-routed``
  (Avro ``Routed.v1``, co-partitioned, no personal data).
- Keeps, per partition: petition id -> the last revision routed, where, when, and the units that
  returned it, where the revision is on hub.petitions, when the petition closed; the petition
  itself until it closes (to route it again on a return or a triage decision).
- Personal data's end (:mod:`petition_hub.erasure`): from ``hub.privacy`` an operator's erasure
  request (the petition kept here is redacted at once); on a tick, the closed petitions whose
  retention (``HUB_RETENTION_AFTER_CLOSURE_DAYS``) has run out. For each it orders the eraser
  (``erasure_due`` on ``hub.privacy``, with the revision's partition and offset).

The rules are data (``HUB_RULES``: a rules file or directory; default the packaged reference
data); a changed file is picked up within seconds, without a restart, and its version is stamped
on every decision from then on. A file that does not validate is refused (logged) and the
previous version stays in force.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, NamedTuple

import faust
import structlog

from petition_hub import metrics, schemas
from petition_hub.app import stage_options
from petition_hub.clock import clock_from
from petition_hub.domain.calendar import CalendarUnavailable, WorkingCalendar, default_calendar
from petition_hub.domain.petition import (
    Petition,
    PetitionerKind,
    petition_from_avro,
    petition_to_avro,
)
from petition_hub.domain.privacy import Personal, redact, text_masker
from petition_hub.domain.routing import RoutingDecision, apply_triage_decision, route
from petition_hub.domain.rules import RulesError, RuleSet, default_rules, load_rules
from petition_hub.domain.rules import load_rules_from_dir as _load_dir
from petition_hub.domain.sla import (
    ClockState,
    deadline,
    provisional,
    resolve_clock,
    sign_for_clock,
)
from petition_hub.erasure import DUE, PRIVACY, REQUESTED, kind_of, privacy_event
from petition_hub.live import LiveFile, live_calendar
from petition_hub.runtime.processor import Processor
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.stage import Stage
from petition_hub.runtime.state import PartitionState
from petition_hub.settings import Settings
from petition_hub.topics import load_topics

log = structlog.get_logger(__name__)

PETITIONS: Final = "hub.petitions"
LIFECYCLE: Final = "hub.lifecycle"
#: Header of hub.lifecycle records naming their kind (see agents.lifecycle).
LIFECYCLE_KIND_HEADER: Final = "hub-kind"
DECISIONS: Final = "office.decisions"
TRIAGE: Final = "hub.triage"
REJECTS: Final = "hub.rejects"
TRANSFERS: Final = "province.transfers"
FEEDBACK: Final = "province.feedback"
UNIT_PETITION: Final = "cn.gov.pds.hub.UnitPetition.v2"
OFFICE_DECISION_V1: Final = "cn.gov.pds.hub.OfficeDecision.v1"
REJECTION_V1: Final = "cn.gov.pds.hub.Rejection.v1"
TRANSFER_V1: Final = "cn.gov.ha.petition.Transfer.v1"
FEEDBACK_V1: Final = "cn.gov.ha.petition.Feedback.v1"

_PROVINCE_CATEGORY: Final = {
    "政策咨询": "POLICY_CONSULTATION",
    "意见建议": "SUGGESTION",
    "法律维权": "LEGAL_RIGHTS",
    "困难求助": "DIFFICULTY_ASSISTANCE",
    "举报投诉": "REPORT_COMPLAINT",
    "其他诉求": "OTHER",
}


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
        metrics.RULES_INFO.labels(self.value.version).set(1)

    @property
    def rules(self) -> RuleSet:
        return self.value


def _rules_changed(old: RuleSet, new: RuleSet) -> None:
    if new.version != old.version:
        log.info("rules version changed", old=old.version, new=new.version)
        metrics.RULES_INFO.labels(old.version).set(0)
        metrics.RULES_INFO.labels(new.version).set(1)


class Deadlines(NamedTuple):
    """A unit record's deadlines, each with whether it was counted on a provisional year."""

    sign_for: datetime | None
    sign_for_provisional: bool
    resolve: datetime | None
    resolve_provisional: bool

    @property
    def note(self) -> str | None:
        """What a person needs to know about them (None when both are official)."""
        if self.resolve is None or self.sign_for is None:
            return "no working-day calendar for that year: the deadline is not known yet"
        if self.resolve_provisional or self.sign_for_provisional:
            return (
                "provisional: counted on the law's statutory holidays (补假 included); the "
                "State Council's arrangement (调休) for that year is not published yet, and the "
                "unit is told if the deadline moves when it is"
            )
        return None


def _deadline(
    make: Callable[[WorkingCalendar], ClockState], cal: WorkingCalendar
) -> tuple[datetime | None, bool]:
    """A clock's deadline and whether it is provisional; (None, False) when a year it needs has
    no calendar at all (flagged in a metric and logged once)."""
    try:
        clock = make(cal)
        due = deadline(clock, cal=cal)
    except CalendarUnavailable as exc:
        if metrics.flag_calendar_missing(exc.year):
            log.warning("no working-day calendar for a deadline", year=exc.year)
        return None, False
    return due, provisional(clock, due, cal=cal)


def deadlines(
    petition: Petition, routed_at: datetime, cal: WorkingCalendar | None = None
) -> Deadlines:
    """The sign-for deadline of a petition routed at ``routed_at`` and its resolve deadline, each
    computed on its own (one that cannot be known does not hide the other)."""
    c = cal or default_calendar()
    sign = _deadline(lambda c: sign_for_clock(routed_at, petition.urgency, cal=c), c)
    resolve = _deadline(
        lambda c: resolve_clock(
            petition.received_at,
            petition.petition_type,
            petition.urgency,
            petition.provincial_deadline,
            cal=c,
        ),
        c,
    )
    return Deadlines(*sign, *resolve)


def unit_record(
    petition: Petition,
    decision: RoutingDecision,
    role: str,
    routed_at: datetime,
    cal: WorkingCalendar | None = None,
) -> dict[str, Any]:
    """The ``UnitPetition.v2`` record of ``decision`` (``role`` is set per recipient).

    When the petitioner's identity is withheld (``identityWithheld``), the contact fields are
    empty and every free text (title, content, attachment names, the explanation) has the
    petitioner's name, phone, ID number and openid masked, and any phone- or ID-shaped number
    (:mod:`petition_hub.domain.privacy`); the enterprise's name and credit code are not masked.
    """
    rec = decision.record
    loc = decision.location
    visible = decision.contact_visible
    who = petition.petitioner
    due = deadlines(petition, routed_at, cal)
    enterprise = petition.enterprise if not decision.identity_withheld else None
    mask = _unmasked if visible else text_masker(Personal.of(petition))
    return {
        "petitionId": petition.petition_id,
        "revision": petition.revision,
        "channel": petition.channel.name,
        "channelRef": petition.channel_ref,
        "role": role,
        "leadUnit": decision.lead.key if decision.lead else None,
        "coUnits": [u.key for u in decision.co],
        "receivedAt": petition.received_at,
        "routedAt": routed_at,
        "petitionType": rec.petition_type,
        "urgency": petition.urgency.name,
        "title": None if petition.title is None else mask(petition.title),
        "content": mask(petition.content),
        "locationKind": loc.kind if loc else "unknown",
        "locationCode": loc.code if loc else None,
        "locationName": loc.name if loc else None,
        "enterpriseName": enterprise.name if enterprise else None,
        "enterpriseUscc": enterprise.uscc if enterprise else None,
        "contactName": (who.contact_name or who.name) if visible else None,
        "contactPhone": who.phone if visible else None,
        "identityWithheld": not visible,
        "sensitive": decision.sensitive,
        "attachments": [
            {"name": None if a.name is None else mask(a.name), "url": a.url}
            for a in petition.attachments
        ],
        "signForDeadline": due.sign_for if role != "TRIAGE" else None,
        "resolveDeadline": due.resolve,
        "provincialDeadline": petition.provincial_deadline,
        "deadlineNote": due.note,
        "signForDeadlineProvisional": due.sign_for_provisional and role != "TRIAGE",
        "resolveDeadlineProvisional": due.resolve_provisional,
        "repeatOf": petition.repeat_of,
        "rulesVersion": rec.rules_version,
        "theme": rec.theme,
        "themeName": rec.theme_name,
        "keywords": list(rec.keywords.get(rec.theme, ())) if rec.theme else [],
        "routingRule": rec.rule,
        "locationSource": loc.source if loc else None,
        "excludedUnits": list(rec.excluded),
        "reason": decision.reason,
        "explanation": mask(rec.explain()),
    }


def _unmasked(text: str) -> str:
    return text


def transfer_record(petition: Petition, decision: RoutingDecision, city: str) -> dict[str, Any]:
    """``Transfer.v1``: a local petition whose matter is another city's or province's."""
    who = petition.petitioner
    ent = petition.enterprise
    enterprise = who.kind is PetitionerKind.ENTERPRISE
    loc = decision.location
    return {
        "transferId": f"{city}-{petition.petition_id}",
        "fromCity": city,
        "regionCode": (loc.division or loc.code) if loc else petition.region_code,
        "reason": decision.reason or decision.record.rule,
        "receivedAt": petition.received_at,
        "category": _PROVINCE_CATEGORY.get(decision.record.petition_type or "", "OTHER"),
        "subject": petition.title or petition.content[:30],
        "content": petition.content,
        "petitioner": {
            "kind": "ENTERPRISE" if enterprise else "INDIVIDUAL",
            "name": (ent.name if enterprise and ent and ent.name else who.name) or "（未提供）",
            "uscc": ent.uscc if ent else None,
            "idNumber": who.id_number,
            "contactName": who.contact_name or (who.name if enterprise else None),
            "phone": who.phone,
        },
    }


def feedback_record(
    petition: Petition, status: str, message: str | None, city: str, at: datetime
) -> dict[str, Any]:
    """``Feedback.v1`` about a provincial dispatch."""
    return {
        "dispatchId": petition.channel_ref,
        "cityCode": city,
        "status": status,
        "handlingUnit": None,
        "message": message,
        "deadline": None,
        "satisfaction": None,
        "updatedAt": at,
    }


UNIT_STATUS_V1: Final = "cn.gov.pds.hub.UnitStatus.v1"
UNIT_HEADER: Final = "hub-unit"


ROUTED_V1: Final = "cn.gov.pds.hub.Routed.v1"


def undecodable_reason(exc: Exception) -> str:
    """What to say of a record that does not decode: the error's class and, for the wire format's
    own errors (which never quote a field's value), its reason; never the text of an arbitrary
    exception, which may quote personal data."""
    if isinstance(exc, schemas.WireFormatError):
        return f"{type(exc).__name__}: {exc.reason}"
    return f"{type(exc).__name__} (the record does not fit its schema)"


def status_repartition(app_id: str) -> str:
    """The hub-internal topic of unit status events re-keyed by petition id."""
    return f"{app_id}-unit-status-repartition"


def routed_topic(app_id: str) -> str:
    """The hub-internal topic of routing decisions for the lifecycle (key: petition id)."""
    return f"{app_id}-routed"


def routed_record(petition: Petition, decision: RoutingDecision, at: datetime) -> dict[str, Any]:
    """``Routed.v1``: a decision as the lifecycle needs it."""
    return {
        "petitionId": petition.petition_id,
        "revision": petition.revision,
        "kind": decision.kind.upper(),
        "lead": decision.lead.key if decision.lead else None,
        "co": [u.key for u in decision.co],
        "excluded": list(decision.record.excluded),
        "routedAt": at,
        "receivedAt": petition.received_at,
        "petitionType": decision.record.petition_type,
        "urgency": petition.urgency.name,
        "provincialDeadline": petition.provincial_deadline,
        "channel": petition.channel.name,
        "channelRef": petition.channel_ref,
        "rulesVersion": decision.record.rules_version,
        "theme": decision.record.theme,
        "rule": decision.record.rule,
        "reason": decision.reason,
    }


def _unit_of_topic(topic: str) -> str:
    """``dept.HUD.status`` -> ``dept.HUD``."""
    return topic.rsplit(".", 1)[0]


class StatusRekeyer(Processor):
    """Unit status events, re-keyed by petition id and stamped with the unit they came from."""

    def __init__(self, target: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.target = target
        self.clock = clock

    def __call__(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        try:
            sid, event = schemas.decode(src.value or b"")
            if sid != schemas.schema_id(UNIT_STATUS_V1):
                raise ValueError(f"schema id {sid} is not a unit status event")
        except Exception as exc:
            return [
                rejection(src, None, "undecodable_status", undecodable_reason(exc), self.clock())
            ]
        pid = str(event["petitionId"])
        if src.key != pid.encode():
            # neither value in the message: a unit's key may be anything (say, a phone number)
            what = "has no key" if src.key is None else "is keyed by something else"
            return [
                rejection(
                    src,
                    pid,
                    "key_mismatch",
                    f"the event {what}: a unit status event must be keyed by its petitionId",
                    self.clock(),
                )
            ]
        headers = [(UNIT_HEADER, _unit_of_topic(src.topic).encode())]
        return [Output(self.target, pid.encode(), src.value, headers)]


def rejection(
    src: SourceRecord,
    pid: str | None,
    reason: str,
    message: str,
    at: datetime,
    event_id: str | None = None,
) -> Output:
    """An event the hub does not apply, with why, for ``hub.rejects`` (``event_id``: for an
    exactly-once stage)."""
    metrics.REJECTS.labels(src.topic, reason).inc()
    log.warning("rejected", source=src.ref, reason=reason, error=message)
    record = {
        "sourceTopic": src.topic,
        "sourcePartition": src.partition,
        "sourceOffset": src.offset,
        "petitionId": pid,
        "reason": reason,
        "message": message,
        "rejectedAt": at,
        "original": src.value,
    }
    return Output(REJECTS, src.key, schemas.encode(REJECTION_V1, record), event_id=event_id)


class RoutingProcessor(Processor):
    """Route each new petition revision; apply the office's triage decisions and units' returns."""

    def __init__(
        self,
        rules: LiveRules,
        city: str,
        routed: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        calendar: Callable[[], WorkingCalendar] = default_calendar,
        retention: timedelta = timedelta(days=3 * 365),
    ) -> None:
        self.rules = rules
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
            if src.topic == LIFECYCLE:
                return self.on_lifecycle(src, state)
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
            petition = petition_from_avro(body)
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
            metrics.ROUTING_LATENCY.observe(max(now.timestamp() - src.timestamp_ms / 1000, 0.0))
        return self.emit(petition, decision, now)

    def emit(self, petition: Petition, decision: RoutingDecision, now: datetime) -> list[Output]:
        """The decision's records for its recipients, then the lifecycle's ``Routed``."""
        key = petition.petition_id.encode()
        routed = schemas.encode(ROUTED_V1, routed_record(petition, decision, now))
        return [*self._deliveries(petition, decision, now), Output(self.routed, key, routed)]

    def _deliveries(
        self, petition: Petition, decision: RoutingDecision, now: datetime
    ) -> list[Output]:
        key = petition.petition_id.encode()
        metrics.ROUTED.labels(petition.channel.value, decision.kind).inc()
        log.debug("routed", petition_id=petition.petition_id, decision=decision.record.decision)
        if decision.kind == "units":
            record = unit_record(
                petition, decision, "LEAD", now, self.calendar()
            )  # deadlines etc. once
            out = []
            for i, unit in enumerate(decision.units):
                role = "LEAD" if i == 0 else "CO_HANDLER"
                value = schemas.encode(UNIT_PETITION, {**record, "role": role})
                out.append(Output(unit.topic, key, value))
                metrics.UNIT_ROUTED.labels(unit.key, role.lower()).inc()
            return out
        if decision.kind == "triage":
            record = unit_record(petition, decision, "TRIAGE", now, self.calendar())
            return [Output(TRIAGE, key, schemas.encode(UNIT_PETITION, record))]
        if decision.kind == "province_transfer":
            record = transfer_record(petition, decision, self.city)
            return [
                Output(
                    TRANSFERS, record["transferId"].encode(), schemas.encode(TRANSFER_V1, record)
                )
            ]
        record = feedback_record(petition, "RETURNED", decision.reason, self.city, now)
        return [
            Output(FEEDBACK, petition.channel_ref.encode(), schemas.encode(FEEDBACK_V1, record))
        ]

    def on_decision(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        try:
            _, d = schemas.decode(src.value or b"")
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
        petition = petition_from_avro(schemas.decode(avro)[1])
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

    def on_lifecycle(self, src: SourceRecord, state: PartitionState) -> Sequence[Output]:
        """From ``hub.lifecycle``: a unit's accepted return (route again without it) or a closed
        petition (the petition is no longer needed here; its personal data's retention starts).
        Other lifecycle records are skipped without decoding (header ``hub-kind``)."""
        kind = (dict(src.headers).get(LIFECYCLE_KIND_HEADER) or b"").decode()
        if kind not in ("routing_requested", "closed"):
            return []
        record = schemas.decode(src.value or b"")[1]
        pid = str(record["petitionId"])
        if kind == "closed":
            self.closed(src.partition, state, pid, record["at"])
            return []
        seen = state.get(pid.encode())
        avro = state.get(b"p:" + pid.encode())
        if seen is None or avro is None:
            return [self.reject(src, pid, "unknown_petition", f"no routed petition {pid}")]
        known = json.loads(seen)
        unit = str(record["unit"] or "")
        if unit in known["excluded"]:
            return []  # a replay: routed again already
        petition = petition_from_avro(schemas.decode(avro)[1])
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
                pid,
                DUE,
                "RETENTION",
                self.clock(),
                closed_at=closed,
                partition=partition,
                offset=known.get("off"),
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
            request = schemas.decode(src.value or b"")[1]
        except Exception as exc:
            return [self.reject(src, None, "undecodable_request", undecodable_reason(exc))]
        pid = str(request["petitionId"])
        seen = state.get(pid.encode())
        if seen is None:
            return [self.reject(src, pid, "unknown_petition", f"no petition {pid}")]
        known = json.loads(seen)
        avro = state.get(b"p:" + pid.encode())
        if avro is not None:
            petition = redact(petition_from_avro(schemas.decode(avro)[1])).petition
            state[b"p:" + pid.encode()] = schemas.encode(
                schemas.PETITION_V1, petition_to_avro(petition)
            )
        known["erased"] = True
        state[pid.encode()] = json.dumps(known).encode()
        key, value, headers = privacy_event(
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
        return [Output(PRIVACY, key, value, headers, event_id=f"{pid}@due:{src.ref}")]

    def reject(self, src: SourceRecord, pid: str | None, reason: str, message: str) -> Output:
        """An event the hub does not apply, with why, on ``hub.rejects``."""
        return rejection(src, pid, reason, message, self.clock())


def register(app: faust.App, settings: Settings) -> list[Stage]:
    """The unit-status re-keying stage and the routing stage."""
    spec = {t.name: t for t in load_topics(settings.topics_file).topics}
    repartition = status_repartition(settings.app_id)
    routed = routed_topic(settings.app_id)
    common = stage_options(app, settings)
    status_topics = sorted(t for t in spec if t.endswith(".status"))
    return [
        Stage(
            name="unit-status",
            sources=status_topics,
            partitions=spec[status_topics[0]].partitions,
            processor=StatusRekeyer(repartition),
            group=f"{settings.app_id}-unit-status",
            creates={repartition: spec[PETITIONS].partitions},
            **common,
        ),
        Stage(
            name="routing",
            sources=(PETITIONS, DECISIONS, LIFECYCLE, PRIVACY),
            partitions=spec[PETITIONS].partitions,
            processor=RoutingProcessor(
                LiveRules(settings.rules),
                settings.city,
                routed,
                clock_from(settings.clock_file),
                live_calendar(settings.calendar_file).current,
                timedelta(days=settings.retention_after_closure_days),
            ),
            group=f"{settings.app_id}-routing",
            creates={routed: spec[PETITIONS].partitions},
            **common,
        ),
    ]
