"""Where TensorRT engines are kept, and what makes two engines interchangeable.

An engine is only valid for the exact graph it was built from, the shape
ranges of its optimisation profile, its precision, the TensorRT version
that built it and the GPU it was built on.  All of that goes into the cache
key, so changing any of them builds a new engine instead of loading a wrong
one (TensorRT refuses engines from another version, and an engine tuned on
one GPU may not run, or run slowly, on another).

This module is pure Python (no TensorRT import), so the key rules are
tested everywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

ENGINE_SUFFIX = ".engine"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_") or "unknown"


@dataclass(frozen=True)
class EngineSpec:
    graph: str  # unet, vae_encoder, vae_decoder, controlnet_0, ...
    model_sha256: str  # of the ONNX graph (and its external data)
    min_px: int
    opt_px: int
    max_px: int
    min_batch: int
    opt_batch: int
    max_batch: int
    precision: str  # fp16 or fp32
    tensorrt_version: str
    gpu_name: str

    def __post_init__(self) -> None:
        if self.precision not in ("fp16", "fp32"):
            raise ValueError(f"precision must be fp16 or fp32, got {self.precision!r}")
        if not self.min_px <= self.opt_px <= self.max_px:
            raise ValueError(f"need min_px <= opt_px <= max_px, got {self.min_px}, {self.opt_px}, {self.max_px}")
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ValueError(f"need 1 <= min_batch <= opt_batch <= max_batch, got "
                             f"{self.min_batch}, {self.opt_batch}, {self.max_batch}")

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def key(self) -> str:
        """A readable, unique file stem: every field that makes the engine what it is, plus a digest of all."""
        return (f"{_slug(self.graph)}-{self.model_sha256[:12]}-{self.min_px}-{self.opt_px}-{self.max_px}px-"
                f"b{self.min_batch}-{self.opt_batch}-{self.max_batch}-{self.precision}-trt{_slug(self.tensorrt_version)}-"
                f"{_slug(self.gpu_name)}-{self.digest()}")


def engine_path(cache_dir: Path | str, spec: EngineSpec) -> Path:
    return Path(cache_dir) / (spec.key() + ENGINE_SUFFIX)


def write_spec_sidecar(path: Path, spec: EngineSpec) -> Path:
    """A JSON file beside the engine saying what it was built for (for people and ``models build-trt --list``)."""
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps(asdict(spec), indent=2) + "\n", encoding="utf-8")
    return sidecar


def cached_specs(cache_dir: Path | str) -> list[EngineSpec]:
    """Every engine in the cache that has a readable sidecar."""
    out = []
    for sidecar in sorted(Path(cache_dir).glob("*.json")):
        try:
            spec = EngineSpec(**json.loads(sidecar.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
        if sidecar.with_suffix(ENGINE_SUFFIX).is_file():
            out.append(spec)
    return out
