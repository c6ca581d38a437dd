"""``machinima-bridge models ...``: export diffusion networks to ONNX, build TensorRT engines, write tiny models.

  models export     --model PATH [--model-config DIR] [--tiny-vae DIR] [--controlnet KIND=DIR ...]
                    [--lora FILE] --out DIR [--min-px/--opt-px/--max-px] [--max-batch N]
                    [--device cpu|cuda] [--dtype fp32|fp16] [--verify]
  models build-trt  --onnx-dir DIR [--cache-dir DIR] [--min-px/--opt-px/--max-px] [--max-batch N]
                    [--fp32] [--list]
  models make-tiny  --out DIR   (tiny random SD-family models for smoke tests and CPU benchmarks)

The lead wires these in with ``add_subcommands(subparsers)``.  Every
command returns an exit code: 0 done, 2 bad input (the message names the
file or value), 1 the work itself failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)



def _say(*parts: object, file: object = None) -> None:
    """Command output (this module is the ``models`` command line): stdout, or ``file``."""
    (file or sys.stdout).write(" ".join(str(p) for p in parts) + "\n")  # type: ignore[union-attr]

def _controlnet_arg(text: str) -> tuple[str, Path]:
    kind, sep, path = text.partition("=")
    if not sep or kind not in ("depth", "pose") or not path:
        raise argparse.ArgumentTypeError(f"--controlnet wants KIND=FOLDER with KIND depth or pose, got {text!r}")
    return kind, Path(path)


def _files_from(args: argparse.Namespace) -> Any:
    from realtime_models.stream_diffusion.model_loading import ControlNetFile, DiffusionModelFiles

    return DiffusionModelFiles(
        model=Path(args.model), model_config=Path(args.model_config) if args.model_config else None,
        tiny_vae=Path(args.tiny_vae) if args.tiny_vae else None,
        controlnets=tuple(ControlNetFile(path, kind) for kind, path in (args.controlnet or [])),
        lora=Path(args.lora) if args.lora else None, lora_scale=args.lora_scale, fuse_lora=True,
    )


def run_export(args: argparse.Namespace) -> int:
    import torch

    from realtime_models.onnx_runtime_session import ModelFileError
    from realtime_models.stream_diffusion.backend import TorchBackend, compare_backends
    from realtime_models.stream_diffusion.model_loading import load_diffusion_models
    from realtime_models.stream_diffusion.onnx_export import ExportOptions, export_models

    dtype = torch.float16 if args.dtype == "fp16" else torch.float32
    if dtype == torch.float16 and args.device != "cuda":
        _say("error: --dtype fp16 export needs --device cuda (CPU convolutions have no fp16); export fp32 and let "
              "build-trt make fp16 engines", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        _say("error: --device cuda asked for, but torch sees no CUDA GPU", file=sys.stderr)
        return 2
    files = _files_from(args)
    try:
        models = load_diffusion_models(files, torch.float32)
        options = ExportOptions(args.min_px, args.opt_px, args.max_px, args.max_batch, args.opset, args.device, dtype)
        manifest = export_models(models, Path(args.out), options, {
            "model": str(files.model), "model_config": str(files.model_config) if files.model_config else None,
            "tiny_vae": str(files.tiny_vae) if files.tiny_vae else None, "lora": str(files.lora) if files.lora else None,
        })
    except (ModelFileError, ValueError) as exc:
        _say(f"error: {exc}", file=sys.stderr)
        return 2
    summary: dict[str, Any] = {"out": str(args.out), "graphs": {k: v.file for k, v in manifest.graphs.items()},
                               "size_multiple_px": manifest.size_multiple_px}
    if args.verify:
        from realtime_models.stream_diffusion.onnxruntime_backend import OnnxRuntimeBackend

        reference = TorchBackend(models, args.device, dtype)
        candidate = OnnxRuntimeBackend(Path(args.out), "cpu" if args.device == "cpu" else "cuda")
        side = manifest.size_multiple_px * max(1, 64 // manifest.size_multiple_px)
        diffs = compare_backends(reference, candidate, side, side, int(models.unet.config.cross_attention_dim))
        summary["max_abs_diff"] = diffs
        tolerance = 1e-3 if dtype == torch.float32 else 5e-2
        summary["tolerance"] = tolerance
        if max(diffs.values()) > tolerance:
            _say(json.dumps(summary))
            _say(f"error: ONNX Runtime differs from torch by more than {tolerance}", file=sys.stderr)
            return 1
    _say(json.dumps(summary))
    return 0


def run_build_trt(args: argparse.Namespace) -> int:
    from realtime_models.onnx_runtime_session import ModelFileError
    from realtime_models.stream_diffusion.engine_cache import cached_specs

    cache_dir = Path(args.cache_dir or Path(args.onnx_dir) / "trt_engines")
    if args.list:
        for spec in cached_specs(cache_dir):
            _say(json.dumps(spec.__dict__))
        return 0
    try:
        from realtime_models.stream_diffusion.tensorrt_backend import EngineCache

        cache = EngineCache(args.onnx_dir, cache_dir, args.min_px, args.opt_px, args.max_px, args.max_batch,
                            args.opt_batch, fp16=not args.fp32)
        built = cache.build_all()
    except (ModelFileError, ValueError) as exc:
        _say(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # no GPU / no tensorrt / build failure
        _say(f"error: {exc}", file=sys.stderr)
        return 1
    _say(json.dumps({graph: {"engine": str(path), "built": fresh} for graph, (path, fresh) in built.items()}))
    return 0


def run_make_tiny(args: argparse.Namespace) -> int:
    from realtime_models.stream_diffusion.tiny_models import write_tiny_models

    paths = write_tiny_models(Path(args.out))
    _say(json.dumps({"model": str(paths.model_dir), "tiny_vae": str(paths.tiny_vae_dir),
                      "controlnets": {k: str(v) for k, v in paths.controlnet_dirs.items()}}))
    return 0


def add_subcommands(subparsers: Any) -> None:
    """Add ``models export|build-trt|make-tiny`` to the CLI's subparsers."""
    models = subparsers.add_parser("models", help="diffusion models: ONNX export, TensorRT engines, tiny test models")
    sub = models.add_subparsers(dest="models_command", required=True)

    p = sub.add_parser("export", help="export UNet, VAE encoder/decoder and ControlNets to ONNX (opset 17)")
    p.add_argument("--model", required=True, help="diffusers SD folder or single-file .safetensors")
    p.add_argument("--model-config", help="config+tokenizer folder for a single-file checkpoint")
    p.add_argument("--tiny-vae", help="TAESD (AutoencoderTiny) folder")
    p.add_argument("--controlnet", action="append", type=_controlnet_arg, help="KIND=FOLDER, KIND depth or pose")
    p.add_argument("--lora", help="LoRA .safetensors to fuse before export (e.g. LCM-LoRA)")
    p.add_argument("--lora-scale", type=float, default=1.0)
    p.add_argument("--out", required=True, help="folder for the graphs and export_manifest.json")
    p.add_argument("--min-px", type=int, default=256)
    p.add_argument("--opt-px", type=int, default=512)
    p.add_argument("--max-px", type=int, default=1024)
    p.add_argument("--max-batch", type=int, default=4, help="largest UNet batch (steps x CFG slots)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    p.add_argument("--verify", action="store_true", help="compare ONNX Runtime against torch on random inputs")
    p.set_defaults(func=run_export)

    p = sub.add_parser("build-trt", help="build TensorRT engines for an export folder (NVIDIA GPU)")
    p.add_argument("--onnx-dir", required=True)
    p.add_argument("--cache-dir", help="engine cache (default: ONNX_DIR/trt_engines)")
    p.add_argument("--min-px", type=int, default=384)
    p.add_argument("--opt-px", type=int, default=512)
    p.add_argument("--max-px", type=int, default=1024)
    p.add_argument("--max-batch", type=int, default=None, help="default: the export's max batch")
    p.add_argument("--opt-batch", type=int, default=2)
    p.add_argument("--fp32", action="store_true", help="fp32 engines (default fp16)")
    p.add_argument("--list", action="store_true", help="list the engines in the cache and what each was built for")
    p.set_defaults(func=run_build_trt)

    p = sub.add_parser("make-tiny", help="write tiny random SD-family models (smoke tests, CPU benchmark)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=run_make_tiny)


def main(argv: list[str] | None = None) -> int:
    """The ``models`` commands alone (``machinima-bridge models ...`` is the same); used by the tests."""
    parser = argparse.ArgumentParser(prog="machinima-bridge")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return int(args.func(args))
