"""Default stylize pipeline over the server vs the stylize model alone (see bridge/bench/pipeline.py).

Run: `.venv/bin/python benchmarks/bench_pipeline.py [--json]` (same as `machinima-bridge bench pipeline`).
"""

from __future__ import annotations

import sys

from bridge.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "pipeline", *sys.argv[1:]]))
