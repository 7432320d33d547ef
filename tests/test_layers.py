"""The package's layers (issue 12), checked on the source: what may import what.

- the domain (``petition_hub/domain``) is pure: of the project it imports only itself and its
  data (``petition_hub.data``), and no Kafka, faust, metrics or logging-pipeline library;
- the connectors are pure decoders: of the project, the domain, the schemas and themselves;
- the runtime, the agents, the service, the domain, the connectors and the schemas never import
  the operator tools (ops) or the developer tools (devtools);
- none of those hides an import of the project inside a function (the way to dodge a cycle);
  third-party imports may wait for first use (an optional extra, start-up time).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "petition_hub"

#: Where each layer's source lives (the links petition_hub/{agents,connectors,schemas} point to
#: the top-level folders; the real files are read once).
LAYERS: dict[str, list[Path]] = {
    "domain": [PACKAGE / "domain"],
    "connectors": [ROOT / "connectors"],
    "schemas": [ROOT / "schemas"],
    "agents": [ROOT / "agents"],
    "runtime": [p for p in (PACKAGE / "runtime", PACKAGE / "broker") if p.exists()],
    "service": [PACKAGE / "service"],
}
#: What the worker runs: none of it needs ops or devtools, none hides a project import.
WORKER_LAYERS = ["domain", "connectors", "schemas", "agents", "runtime", "service"]
#: The operator tools and the developer tools: nothing the worker runs may need them.
OPS = ("ops",)
DEVTOOLS = ("devtools",)
#: Libraries of I/O and operations the pure domain must not touch.
IO_LIBRARIES = (
    "kafka",
    "aiokafka",
    "faust",
    "mode",
    "confluent_kafka",
    "prometheus_client",
    "structlog",
)


def _files(layer: str) -> Iterator[Path]:
    for place in LAYERS[layer]:
        yield from ([place] if place.is_file() else sorted(place.rglob("*.py")))


def _package_of(path: Path) -> str:
    """The dotted package a source file's relative imports start from."""
    real = {
        ROOT / "connectors": "petition_hub.connectors",
        ROOT / "schemas": "petition_hub.schemas",
        ROOT / "agents": "petition_hub.agents",
    }
    for folder, name in real.items():
        if folder in path.parents:
            rest = path.parent.relative_to(folder).parts
            return ".".join((name, *rest))
    return ".".join(path.parent.relative_to(ROOT).parts)


