"""Export the stream's networks to ONNX (opset 17) with dynamic batch and picture size.

Graphs written to one folder, each with fixed tensor names that the ONNX
Runtime and TensorRT backends rely on:

============== ===================================================== ==============================
file           inputs                                                outputs
============== ===================================================== ==============================
unet.onnx      sample (B,C,h,w), timestep (B,) float32,              noise_pred (B,C,h,w)
               encoder_hidden_states (B,T,D), [down_residual_0..K-1,
               mid_residual] when ControlNets were exported
vae_encoder    images (B,3,H,W) in [-1,1]                            latents (B,C,h,w), scaled
vae_decoder    latents (B,C,h,w), scaled                             images (B,3,H,W) in [-1,1]
controlnet_i   sample, timestep, encoder_hidden_states,              down_residual_0..K-1, mid_residual
               controlnet_cond (B,3,H,W) in [0,1], conditioning_scale
               (1,) float32
============== ===================================================== ==============================

``export_manifest.json`` beside them records the source model, shapes,
ranges, the sha256 of every graph (the TensorRT engine cache key uses it)
and the versions that made them.  Export runs the legacy TorchScript
exporter (``dynamo=False``), which needs no extra packages and gives graphs
TensorRT parses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from realtime_models.stream_diffusion.backend import moved_module, vae_scaling_factor

log = logging.getLogger(__name__)

MANIFEST_NAME = "export_manifest.json"
MANIFEST_FORMAT = 1
DEFAULT_OPSET = 17
UNET_FILE = "unet.onnx"
VAE_ENCODER_FILE = "vae_encoder.onnx"
VAE_DECODER_FILE = "vae_decoder.onnx"


def controlnet_file(index: int) -> str:
    return f"controlnet_{index}.onnx"


def residual_names(count: int) -> list[str]:
    return [f"down_residual_{i}" for i in range(count)] + ["mid_residual"]


@dataclass(frozen=True)
class UNetLayout:
    """What the ControlNet residual shapes depend on (from the UNet config)."""

    block_out_channels: tuple[int, ...]
    layers_per_block: int
    latent_channels: int
    text_tokens: int
    text_width: int

    @classmethod
    def from_unet(cls, unet: Any, text_tokens: int = 77) -> UNetLayout:
        layers = unet.config.layers_per_block
        if not isinstance(layers, int):
            if len(set(layers)) != 1:
                raise ValueError(f"per-block layers_per_block {layers} is not supported")
            layers = int(layers[0])
        return cls(tuple(int(c) for c in unet.config.block_out_channels), int(layers), int(unet.config.in_channels),
                   text_tokens, int(unet.config.cross_attention_dim))

    def residual_shapes(self, batch: int, latent_h: int, latent_w: int) -> list[tuple[int, ...]]:
        """Shapes of the down residuals then the mid residual, as a ControlNet returns them."""
        ch = self.block_out_channels
        h, w = latent_h, latent_w
        shapes: list[tuple[int, ...]] = [(batch, ch[0], h, w)]
        for i in range(len(ch)):
            shapes.extend([(batch, ch[i], h, w)] * self.layers_per_block)
            if i != len(ch) - 1:
                h, w = math.ceil(h / 2), math.ceil(w / 2)
                shapes.append((batch, ch[i], h, w))
        shapes.append((batch, ch[-1], h, w))
        return shapes

    @property
    def residual_count(self) -> int:
        return len(self.residual_shapes(1, 8, 8)) - 1


# ---------------------------------------------------------------------------- graph wrappers
class UNetGraph(nn.Module):
    def __init__(self, unet: nn.Module, with_residuals: bool) -> None:
        super().__init__()
        self.unet = unet
        self.with_residuals = with_residuals

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                *residuals: torch.Tensor) -> torch.Tensor:
        down = list(residuals[:-1]) if self.with_residuals else None
        mid = residuals[-1] if self.with_residuals else None
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                         down_block_additional_residuals=down, mid_block_additional_residual=mid, return_dict=False)[0]


class VaeEncoderGraph(nn.Module):
    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae
        self.tiny = type(vae).__name__ == "AutoencoderTiny"
        self.scaling = vae_scaling_factor(vae)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.tiny:
            return self.vae.encode(images).latents * self.scaling
        return self.vae.encode(images).latent_dist.mean * self.scaling


class VaeDecoderGraph(nn.Module):
    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae
        self.scaling = vae_scaling_factor(vae)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents / self.scaling, return_dict=False)[0]


class ControlNetGraph(nn.Module):
    def __init__(self, controlnet: nn.Module) -> None:
        super().__init__()
        self.controlnet = controlnet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                controlnet_cond: torch.Tensor, conditioning_scale: torch.Tensor) -> tuple[torch.Tensor, ...]:
        down, mid = self.controlnet(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                                    controlnet_cond=controlnet_cond, conditioning_scale=1.0, return_dict=False)
        # the scale as a graph input, so it can change live without a re-export
        return (*[d * conditioning_scale for d in down], mid * conditioning_scale)


# ---------------------------------------------------------------------------- export
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for part in [path, *sorted(path.parent.glob(path.stem + ".onnx_data*"))]:
        with open(part, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _export(module: nn.Module, args: tuple, path: Path, input_names: list[str], output_names: list[str],
            dynamic_axes: dict[str, dict[int, str]], opset: int) -> None:
    import warnings

    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
        torch.onnx.export(module.eval(), args, str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True, dynamo=False)
    import onnx

    onnx.checker.check_model(str(path))  # path form: works for graphs with external data too
    log.info("exported %s in %.1f s", path.name, time.perf_counter() - t0)


@dataclass
class GraphInfo:
    file: str
    sha256: str
    inputs: list[str]
    outputs: list[str]
    kind: str = ""


@dataclass
class ExportManifest:
    source_model: str
    graphs: dict[str, GraphInfo]
    layout: dict[str, Any]
    vae_scale_factor: int
    size_multiple_px: int
    controlnet_kinds: list[str]
    dtype: str
    opset: int
    min_px: int
    opt_px: int
    max_px: int
    max_batch: int
    scheduler_config: dict[str, Any]
    model_config: str | None = None
    tiny_vae: str | None = None
    lora: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    format: int = MANIFEST_FORMAT

    @property
    def unet_layout(self) -> UNetLayout:
        d = dict(self.layout)
        d["block_out_channels"] = tuple(d["block_out_channels"])
        return UNetLayout(**d)

    def write(self, folder: Path) -> Path:
        path = folder / MANIFEST_NAME
        data = asdict(self)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: Path) -> ExportManifest:
        from realtime_models.onnx_runtime_session import ModelFileError

        path = Path(folder) / MANIFEST_NAME
        expected = f"an ONNX export folder made by 'machinima-bridge models export' (with {MANIFEST_NAME})"
        if not Path(folder).is_dir():
            raise ModelFileError(folder, expected, "no such folder")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelFileError(path, expected, "no such file") from None
        except (OSError, ValueError) as exc:
            raise ModelFileError(path, expected, f"not readable JSON: {exc}") from None
        if data.get("format") != MANIFEST_FORMAT:
            raise ModelFileError(path, expected, f"manifest format {data.get('format')!r}, this code reads {MANIFEST_FORMAT}")
        try:
            data["graphs"] = {k: GraphInfo(**v) for k, v in data["graphs"].items()}
            manifest = cls(**data)
        except (TypeError, KeyError) as exc:
            raise ModelFileError(path, expected, f"malformed manifest: {exc}") from None
        for name, info in manifest.graphs.items():
            if not (Path(folder) / info.file).is_file():
                raise ModelFileError(Path(folder) / info.file, f"the {name} graph listed in {path}", "no such file")
        return manifest


@dataclass(frozen=True)
class ExportOptions:
    min_px: int = 256
    opt_px: int = 512
    max_px: int = 1024
    max_batch: int = 4  # UNet batch: steps x CFG slots
    opset: int = DEFAULT_OPSET
    device: str = "cpu"
    dtype: torch.dtype = torch.float32


def _versions() -> dict[str, str]:
    import diffusers
    import onnx

    return {"torch": torch.__version__, "diffusers": diffusers.__version__, "onnx": onnx.__version__}


def export_models(models: Any, out_dir: Path, options: ExportOptions = ExportOptions(),
                  source: dict[str, str | None] | None = None) -> ExportManifest:
    """Export UNet, VAE encoder/decoder and every ControlNet of ``models`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device, dtype = torch.device(options.device), options.dtype
    unet = moved_module(models.unet, device, dtype).eval()
    vae = moved_module(models.vae, device, dtype).eval()
    layout = UNetLayout.from_unet(unet, int(getattr(models.tokenizer, "model_max_length", 77) or 77))
    tiny = type(vae).__name__ == "AutoencoderTiny"
    vae_factor = 2 ** (len(vae.config.encoder_block_out_channels if tiny else vae.config.block_out_channels) - 1)
    multiple = vae_factor * 2 ** (len(layout.block_out_channels) - 1)
    for name in ("min_px", "opt_px", "max_px"):
        if getattr(options, name) % multiple:
            raise ValueError(f"{name} = {getattr(options, name)} must be a multiple of {multiple} for this model")
    if not options.min_px <= options.opt_px <= options.max_px:
        raise ValueError(f"need min_px <= opt_px <= max_px, got {options.min_px}, {options.opt_px}, {options.max_px}")
    # example inputs: small (tracing cost), sides a multiple of the UNet's downsampling, batch 2
    side_px = multiple * 2
    lh = lw = side_px // vae_factor
    batch = 2
    sample = torch.randn(batch, layout.latent_channels, lh, lw, device=device, dtype=dtype)
    timestep = torch.tensor([999.0, 499.0], device=device)
    text = torch.randn(batch, layout.text_tokens, layout.text_width, device=device, dtype=dtype)
    names = residual_names(layout.residual_count)
    latent_axes = {0: "batch", 2: "latent_height", 3: "latent_width"}
    image_axes = {0: "batch", 2: "height", 3: "width"}
    graphs: dict[str, GraphInfo] = {}
    with_residuals = bool(models.controlnets)
    residuals = [torch.zeros(s, device=device, dtype=dtype) for s in layout.residual_shapes(batch, lh, lw)]
    unet_inputs = ["sample", "timestep", "encoder_hidden_states", *(names if with_residuals else [])]
    axes = {"sample": latent_axes, "timestep": {0: "batch"}, "encoder_hidden_states": {0: "batch"},
            "noise_pred": latent_axes}
    if with_residuals:
        axes.update({n: {0: "batch", 2: f"{n}_height", 3: f"{n}_width"} for n in names})
    _export(UNetGraph(unet, with_residuals), (sample, timestep, text, *(residuals if with_residuals else [])),
            out_dir / UNET_FILE, unet_inputs, ["noise_pred"], axes, options.opset)
    graphs["unet"] = GraphInfo(UNET_FILE, file_sha256(out_dir / UNET_FILE), unet_inputs, ["noise_pred"])
    images = torch.rand(1, 3, side_px, side_px, device=device, dtype=dtype) * 2 - 1
    _export(VaeEncoderGraph(vae), (images,), out_dir / VAE_ENCODER_FILE, ["images"], ["latents"],
            {"images": image_axes, "latents": latent_axes}, options.opset)
    graphs["vae_encoder"] = GraphInfo(VAE_ENCODER_FILE, file_sha256(out_dir / VAE_ENCODER_FILE), ["images"], ["latents"])
    latents = torch.randn(1, layout.latent_channels, lh, lw, device=device, dtype=dtype)
    _export(VaeDecoderGraph(vae), (latents,), out_dir / VAE_DECODER_FILE, ["latents"], ["images"],
            {"latents": latent_axes, "images": image_axes}, options.opset)
    graphs["vae_decoder"] = GraphInfo(VAE_DECODER_FILE, file_sha256(out_dir / VAE_DECODER_FILE), ["latents"], ["images"])
    cond = torch.rand(batch, 3, side_px, side_px, device=device, dtype=dtype)
    scale = torch.ones(1, device=device, dtype=dtype)
    cn_inputs = ["sample", "timestep", "encoder_hidden_states", "controlnet_cond", "conditioning_scale"]
    for i, (net, kind) in enumerate(zip(models.controlnets, models.controlnet_kinds)):
        net = moved_module(net, device, dtype).eval()
        cn_axes = {"sample": latent_axes, "timestep": {0: "batch"}, "encoder_hidden_states": {0: "batch"},
                   "controlnet_cond": image_axes}
        cn_axes.update({n: {0: "batch", 2: f"{n}_height", 3: f"{n}_width"} for n in names})
        _export(ControlNetGraph(net), (sample, timestep, text, cond, scale), out_dir / controlnet_file(i), cn_inputs,
                names, cn_axes, options.opset)
        graphs[f"controlnet_{i}"] = GraphInfo(controlnet_file(i), file_sha256(out_dir / controlnet_file(i)),
                                              cn_inputs, names, kind)
    source = source or {}
    manifest = ExportManifest(
        source_model=str(source.get("model") or getattr(models, "source", "")), graphs=graphs, layout=asdict(layout),
        vae_scale_factor=vae_factor, size_multiple_px=multiple, controlnet_kinds=list(models.controlnet_kinds),
        dtype=str(dtype).replace("torch.", ""), opset=options.opset, min_px=options.min_px, opt_px=options.opt_px,
        max_px=options.max_px, max_batch=options.max_batch, scheduler_config=dict(models.scheduler_config),
        model_config=source.get("model_config"), tiny_vae=source.get("tiny_vae"), lora=source.get("lora"),
        versions=_versions(),
    )
    manifest.write(out_dir)
    return manifest


def example_inputs(layout: UNetLayout, batch: int, latent_h: int, latent_w: int, vae_factor: int,
                   seed: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Random inputs of the right shapes for every graph (tests and engine warm-up use them)."""
    g = torch.Generator().manual_seed(seed)
    h_px, w_px = latent_h * vae_factor, latent_w * vae_factor
    return {
        "sample": torch.randn(batch, layout.latent_channels, latent_h, latent_w, generator=g, dtype=dtype),
        "timestep": torch.linspace(999.0, 99.0, batch),
        "encoder_hidden_states": torch.randn(batch, layout.text_tokens, layout.text_width, generator=g, dtype=dtype),
        "controlnet_cond": torch.rand(batch, 3, h_px, w_px, generator=g, dtype=dtype),
        "images": torch.rand(1, 3, h_px, w_px, generator=g, dtype=dtype) * 2 - 1,
        "latents": torch.randn(1, layout.latent_channels, latent_h, latent_w, generator=g, dtype=dtype),
    }


def graph_input_names(manifest: ExportManifest, graph: str) -> Sequence[str]:
    return manifest.graphs[graph].inputs
