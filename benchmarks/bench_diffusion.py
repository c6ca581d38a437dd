"""Streaming diffusion per-frame overhead and flicker on CPU with tiny models: see bridge/bench/diffusion.py.

Run: `HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_diffusion.py [--json]` (same as `machinima-bridge bench diffusion`).
"""

from __future__ import annotations

import argparse
import json
import logging

from bridge.bench.diffusion import add_arguments, format_report, run_from_args

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run_from_args(args)
    print(json.dumps(result) if args.json else format_report(result))
