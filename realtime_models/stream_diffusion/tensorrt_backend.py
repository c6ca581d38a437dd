"""Native TensorRT engines built from the exported ONNX graphs: dynamic shapes, fp16, cache, CUDA graphs.

Needs an NVIDIA GPU, the ``tensorrt`` Python package (10.x or later) and a
CUDA build of torch; everything here imports ``tensorrt`` lazily, so the
rest of the project never needs it.

* :func:`build_engine` parses one ONNX graph and builds a serialized engine
  with one optimisation profile covering a resolution range (e.g. 384-1024
  px per side) and a batch range, in fp16 or fp32.
* :class:`EngineCache` finds or builds the engine for each graph under a key
  made of the graph's sha256, the ranges, the precision, the TensorRT
  version and the GPU name (``engine_cache.py``).
* :class:`TensorRTEngine` runs an engine on torch tensors on its own CUDA
  stream ordered against torch's current stream with GPU-side waits
  (``execute_async_v3``: no host sync); outputs are allocated from the
  shapes TensorRT computes for the bound inputs.  With
  ``cuda_graph=True`` it captures the launch once per input-shape set and
  replays it (inputs are copied into the captured buffers), which removes
  the per-kernel launch cost that dominates small UNet steps.
* :class:`TensorRTBackend` is the :class:`DiffusionBackend` over those engines.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from realtime_models.onnx_runtime_session import ModelFileError
from realtime_models.stream_diffusion.engine_cache import EngineSpec, engine_path, write_spec_sidecar
from realtime_models.stream_diffusion.onnx_export import ExportManifest, UNetLayout, residual_names

log = logging.getLogger(__name__)

Shape = tuple[int, ...]
Profile = dict[str, tuple[Shape, Shape, Shape]]  # input name -> (min, opt, max)


def import_tensorrt() -> Any:
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise RuntimeError("the tensorrt backend needs the 'tensorrt' Python package (pip install tensorrt; "
                           "NVIDIA GPU only)") from exc
    return trt


def gpu_name(device: torch.device | None = None) -> str:
    if not torch.cuda.is_available():
        raise RuntimeError("TensorRT needs a CUDA GPU and torch sees none")
    return torch.cuda.get_device_name(device or torch.device("cuda"))


def graph_profile(manifest: ExportManifest, graph: str, min_px: int, opt_px: int, max_px: int,
                  min_batch: int, opt_batch: int, max_batch: int) -> Profile:
    """Min/opt/max shapes of every input of one exported graph (square pictures at the range ends)."""
    layout: UNetLayout = manifest.unet_layout
    f = manifest.vae_scale_factor
    c = layout.latent_channels
    if graph.startswith("vae"):
        min_batch = opt_batch = max_batch = 1

    def at(px: int, batch: int) -> dict[str, Shape]:
        lat = px // f
        shapes: dict[str, Shape] = {
            "sample": (batch, c, lat, lat), "latents": (batch, c, lat, lat), "images": (batch, 3, px, px),
            "timestep": (batch,), "encoder_hidden_states": (batch, layout.text_tokens, layout.text_width),
            "controlnet_cond": (batch, 3, px, px), "conditioning_scale": (1,),
        }
        for name, shape in zip(residual_names(layout.residual_count), layout.residual_shapes(batch, lat, lat)):
            shapes[name] = shape
        return shapes

    lo, mid, hi = at(min_px, min_batch), at(opt_px, opt_batch), at(max_px, max_batch)
    return {name: (lo[name], mid[name], hi[name]) for name in manifest.graphs[graph].inputs}


def build_engine(onnx_path: Path, out_path: Path, profile: Profile, fp16: bool = True,
                 workspace_gib: float = 8.0) -> Path:
    """Parse ``onnx_path`` and write a serialized engine to ``out_path``; errors name the graph."""
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode from TensorRT 10 on
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFileError(onnx_path, "an ONNX graph TensorRT can parse", errors or "parse failed")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if fp16:
        if not hasattr(trt.BuilderFlag, "FP16"):
            raise RuntimeError(f"TensorRT {trt.__version__} has no FP16 builder flag; export the graphs in fp16 "
                               "(models export --device cuda --dtype fp16) and build with --fp32")
        config.set_flag(trt.BuilderFlag.FP16)
    opt_profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in profile.items():
        opt_profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(opt_profile)
    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT could not build an engine from {onnx_path} (see the TensorRT log above)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".partial")
    with open(tmp, "wb") as f:
        f.write(serialized)
    tmp.replace(out_path)  # never leave a half-written engine under the real name
    log.info("built %s in %.0f s", out_path.name, time.perf_counter() - t0)
    return out_path


class EngineCache:
    """Finds or builds engines for an export folder under ``cache_dir``."""

    def __init__(self, onnx_dir: Path | str, cache_dir: Path | str, min_px: int = 384, opt_px: int = 512,
                 max_px: int = 1024, max_batch: int | None = None, opt_batch: int = 2, fp16: bool = True) -> None:
        self.onnx_dir = Path(onnx_dir)
        self.cache_dir = Path(cache_dir)
        self.manifest = ExportManifest.read(self.onnx_dir)
        self.min_px, self.opt_px, self.max_px = min_px, opt_px, max_px
        self.max_batch = max_batch or self.manifest.max_batch
        self.opt_batch = min(opt_batch, self.max_batch)
        self.precision = "fp16" if fp16 else "fp32"
        multiple = self.manifest.size_multiple_px
        for name, px in (("min_px", min_px), ("opt_px", opt_px), ("max_px", max_px)):
            if px % multiple:
                raise ValueError(f"{name} = {px} must be a multiple of {multiple} for this model")

    def spec(self, graph: str) -> EngineSpec:
        trt = import_tensorrt()
        vae = graph.startswith("vae")
        return EngineSpec(
            graph=graph, model_sha256=self.manifest.graphs[graph].sha256, min_px=self.min_px, opt_px=self.opt_px,
            max_px=self.max_px, min_batch=1, opt_batch=1 if vae else self.opt_batch,
            max_batch=1 if vae else self.max_batch, precision=self.precision, tensorrt_version=trt.__version__,
            gpu_name=gpu_name(),
        )

    def engine_for(self, graph: str) -> tuple[Path, bool]:
        """(engine path, True if it was built now); builds only what the cache lacks."""
        spec = self.spec(graph)
        path = engine_path(self.cache_dir, spec)
        if path.is_file():
            log.info("%s: using cached engine %s", graph, path.name)
            return path, False
        profile = graph_profile(self.manifest, graph, spec.min_px, spec.opt_px, spec.max_px,
                                spec.min_batch, spec.opt_batch, spec.max_batch)
        build_engine(self.onnx_dir / self.manifest.graphs[graph].file, path, profile, fp16=spec.precision == "fp16")
        write_spec_sidecar(path, spec)
        return path, True

    def build_all(self) -> dict[str, tuple[Path, bool]]:
        return {graph: self.engine_for(graph) for graph in self.manifest.graphs}


def _torch_dtype(trt: Any, dtype: Any) -> torch.dtype:
    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32, trt.int8: torch.int8,
             trt.bool: torch.bool}
    if hasattr(trt, "int64"):
        table[trt.int64] = torch.int64
    if hasattr(trt, "bfloat16"):
        table[trt.bfloat16] = torch.bfloat16
    return table[dtype]


class TensorRTEngine:
    """One deserialized engine run on torch CUDA tensors."""

    def __init__(self, path: Path, device: torch.device, cuda_graph: bool = False) -> None:
        trt = import_tensorrt()
        self._trt = trt
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelFileError(self.path, "a TensorRT engine file", "no such file")
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))  # must outlive the engine
        self.engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise ModelFileError(self.path, "an engine built by this TensorRT version on this GPU",
                                 "TensorRT could not deserialize it")
        self.context = self.engine.create_execution_context()
        self.device = device
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.dtypes = {n: _torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}
        self.use_cuda_graph = cuda_graph
        self._stream = torch.cuda.Stream(device)
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graph_key: tuple | None = None
        self._static_in: dict[str, torch.Tensor] = {}
        self._static_out: dict[str, torch.Tensor] = {}

    def _bind(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        for name in self.inputs:
            tensor = feeds[name]
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
        outputs = {}
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            outputs[name] = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
            self.context.set_tensor_address(name, outputs[name].data_ptr())
        return outputs

    def infer(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Queue one run; outputs are ready for later work on torch's current stream (no host sync).

        The engine runs on its own stream (TensorRT adds synchronisations when
        enqueued on the legacy default stream), ordered after torch's current
        stream and before whatever torch queues next, with GPU-side waits.
        """
        feeds = {n: feeds[n].to(device=self.device, dtype=self.dtypes[n]).contiguous() for n in self.inputs}
        current = torch.cuda.current_stream(self.device)
        self._stream.wait_stream(current)
        for tensor in feeds.values():
            tensor.record_stream(self._stream)
        if not self.use_cuda_graph:
            outputs = self._bind(feeds)
            for tensor in outputs.values():
                tensor.record_stream(self._stream)
            if not self.context.execute_async_v3(self._stream.cuda_stream):
                raise RuntimeError(f"TensorRT engine {self.path.name} failed to enqueue")
            current.wait_stream(self._stream)
            return outputs
        key = tuple((n, tuple(t.shape)) for n, t in feeds.items())
        if key != self._graph_key:
            self._capture(feeds, key)
        assert self._graph is not None
        with torch.cuda.stream(self._stream):
            for name, tensor in feeds.items():
                self._static_in[name].copy_(tensor, non_blocking=True)
            self._graph.replay()
            outputs = {n: t.clone() for n, t in self._static_out.items()}  # the next replay overwrites the originals
        current.wait_stream(self._stream)
        for tensor in outputs.values():
            tensor.record_stream(current)
        return outputs

    def _capture(self, feeds: dict[str, torch.Tensor], key: tuple) -> None:
        self._stream.synchronize()  # once per shape set: nothing may be in flight on the buffers being replaced
        self._static_in = {n: t.clone() for n, t in feeds.items()}
        self._static_out = self._bind(self._static_in)
        with torch.cuda.stream(self._stream):
            # TensorRT must have run once with these shapes before a launch can be captured
            self.context.execute_async_v3(self._stream.cuda_stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=self._stream):
                self.context.execute_async_v3(self._stream.cuda_stream)
        self._graph, self._graph_key = graph, key
        log.info("%s: captured a CUDA graph for %s", self.path.name, dict(key))


