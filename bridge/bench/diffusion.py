"""Streaming diffusion: time per frame outside the networks, network time, and a flicker metric.

Run: ``.venv/bin/python benchmarks/bench_diffusion.py [--json]`` (the lead wires the same function,
:func:`run_diffusion_bench`, into ``machinima-bridge bench diffusion``).

Without ``--model`` it writes tiny random SD-family models to a temp folder
and runs them on the CPU: the network times are then meaningless, but the
time spent outside the UNet/VAE/ControlNet calls (uploads, conversions,
scheduling, buffers, depth conditioning) is the real overhead of the
algorithm at that resolution.  Each frame's overhead is its wall time minus
the time inside the network calls (``TimedBackend``; on a GPU it
synchronises around each call so the split is exact); medians are reported
so a busy machine does not skew them.

Flicker: mean absolute difference (0..255 levels) between consecutive
outputs on a slowly panning input, with the steadiness options off and on.
With random weights the networks do not remove the noise they are given,
so the latent blend feeds leftover noise back; the numbers show what the
options do to such a model, and a real model must be measured on a GPU
with real weights (``--model ...``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


import cv2
import numpy as np
import torch

from realtime_models.stream_diffusion.diffusion_stream import DiffusionSettings
from realtime_models.stream_diffusion.model_loading import ControlNetFile, DiffusionModelFiles
from realtime_models.stream_diffusion.stream_builder import BackendOptions, open_diffusion_stream
from realtime_models.stream_diffusion.tiny_models import write_tiny_models


def slow_pan_frames(count: int, width: int, height: int, speed_px: float = 0.5, seed: int = 0) -> list[np.ndarray]:
    """A smooth random texture panning right by ``speed_px`` per frame."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, (height // 16 + 2, (width + int(count * speed_px)) // 16 + 3, 3)).astype(np.float32)
    big = cv2.resize(cells, (cells.shape[1] * 16, cells.shape[0] * 16), interpolation=cv2.INTER_CUBIC)
    out = []
    for i in range(count):
        shift = np.float32([[1, 0, -i * speed_px], [0, 1, 0]])
        out.append(np.clip(cv2.warpAffine(big, shift, (width, height), flags=cv2.INTER_LINEAR), 0, 255).astype(np.uint8))
    return out


def _depth_plane(width: int, height: int) -> np.ndarray:
    y = np.linspace(1.0, 12.0, height, dtype=np.float32)[:, None]
    return np.repeat(y, width, axis=1) + np.linspace(0, 1, width, dtype=np.float32)[None, :]


def _time_frames(opened: Any, frames: list[np.ndarray], depth: np.ndarray | None, warmup: int) -> dict[str, float]:
    stream, backend = opened.stream, opened.backend
    wall, overhead = [], []
    per_kind: dict[str, list[float]] = {"unet": [], "encode": [], "decode": [], "controlnet": []}
    sync = backend.device.type == "cuda"
    for i, frame in enumerate(frames):
        backend.times.reset()
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter_ns()
        result = stream.process(frame, depth)
        if sync:
            torch.cuda.synchronize()
        elapsed_ms = (time.perf_counter_ns() - t0) / 1e6
        if i < warmup or result.image is None:
            continue
        wall.append(elapsed_ms)
        overhead.append(elapsed_ms - backend.times.total_ms)
        for kind in per_kind:
            per_kind[kind].append(backend.times.ms[kind])
    med = statistics.median
    return {
        "overhead_ms_per_frame": round(med(overhead), 3),
        "overhead_ms_p90": round(sorted(overhead)[int(0.9 * (len(overhead) - 1))], 3),
        "overhead_ms_min": round(min(overhead), 3),  # least disturbed by other processes on a busy machine
        "unet_ms_per_frame": round(med(per_kind["unet"]), 3),
        "vae_encode_ms_per_frame": round(med(per_kind["encode"]), 3),
        "vae_decode_ms_per_frame": round(med(per_kind["decode"]), 3),
        "controlnet_ms_per_frame": round(med(per_kind["controlnet"]), 3),
        "total_ms_per_frame": round(med(wall), 3),
        "fps": round(1000.0 / med(wall), 2),
        "frames_measured": len(wall),
    }


def _flicker(opened: Any, frames: list[np.ndarray], settings: DiffusionSettings) -> float:
    stream = opened.stream
    stream.configure(settings)
    stream.reset()
    outputs = [r.image.astype(np.float32) for r in (stream.process(f) for f in frames) if r.image is not None]
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(outputs, outputs[1:])]))


