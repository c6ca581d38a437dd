"""Mocap parse costs (MVN datagram, VMC frame, MOCAP pose wire), each beside a baseline.

Run: `.venv/bin/python benchmarks/bench_mocap_parse.py [--number N]`; prints one JSON object
(see mocap/parse_benchmark.py for every key). Target: `mvn_parse_us` under 50.
"""

from __future__ import annotations

import argparse
import json
import sys

from mocap.parse_benchmark import measure_parse_costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per timing repeat (default 2000)")
    args = parser.parse_args(argv)
    figures = measure_parse_costs(args.number)
    print(json.dumps(figures, indent=2))
    return 0 if figures["mvn_parse_us"] < figures["mvn_target_us"] else 1


if __name__ == "__main__":
    sys.exit(main())
