"""Bridge round trip vs raw pyzmq round trip of the same bytes (see bridge/bench/transport.py).

Run: `.venv/bin/python benchmarks/bench_transport.py [--json]` (same as `machinima-bridge bench transport`).
"""

from __future__ import annotations

import sys

from bridge.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "transport", *sys.argv[1:]]))
