"""Face swap per-frame cost on the CPU: the ``landmark`` swapper on a 640x480 frame with one face.

Run: `machinima-bridge bench face [--json]` or `.venv/bin/python benchmarks/bench_face.py [--json] [--frames N]`
(both call this module).

Measured side by side in one run, on the same frames, interleaved (the
astronaut portrait swaying left and right, Grace Hopper as the identity):

* the default settings: detect every 5 frames, track in between;
* the same with the detector run on every frame, to show what tracking saves.

Per-frame means in ms: ``detect_ms`` (full-frame detection, averaged over all
frames, so the every-N saving shows), ``landmarks_ms`` (478-point mesh on the
tracking window), ``swap_ms`` (piecewise-affine warp), ``merge_ms`` (masks,
colour transfer, blend), ``total_ms`` (the whole ``FaceSwapPipeline.process``).
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any

import cv2
import numpy as np

TARGET_TOTAL_MS = 20.0
KEYS = ("detect_ms", "landmarks_ms", "swap_ms", "merge_ms", "total_ms")


def _frames(width: int, height: int, count: int) -> list[np.ndarray]:
    from skimage import data

    portrait = cv2.resize(data.astronaut(), (height, height), interpolation=cv2.INTER_AREA)
    base = np.zeros((height, width, 3), np.uint8)
    x0 = (width - height) // 2
    base[:, x0: x0 + height] = portrait
    return [np.ascontiguousarray(np.roll(base, int(12 * np.sin(i / 6.0)), axis=1)) for i in range(count)]


def _summary(rows: list[dict[str, float]], faces_found: int, detect_interval: int, detector_calls: int) -> dict[str, Any]:
    out: dict[str, Any] = {k: round(statistics.fmean(r[k] for r in rows), 3) for k in KEYS}
    totals = sorted(r["total_ms"] for r in rows)
    out["total_ms_p95"] = round(totals[int(0.95 * (len(totals) - 1))], 3)
    out["fps"] = round(1000.0 / out["total_ms"], 1)
    out["frames"] = len(rows)
    out["faces_per_frame"] = round(faces_found / max(1, len(rows)), 3)
    out["detect_interval"] = detect_interval
    out["detector_calls"] = detector_calls
    return out


def run_face_benchmark(frames: int = 150, width: int = 640, height: int = 480, detect_interval: int = 5,
                       warmup: int = 10) -> dict[str, Any]:
    """Per-frame figures for the landmark swapper (CPU), plus the detect-every-frame baseline beside them.

    The two configurations process the same frames interleaved (A B, B A, ...), so a busy machine slows
    both alike and the ratio between them stays meaningful.
    """
    from realtime_models.face.identity import load_identity
    from realtime_models.face.landmark_swapper import LandmarkSwapper
    from realtime_models.face.merge import MergeSettings
    from realtime_models.face.pipeline import FaceSwapPipeline
    from realtime_models.face.tracking import FaceTracker, TrackerSettings

    pictures = _frames(width, height, frames + warmup)
    identity = load_identity("sample:grace_hopper")
    merge = MergeSettings()
    intervals = (detect_interval, 1)
    pipelines = [FaceSwapPipeline(FaceTracker(TrackerSettings(max_faces=1, detect_interval=n)), LandmarkSwapper())
                 for n in intervals]
    rows: list[list[dict[str, float]]] = [[], []]
    faces = [0, 0]
    try:
        for i, frame in enumerate(pictures):
            for which in ((0, 1) if i % 2 == 0 else (1, 0)):
                result = pipelines[which].process(frame, i / 30.0, [identity], merge)
                if i >= warmup:
                    rows[which].append({k: getattr(result.timings, k) for k in KEYS})
                    faces[which] += len(result.faces)
        summaries = [_summary(rows[j], faces[j], intervals[j], pipelines[j].tracker.detections_run) for j in (0, 1)]
    finally:
        for pipeline in pipelines:
            pipeline.tracker.close()
            pipeline.close()
    tracked, every = summaries
    result: dict[str, Any] = {k: tracked[k] for k in KEYS}
    result.update({
        "total_ms_p95": tracked["total_ms_p95"],
        "fps": tracked["fps"],
        "target_total_ms": TARGET_TOTAL_MS,
        "within_target": tracked["total_ms"] <= TARGET_TOTAL_MS,
        "width": width,
        "height": height,
        "frames": tracked["frames"],
        "faces_per_frame": tracked["faces_per_frame"],
        "detect_interval": detect_interval,
        "detector_calls": tracked["detector_calls"],
        "detect_every_frame": {k: every[k] for k in (*KEYS, "fps")},
        "tracking_speedup": round(every["total_ms"] / tracked["total_ms"], 2),
        "cpu_cores": os.cpu_count(),
        "swapper": "landmark",
    })
    return result


def format_report(r: dict[str, Any]) -> str:
    every = r["detect_every_frame"]
    lines = [
        f"face swap, landmark swapper, {r['width']}x{r['height']}, {r['faces_per_frame']:.2f} faces/frame, "
        f"{r['frames']} frames, {r['cpu_cores']} CPU cores",
        f"{'':24}{'detect every ' + str(r['detect_interval']):>18}{'detect every frame':>20}",
    ]
    for key in KEYS:
        lines.append(f"{key:24}{r[key]:>18.2f}{every[key]:>20.2f}")
    lines.append(f"{'fps':24}{r['fps']:>18.1f}{every['fps']:>20.1f}")
    lines.append(f"tracking between detections is {r['tracking_speedup']:.2f}x faster; p95 total {r['total_ms_p95']:.2f} ms; "
                 f"target {r['target_total_ms']:.0f} ms: {'met' if r['within_target'] else 'MISSED'}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options, for the command lines that run it."""
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--detect-interval", type=int, default=5)


def run_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return run_face_benchmark(args.frames, args.width, args.height, args.detect_interval)
