"""``petition-hub topics apply`` and ``topics diff``: topics.yaml in, text and exit code out."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from petition_hub.topics.admin import TopicsBrokerError
from petition_hub.topics.names import DEFAULT_APP_ID
from petition_hub.topics.reconcile import apply, diff
from petition_hub.topics.report import format_json, format_report
from petition_hub.topics.spec import TopicsFileError, load_topics


def _run(
    bootstrap: str,
    embedded: bool,
    topics_file: Path,
    delete_unexpected: bool,
    dry_run: bool,
    app_id: str,
    timeout_s: float,
    replication_factor_cap: int | None,
    security: Mapping[str, Any] | None,
    as_json: bool,
) -> tuple[str, int]:
    cap = replication_factor_cap
    if embedded:  # Tansu: one node, whatever the file says
        cap = 1
    try:
        spec = load_topics(topics_file, app_id)
        if dry_run:
            report = diff(
                spec, bootstrap, cap, app_id=app_id, timeout_s=timeout_s, security=security
            )
        else:
            report = apply(
                spec,
                bootstrap,
                cap,
                delete_unexpected,
                app_id=app_id,
                timeout_s=timeout_s,
                security=security,
            )
    except (TopicsFileError, TopicsBrokerError) as exc:
        return f"error: {exc}", 2
    return (format_json if as_json else format_report)(report), report.exit_code


def run_apply(
    settings_like_bootstrap: str,
    embedded: bool,
    topics_file: Path,
    delete_unexpected: bool = False,
    *,
    app_id: str = DEFAULT_APP_ID,
    timeout_s: float = 15.0,
    replication_factor_cap: int | None = None,
    security: Mapping[str, Any] | None = None,
    as_json: bool = False,
) -> tuple[str, int]:
    """``petition-hub topics apply``: (report text, exit code). Exit 0: the broker matches
    topics.yaml; 1: drift remains that needs an operator (or something failed); 2: invalid
    topics.yaml or unreachable broker. ``embedded`` caps the replication factor at 1;
    ``replication_factor_cap`` caps it on other brokers (a single-node Kafka: 1). ``security``:
    the admin client's SASL and TLS settings
    (:func:`petition_hub.service.security.confluent_config`). ``as_json``: the report as JSON
    (errors stay one line of text)."""
    return _run(
        settings_like_bootstrap,
        embedded,
        topics_file,
        delete_unexpected,
        False,
        app_id,
        timeout_s,
        replication_factor_cap,
        security,
        as_json,
    )


def run_diff(
    settings_like_bootstrap: str,
    embedded: bool,
    topics_file: Path,
    *,
    app_id: str = DEFAULT_APP_ID,
    timeout_s: float = 15.0,
    replication_factor_cap: int | None = None,
    security: Mapping[str, Any] | None = None,
    as_json: bool = False,
) -> tuple[str, int]:
    """``petition-hub topics diff``: (report text, exit code). Exit 0: no drift (unexpected topics
    are listed but do not count); 1: drift or missing topics; 2: invalid topics.yaml or unreachable
    broker. Pass the same cap and ``security`` as to :func:`run_apply`."""
    return _run(
        settings_like_bootstrap,
        embedded,
        topics_file,
        False,
        True,
        app_id,
        timeout_s,
        replication_factor_cap,
        security,
        as_json,
    )
