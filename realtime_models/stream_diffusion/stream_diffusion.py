"""The StreamDiffusion algorithm: stream batch, residual CFG and LCM steps as pure tensor math.

``prepare()`` computes everything that does not change per frame: the
UNet's embedding batch, timesteps, sqrt(alpha_bar)/sqrt(1 - alpha_bar),
c_skip/c_out and the noise.  Each call then:

1. noises the new frame's latent to the first picked step,
2. stacks it with the ``steps - 1`` latents in flight (the stream batch),
3. runs ONE batched UNet pass (plus one per ControlNet) that advances every
   in-flight latent by one step,
4. emits the latent that finished and re-noises the others to their next
   step.

So the output lags the input by ``steps - 1`` frames, and the first
``steps - 1`` outputs come out of the empty buffer: they are flagged not
ready and must not be shown.

Residual classifier-free guidance (only when ``guidance_scale > 1``):

=============  ===================================================  ==========
``cfg_type``   negative prediction                                   UNet batch
=============  ===================================================  ==========
``none``       none (turbo / LCM models)                             steps
``self``       the stored noise, ``delta`` x stock noise             steps
``initialize`` one real negative pass for the newest latent,        steps + 1
               propagated through the stock noise
``full``       a real negative pass for every latent                 2 x steps
=============  ===================================================  ==========

Nothing here reads a tensor back to the host: no ``.item()``, no
data-dependent Python branches, so on a GPU the frames queue without
stalls.  v-prediction models are handled by turning the UNet output into
epsilon right after the call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import torch

from realtime_models.stream_diffusion.backend import DiffusionBackend
from realtime_models.stream_diffusion.prompt_travel import seed_noise
from realtime_models.stream_diffusion.schedule import LcmSchedule, check_t_index_list

log = logging.getLogger(__name__)

CFG_TYPES = ("none", "self", "initialize", "full")


@dataclass(frozen=True)
class StreamConfig:
    width_px: int
    height_px: int
    t_index_list: tuple[int, ...]
    guidance_scale: float = 1.0
    cfg_type: str = "self"
    delta: float = 1.0
    seed: int = 2
    add_noise: bool = True

    def __post_init__(self) -> None:
        if self.cfg_type not in CFG_TYPES:
            raise ValueError(f"cfg_type {self.cfg_type!r} is not one of {', '.join(CFG_TYPES)}")
        if self.width_px <= 0 or self.height_px <= 0:
            raise ValueError(f"stream size must be positive, got {self.width_px}x{self.height_px}")

    @property
    def steps(self) -> int:
        return len(self.t_index_list)

    @property
    def effective_cfg(self) -> str:
        """The CFG actually run: guidance at or below 1 means no negative prediction at all."""
        return self.cfg_type if self.guidance_scale > 1.0 else "none"

    @property
    def unet_batch_size(self) -> int:
        n = self.steps
        return {"none": n, "self": n, "initialize": n + 1, "full": 2 * n}[self.effective_cfg]


@dataclass
class ControlInput:
    """One ControlNet's conditioning for this frame: (1, 3, H, W) image in [0, 1] and its scale."""

    index: int
    image: torch.Tensor
    scale: float


@dataclass
class _State:
    config: StreamConfig
    latent_shape: tuple[int, int, int]
    cond: torch.Tensor
    uncond: torch.Tensor
    embeds: torch.Tensor = field(init=False)
    timesteps: torch.Tensor = field(init=False)
    unet_timesteps: torch.Tensor = field(init=False)
    alpha: torch.Tensor = field(init=False)
    beta: torch.Tensor = field(init=False)
    c_skip: torch.Tensor = field(init=False)
    c_out: torch.Tensor = field(init=False)
    alpha_next: torch.Tensor = field(init=False)
    beta_next: torch.Tensor = field(init=False)
    unet_alpha: torch.Tensor = field(init=False)
    unet_beta: torch.Tensor = field(init=False)
    init_noise: torch.Tensor = field(init=False)
    stock_noise: torch.Tensor = field(init=False)
    buffer: torch.Tensor | None = None
    frames_in: int = 0


