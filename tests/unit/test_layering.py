"""realtime_models/ and mocap/ are pure model code: they must never import bridge/."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_model_packages_do_not_import_bridge():
    offenders = []
    files = [p for pkg in ("realtime_models", "mocap") for p in (ROOT / pkg).rglob("*.py")]
    assert any(p.parent.name == "realtime_models" for p in files)
    for path in files:
        bad = {m for m in _imported_modules(path) if m == "bridge" or m.startswith("bridge.")}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []
