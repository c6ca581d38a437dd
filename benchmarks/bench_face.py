"""Face swap per-frame cost (landmark swapper, 640x480, one face): see bridge/bench/face.py.

Run: `.venv/bin/python benchmarks/bench_face.py [--json] [--frames N]`.
"""

from __future__ import annotations

import sys

from bridge.bench.face import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
