"""``python -m petition_hub`` is ``petition-hub``."""

from .cli import main

main()
