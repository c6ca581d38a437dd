"""Take names on both sides of the server's rule (``bridge.takes.layout.check_take_name``), for the plugin tests.

The C# and C++ plugins check a take name before sending it; their verdicts must equal the server's on every
case here: edges (length 128/129, leading punctuation, a trailing newline), Unicode look-alikes, and random
names from an alphabet that mixes allowed and refused characters.
"""

from __future__ import annotations

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
