"""Markerless body capture and face capture per 640x480 frame, each beside the bare MediaPipe call.

Run: `.venv/bin/python benchmarks/bench_markerless.py [--frames N] [--json]`. Prints
``webcam_pose_ms`` (MediaPipe Pose + conversion to bone rotations, smoothing, root motion) next
to ``mediapipe_pose_ms`` (the bare graph call on the same frames), the conversion alone, and the
same three figures for face capture; see `mocap/markerless/benchmark.py` for how they are
measured. Target: ``webcam_pose_ms`` under 40 on this CPU. Exit status 1 when it is missed.
"""

from __future__ import annotations

import argparse
import json
import sys

from mocap.markerless.benchmark import measure_markerless_costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="timed frames per measurement (default 60)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed frames first (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = measure_markerless_costs(args.frames, args.warmup)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:26s} {value}")
    return 0 if float(figures["webcam_pose_ms"]) < float(figures["webcam_pose_target_ms"]) else 1


if __name__ == "__main__":
    sys.exit(main())
