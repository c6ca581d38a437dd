"""Face swap per-frame cost (landmark swapper, 640x480, one face): see bridge/bench/face.py.

Run: `.venv/bin/python benchmarks/bench_face.py [--json] [--frames N]` (same as `machinima-bridge bench face`).
"""

from __future__ import annotations

import argparse
import json
import sys

from bridge.bench.face import add_arguments, format_report, run_from_args

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_arguments(parser)
    args = parser.parse_args()
    result = run_from_args(args)
    print(json.dumps(result) if args.json else format_report(result))
    sys.exit(0 if result["within_target"] else 1)
