"""The packages of reference_impl import downwards only: no cycle, and the protocols need no engine."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "reference_impl"
#: Bottom to top, as reference_impl/__init__.py lists them; a module may import its own layer and those below.
LAYERS = ("config", "protocols", "data", "models", "engine", "network", "distributed", "flower", "workload", "studies",
          "cli", "commands")


def _layer(module: str) -> str:
    return module.split(".")[1]


def _imports() -> dict[str, set[str]]:
    """Every reference_impl module and the reference_impl modules it imports (anywhere in its body)."""
    found: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reference_impl"):
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names if alias.name.startswith("reference_impl"))
        found[module] = names
    return {module: {name for name in names if name in found and name != module} for module, names in found.items()}


IMPORTS = _imports()


@pytest.mark.parametrize("module", sorted(m for m in IMPORTS if m != "reference_impl"))
def test_a_module_imports_only_its_own_layer_and_those_below(module: str) -> None:
    rank = LAYERS.index(_layer(module))
    above = sorted(name for name in IMPORTS[module] if name != "reference_impl" and LAYERS.index(_layer(name)) > rank)
    assert not above, f"{module} imports {above} from a layer above its own"


def test_no_module_imports_itself_back_through_others() -> None:
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for name in IMPORTS[start]:
            if name == goal or (name not in seen and (seen.add(name) or reaches(name, goal, seen))):
                return True
        return False

    assert [m for m in IMPORTS if reaches(m, m, set())] == []


def test_every_layer_is_a_package_or_module_that_exists() -> None:
    assert {_layer(m) for m in IMPORTS if m != "reference_impl"} == set(LAYERS)
