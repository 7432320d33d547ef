"""``python -m petition_hub.topics``: print the unit topics of the packaged reference data, as
topics.yaml entries to paste (maintainers, when departments.yaml or regions.yaml change)."""

from petition_hub.data import data_path
from petition_hub.topics.units import render_unit_topics

print(render_unit_topics(data_path("departments.yaml"), data_path("regions.yaml")), end="")