class TensorRTBackend:
    name = "tensorrt"

    def __init__(self, onnx_dir: Path | str, cache_dir: Path | str | None = None, min_px: int = 384,
                 opt_px: int = 512, max_px: int = 1024, max_batch: int | None = None, fp16: bool = True,
                 cuda_graphs: bool = False, build_missing: bool = True) -> None:
        if not torch.cuda.is_available():
            raise RuntimeError("the tensorrt backend needs a CUDA GPU and torch sees none")
        self.device = torch.device("cuda")
        self.cache = EngineCache(onnx_dir, cache_dir or Path(onnx_dir) / "trt_engines", min_px, opt_px, max_px,
                                 max_batch, fp16=fp16)
        manifest = self.manifest = self.cache.manifest
        self.dtype = torch.float16 if fp16 else torch.float32
        self.layout = manifest.unet_layout
        self.latent_channels = self.layout.latent_channels
        self.vae_scale_factor = manifest.vae_scale_factor
        self.size_multiple_px = manifest.size_multiple_px
        self.controlnet_count = len(manifest.controlnet_kinds)
        self.engines: dict[str, TensorRTEngine] = {}
        for graph in manifest.graphs:
            spec = self.cache.spec(graph)
            path = engine_path(self.cache.cache_dir, spec)
            if not path.is_file():
                if not build_missing:
                    raise ModelFileError(path, f"a TensorRT engine for {graph}",
                                         "not built yet; run 'machinima-bridge models build-trt'")
                path, _ = self.cache.engine_for(graph)
            # CUDA graphs pay off on the UNet and ControlNets (many small kernels per step)
            self.engines[graph] = TensorRTEngine(path, self.device, cuda_graph=cuda_graphs and not graph.startswith("vae"))
        self._residual_names = residual_names(self.layout.residual_count)
        self._unet_has_residuals = len(manifest.graphs["unet"].inputs) > 3
        self._zeros: dict[tuple, list[torch.Tensor]] = {}
        self._check_range = (min_px, max_px)

    def _check_size(self, h_px: int, w_px: int) -> None:
        lo, hi = self._check_range
        if not (lo <= h_px <= hi and lo <= w_px <= hi):
            raise ValueError(f"picture {w_px}x{h_px} is outside the engines' range {lo}..{hi} px per side; "
                             "rebuild with 'models build-trt --min-px/--max-px'")

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        self._check_size(*images.shape[2:])
        return self.engines["vae_encoder"].infer({"images": images})["latents"]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.engines["vae_decoder"].infer({"latents": latents})["images"]

    def unet(self, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
             down_residuals: Sequence[torch.Tensor] | None = None,
             mid_residual: torch.Tensor | None = None) -> torch.Tensor:
        feeds = {"sample": sample, "timestep": timesteps, "encoder_hidden_states": embeds}
        if self._unet_has_residuals:
            if down_residuals is None or mid_residual is None:
                b, _, h, w = sample.shape
                key = (b, h, w)
                zeros = self._zeros.get(key)
                if zeros is None:
                    zeros = [torch.zeros(s, dtype=self.dtype, device=self.device)
                             for s in self.layout.residual_shapes(b, h, w)]
                    self._zeros = {key: zeros}
                residuals = zeros
            else:
                residuals = [*down_residuals, mid_residual]
            feeds.update(dict(zip(self._residual_names, residuals)))
        return self.engines["unet"].infer(feeds)["noise_pred"]

    def controlnet(self, index: int, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
                   cond_images: torch.Tensor, scale: float) -> tuple[list[torch.Tensor], torch.Tensor]:
        feeds = {"sample": sample, "timestep": timesteps, "encoder_hidden_states": embeds,
                 "controlnet_cond": cond_images,
                 "conditioning_scale": torch.full((1,), float(scale), dtype=self.dtype, device=self.device)}
        outs = self.engines[f"controlnet_{index}"].infer(feeds)
        return [outs[n] for n in self._residual_names[:-1]], outs["mid_residual"]

    def close(self) -> None:
        self.engines.clear()
