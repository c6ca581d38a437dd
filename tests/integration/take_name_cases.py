"""Take names on both sides of the server's rule (``bridge.takes.layout.check_take_name``), for the plugin tests.

The C# and C++ plugins check a take name before sending it; their verdicts must equal the server's on every
case here: edges (length 128/129, leading punctuation, a trailing newline), Unicode look-alikes, and random
names from an alphabet that mixes allowed and refused characters.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bridge.takes.layout import check_take_name


def take_name_cases() -> list[str]:
    rng = np.random.default_rng(5)
    alphabet = "aZ09._- /\\:\n\t\u00e9\u0661\uff21"
    names = ["scene-4", "a", "7", "Take_01.v2", "x..", "z-", "a" * 128, "a" * 129, "", ".hidden", "-x", "_x",
             "scene 4", "a/b", "a\\b", "a\n", "\na", "caf\u00e9", "\u0661", "\uff21bc", "..", "a\x00b", "CON",
             "take-\U0001f3ac"]
    names += ["".join(rng.choice(list(alphabet), size=int(rng.integers(1, 12)))) for _ in range(200)]
    return names


def server_accepts_take_name(name: str) -> bool:
    try:
        check_take_name(name)
    except ValueError:
        return False
    return True


def write_names_hex(path: Path, names: list[str]) -> Path:
    """The names as UTF-8 hex, one per line (how the C# and C++ checkers read them)."""
    path.write_text("".join(n.encode("utf-8").hex() + "\n" for n in names), encoding="ascii")
    return path


def assert_verdicts_match_the_server(names: list[str], stdout: str, plugin: str) -> None:
    """Each JSON line a checker printed (``hex``, ``valid``, ``problem``) agrees with the server on its name."""
    verdicts = [json.loads(line) for line in stdout.splitlines()]
    assert len(verdicts) == len(names)
    accepted = 0
    for name, verdict in zip(names, verdicts):
        assert verdict["hex"] == name.encode("utf-8").hex()
        want = server_accepts_take_name(name)
        assert verdict["valid"] is want, (
            f"{name!r}: {plugin} says {verdict['problem']!r}, the server {'accepts' if want else 'refuses'} it")
        if not want:
            assert "letters, digits, '.', '_' or '-'" in verdict["problem"], verdict["problem"]
        accepted += want
    assert 10 <= accepted <= len(names) - 10, "the cases must cover both verdicts"
