"""The hub's topics: ``topics.yaml`` and its reconciliation with a broker.

``topics.yaml`` (repository root, ``HUB_TOPICS_FILE``) declares every topic of the hub, its
interface and its internal topics (``{app}-…``, resolved to the app id), with partitions,
replication factor, topic configs and the value schemas each carries. One module per job:

- :mod:`.spec`: the models of the file, loading and validating it (:func:`load_topics`); any error
  names the file and the line of the offending entry (:class:`TopicsFileError`);
- :mod:`.names`: the one place that spells the hub's topic names (:data:`FIXED_TOPICS`,
  :data:`CO_PARTITIONED_TOPICS`, a unit's topics, faust's and Kafka's internal topics);
- :mod:`.partitioning`: the one rule that puts a petition's records in a partition
  (:func:`petition_partition`, both writers of a unit topic use it) and the partition counts the
  file must have for it to hold (checked on loading);
- :mod:`.units`: the per-unit topics the reference data calls for (:func:`expected_unit_topics`,
  :func:`render_unit_topics`), so a test keeps the file in step with ``departments.yaml`` and
  ``regions.yaml``;
- :mod:`.planning`: what differs between the file and a broker (:func:`plan`, pure);
- :mod:`.admin`: broker access (:class:`TopicAdmin`, :class:`KafkaTopicAdmin`);
- :mod:`.reconcile`: making the broker match (:func:`apply`) or only comparing (:func:`diff`);
- :mod:`.report`: what a reconciliation did (:class:`ApplyReport`, :func:`format_report`);
- :mod:`.commands`: ``petition-hub topics apply`` / ``topics diff`` (:func:`run_apply`,
  :func:`run_diff`).

Reconciling is conservative: it creates missing topics and adds partitions where the broker can;
it never shrinks a topic, never changes configs or replication, and never deletes a topic unless
asked to (``delete_unexpected=True``). Everything it cannot or will not change is reported as drift.

Tansu (the embedded broker) does not support CreatePartitions and reports only the configs a topic
was created with; a missing config value is "unknown", not drift.

Importers use this package (``from petition_hub.topics import load_topics``), not its modules.
"""

from __future__ import annotations

from petition_hub.topics.admin import (
    KafkaTopicAdmin,
    TopicAdmin,
    TopicsBrokerError,
    describe_broker,
)
from petition_hub.topics.commands import run_apply, run_diff
from petition_hub.topics.names import (
    CO_PARTITIONED_TOPICS,
    DEFAULT_APP_ID,
    FIXED_TOPICS,
    HUB_TOPICS,
    INPUT_TOPICS,
    LATER_HUB_TOPICS,
    LEADING_GROUP_SUPERVISION,
    OFFICE_SUPERVISION,
    UNIT_KINDS,
    UNIT_TOPIC_SUFFIXES,
    is_internal_topic,
    is_unit_topic,
    unit_topic,
)
from petition_hub.topics.partitioning import petition_partition
from petition_hub.topics.planning import ActualTopic, Change, ChangeKind, ConfigDelta, plan
from petition_hub.topics.reconcile import apply, apply_with, diff, diff_with
from petition_hub.topics.report import ApplyReport, ChangeResult, Outcome, format_report
from petition_hub.topics.spec import (
    KNOWN_TOPIC_CONFIGS,
    REQUIRED_TOPIC_CONFIGS,
    ConfigMap,
    TopicDefaults,
    TopicsFile,
    TopicsFileError,
    TopicSpec,
    load_topics,
)
from petition_hub.topics.units import expected_unit_topics, render_unit_topics

__all__ = [
    "CO_PARTITIONED_TOPICS",
    "DEFAULT_APP_ID",
    "FIXED_TOPICS",
    "HUB_TOPICS",
    "INPUT_TOPICS",
    "KNOWN_TOPIC_CONFIGS",
    "LATER_HUB_TOPICS",
    "LEADING_GROUP_SUPERVISION",
    "OFFICE_SUPERVISION",
    "REQUIRED_TOPIC_CONFIGS",
    "UNIT_KINDS",
    "UNIT_TOPIC_SUFFIXES",
    "ActualTopic",
    "ApplyReport",
    "Change",
    "ChangeKind",
    "ChangeResult",
    "ConfigDelta",
    "ConfigMap",
    "KafkaTopicAdmin",
    "Outcome",
    "TopicAdmin",
    "TopicDefaults",
    "TopicSpec",
    "TopicsBrokerError",
    "TopicsFile",
    "TopicsFileError",
    "apply",
    "apply_with",
    "describe_broker",
    "diff",
    "diff_with",
    "expected_unit_topics",
    "format_report",
    "is_internal_topic",
    "is_unit_topic",
    "load_topics",
    "petition_partition",
    "plan",
    "render_unit_topics",
    "run_apply",
    "run_diff",
    "unit_topic",
]
