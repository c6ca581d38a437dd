"""The seam between the streaming algorithm and whatever runs the networks.

A :class:`DiffusionBackend` runs four kinds of network call on device
tensors: VAE encode, VAE decode, UNet and ControlNet.  The algorithm
(``stream_diffusion.py``) is written once against it; the torch backend is
here, the ONNX Runtime and TensorRT backends live in their own modules and
take the same tensors.  Conventions at the seam:

* images are NCHW in [-1, 1] (what TAESD and the SD VAE take and give);
* latents are already multiplied by the VAE's scaling factor;
* timesteps are float32, one per batch row;
* a ControlNet gets its conditioning image in [0, 1] (as diffusers' ControlNet
  pipelines feed it) and returns residuals already multiplied by ``scale``.

:class:`TimedBackend` wraps any backend and adds up the milliseconds spent
inside these calls, which is how the benchmark separates network time from
the algorithm's own overhead.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

import torch

log = logging.getLogger(__name__)

BACKEND_NAMES = ("torch", "onnxruntime", "tensorrt")


@runtime_checkable
class DiffusionBackend(Protocol):
    name: str
    device: torch.device
    dtype: torch.dtype
    latent_channels: int
    vae_scale_factor: int
    size_multiple_px: int  # picture sides must be multiples of this (VAE factor x UNet downsampling)
    controlnet_count: int

    def encode(self, images: torch.Tensor) -> torch.Tensor: ...

    def decode(self, latents: torch.Tensor) -> torch.Tensor: ...

    def unet(self, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
             down_residuals: Sequence[torch.Tensor] | None = None,
             mid_residual: torch.Tensor | None = None) -> torch.Tensor: ...

    def controlnet(self, index: int, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
                   cond_images: torch.Tensor, scale: float) -> tuple[list[torch.Tensor], torch.Tensor]: ...

    def close(self) -> None: ...


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when torch sees a GPU, else the CPU; ``cuda`` without a GPU is an error naming why."""
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but this torch ({torch.__version__}) sees no CUDA GPU")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {name!r}; use auto, cpu or cuda")


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` is fp16 on a GPU and fp32 on the CPU (CPU fp16 convolutions are slow or missing)."""
    name = name.strip().lower()
    if name == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    table = {"fp16": torch.float16, "float16": torch.float16, "fp32": torch.float32, "float32": torch.float32,
             "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if name not in table:
        raise ValueError(f"unknown dtype {name!r}; use auto, fp16, bf16 or fp32")
    if device.type == "cpu" and table[name] == torch.float16:
        raise ValueError("fp16 on the CPU is not supported by torch's convolutions; use fp32 (or bf16) on the CPU")
    return table[name]


def moved_module(module: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """``module`` on ``device`` in ``dtype``, converting only what differs (no needless copies or warnings)."""
    current = next(module.parameters())
    if current.device != device:
        module = module.to(device=device)
    if current.dtype != dtype:
        module = module.to(dtype=dtype)
    return module


def vae_scaling_factor(vae: Any) -> float:
    return float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)


class TorchBackend:
    """The networks as torch modules: CPU or CUDA, fp16 on GPU, channels-last, optional ``torch.compile``."""

    name = "torch"

    def __init__(self, models: Any, device: torch.device | str = "cpu", dtype: torch.dtype | None = None,
                 channels_last: bool = False, compile_unet: bool = False, compile_mode: str = "max-autotune-no-cudagraphs") -> None:
        self.device = torch.device(device)
        self.dtype = dtype or (torch.float16 if self.device.type == "cuda" else torch.float32)
        self.unet_module = moved_module(models.unet, self.device, self.dtype)
        self.vae = moved_module(models.vae, self.device, self.dtype)
        self.controlnets = [moved_module(c, self.device, self.dtype) for c in models.controlnets]
        self._tiny_vae = type(self.vae).__name__ == "AutoencoderTiny"
        self._scaling = vae_scaling_factor(self.vae)
        self.latent_channels = int(self.unet_module.config.in_channels)
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels if not self._tiny_vae
                                          else self.vae.config.encoder_block_out_channels) - 1)
        self.size_multiple_px = self.vae_scale_factor * 2 ** (len(self.unet_module.config.block_out_channels) - 1)
        self.controlnet_count = len(self.controlnets)
        if channels_last:
            self.unet_module = self.unet_module.to(memory_format=torch.channels_last)
            self.vae = self.vae.to(memory_format=torch.channels_last)
            self.controlnets = [c.to(memory_format=torch.channels_last) for c in self.controlnets]
        self._unet_call = self.unet_module
        if compile_unet:
            log.info("compiling the UNet with torch.compile(mode=%r); the first frames will be slow", compile_mode)
            self._unet_call = torch.compile(self.unet_module, mode=compile_mode, fullgraph=False)

    @torch.inference_mode()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(dtype=self.dtype)
        if self._tiny_vae:
            return self.vae.encode(images).latents * self._scaling
        return self.vae.encode(images).latent_dist.mean * self._scaling

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents.to(dtype=self.dtype) / self._scaling, return_dict=False)[0]

    @torch.inference_mode()
    def unet(self, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
             down_residuals: Sequence[torch.Tensor] | None = None,
             mid_residual: torch.Tensor | None = None) -> torch.Tensor:
        return self._unet_call(
            sample.to(dtype=self.dtype), timesteps, encoder_hidden_states=embeds.to(dtype=self.dtype),
            down_block_additional_residuals=list(down_residuals) if down_residuals is not None else None,
            mid_block_additional_residual=mid_residual, return_dict=False,
        )[0]

    @torch.inference_mode()
    def controlnet(self, index: int, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
                   cond_images: torch.Tensor, scale: float) -> tuple[list[torch.Tensor], torch.Tensor]:
        down, mid = self.controlnets[index](
            sample.to(dtype=self.dtype), timesteps, encoder_hidden_states=embeds.to(dtype=self.dtype),
            controlnet_cond=cond_images.to(dtype=self.dtype), conditioning_scale=float(scale), return_dict=False,
        )
        return list(down), mid

    def close(self) -> None:
        self.controlnets = []


@torch.inference_mode()
def compare_backends(reference: DiffusionBackend, candidate: DiffusionBackend, width_px: int, height_px: int,
                     text_width: int, batch: int = 2, text_tokens: int = 77, seed: int = 0) -> dict[str, float]:
    """Largest absolute difference per network between two backends on the same random inputs.

    Used by ``models export --verify`` and the export-equivalence tests: VAE
    encoder and decoder, UNet (with ControlNet residuals when there are
    ControlNets) and every ControlNet.
    """
    g = torch.Generator().manual_seed(seed)
    f = reference.vae_scale_factor
    lh, lw = height_px // f, width_px // f
    c = reference.latent_channels
    images = torch.rand(1, 3, height_px, width_px, generator=g) * 2 - 1
    latents = torch.randn(1, c, lh, lw, generator=g)
    sample = torch.randn(batch, c, lh, lw, generator=g)
    timesteps = torch.linspace(999.0, 259.0, batch)
    embeds = torch.randn(batch, text_tokens, text_width, generator=g)
    cond = torch.rand(batch, 3, height_px, width_px, generator=g)

    def on(backend: DiffusionBackend, t: torch.Tensor) -> torch.Tensor:
        return t.to(device=backend.device, dtype=backend.dtype if t.is_floating_point() else t.dtype)

    def diff(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a.float().cpu() - b.float().cpu()).abs().max())

    out = {
        "vae_encoder": diff(reference.encode(on(reference, images)), candidate.encode(on(candidate, images))),
        "vae_decoder": diff(reference.decode(on(reference, latents)), candidate.decode(on(candidate, latents))),
    }
    ref_res = None
    for i in range(reference.controlnet_count):
        args_r = (on(reference, sample), timesteps.to(reference.device), on(reference, embeds), on(reference, cond), 0.8)
        args_c = (on(candidate, sample), timesteps.to(candidate.device), on(candidate, embeds), on(candidate, cond), 0.8)
        down_r, mid_r = reference.controlnet(i, *args_r)
        down_c, mid_c = candidate.controlnet(i, *args_c)
        out[f"controlnet_{i}"] = max(diff(a, b) for a, b in zip([*down_r, mid_r], [*down_c, mid_c]))
        if ref_res is None:
            ref_res = [*down_r, mid_r]
    down = ref_res[:-1] if ref_res else None
    mid = ref_res[-1] if ref_res else None
    out["unet"] = diff(
        reference.unet(on(reference, sample), timesteps.to(reference.device), on(reference, embeds), down, mid),
        candidate.unet(on(candidate, sample), timesteps.to(candidate.device), on(candidate, embeds),
                       [on(candidate, d) for d in down] if down else None, on(candidate, mid) if mid is not None else None),
    )
    return out


@dataclass
class CallTimes:
    """Milliseconds spent inside network calls since the last ``reset``, by kind."""

    ms: dict[str, float] = field(default_factory=lambda: {"encode": 0.0, "decode": 0.0, "unet": 0.0, "controlnet": 0.0})
    calls: dict[str, int] = field(default_factory=lambda: {"encode": 0, "decode": 0, "unet": 0, "controlnet": 0})
    unet_batch_sizes: list[int] = field(default_factory=list)

    def reset(self) -> None:
        for k in self.ms:
            self.ms[k] = 0.0
            self.calls[k] = 0
        self.unet_batch_sizes.clear()

    @property
    def total_ms(self) -> float:
        return sum(self.ms.values())


class TimedBackend:
    """Any backend, with the time inside each network call added up (and the UNet batch sizes recorded).

    ``synchronize`` waits for the device before and after each call so the
    times are the device's; leave it off outside benchmarks (it is a host sync).
    """

    def __init__(self, inner: DiffusionBackend, synchronize: bool = False) -> None:
        self.inner = inner
        self.times = CallTimes()
        self._sync = synchronize and inner.device.type == "cuda"
        self.name = inner.name
        self.device = inner.device
        self.dtype = inner.dtype
        self.latent_channels = inner.latent_channels
        self.vae_scale_factor = inner.vae_scale_factor
        self.size_multiple_px = inner.size_multiple_px
        self.controlnet_count = inner.controlnet_count

    def _timed(self, kind: str, fn: Any, *args: Any) -> Any:
        if self._sync:
            torch.cuda.synchronize(self.device)
        t0 = time.perf_counter_ns()
        out = fn(*args)
        if self._sync:
            torch.cuda.synchronize(self.device)
        self.times.ms[kind] += (time.perf_counter_ns() - t0) / 1e6
        self.times.calls[kind] += 1
        return out

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self._timed("encode", self.inner.encode, images)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self._timed("decode", self.inner.decode, latents)

    def unet(self, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
             down_residuals: Sequence[torch.Tensor] | None = None,
             mid_residual: torch.Tensor | None = None) -> torch.Tensor:
        self.times.unet_batch_sizes.append(int(sample.shape[0]))
        return self._timed("unet", self.inner.unet, sample, timesteps, embeds, down_residuals, mid_residual)

    def controlnet(self, index: int, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
                   cond_images: torch.Tensor, scale: float) -> tuple[list[torch.Tensor], torch.Tensor]:
        return self._timed("controlnet", self.inner.controlnet, index, sample, timesteps, embeds, cond_images, scale)

    def close(self) -> None:
        self.inner.close()
