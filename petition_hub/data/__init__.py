"""Reference data shipped with the hub (copied from the project's shared reference)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_path(name: str) -> Path:
    """Filesystem path of a packaged data file, e.g. ``data_path("departments.yaml")``."""
    return Path(str(files(__name__).joinpath(name)))
