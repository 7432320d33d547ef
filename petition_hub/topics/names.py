"""The hub's topic names: the one place that spells them.

The fixed topics of the interface (``interface.md``) and those that came after it, the topics that
must be co-partitioned, how a reference unit's topics are named, the hub's internal topics (the
stages' routed, repartition and changelog topics: ``{app}`` in ``topics.yaml``, resolved to the app
id when the file is loaded), and which topics belong to faust or Kafka rather than to
``topics.yaml``. Which units exist is the reference data's business
(:mod:`.units`); the partitions and configs of every topic are ``topics.yaml``'s (:mod:`.spec`).
"""

from __future__ import annotations

from typing import Final

from petition_hub.connectors import EVALUATION_REQUEST_TOPICS, PROGRESS_TOPICS
from petition_hub.connectors import INPUT_TOPICS as _CHANNEL_TOPICS

#: The faust app id; faust's own topics start with it (``petition-hub-<table>-changelog``).
DEFAULT_APP_ID = "petition-hub"

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
PROVINCE_FEEDBACK: Final = "province.feedback"
PROVINCE_TRANSFERS: Final = "province.transfers"
#: Supervision (督办, 挂牌督办) for the joint-meeting office and for the leading group.
OFFICE_SUPERVISION: Final = "office.supervision"
LEADING_GROUP_SUPERVISION: Final = "leadinggroup.supervision"
#: The channels' progress topics (declared by the connectors), each once.
PROGRESS: tuple[str, ...] = tuple(dict.fromkeys(p.topic for p in PROGRESS_TOPICS.values()))

#: Inputs owned by the upstream systems (interface.md): each channel declares its own topics in
#: its connector (``connectors/<channel>.py``, listed in ``connectors.CHANNELS``).
INPUT_TOPICS: tuple[str, ...] = _CHANNEL_TOPICS

#: The hub's own topics (interface.md).
HUB_TOPICS: tuple[str, ...] = (
    PETITIONS,
    LIFECYCLE,
    SLA,
    TRIAGE,
    DECISIONS,
    DEADLETTER,
    REJECTS,
    *EVALUATION_REQUEST_TOPICS,  # declared by the channels' connectors
    PROVINCE_FEEDBACK,
    PROVINCE_TRANSFERS,
)

#: The hub's own topics that came after interface.md (issue 11: the record of erasures; issue 12:
#: the lifecycle's commands to routing, the one owner of a petition's assignment; issue 14: the
#: petitioners' progress through their channel, supervision for the office and the leading group).
LATER_HUB_TOPICS: tuple[str, ...] = (
    PRIVACY,
    REROUTE,
    *PROGRESS,
    OFFICE_SUPERVISION,
    LEADING_GROUP_SUPERVISION,
)

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

# --- the hub's internal topics: ``{app}`` stands for the app id (HUB_APP_ID) in topics.yaml ---
#: What stands for the app id in an internal topic's name in topics.yaml.
APP_PLACEHOLDER: Final = "{app}"
#: Routing's decisions, for the lifecycle (co-partitioned with hub.petitions).
ROUTED: Final = "{app}-routed"
#: Unit status events re-keyed by petition id (co-partitioned with hub.petitions).
STATUS_REPARTITION: Final = "{app}-unit-status-repartition"
#: Ratings re-keyed by petition id (co-partitioned with hub.petitions).
EVALUATIONS_REPARTITION: Final = "{app}-evaluations-repartition"
#: The lifecycle's repeat links as it writes them (exactly once: in its source partition), keyed
#: by the petition id each is for: a repeat's question to its earlier case, and the answer.
REPEAT_ASKS: Final = "{app}-repeat-asks"
#: The same, re-keyed into the partition of the petition each is for (co-partitioned with
#: hub.petitions), which the lifecycle reads.
REPEAT_LINKS: Final = "{app}-repeat-links"


def resolve(name: str, app_id: str) -> str:
    """``name`` with :data:`APP_PLACEHOLDER` replaced by ``app_id``."""
    return name.replace(APP_PLACEHOLDER, app_id)


def routed_topic(app_id: str) -> str:
    """The hub-internal topic of routing's decisions."""
    return resolve(ROUTED, app_id)


def status_repartition(app_id: str) -> str:
    """The hub-internal topic of unit status events re-keyed by petition id."""
    return resolve(STATUS_REPARTITION, app_id)


def evaluations_repartition(app_id: str) -> str:
    """The hub-internal topic of ratings re-keyed by petition id."""
    return resolve(EVALUATIONS_REPARTITION, app_id)


def repeat_links_topic(app_id: str) -> str:
    """The hub-internal topic of the lifecycle's repeat links, re-keyed (the lifecycle reads)."""
    return resolve(REPEAT_LINKS, app_id)


def repeat_asks_topic(app_id: str) -> str:
    """The hub-internal topic of the lifecycle's repeat links as written (to be re-keyed)."""
    return resolve(REPEAT_ASKS, app_id)


def stage_group(app_id: str, stage: str) -> str:
    """A stage's consumer group: ``<app>-<stage>`` (``petition-hub-routing``)."""
    return f"{app_id}-{stage}"


def changelog_topic(group: str) -> str:
    """A stage's changelog: ``<group>-changelog`` (``petition-hub-routing-changelog``)."""
    return f"{group}-changelog"


#: The kinds of reference unit with topics of their own: departments and county-level units.
UNIT_KINDS: tuple[str, ...] = ("dept", "county")

#: A unit's two topics: hub → unit (``petitions``) and unit → hub (``status``).
UNIT_TOPIC_SUFFIXES: tuple[str, ...] = ("petitions", "status")


#: The value schemas (records of schemas/) a unit's topics carry: hub → unit, the petition (routing)
#: and the notices about it (the lifecycle); unit → hub, its status events.
UNIT_TOPIC_SCHEMAS: Final[dict[str, tuple[str, ...]]] = {
    "petitions": ("cn.gov.pds.hub.UnitPetition", "cn.gov.pds.hub.UnitNotice"),
    "status": ("cn.gov.pds.hub.UnitStatus",),
}


def unit_topic(kind: str, code: str, suffix: str) -> str:
    """A reference unit's topic: ``<dept|county>.<CODE>.<petitions|status>``."""
    return f"{kind}.{code}.{suffix}"


def is_unit_topic(name: str) -> bool:
    """Whether ``name`` is a reference unit's topic (``dept.*`` or ``county.*``)."""
    return name.startswith(tuple(f"{kind}." for kind in UNIT_KINDS))


def is_internal_topic(name: str, app_id: str = DEFAULT_APP_ID) -> bool:
    """Internal topics: the app's (its stages' routed, repartition and changelog topics, declared
    in topics.yaml with ``{app}``; faust's changelogs and assignor topic, which are not) and
    Kafka's or the schema registry's (``__consumer_offsets``, ``_schemas``: a leading underscore).
    Reconciled as declared when topics.yaml declares them; otherwise never reported as
    unexpected, never deleted."""
    return (
        name.startswith("_")
        or name.startswith(f"{app_id}-")
        or "-changelog" in name
        or "__assignor" in name
        or name.endswith("-repartition")
    )


def unit_of_topic(topic: str) -> str | None:
    """The unit of a unit topic (``dept.TAX.petitions`` -> ``dept.TAX``), else None."""
    if is_unit_topic(topic) and topic.count(".") >= 2:
        return topic.rsplit(".", 1)[0]
    return None
