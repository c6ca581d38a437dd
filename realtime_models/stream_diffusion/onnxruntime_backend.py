"""The exported ONNX graphs under ONNX Runtime: CPU, CUDA or TensorRT execution provider.

Takes and gives torch tensors like every backend.  On the CPU the tensors
go in and out as zero-copy numpy views.  On CUDA the inputs and
preallocated outputs are bound in place (``io_binding``); ONNX Runtime runs
on a dedicated torch stream given to it as ``user_compute_stream`` (not
torch's default stream: ONNX Runtime takes stream handle 0 for "none" and
would silently use a stream of its own), ordered against torch's current
stream with GPU-side waits, and is told not to synchronise after a run, so
the frame's kernels queue back to back with no host sync, as with the
torch backend.  Output shapes are known from the
export manifest (the ControlNet residual shapes follow from the UNet
layout), so outputs are allocated before the run.

The text encoder is not exported: prompts are encoded once per change by
the torch text encoder of the source model (see ``stream_builder``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnxruntime
import torch

from realtime_models.onnx_runtime_session import (
    CPU_PROVIDER,
    CUDA_PROVIDER,
    TENSORRT_PROVIDER,
    ModelFileError,
    available_providers,
    open_session,
)
from realtime_models.stream_diffusion.onnx_export import ExportManifest, residual_names

log = logging.getLogger(__name__)

_NP_DTYPES = {torch.float32: np.float32, torch.float16: np.float16}
ORT_DEVICES = ("auto", "cpu", "cuda", "tensorrt")


def _manifest_dtype(name: str) -> torch.dtype:
    table = {"float32": torch.float32, "float16": torch.float16}
    if name not in table:
        raise ValueError(f"export manifest dtype {name!r} is not float32 or float16")
    return table[name]


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, onnx_dir: Path | str, device: str = "auto", intra_op_threads: int | None = None,
                 trt_cache_dir: Path | str | None = None, trt_fp16: bool = True) -> None:
        self.folder = Path(onnx_dir)
        self.manifest = ExportManifest.read(self.folder)
        available = available_providers()
        if device == "auto":
            device = "cuda" if CUDA_PROVIDER in available and torch.cuda.is_available() else "cpu"
        if device not in ORT_DEVICES:
            raise ValueError(f"unknown onnxruntime device {device!r}; use one of {', '.join(ORT_DEVICES)}")
        if device != "cpu" and not torch.cuda.is_available():
            raise ValueError(f"onnxruntime device {device!r} needs a CUDA GPU that torch can see (tensors live there)")
        self.ort_device = device
        self.device = torch.device("cuda" if device in ("cuda", "tensorrt") else "cpu")
        self.dtype = _manifest_dtype(self.manifest.dtype)
        self._np_dtype = _NP_DTYPES[self.dtype]
        self.layout = self.manifest.unet_layout
        self.latent_channels = self.layout.latent_channels
        self.vae_scale_factor = self.manifest.vae_scale_factor
        self.size_multiple_px = self.manifest.size_multiple_px
        self.controlnet_count = len(self.manifest.controlnet_kinds)
        self._threads = intra_op_threads
        self._trt_cache_dir = Path(trt_cache_dir) if trt_cache_dir else self.folder / "ort_trt_cache"
        self._trt_fp16 = trt_fp16
        self._stream: torch.cuda.Stream | None = None
        self._run_options = onnxruntime.RunOptions()
        if self.device.type == "cuda":
            self._run_options.add_run_config_entry("disable_synchronize_execution_providers", "1")
        self.sessions = {name: self._open(self.folder / info.file) for name, info in self.manifest.graphs.items()}
        self._unet_has_residuals = len(self.manifest.graphs["unet"].inputs) > 3
        self._residual_names = residual_names(self.layout.residual_count)
        self._zeros: dict[tuple, list[torch.Tensor]] = {}

    # ------------------------------------------------------------------ sessions
    def _open(self, path: Path) -> onnxruntime.InferenceSession:
        if self.ort_device == "cpu":
            return open_session(path, "cpu", self._threads)
        if self._stream is None:
            self._stream = torch.cuda.Stream(self.device)
        stream = self._stream.cuda_stream
        cuda_options = {"device_id": self.device.index or 0, "user_compute_stream": str(stream)}
        providers: list[Any] = [(CUDA_PROVIDER, cuda_options), CPU_PROVIDER]
        if self.ort_device == "tensorrt":
            if TENSORRT_PROVIDER not in available_providers():
                raise ValueError(f"onnxruntime device 'tensorrt' needs {TENSORRT_PROVIDER}, which this onnxruntime "
                                 f"build lacks (available: {', '.join(available_providers())})")
            self._trt_cache_dir.mkdir(parents=True, exist_ok=True)
            trt_options = {"device_id": self.device.index or 0, "trt_fp16_enable": self._trt_fp16,
                           "trt_engine_cache_enable": True, "trt_engine_cache_path": str(self._trt_cache_dir),
                           "user_compute_stream": str(stream)}
            providers.insert(0, (TENSORRT_PROVIDER, trt_options))
        if not path.is_file():
            raise ModelFileError(path, "an ONNX model file", "no such file")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            return onnxruntime.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:
            cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(path, "an ONNX model this onnxruntime can run", cause) from exc

    # ------------------------------------------------------------------ running
    def _run(self, graph: str, feeds: dict[str, torch.Tensor], output_shapes: Sequence[tuple[int, ...]]
             ) -> list[torch.Tensor]:
        session = self.sessions[graph]
        output_names = self.manifest.graphs[graph].outputs
        if self.device.type == "cpu":
            arrays = {name: t.detach().contiguous().numpy() for name, t in feeds.items()}
            return [torch.from_numpy(o) for o in session.run(output_names, arrays)]
        assert self._stream is not None
        current = torch.cuda.current_stream(self.device)
        self._stream.wait_stream(current)  # inputs were written on torch's stream
        binding = session.io_binding()
        device_id = self.device.index or 0
        for name, tensor in feeds.items():
            tensor = tensor.contiguous()
            tensor.record_stream(self._stream)  # not freed and reused before ONNX Runtime has read it
            binding.bind_input(name, "cuda", device_id, _NP_DTYPES[tensor.dtype], tuple(tensor.shape), tensor.data_ptr())
        outputs = [torch.empty(shape, dtype=self.dtype, device=self.device) for shape in output_shapes]
        for name, tensor in zip(output_names, outputs):
            tensor.record_stream(self._stream)
            binding.bind_output(name, "cuda", device_id, self._np_dtype, tuple(tensor.shape), tensor.data_ptr())
        session.run_with_iobinding(binding, self._run_options)
        current.wait_stream(self._stream)  # later torch work waits for the outputs, on the GPU
        return outputs

    def _t(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(device=self.device, dtype=self.dtype)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        b, _, h, w = images.shape
        f = self.vae_scale_factor
        return self._run("vae_encoder", {"images": self._t(images)}, [(b, self.latent_channels, h // f, w // f)])[0]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        b, _, h, w = latents.shape
        f = self.vae_scale_factor
        return self._run("vae_decoder", {"latents": self._t(latents)}, [(b, 3, h * f, w * f)])[0]

    def _zero_residuals(self, batch: int, h: int, w: int) -> list[torch.Tensor]:
        key = (batch, h, w)
        zeros = self._zeros.get(key)
        if zeros is None:
            zeros = [torch.zeros(s, dtype=self.dtype, device=self.device) for s in self.layout.residual_shapes(batch, h, w)]
            self._zeros = {key: zeros}  # keep one size: a resolution change must not grow memory
        return zeros

    def unet(self, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
             down_residuals: Sequence[torch.Tensor] | None = None,
             mid_residual: torch.Tensor | None = None) -> torch.Tensor:
        feeds = {"sample": self._t(sample), "timestep": timesteps.to(device=self.device, dtype=torch.float32),
                 "encoder_hidden_states": self._t(embeds)}
        if self._unet_has_residuals:
            if down_residuals is None or mid_residual is None:
                residuals = self._zero_residuals(*sample.shape[:1], *sample.shape[2:])
            else:
                residuals = [*down_residuals, mid_residual]
            feeds.update({name: self._t(r) for name, r in zip(self._residual_names, residuals)})
        elif down_residuals is not None:
            raise ValueError("the exported UNet has no ControlNet inputs; re-export it together with the ControlNets")
        return self._run("unet", feeds, [tuple(sample.shape)])[0]

    def controlnet(self, index: int, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
                   cond_images: torch.Tensor, scale: float) -> tuple[list[torch.Tensor], torch.Tensor]:
        scale_t = torch.full((1,), float(scale), dtype=self.dtype, device=self.device)
        feeds = {"sample": self._t(sample), "timestep": timesteps.to(device=self.device, dtype=torch.float32),
                 "encoder_hidden_states": self._t(embeds), "controlnet_cond": self._t(cond_images),
                 "conditioning_scale": scale_t}
        b, _, h, w = sample.shape
        outs = self._run(f"controlnet_{index}", feeds, self.layout.residual_shapes(b, h, w))
        return outs[:-1], outs[-1]

    def close(self) -> None:
        self.sessions.clear()
