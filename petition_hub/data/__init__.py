"""Reference data shipped with the hub (copied from the project's shared reference), and the
contract's samples (``contracts/samples``, copied to ``samples/``): one message per file, with the
topic, key and headers its ``index.json`` gives it (:func:`load_samples`). The operator tools read
the samples (``petition-hub rules explain``), the developer tools and the tests feed them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Final


def data_path(name: str) -> Path:
    """Filesystem path of a packaged data file, e.g. ``data_path("departments.yaml")``."""
    return Path(str(files(__name__).joinpath(name)))


#: Copies of the contract's samples (``contracts/samples``), with their ``index.json``.
SAMPLES_DIR: Final = data_path("samples")


@dataclass(frozen=True)
class Sample:
    """One message of the contract's samples, as the broker would deliver it."""

    file: str
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    schema_id: int | None
    readable: dict[str, Any] | None
    """For an Avro sample: the record as JSON (times as text)."""


def load_samples() -> dict[str, Sample]:
    """The samples by file name (``"hotline-financing.json"``, …)."""
    index = json.loads((SAMPLES_DIR / "index.json").read_text(encoding="utf-8"))
    result: dict[str, Sample] = {}
    for entry in index:
        readable = entry.get("readable")
        result[entry["file"]] = Sample(
            file=entry["file"],
            topic=entry["topic"],
            key=entry["key"].encode("utf-8"),
            value=(SAMPLES_DIR / entry["file"]).read_bytes(),
            headers=tuple((k, v.encode("ascii")) for k, v in entry["headers"].items()),
            schema_id=entry.get("schema_id"),
            readable=(
                None
                if readable is None
                else json.loads((SAMPLES_DIR / readable).read_text(encoding="utf-8"))
            ),
        )
    return result
