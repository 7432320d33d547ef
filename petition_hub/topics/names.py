"""The hub's topic names: the one place that spells them.

The fixed topics of the interface (``interface.md``) and those that came after it, the topics that
must be co-partitioned, how a reference unit's topics are named, and which topics belong to faust
or Kafka rather than to ``topics.yaml``. Which units exist is the reference data's business
(:mod:`.units`); the partitions and configs of every topic are ``topics.yaml``'s (:mod:`.spec`).
"""

from __future__ import annotations

from typing import Final

#: The faust app id; faust's own topics start with it (``petition-hub-<table>-changelog``).
DEFAULT_APP_ID = "petition-hub"

# --- the channels' topics (their owners' names; the connectors read them) ---
HOTLINE_WORKORDERS: Final = "hotline12345.workorders"
HOTLINE_CALLBACKS: Final = "hotline12345.callbacks"
MINIPROGRAM_APPEALS: Final = "miniprogram.appeals"
MINIPROGRAM_EVALUATIONS: Final = "miniprogram.evaluations"
PROVINCE_DISPATCH: Final = "province.dispatch"

# --- the hub's own ---
PETITIONS: Final = "hub.petitions"
LIFECYCLE: Final = "hub.lifecycle"
SLA: Final = "hub.sla"
TRIAGE: Final = "hub.triage"
DECISIONS: Final = "office.decisions"
DEADLETTER: Final = "hub.deadletter"
REJECTS: Final = "hub.rejects"
PRIVACY: Final = "hub.privacy"
REROUTE: Final = "hub.reroute"
MINIPROGRAM_EVALUATION_REQUESTS: Final = "miniprogram.evaluation-requests"
HOTLINE_CALLBACK_REQUESTS: Final = "hotline12345.callback-requests"
PROVINCE_FEEDBACK: Final = "province.feedback"
PROVINCE_TRANSFERS: Final = "province.transfers"

#: Inputs owned by the upstream systems (interface.md).
INPUT_TOPICS: tuple[str, ...] = (
    HOTLINE_WORKORDERS,
    HOTLINE_CALLBACKS,
    MINIPROGRAM_APPEALS,
    MINIPROGRAM_EVALUATIONS,
    PROVINCE_DISPATCH,
)

#: The hub's own topics (interface.md).
HUB_TOPICS: tuple[str, ...] = (
    PETITIONS,
    LIFECYCLE,
    SLA,
    TRIAGE,
    DECISIONS,
    DEADLETTER,
    REJECTS,
    MINIPROGRAM_EVALUATION_REQUESTS,
    HOTLINE_CALLBACK_REQUESTS,
    PROVINCE_FEEDBACK,
    PROVINCE_TRANSFERS,
)

#: The hub's own topics that came after interface.md (issue 11: the record of erasures; issue 12:
#: the lifecycle's commands to routing, the one owner of a petition's assignment).
LATER_HUB_TOPICS: tuple[str, ...] = (PRIVACY, REROUTE)

#: Every topic that does not depend on the reference data.
FIXED_TOPICS: tuple[str, ...] = INPUT_TOPICS + HUB_TOPICS + LATER_HUB_TOPICS

#: Topics keyed by petition id that the hub's agents join with each other and with the petition
#: tables: they must have the same partition count (co-partitioning).
CO_PARTITIONED_TOPICS: tuple[str, ...] = (
    "hub.petitions",
    "hub.lifecycle",
    "hub.sla",
    "hub.rejects",
    "hub.triage",
    "office.decisions",
    "hub.privacy",
    "hub.reroute",
)

#: The kinds of reference unit with topics of their own: departments and county-level units.
UNIT_KINDS: tuple[str, ...] = ("dept", "county")

#: A unit's two topics: hub → unit (``petitions``) and unit → hub (``status``).
UNIT_TOPIC_SUFFIXES: tuple[str, ...] = ("petitions", "status")


def unit_topic(kind: str, code: str, suffix: str) -> str:
    """A reference unit's topic: ``<dept|county>.<CODE>.<petitions|status>``."""
    return f"{kind}.{code}.{suffix}"


def is_unit_topic(name: str) -> bool:
    """Whether ``name`` is a reference unit's topic (``dept.*`` or ``county.*``)."""
    return name.startswith(tuple(f"{kind}." for kind in UNIT_KINDS))


def is_internal_topic(name: str, app_id: str = DEFAULT_APP_ID) -> bool:
    """Topics that are nobody's business in topics.yaml: faust's (anything of the app, changelogs,
    repartition and assignor topics) and Kafka's or the schema registry's (``__consumer_offsets``,
    ``_schemas``: a leading underscore). Never reported as unexpected, never deleted."""
    return (
        name.startswith("_")
        or name.startswith(f"{app_id}-")
        or "-changelog" in name
        or "__assignor" in name
        or name.endswith("-repartition")
    )
