"""The report of a reconciliation: what :func:`.reconcile.apply` did or :func:`.reconcile.diff`
found (:class:`ApplyReport`), and the same as lines for a terminal (:func:`format_report`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from petition_hub.topics.planning import Change, ChangeKind
from petition_hub.topics.spec import TopicSpec, norm_policy

_DAY_MS = 86_400_000


class Outcome(StrEnum):
    APPLIED = "applied"
    #: diff only: apply would make this change.
    PENDING = "pending"
    #: Drift or an unexpected topic: reported, not changed.
    REPORTED = "reported"
    FAILED = "failed"


@dataclass(frozen=True)
class ChangeResult:
    change: Change
    outcome: Outcome
    detail: str = ""

    @property
    def needs_attention(self) -> bool:
        """Left the broker different from topics.yaml (unexpected topics that were only reported
        aside: they are informational)."""
        if self.outcome is Outcome.APPLIED:
            return False
        return self.change.kind is not ChangeKind.UNEXPECTED or self.outcome is Outcome.FAILED


@dataclass(frozen=True)
class ApplyReport:
    """What :func:`apply` did, or what :func:`diff` found."""

    bootstrap: str
    dry_run: bool
    results: tuple[ChangeResult, ...]
    #: Declared topics that needed nothing.
    up_to_date: tuple[str, ...]
    #: Per existing declared topic, the config keys the broker reported no value for.
    configs_unknown: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    replication_factor_cap: int | None = None

    @property
    def changed(self) -> bool:
        """Something was created, grown or deleted."""
        return any(r.outcome is Outcome.APPLIED for r in self.results)

    @property
    def drift(self) -> bool:
        """The broker is (still) not as topics.yaml says."""
        return any(r.needs_attention for r in self.results)

    @property
    def exit_code(self) -> int:
        return 1 if self.drift else 0

    def of_kind(self, kind: ChangeKind) -> list[ChangeResult]:
        return [r for r in self.results if r.change.kind is kind]


def _duration(ms: str) -> str:
    try:
        value = int(ms)
    except ValueError:
        return f"{ms} ms"
    if value < 0:
        return "forever"
    if value % _DAY_MS == 0:
        return f"{value // _DAY_MS}d"
    if value % 3_600_000 == 0:
        return f"{value // 3_600_000}h"
    return f"{value} ms"


def _summary(spec: TopicSpec) -> str:
    policy = norm_policy(spec.cleanup_policy)
    parts = [f"{spec.partitions} partitions", policy]
    if "delete" in policy.split(","):
        parts.append(f"retention {_duration(spec.config['retention.ms'])}")
    if spec.replication_factor != 1:
        parts.append(f"replication {spec.replication_factor}")
    return ", ".join(parts)


def _line_for(result: ChangeResult, dry_run: bool) -> str:
    change, outcome = result.change, result.outcome
    spec, have = change.spec, change.actual
    name = change.topic
    if change.kind is ChangeKind.CREATE:
        assert spec is not None
        if outcome is Outcome.FAILED:
            return f"x failed to create {name} ({_summary(spec)}): {result.detail}"
        verb = "would create" if dry_run else "create"
        return f"+ {verb} {name} ({_summary(spec)})"
    if change.kind is ChangeKind.PARTITIONS_INCREASE:
        assert spec is not None and have is not None
        if outcome is Outcome.APPLIED:
            return f"^ partitions {name}: {have.partitions} -> {spec.partitions}"
        head = (
            f"! drift {name}: {have.partitions} partitions on broker, "
            f"topics.yaml says {spec.partitions}"
        )
        if outcome is Outcome.PENDING:
            return f"{head} (apply adds {spec.partitions - have.partitions})"
        why = result.detail or "not applied"
        return (
            f"{head} ({why}: an operator must add the partitions, or recreate the topic; "
            "keyed topics change their key -> partition mapping)"
        )
    if change.kind is ChangeKind.PARTITIONS_DECREASE_DRIFT:
        assert spec is not None and have is not None
        return (
            f"! drift {name}: {have.partitions} partitions on broker, "
            f"topics.yaml says {spec.partitions} (cannot shrink)"
        )
    if change.kind is ChangeKind.REPLICATION_DRIFT:
        assert spec is not None and have is not None
        return (
            f"! drift {name}: replication factor {have.replication_factor} on broker, "
            f"topics.yaml says {spec.replication_factor} (needs a partition reassignment)"
        )
    if change.kind is ChangeKind.CONFIG_DRIFT:
        deltas = "; ".join(
            f"{d.key} is {d.actual} on broker, topics.yaml says {d.desired}" for d in change.config
        )
        return f"! drift {name}: {deltas} (alter with kafka-configs)"
    # UNEXPECTED
    size = f" ({have.partitions} partitions)" if have is not None else ""
    if outcome is Outcome.APPLIED:
        return f"- delete {name}{size}: not in topics.yaml"
    if outcome is Outcome.FAILED:
        return f"x failed to delete {name}{size}: {result.detail}"
    return f"? unexpected {name}{size}: not in topics.yaml, kept (--delete-unexpected deletes it)"


def format_report(report: ApplyReport) -> str:
    """The report as lines for a terminal: ``+`` created, ``^`` grown, ``-`` deleted, ``!`` drift
    an operator must resolve, ``?`` unexpected topics, ``x`` failures, ``=`` the rest."""
    head = "topics diff" if report.dry_run else "topics apply"
    where = f" against {report.bootstrap}" if report.bootstrap else ""
    cap = report.replication_factor_cap
    capped = f" (replication factor capped at {cap})" if cap is not None else ""
    lines = [f"{head}{where}{capped}"]
    lines += [_line_for(r, report.dry_run) for r in report.results]
    n = len(report.up_to_date)
    lines.append(f"= {n} topic{'s' if n != 1 else ''} up to date")
    if report.configs_unknown:
        keys = sorted({k for ks in report.configs_unknown.values() for k in ks})
        topics = sorted(report.configs_unknown)
        which = ", ".join(topics) if len(topics) <= 5 else f"{len(topics)} topics"
        lines.append(f"  (the broker reported no {', '.join(keys)} for {which}: not compared)")
    pending = sum(r.outcome is Outcome.PENDING for r in report.results)
    attention = sum(r.needs_attention and r.outcome is not Outcome.PENDING for r in report.results)
    if report.dry_run and pending:
        lines.append(f"{pending} change(s) pending: run `petition-hub topics apply`")
    if attention:
        lines.append(f"{attention} difference(s) need an operator")
    return "\n".join(lines)


def _result_json(result: ChangeResult) -> dict[str, object]:
    change, spec, have = result.change, result.change.spec, result.change.actual
    out: dict[str, object] = {
        "topic": change.topic,
        "kind": str(change.kind),
        "outcome": str(result.outcome),
        "needs_attention": result.needs_attention,
    }
    if spec is not None:
        out["declared"] = {
            "partitions": spec.partitions,
            "replication_factor": spec.replication_factor,
            "config": dict(spec.config),
        }
    if have is not None:
        out["broker"] = {
            "partitions": have.partitions,
            "replication_factor": have.replication_factor,
            "config": dict(have.config),
        }
    if change.config:
        out["config"] = [
            {"key": d.key, "declared": d.desired, "broker": d.actual} for d in change.config
        ]
    if result.detail:
        out["detail"] = result.detail
    return out


def format_json(report: ApplyReport) -> str:
    """The report as one JSON document (``--json``): the same facts as :func:`format_report`,
    one object per change, the up-to-date topics by name, and the exit code it leads to."""
    return json.dumps(
        {
            "command": "diff" if report.dry_run else "apply",
            "bootstrap": report.bootstrap,
            "replication_factor_cap": report.replication_factor_cap,
            "changes": [_result_json(r) for r in report.results],
            "up_to_date": list(report.up_to_date),
            "configs_unknown": {t: list(k) for t, k in sorted(report.configs_unknown.items())},
            "changed": report.changed,
            "drift": report.drift,
            "exit_code": report.exit_code,
        },
        ensure_ascii=False,
        indent=2,
    )
