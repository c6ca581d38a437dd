"""Every message kind and field that docs/protocol.md defines is handled by all three implementations.

The Python protocol (bridge/protocol), the Unity package's C# protocol (engine_plugins/unity/Runtime/Protocol)
and the Unreal plugin's C++17 protocol (engine_plugins/unreal/Source/MachinimaBridge/*/Protocol) all read and
write headers by their wire key names, so each documented key must appear there as a string literal.  The C#
and C++ round-trip tests (tests/integration/test_*_protocol.py) check behaviour; this check catches a field
added to the document and forgotten in one implementation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.protocol.messages import MESSAGE_TYPES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
IMPLEMENTATIONS = {
    "python": [ROOT / "bridge" / "protocol"],
    "csharp": [ROOT / "engine_plugins" / "unity" / "Runtime" / "Protocol"],
    "cpp": [ROOT / "engine_plugins" / "unreal" / "Source" / "MachinimaBridge" / "Public" / "Protocol",
            ROOT / "engine_plugins" / "unreal" / "Source" / "MachinimaBridge" / "Private" / "Protocol"],
}
SUFFIXES = {"python": ".py", "csharp": ".cs", "cpp": (".h", ".cpp")}
# keys whose handling lives outside the header classes (the MOCAP pose layout is read by the pose codecs)
ELSEWHERE = {
    "python": [ROOT / "mocap" / "pose_wire.py"],
    "csharp": [ROOT / "engine_plugins" / "unity" / "Runtime" / "Core"],
    "cpp": [],
}


def _documented() -> dict[str, set[str]]:
    """Kind -> keys, from the field tables of section 6 ("### 6.N KIND ..." then "| # | `key` | ...")."""
    kinds: dict[str, set[str]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^### 6\.\d+ ([A-Z_]+)\b", line)
        if heading:
            current = heading.group(1)
            kinds[current] = set()
            continue
        if line.startswith("## ") and not line.startswith("## 6"):
            current = None
        row = re.match(r"^\|\s*\d+\s*\|\s*`([a-z_0-9]+)`", line)
        if current and row:
            kinds[current].add(row.group(1))
    return kinds


def _source_text(impl: str) -> str:
    texts = []
    for folder in IMPLEMENTATIONS[impl] + ELSEWHERE[impl]:
        paths = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.suffix and p.name.endswith(SUFFIXES[impl]))
        texts += [p.read_text(encoding="utf-8", errors="replace") for p in paths]
    return "\n".join(texts)


def test_the_document_defines_every_python_kind():
    documented = _documented()
    assert set(documented) == set(MESSAGE_TYPES), "docs/protocol.md section 6 and bridge/protocol disagree on the kinds"
    assert all(documented.values()), "a kind's field table was not found"
    assert {"stream", "index", "t_capture_ns", "planes"} <= documented["FRAME"]
    assert {"performer", "t_ns", "root", "bones"} <= documented["MOCAP"]


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
def test_every_documented_kind_and_key_appears_in_each_implementation(impl):
    if not all(folder.exists() for folder in IMPLEMENTATIONS[impl]):
        pytest.fail(f"the {impl} protocol sources are missing: {IMPLEMENTATIONS[impl]}")
    text = _source_text(impl)
    missing = []
    for kind, keys in _documented().items():
        if f'"{kind}"' not in text:
            missing.append(f"kind {kind}")
        missing += [f"{kind}.{key}" for key in sorted(keys) if f'"{key}"' not in text]
    assert missing == [], f"{impl} does not handle: {', '.join(missing)}"