class StreamDiffusion:
    """One stream's diffusion state over a backend; not thread-safe (one stage thread owns it)."""

    def __init__(self, backend: DiffusionBackend, schedule: LcmSchedule) -> None:
        self.backend = backend
        self.schedule = schedule
        self.device = backend.device
        self.dtype = backend.dtype
        self._state: _State | None = None

    # ------------------------------------------------------------------ preparation
    @property
    def prepared(self) -> bool:
        return self._state is not None

    @property
    def config(self) -> StreamConfig:
        if self._state is None:
            raise RuntimeError("prepare() has not been called")
        return self._state.config

    @property
    def frames_in(self) -> int:
        return 0 if self._state is None else self._state.frames_in

    @property
    def warmup_frames(self) -> int:
        """Outputs that come from the empty buffer and must not be shown: steps - 1."""
        return 0 if self._state is None else self._state.config.steps - 1

    def latent_shape_for(self, width_px: int, height_px: int) -> tuple[int, int, int]:
        f = self.backend.vae_scale_factor
        if width_px % f or height_px % f:
            raise ValueError(f"stream size {width_px}x{height_px} must be a multiple of the VAE factor {f}")
        return self.backend.latent_channels, height_px // f, width_px // f

    def noise_shape(self, config: StreamConfig) -> tuple[int, int, int, int]:
        return (config.steps, *self.latent_shape_for(config.width_px, config.height_px))

    @torch.inference_mode()
    def prepare(self, config: StreamConfig, prompt_embeds: torch.Tensor, negative_embeds: torch.Tensor | None = None,
                noise: torch.Tensor | None = None) -> None:
        """Precompute the embedding batch, timesteps, scalings and noise; empties the stream batch."""
        check_t_index_list(config.t_index_list, self.schedule.num_inference_steps)
        latent_shape = self.latent_shape_for(config.width_px, config.height_px)
        cond = prompt_embeds.to(device=self.device, dtype=self.dtype)
        uncond = (negative_embeds if negative_embeds is not None else torch.zeros_like(prompt_embeds)).to(
            device=self.device, dtype=self.dtype)
        state = _State(config=config, latent_shape=latent_shape, cond=cond, uncond=uncond)
        self._state = state
        self._build_embeds(state)
        self._build_scalings(state)
        shape = self.noise_shape(config)
        state.init_noise = (noise if noise is not None else seed_noise(config.seed, shape)).to(
            device=self.device, dtype=self.dtype).clone()
        if tuple(state.init_noise.shape) != shape:
            raise ValueError(f"noise has shape {tuple(state.init_noise.shape)}, the stream needs {shape}")
        state.stock_noise = torch.zeros_like(state.init_noise)
        n = config.steps
        state.buffer = torch.zeros((n - 1, *latent_shape), device=self.device, dtype=self.dtype) if n > 1 else None
        state.frames_in = 0
        log.debug("prepared %dx%d, t_index_list %s, cfg %s (UNet batch %d)", config.width_px, config.height_px,
                  list(config.t_index_list), config.effective_cfg, config.unet_batch_size)

    def _build_embeds(self, s: _State) -> None:
        n = s.config.steps
        cfg = s.config.effective_cfg
        cond = s.cond.expand(n, -1, -1)
        if cfg == "initialize":
            s.embeds = torch.cat([s.uncond[:1], cond], dim=0).contiguous()
        elif cfg == "full":
            s.embeds = torch.cat([s.uncond[:1].expand(n, -1, -1), cond], dim=0).contiguous()
        else:
            s.embeds = cond.contiguous()

    def _build_scalings(self, s: _State) -> None:
        sc = self.schedule.scalings(s.config.t_index_list, self.device, self.dtype)
        s.timesteps = sc.timesteps
        s.alpha, s.beta, s.c_skip, s.c_out = sc.alpha_prod_t_sqrt, sc.beta_prod_t_sqrt, sc.c_skip, sc.c_out
        ones = torch.ones_like(s.alpha[:1])
        s.alpha_next = torch.cat([s.alpha[1:], ones], dim=0)
        s.beta_next = torch.cat([s.beta[1:], ones], dim=0)
        cfg = s.config.effective_cfg
        if cfg == "initialize":
            s.unet_timesteps = torch.cat([s.timesteps[:1], s.timesteps])
            s.unet_alpha, s.unet_beta = torch.cat([s.alpha[:1], s.alpha]), torch.cat([s.beta[:1], s.beta])
        elif cfg == "full":
            s.unet_timesteps = torch.cat([s.timesteps, s.timesteps])
            s.unet_alpha, s.unet_beta = torch.cat([s.alpha, s.alpha]), torch.cat([s.beta, s.beta])
        else:
            s.unet_timesteps, s.unet_alpha, s.unet_beta = s.timesteps, s.alpha, s.beta

    # ------------------------------------------------------------------ live changes (no re-prepare)
    @torch.inference_mode()
    def set_prompt_embeds(self, prompt_embeds: torch.Tensor, negative_embeds: torch.Tensor | None = None) -> None:
        s = self._require()
        s.cond = prompt_embeds.to(device=self.device, dtype=self.dtype)
        if negative_embeds is not None:
            s.uncond = negative_embeds.to(device=self.device, dtype=self.dtype)
        self._build_embeds(s)

    @torch.inference_mode()
    def set_t_index_list(self, t_index_list: Sequence[int]) -> None:
        """New strength with the same step count keeps the latents in flight; another count re-prepares."""
        s = self._require()
        t_index_list = check_t_index_list(t_index_list, self.schedule.num_inference_steps)
        if len(t_index_list) != s.config.steps:
            config = StreamConfig(**{**s.config.__dict__, "t_index_list": t_index_list})
            self.prepare(config, s.cond, s.uncond, None)
            return
        s.config = StreamConfig(**{**s.config.__dict__, "t_index_list": t_index_list})
        self._build_scalings(s)

    @torch.inference_mode()
    def set_guidance(self, guidance_scale: float, cfg_type: str, delta: float) -> None:
        s = self._require()
        config = StreamConfig(**{**s.config.__dict__, "guidance_scale": guidance_scale, "cfg_type": cfg_type,
                                 "delta": delta})
        if config.unet_batch_size != s.config.unet_batch_size or config.effective_cfg != s.config.effective_cfg:
            s.config = config
            s.stock_noise.zero_()
            self._build_embeds(s)
            self._build_scalings(s)
        else:
            s.config = config

    @torch.inference_mode()
    def set_noise(self, noise: torch.Tensor) -> None:
        """Replace the per-step noise (seed change or seed travel) without emptying the stream batch."""
        s = self._require()
        noise = noise.to(device=self.device, dtype=self.dtype)
        if tuple(noise.shape) != tuple(s.init_noise.shape):
            raise ValueError(f"noise has shape {tuple(noise.shape)}, the stream needs {tuple(s.init_noise.shape)}")
        s.init_noise = noise.clone()

    def _require(self) -> _State:
        if self._state is None:
            raise RuntimeError("prepare() has not been called")
        return self._state

    # ------------------------------------------------------------------ per frame
    @torch.inference_mode()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(1, 3, H, W) in [-1, 1] -> (1, C, h, w) scaled latent."""
        return self.backend.encode(images.to(device=self.device, dtype=self.dtype))

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor, clamp: bool = True) -> torch.Tensor:
        """Latent -> (1, 3, H, W) image in [-1, 1] (``clamp=False``: as the decoder gave it, for a caller that clamps)."""
        image = self.backend.decode(latents)
        return image.clamp(-1.0, 1.0) if clamp else image

    @torch.inference_mode()
    def step_latent(self, x0_latent: torch.Tensor, controls: Sequence[ControlInput] = (),
                    noise_scale: torch.Tensor | None = None) -> tuple[torch.Tensor, bool]:
        """Push one encoded frame through the stream batch; (finished latent, ready to show)."""
        s = self._require()
        cfg = s.config.effective_cfg
        n = s.config.steps
        noise0 = s.init_noise[:1] if noise_scale is None else s.init_noise[:1] * noise_scale
        x_t = s.alpha[:1] * x0_latent.to(self.dtype) + s.beta[:1] * noise0
        if n > 1:
            assert s.buffer is not None
            x_t = torch.cat([x_t, s.buffer], dim=0)
            s.stock_noise = torch.cat([s.init_noise[:1], s.stock_noise[:-1]], dim=0)
        if cfg == "initialize":
            unet_in = torch.cat([x_t[:1], x_t], dim=0)
        elif cfg == "full":
            unet_in = torch.cat([x_t, x_t], dim=0)
        else:
            unet_in = x_t
        down, mid = self._control_residuals(unet_in, s, controls)
        pred = self.backend.unet(unet_in, s.unet_timesteps, s.embeds, down, mid).to(self.dtype)
        if self.schedule.prediction_type == "v_prediction":
            pred = s.unet_alpha * pred + s.unet_beta * unet_in  # v -> epsilon
        if cfg == "initialize":
            eps_text = pred[1:]
            s.stock_noise = torch.cat([pred[:1], s.stock_noise[1:]], dim=0)
        elif cfg == "full":
            eps_uncond, eps_text = pred.chunk(2)
        else:
            eps_text = pred
        if cfg in ("self", "initialize"):
            eps_uncond = s.stock_noise * s.config.delta
        if cfg != "none":
            eps = eps_uncond + s.config.guidance_scale * (eps_text - eps_uncond)
        else:
            eps = eps_text
        denoised = s.c_out * ((x_t - s.beta * eps) / s.alpha) + s.c_skip * x_t
        if cfg in ("self", "initialize"):
            scaled_noise = s.beta * s.stock_noise
            delta_x = s.c_out * ((scaled_noise - s.beta * eps) / s.alpha) + s.c_skip * scaled_noise
            delta_x = s.alpha_next * delta_x / s.beta_next
            s.init_noise = torch.cat([s.init_noise[1:], s.init_noise[:1]], dim=0)
            s.stock_noise = s.init_noise + delta_x
        if n > 1:
            out = denoised[-1:]
            if s.config.add_noise:
                s.buffer = s.alpha[1:] * denoised[:-1] + s.beta[1:] * s.init_noise[1:]
            else:
                s.buffer = s.alpha[1:] * denoised[:-1]
        else:
            out = denoised
        s.frames_in += 1
        return out, s.frames_in > n - 1

    def _control_residuals(self, unet_in: torch.Tensor, s: _State, controls: Sequence[ControlInput]
                           ) -> tuple[list[torch.Tensor] | None, torch.Tensor | None]:
        down_sum: list[torch.Tensor] | None = None
        mid_sum: torch.Tensor | None = None
        batch = unet_in.shape[0]
        for control in controls:
            if control.scale == 0.0:
                continue
            cond = control.image.to(device=self.device, dtype=self.dtype).expand(batch, -1, -1, -1)
            down, mid = self.backend.controlnet(control.index, unet_in, s.unet_timesteps, s.embeds, cond, control.scale)
            if down_sum is None:
                down_sum, mid_sum = list(down), mid
            else:
                down_sum = [a + b for a, b in zip(down_sum, down)]
                mid_sum = mid_sum + mid
        return down_sum, mid_sum

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor, controls: Sequence[ControlInput] = ()) -> tuple[torch.Tensor | None, torch.Tensor, bool]:
        """Encode, step and (when ready) decode one frame: (image or None, finished latent, ready)."""
        latent, ready = self.step_latent(self.encode(images), controls)
        return (self.decode(latent) if ready else None), latent, ready