def _imports(path: Path, package: str | None = None) -> Iterator[tuple[str, int, bool]]:
    """(absolute module, line, inside a function) of every import of ``path`` (``package``: the
    one its relative imports start from, when it is not where the file lies)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function |= {id(n) for n in ast.walk(node) if n is not node}
    package = package or _package_of(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in in_function
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            if node.module:  # `from petition_hub import metrics` names a module too
                names += [f"{module}.{a.name}" for a in node.names]
            for name in names:
                yield name, node.lineno, id(node) in in_function


def _first_party(name: str) -> bool:
    return name == "petition_hub" or name.startswith("petition_hub.")


def _is_under(name: str, modules: tuple[str, ...]) -> bool:
    return any(
        name == f"petition_hub.{m}" or name.startswith(f"petition_hub.{m}.") for m in modules
    )


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_the_layers_exist() -> None:
    for layer in LAYERS:
        assert list(_files(layer)), f"no source found for the {layer} layer"


def test_the_domain_is_pure() -> None:
    found = []
    for path in _files("domain"):
        for name, line, _ in _imports(path):
            outside = _first_party(name) and not _is_under(name, ("domain", "data"))
            if name != "petition_hub" and (outside or name.split(".")[0] in IO_LIBRARIES):
                found.append(f"{_where(path, line)} imports {name}")
    assert found == [], "the domain imports outside itself and its data:\n" + "\n".join(found)


def test_the_connectors_are_pure_decoders() -> None:
    allowed = ("domain", "data", "connectors", "schemas")
    found = [
        f"{_where(path, line)} imports {name}"
        for path in _files("connectors")
        for name, line, _ in _imports(path)
        if _first_party(name) and name != "petition_hub" and not _is_under(name, allowed)
    ]
    assert found == [], "connectors import outside the pure core:\n" + "\n".join(found)


@pytest.mark.parametrize("layer", WORKER_LAYERS)
def test_nothing_the_worker_runs_imports_ops_or_devtools(layer: str) -> None:
    found = [
        f"{_where(path, line)} imports {name}"
        for path in _files(layer)
        for name, line, _ in _imports(path)
        if _is_under(name, OPS + DEVTOOLS)
    ]
    assert found == [], f"the {layer} layer needs operator or developer tools:\n" + "\n".join(found)


@pytest.mark.parametrize("layer", WORKER_LAYERS)
def test_no_project_import_hides_in_a_function(layer: str) -> None:
    found = [
        f"{_where(path, line)} imports {name} inside a function"
        for path in _files(layer)
        for name, line, inside in _imports(path)
        if inside and _first_party(name)
    ]
    assert found == [], "imports that dodge a cycle:\n" + "\n".join(found)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The rules above can fail: a planted import of each kind is found."""
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import faust\nfrom petition_hub.ops import cli\n\ndef f():\n    from ..stage import x\n"
    )
    names = {(n, inside) for n, _, inside in _imports(planted, "petition_hub.domain")}
    assert ("faust", False) in names
    assert ("petition_hub.ops.cli", False) in names
    assert ("petition_hub.stage", True) in names


def test_every_package_is_in_the_wheel() -> None:
    """pyproject lists the packages by hand (the links to agents/, connectors/, schemas/ need
    it): a package missing there is missing from every non-editable install."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in PACKAGE.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    found |= {
        f"petition_hub.{link}.{'.'.join(i.parent.relative_to(ROOT / link).parts)}".rstrip(".")
        for link in ("agents", "connectors", "schemas")
        for i in (ROOT / link).rglob("__init__.py")
    }
    assert sorted(found - listed) == [], "packages missing from pyproject's list"
    # a data folder without __init__.py (petition_hub.data.samples) is listed for its files
    missing = [p for p in listed - found if not (ROOT / p.replace(".", "/")).is_dir()]
    assert missing == [], "pyproject lists packages that do not exist"


#: The project's Kafka client libraries, and nothing else: aiokafka (the stream runtime, faust's
#: driver) and confluent-kafka (the tools, topic admin, the Schema Registry). One more would be a
#: third place that builds client configurations (logins, partitioner, sizes).
KAFKA_CLIENTS = {"aiokafka": "aiokafka", "confluent-kafka": "confluent_kafka"}
#: Other Kafka client libraries: distribution name -> top-level module.
OTHER_KAFKA_CLIENTS = {
    "kafka-python": "kafka",
    "kafka-python-ng": "kafka",
    "pykafka": "pykafka",
    "kafka3": "kafka3",
}


def test_two_kafka_client_libraries_at_most() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
    ]
    named = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}
    assert named & OTHER_KAFKA_CLIENTS.keys() == set(), "another Kafka client in pyproject.toml"
    assert KAFKA_CLIENTS.keys() <= named
    modules = set(OTHER_KAFKA_CLIENTS.values())
    sources = [
        path
        for folder in (
            PACKAGE,
            ROOT / "agents",
            ROOT / "connectors",
            ROOT / "schemas",
            ROOT / "tests",
        )
        for path in sorted(folder.rglob("*.py"))
    ]
    found = [
        f"{_where(path, line)} imports {name}"
        for path in sources
        for name, line, _ in _imports(path, "petition_hub")
        if name.split(".")[0] in modules
    ]
    assert found == [], "another Kafka client library imported:\n" + "\n".join(found)
