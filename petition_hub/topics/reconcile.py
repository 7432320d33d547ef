"""Reconciling a broker with ``topics.yaml``: :func:`apply` and :func:`diff`.

Conservative: apply creates missing topics and adds partitions where the broker can; it never
shrinks a topic, never changes configs or replication, and never deletes a topic unless asked to
(``delete_unexpected=True``). Everything it cannot or will not change is reported as drift
(:mod:`.report`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from petition_hub.topics.admin import NO_CREATE_PARTITIONS, KafkaTopicAdmin, TopicAdmin
from petition_hub.topics.names import DEFAULT_APP_ID
from petition_hub.topics.planning import ChangeKind, plan, unknown_configs
from petition_hub.topics.report import ApplyReport, ChangeResult, Outcome
from petition_hub.topics.spec import TopicsFile


def diff_with(
    spec: TopicsFile,
    admin: TopicAdmin,
    *,
    bootstrap: str = "",
    replication_factor_cap: int | None = None,
    app_id: str = DEFAULT_APP_ID,
) -> ApplyReport:
    """:func:`diff` over a given admin."""
    return _reconcile(spec, admin, bootstrap, replication_factor_cap, False, True, app_id)


def apply_with(
    spec: TopicsFile,
    admin: TopicAdmin,
    *,
    bootstrap: str = "",
    replication_factor_cap: int | None = None,
    delete_unexpected: bool = False,
    app_id: str = DEFAULT_APP_ID,
) -> ApplyReport:
    """:func:`apply` over a given admin."""
    return _reconcile(
        spec, admin, bootstrap, replication_factor_cap, delete_unexpected, False, app_id
    )


def diff(
    spec: TopicsFile,
    bootstrap: str,
    replication_factor_cap: int | None = None,
    *,
    app_id: str = DEFAULT_APP_ID,
    timeout_s: float = 15.0,
    security: Mapping[str, Any] | None = None,
) -> ApplyReport:
    """Compare the broker with ``spec``; change nothing. ``security``: the admin client's SASL
    and TLS settings (:func:`petition_hub.service.security.confluent_config`)."""
    with KafkaTopicAdmin(bootstrap, timeout_s=timeout_s, security=security) as admin:
        return diff_with(
            spec,
            admin,
            bootstrap=bootstrap,
            replication_factor_cap=replication_factor_cap,
            app_id=app_id,
        )


def apply(
    spec: TopicsFile,
    bootstrap: str,
    replication_factor_cap: int | None,
    delete_unexpected: bool = False,
    *,
    app_id: str = DEFAULT_APP_ID,
    timeout_s: float = 15.0,
    security: Mapping[str, Any] | None = None,
) -> ApplyReport:
    """Make the broker have every topic of ``spec``: create missing ones (with their configs), add
    partitions where the broker supports it. Idempotent. Never shrinks, never alters configs or
    replication, and deletes topics that are not in ``spec`` only with ``delete_unexpected=True``
    (faust's and Kafka's internal topics never). ``replication_factor_cap=1`` for a single-node
    broker such as the embedded one. ``security``: as for :func:`diff`."""
    with KafkaTopicAdmin(bootstrap, timeout_s=timeout_s, security=security) as admin:
        return apply_with(
            spec,
            admin,
            bootstrap=bootstrap,
            replication_factor_cap=replication_factor_cap,
            delete_unexpected=delete_unexpected,
            app_id=app_id,
        )


def _reconcile(
    spec: TopicsFile,
    admin: TopicAdmin,
    bootstrap: str,
    replication_factor_cap: int | None,
    delete_unexpected: bool,
    dry_run: bool,
    app_id: str,
) -> ApplyReport:
    effective = spec.capped(replication_factor_cap)
    actual = admin.describe()
    changes = plan(effective, actual, app_id=app_id)
    touched = {c.topic for c in changes}
    up_to_date = tuple(t.name for t in effective.topics if t.name not in touched)
    unknown = unknown_configs(effective.topics, actual)

    growable: bool | None = None
    if any(c.kind is ChangeKind.PARTITIONS_INCREASE for c in changes):
        growable = admin.can_add_partitions()

    if dry_run:
        out: list[ChangeResult] = []
        for change in changes:
            if change.kind is ChangeKind.PARTITIONS_INCREASE and growable is False:
                out.append(ChangeResult(change, Outcome.REPORTED, NO_CREATE_PARTITIONS))
            elif change.applicable:
                out.append(ChangeResult(change, Outcome.PENDING))
            else:
                out.append(ChangeResult(change, Outcome.REPORTED))
        results = tuple(out)
    else:
        created = admin.create([c.spec for c in changes if c.kind is ChangeKind.CREATE and c.spec])
        doomed = [c.topic for c in changes if c.kind is ChangeKind.UNEXPECTED]
        deleted = admin.delete(doomed) if delete_unexpected else {}
        out = []
        for change in changes:
            if change.kind is ChangeKind.PARTITIONS_INCREASE and growable is False:
                out.append(ChangeResult(change, Outcome.REPORTED, NO_CREATE_PARTITIONS))
                continue
            if change.kind is ChangeKind.CREATE:
                error = created.get(change.topic, "not created")
            elif change.kind is ChangeKind.PARTITIONS_INCREASE:
                assert change.spec is not None
                error = admin.add_partitions(change.topic, change.spec.partitions)
            elif change.kind is ChangeKind.UNEXPECTED and delete_unexpected:
                error = deleted.get(change.topic, "not deleted")
            else:
                out.append(ChangeResult(change, Outcome.REPORTED))
                continue
            if error is None:
                out.append(ChangeResult(change, Outcome.APPLIED))
            else:
                out.append(ChangeResult(change, Outcome.FAILED, error))
        results = tuple(out)
    return ApplyReport(
        bootstrap=bootstrap,
        dry_run=dry_run,
        results=results,
        up_to_date=up_to_date,
        configs_unknown=unknown,
        replication_factor_cap=replication_factor_cap,
    )
