"""The code's shape (issue 12), checked on the source: no module over 600 lines (data tables
aside) and no function over 80 lines. Complexity (at most 25 per function) is ruff's C901, in
pyproject and tests/test_quality.py."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The project's own Python source: the package and the fixed top-level folders it links to
#: (read once, through the real folders), and the tests.
SOURCES = (ROOT / "petition_hub", ROOT / "agents", ROOT / "connectors", ROOT / "schemas")
LINKS = {ROOT / "petition_hub" / name for name in ("agents", "connectors", "schemas")}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules() -> Iterator[Path]:
    for folder in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            if not any(link in path.parents for link in LINKS):
                yield path


def _long_functions(path: Path, limit: int) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                yield f"{name}:{node.lineno} {node.name} has {length} lines"


def test_the_sources_are_found() -> None:
    found = list(_modules())
    assert len(found) > 50, f"expected the project's modules, found {len(found)}"


def test_no_module_is_over_600_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)} has {lines} lines"
        for path in _modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert long == [], f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)


def test_no_function_is_over_80_lines() -> None:
    long = [line for path in _modules() for line in _long_functions(path, MAX_FUNCTION_LINES)]
    assert long == [], f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_the_checker_sees_a_long_function(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("def f() -> None:\n" + "    x = 1\n" * 90)
    assert [line.split(" ", 1)[1] for line in _long_functions(planted, MAX_FUNCTION_LINES)] == [
        "f has 91 lines"
    ]
