"""Streaming diffusion per-frame overhead and flicker on CPU with tiny models: see bridge/bench/diffusion.py.

Run: `HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_diffusion.py [--json]` (same as `machinima-bridge bench diffusion`).
"""

from __future__ import annotations

import sys

from bridge.bench.diffusion import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