def run_diffusion_bench(width: int = 512, height: int = 512, frames: int = 12, steps: tuple[int, ...] = (1, 2),
                        device: str = "auto", model: str | None = None, tiny_vae: str | None = None,
                        controlnet_depth: str | None = None, backend: str = "torch", onnx_dir: str | None = None,
                        flicker_px: int = 128, flicker_frames: int = 24, threads: int | None = None) -> dict[str, Any]:
    """Measure overhead, network time and fps per configuration, and the flicker metric; returns a dict."""
    if threads:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="bench-diffusion-") as tmp:
        tiny = model is None
        if tiny:
            paths = write_tiny_models(Path(tmp), controlnet_kinds=("depth",))
            model, tiny_vae, controlnet_depth = str(paths.model_dir), str(paths.tiny_vae_dir), str(paths.controlnet_dirs["depth"])
        files = DiffusionModelFiles(Path(model), tiny_vae=Path(tiny_vae) if tiny_vae else None,
                                    controlnets=(ControlNetFile(Path(controlnet_depth), "depth"),) if controlnet_depth else ())
        options = BackendOptions(backend=backend, device=device, onnx_dir=Path(onnx_dir) if onnx_dir else None,
                                 timed=True)
        base = DiffusionSettings(process_long_side_px=max(width, height), prompt="a castle in the fog, oil painting",
                                 strength=0.5, cfg_type="none", controlnet_scales=(0.0,) if controlnet_depth else ())
        opened = open_diffusion_stream(files, options, base)
        clip = slow_pan_frames(frames + 2, width, height, speed_px=2.0)
        depth = _depth_plane(width, height)
        configs: dict[str, Any] = {}
        for n in steps:
            opened.stream.configure(replace(base, steps=n))
            opened.stream.reset()
            configs[f"{n}step"] = _time_frames(opened, clip, None, warmup=2)
            if controlnet_depth:
                opened.stream.configure(replace(base, steps=n, controlnet_scales=(1.0,)))
                opened.stream.reset()
                configs[f"{n}step_depth_controlnet"] = _time_frames(opened, clip, depth, warmup=2)
        slow = slow_pan_frames(flicker_frames, flicker_px, flicker_px, speed_px=0.5, seed=1)
        flicker_base = replace(base, process_long_side_px=flicker_px, steps=2, cfg_type="self", guidance_scale=1.2,
                               controlnet_scales=(0.0,) if controlnet_depth else ())
        flicker = {
            "input": round(float(np.mean([np.abs(a.astype(np.float32) - b).mean() for a, b in zip(slow, slow[1:])])), 3),
            "steadiness_off": round(_flicker(opened, slow, flicker_base), 3),
            "latent_blend_0.5": round(_flicker(opened, slow, replace(flicker_base, steadiness=0.5)), 3),
            "noise_damping_0.8": round(_flicker(opened, slow, replace(flicker_base, motion_noise_damping=0.8)), 3),
            "blend_0.3_damping_0.8": round(_flicker(opened, slow, replace(flicker_base, steadiness=0.3,
                                                                          motion_noise_damping=0.8)), 3),
        }
        first = configs[f"{steps[0]}step"]
        return {
            "overhead_ms_per_frame": first["overhead_ms_per_frame"],
            "unet_ms_per_frame": first["unet_ms_per_frame"],
            "overhead_target_ms": 2.0,
            "resolution": f"{width}x{height}",
            "models": "tiny random (CPU overhead measurement)" if tiny else model,
            "backend": backend,
            "device": str(opened.backend.device),
            "torch_threads": torch.get_num_threads(),
            "configs": configs,
            "flicker_mean_abs_diff": flicker,
            "flicker_settings": "steps 2, cfg self (guidance 1.2), strength 0.5, 0.5 px/frame pan at "
                                f"{flicker_px}x{flicker_px}",
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options, for the command lines that run it."""
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", help="real weights: diffusers SD folder (default: tiny random models)")
    parser.add_argument("--tiny-vae")
    parser.add_argument("--controlnet-depth")
    parser.add_argument("--backend", default="torch", choices=["torch", "onnxruntime", "tensorrt"])
    parser.add_argument("--onnx-dir")
    parser.add_argument("--threads", type=int, default=None)


def run_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return run_diffusion_bench(args.width, args.height, args.frames, tuple(args.steps), args.device, args.model,
                               args.tiny_vae, args.controlnet_depth, args.backend, args.onnx_dir,
                               threads=args.threads)


def format_report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['resolution']} on {result['device']} ({result['models']}), backend {result['backend']}",
        f"{'config':28s} {'overhead ms':>11s} {'min':>7s} {'p90':>7s} {'unet ms':>9s} {'enc ms':>8s} {'dec ms':>8s} "
        f"{'cnet ms':>8s} {'total ms':>9s} {'fps':>7s}",
    ]
    for name, c in result["configs"].items():
        lines.append(
            f"{name:28s} {c['overhead_ms_per_frame']:11.3f} {c['overhead_ms_min']:7.3f} {c['overhead_ms_p90']:7.3f} "
            f"{c['unet_ms_per_frame']:9.2f} {c['vae_encode_ms_per_frame']:8.2f} {c['vae_decode_ms_per_frame']:8.2f} "
            f"{c['controlnet_ms_per_frame']:8.2f} {c['total_ms_per_frame']:9.2f} {c['fps']:7.2f}")
    lines.append(f"flicker (mean abs diff of consecutive outputs, {result['flicker_settings']}):")
    lines += [f"  {name:24s} {value:8.3f}" for name, value in result["flicker_mean_abs_diff"].items()]
    return "\n".join(lines)
