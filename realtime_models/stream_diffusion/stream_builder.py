"""Assemble a :class:`DiffusionStream` from local model files and a backend choice.

``torch``        loads every network from the model files.
``onnxruntime``  runs the graphs of an export folder (``models export``); only the
                 text encoder and tokenizer are loaded from the model files.
``tensorrt``     builds (or takes from the cache) engines for the graphs of an
                 export folder; text encoder and tokenizer as above.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from realtime_models.onnx_runtime_session import ModelFileError
from realtime_models.stream_diffusion.backend import (
    BACKEND_NAMES,
    DiffusionBackend,
    TimedBackend,
    TorchBackend,
    resolve_device,
    resolve_dtype,
)
from realtime_models.stream_diffusion.diffusion_stream import DiffusionSettings, DiffusionStream
from realtime_models.stream_diffusion.model_loading import (
    DiffusionModelFiles,
    LoadedDiffusionModels,
    load_diffusion_models,
    load_single_file,
    load_text_encoder,
    load_tokenizer,
)
from realtime_models.stream_diffusion.prompt_travel import PromptEncoder
from realtime_models.stream_diffusion.schedule import LcmSchedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendOptions:
    backend: str = "torch"
    device: str = "auto"  # torch: auto/cpu/cuda; onnxruntime: auto/cpu/cuda/tensorrt
    dtype: str = "auto"
    channels_last: bool = False
    compile_unet: bool = False
    onnx_dir: Path | None = None
    engine_cache_dir: Path | None = None
    min_px: int = 384
    opt_px: int = 512
    max_px: int = 1024
    cuda_graphs: bool = False
    threads: int | None = None
    timed: bool = False  # wrap in TimedBackend (benchmarks)

    def __post_init__(self) -> None:
        if self.backend not in BACKEND_NAMES:
            raise ValueError(f"backend {self.backend!r} is not one of {', '.join(BACKEND_NAMES)}")
        if self.backend in ("onnxruntime", "tensorrt") and self.onnx_dir is None:
            raise ValueError(f"the {self.backend} backend needs onnx_dir: a folder made by 'machinima-bridge models export'")


def _text_side(files: DiffusionModelFiles) -> tuple[object, object]:
    """Tokenizer and text encoder only (the other networks come from ONNX/TensorRT)."""
    model = Path(files.model)
    if model.is_file() or model.suffix == ".safetensors":
        _, text_encoder, tokenizer, _ = load_single_file(model, files.model_config)
        return tokenizer, text_encoder
    if not model.is_dir():
        raise ModelFileError(model, "a diffusers Stable Diffusion folder (for its text encoder and tokenizer)",
                             "no such folder")
    return load_tokenizer(model / "tokenizer"), load_text_encoder(model / "text_encoder")


@dataclass
class OpenedStream:
    stream: DiffusionStream
    backend: DiffusionBackend
    models: LoadedDiffusionModels | None  # the torch modules when the torch backend runs them


def open_diffusion_stream(files: DiffusionModelFiles, options: BackendOptions = BackendOptions(),
                          settings: DiffusionSettings | None = None) -> OpenedStream:
    """Load, build the backend and return a ready :class:`DiffusionStream` (ModelFileError names bad paths)."""
    models: LoadedDiffusionModels | None = None
    if options.backend == "torch":
        device = resolve_device(options.device)
        dtype = resolve_dtype(options.dtype, device)
        models = load_diffusion_models(files, dtype)
        backend: DiffusionBackend = TorchBackend(models, device, dtype, options.channels_last, options.compile_unet)
        tokenizer, text_encoder, scheduler_config = models.tokenizer, models.text_encoder, models.scheduler_config
        kinds = models.controlnet_kinds
    else:
        tokenizer, text_encoder = _text_side(files)
        if options.backend == "onnxruntime":
            from realtime_models.stream_diffusion.onnxruntime_backend import OnnxRuntimeBackend

            backend = OnnxRuntimeBackend(options.onnx_dir, options.device, options.threads,  # type: ignore[arg-type]
                                         trt_cache_dir=options.engine_cache_dir, trt_fp16=options.dtype != "fp32")
        else:
            from realtime_models.stream_diffusion.tensorrt_backend import TensorRTBackend

            backend = TensorRTBackend(options.onnx_dir, options.engine_cache_dir,  # type: ignore[arg-type]
                                      options.min_px, options.opt_px, options.max_px, fp16=options.dtype != "fp32",
                                      cuda_graphs=options.cuda_graphs)
        manifest = backend.manifest  # type: ignore[attr-defined]
        wanted = [c.kind for c in files.controlnets]
        if wanted and wanted != list(manifest.controlnet_kinds):
            raise ModelFileError(Path(options.onnx_dir or "."), f"an export with ControlNets {wanted}",
                                 f"it was exported with {list(manifest.controlnet_kinds)}")
        kinds = list(manifest.controlnet_kinds)
        scheduler_config = dict(manifest.scheduler_config)  # the schedule the graphs were exported with
    if options.timed:
        backend = TimedBackend(backend, synchronize=True)
    text_dtype = backend.dtype if backend.device.type == "cuda" else torch.float32
    prompt_encoder = PromptEncoder(tokenizer, text_encoder.to(dtype=text_dtype), backend.device, backend.dtype)
    stream = DiffusionStream(backend, prompt_encoder, LcmSchedule(scheduler_config), kinds, settings,
                             size_multiple_px=backend.size_multiple_px)
    return OpenedStream(stream, backend, models)

