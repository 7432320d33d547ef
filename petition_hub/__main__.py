"""``python -m petition_hub`` is ``petition-hub``."""

from petition_hub.ops.cli import main

main()
