"""Schema evolution: every change to a schema stays backward compatible with its previous version.

For each ``schemas/*.avsc``, every committed version (git history) and the working copy are taken
in order; for each consecutive pair, records written with the older schema must be readable with
the newer one (Avro schema resolution: the new reader, the old writer). An incompatible change
needs a new schema (``….v2.avsc`` with a new id), never an edit of a published one.
"""

from __future__ import annotations

import io
import itertools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.utils import generate_many

from petition_hub import schemas
from petition_hub.service.settings import PROJECT_ROOT

SCHEMA_DIR = PROJECT_ROOT / "schemas"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout


def _has_history() -> bool:
    return shutil.which("git") is not None and (PROJECT_ROOT / ".git").exists()


def _versions(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(label, schema) of every committed version of ``path``, oldest first, then the file."""
    rel = path.relative_to(PROJECT_ROOT).as_posix()
    # no --follow: a new version (….v2) is similar enough to its v1 for git to call it a copy;
    # --diff-filter=d: not the commits that deleted it (a reverted merge), only those with it
    commits = _git("log", "--format=%h", "--diff-filter=d", "--", rel).split()[::-1]
    out = [(c, json.loads(_git("show", f"{c}:{rel}"))) for c in commits]
    current = json.loads(path.read_text(encoding="utf-8"))
    if not out or out[-1][1] != current:
        out.append(("working copy", current))
    return out


def _named(name: str) -> dict[str, Any]:
    """Named types of the schemas a schema references (e.g. Transfer.v1 uses Dispatch.v1's)."""
    named: dict[str, Any] = {}
    for ref in schemas.REFERENCES.get(name, ()):
        fastavro.parse_schema(schemas.raw_schema(ref), named_schemas=named)
    return named


def _compatible(name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    writer = fastavro.parse_schema(old, named_schemas=_named(name))
    reader = fastavro.parse_schema(new, named_schemas=_named(name))
    for record in generate_many(writer, 50):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, record)
        buf.seek(0)
        fastavro.schemaless_reader(buf, writer, reader)


@pytest.mark.skipif(not _has_history(), reason="needs the git history of the checkout")
@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.avsc")), ids=lambda p: p.stem)
def test_each_change_is_backward_compatible(path: Path) -> None:
    versions = _versions(path)
    for (old_label, old), (new_label, new) in itertools.pairwise(versions):
        try:
            _compatible(path.stem, old, new)
        except Exception as exc:
            pytest.fail(
                f"{path.name}: the version of {new_label} cannot read data written with the "
                f"version of {old_label}: {exc}. Publish an incompatible change as a new schema."
            )


def test_the_check_catches_an_incompatible_change() -> None:
    old = schemas.raw_schema(schemas.PETITION_V1)
    new = json.loads(json.dumps(old))
    new["fields"].append({"name": "mandatoryNewField", "type": "string"})  # no default
    with pytest.raises(Exception, match=r"mandatoryNewField|default"):
        _compatible(schemas.PETITION_V1, old, new)
    new["fields"][-1]["default"] = ""
    _compatible(schemas.PETITION_V1, old, new)  # with a default it is compatible


def _versions_of_records() -> list[tuple[str, str]]:
    """(older, newer) schema names: consecutive versions of one record (``….v1`` → ``….v2``)."""
    by_record: dict[str, list[str]] = {}
    for name in sorted(schemas.SCHEMA_IDS, key=lambda n: int(n.rsplit(".v", 1)[1])):
        by_record.setdefault(schemas.record_name(name), []).append(name)
    return [pair for names in by_record.values() for pair in itertools.pairwise(names)]


@pytest.mark.parametrize(("old", "new"), _versions_of_records(), ids=lambda n: n.rsplit(".", 2)[-2])
def test_a_new_version_reads_the_one_before(old: str, new: str) -> None:
    # a new version of a record is a compatible change (a new id, the same record): a reader of
    # the new one reads what was written with the old one (records already on the topics)
    assert schemas.schema_id(new) != schemas.schema_id(old)
    _compatible(old, schemas.raw_schema(old), schemas.raw_schema(new))


def test_the_hub_writes_the_newest_versions() -> None:
    from petition_hub.schemas import codec

    names = {
        codec.PETITION,
        codec.UNIT_PETITION_V3,
        codec.ROUTED_V5,
        codec.REPEAT_LINK_V2,
        codec.EVALUATION_V2,
        codec.SLA_V2,
        codec.LIFECYCLE_V5,
        codec.NOTICE_V3,
    }
    for name in names:
        newest = max(
            (n for n in schemas.SCHEMA_IDS if schemas.record_name(n) == schemas.record_name(name)),
            key=lambda n: int(n.rsplit(".v", 1)[1]),
        )
        assert name == newest
