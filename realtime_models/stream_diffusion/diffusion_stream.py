"""One live stream through StreamDiffusion: host frames in, host frames out, everything else on the device.

:class:`DiffusionStream` is what a pipeline stage drives.  Per frame it

1. consults the stochastic similarity filter on the host frame (skip = the
   previous output again, no network runs);
2. uploads the RGB frame, scales it to the processing size (long side
   ``process_long_side_px``, a multiple of what the UNet needs);
3. mixes in the previous output through the 2D feedback transform
   (dream sequences), if ``feedback`` > 0;
4. evaluates the keyframe schedules at the current position (frames since
   the schedules were set, or seconds): prompt travel (slerp of cached
   embeddings), strength (-> ``t_index_list``), seed travel (slerp of noise),
   zoom/angle/translation;
5. builds ControlNet conditioning from the depth plane and/or skeleton;
6. encodes, applies temporal steadiness, steps the stream batch, decodes
   when the output is ready (after the ``steps - 1`` warm-up frames), and
   returns the picture at the input's size as RGB uint8.

Settings are plain values (:class:`DiffusionSettings`); ``configure`` checks
and applies them between frames, re-preparing the stream only when the
resolution or the step count changes.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from realtime_models.stream_diffusion.backend import DiffusionBackend
from realtime_models.stream_diffusion.control_conditioning import (
    check_keypoints,
    control_image_from_rgb,
    depth_to_control_image,
    render_openpose,
)
from realtime_models.stream_diffusion.feedback_transform import FeedbackMotion, FeedbackTransform
from realtime_models.stream_diffusion.keyframe_schedule import KeyframeSchedule, parse_optional_schedule
from realtime_models.stream_diffusion.prompt_travel import PromptEncoder, SeedNoiseCache, slerp
from realtime_models.stream_diffusion.schedule import LcmSchedule, check_t_index_list, strength_to_t_index_list
from realtime_models.stream_diffusion.similarity_filter import StochasticSimilarityFilter
from realtime_models.stream_diffusion.stream_diffusion import CFG_TYPES, ControlInput, StreamConfig, StreamDiffusion
from realtime_models.stream_diffusion.temporal_steadiness import TemporalSteadiness

log = logging.getLogger(__name__)

CONTROL_KINDS = ("depth", "pose")
SCHEDULE_CLOCKS = ("frames", "seconds")
MIN_STRENGTH = 0.02


@dataclass(frozen=True)
class DiffusionSettings:
    process_long_side_px: int = 512
    prompt: str = ""
    negative_prompt: str = ""
    prompt_schedule: str = ""
    strength: float = 0.5
    steps: int = 2
    t_index_list: tuple[int, ...] | None = None
    strength_schedule: str = ""
    guidance_scale: float = 1.0
    cfg_type: str = "self"
    delta: float = 1.0
    seed: int = 2
    seed_schedule: str = ""
    similarity_filter: bool = False
    similarity_threshold: float = 0.98
    max_skip_frames: int = 10
    steadiness: float = 0.0
    motion_sensitivity: float = 8.0
    motion_noise_damping: float = 0.0
    feedback: float = 0.0
    zoom_schedule: str = ""
    angle_schedule: str = ""
    translate_x_schedule: str = ""
    translate_y_schedule: str = ""
    schedule_clock: str = "frames"
    controlnet_scales: tuple[float, ...] = ()
    depth_near_m: float | None = None
    depth_far_m: float | None = None


@dataclass
class DiffusionFrameResult:
    image: np.ndarray | None  # H x W x 3 RGB uint8 at the input's size; None while warming up
    warming_up: bool = False
    skipped: bool = False  # the similarity filter reused the previous output
    position: float = 0.0  # where the schedules were evaluated
    process_size_px: tuple[int, int] = (0, 0)  # (width, height) the networks ran at


@dataclass
class _Schedules:
    prompt: KeyframeSchedule | None = None
    strength: KeyframeSchedule | None = None
    seed: KeyframeSchedule | None = None
    zoom: KeyframeSchedule | None = None
    angle: KeyframeSchedule | None = None
    translate_x: KeyframeSchedule | None = None
    translate_y: KeyframeSchedule | None = None


def host_tensor(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor on a host array without copying it when it is contiguous.

    Frames arrive as read-only views of the received message; torch warns
    about wrapping those, but nothing here writes through the view (every
    step makes a new tensor), so the warning is silenced.
    """
    array = array if array.flags.c_contiguous else np.ascontiguousarray(array)
    if array.flags.writeable:
        return torch.from_numpy(array)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


class HostUploader:
    """Host arrays to the device: zero-copy views on the CPU; pinned, double-buffered async copies on a GPU.

    Pinned buffers are allocated once per shape (allocating pinned memory
    per frame would synchronise the device); each of the two buffers is only
    rewritten after the copy that last read it has finished, which waits
    on that copy alone, not on the queued network work.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._buffers: dict[tuple, torch.Tensor] = {}
        self._events: dict[tuple, Any] = {}
        self._turn = 0

    def upload(self, array: np.ndarray) -> torch.Tensor:
        host = host_tensor(array)
        if self.device.type != "cuda":
            return host
        key = (tuple(array.shape), host.dtype, self._turn)
        self._turn ^= 1
        buffer = self._buffers.get(key)
        if buffer is None:
            if len(self._buffers) >= 8:  # sizes changed: drop the old buffers
                self._buffers.clear()
                self._events.clear()
            buffer = torch.empty(host.shape, dtype=host.dtype, pin_memory=True)
            self._buffers[key] = buffer
        event = self._events.get(key)
        if event is not None:
            event.synchronize()
        buffer.copy_(host)
        on_device = buffer.to(self.device, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        self._events[key] = event
        return on_device


def process_size(width_px: int, height_px: int, long_side_px: int, multiple_px: int) -> tuple[int, int]:
    """(width, height) for the networks: long side ``long_side_px`` (0 = as is), aspect kept, multiples of ``multiple_px``."""
    scale = 1.0 if long_side_px <= 0 else long_side_px / max(width_px, height_px)
    w = max(multiple_px, int(round(width_px * scale / multiple_px)) * multiple_px)
    h = max(multiple_px, int(round(height_px * scale / multiple_px)) * multiple_px)
    return w, h


def check_settings(settings: DiffusionSettings, controlnet_count: int = 0,
                   num_inference_steps: int = 50) -> _Schedules:
    """Validate every value and parse the schedules; ValueError names the setting at fault."""
    if settings.cfg_type not in CFG_TYPES:
        raise ValueError(f"cfg_type {settings.cfg_type!r} is not one of {', '.join(CFG_TYPES)}")
    if settings.schedule_clock not in SCHEDULE_CLOCKS:
        raise ValueError(f"schedule_clock {settings.schedule_clock!r} is not one of {', '.join(SCHEDULE_CLOCKS)}")
    if not 1 <= settings.steps <= num_inference_steps:
        raise ValueError(f"steps must be 1..{num_inference_steps}, got {settings.steps}")
    if not 0.0 < settings.strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {settings.strength}")
    if settings.t_index_list is not None:
        check_t_index_list(settings.t_index_list, num_inference_steps)
    if not 0.0 <= settings.feedback <= 1.0:
        raise ValueError(f"feedback must be in 0..1, got {settings.feedback}")
    if len(settings.controlnet_scales) > controlnet_count:
        raise ValueError(f"{len(settings.controlnet_scales)} ControlNet scales given for {controlnet_count} ControlNet(s)")
    if (settings.depth_near_m is None) != (settings.depth_far_m is None):
        raise ValueError("give both depth_near_m and depth_far_m, or neither (per-frame range)")
    if settings.depth_near_m is not None and not 0 < settings.depth_near_m < settings.depth_far_m:  # type: ignore[operator]
        raise ValueError(f"depth range needs 0 < depth_near_m < depth_far_m, got {settings.depth_near_m}..{settings.depth_far_m}")
    TemporalSteadiness(settings.steadiness, settings.motion_sensitivity, settings.motion_noise_damping)
    StochasticSimilarityFilter(settings.similarity_threshold, settings.max_skip_frames)
    schedules = _Schedules()
    for name, kind in (("prompt", "prompt"), ("strength", "number"), ("seed", "int"), ("zoom", "number"),
                       ("angle", "number"), ("translate_x", "number"), ("translate_y", "number")):
        text = getattr(settings, f"{name}_schedule")
        try:
            setattr(schedules, name, parse_optional_schedule(text, kind))
        except ValueError as exc:
            raise ValueError(f"{name}_schedule: {exc}") from None
    if schedules.strength is not None and any(not 0 < v <= 1 for v in schedules.strength.values):
        raise ValueError("strength_schedule values must be in (0, 1]")
    if schedules.zoom is not None and any(v <= 0 for v in schedules.zoom.values):
        raise ValueError("zoom_schedule values must be positive")
    return schedules


class DiffusionStream:
    def __init__(self, backend: DiffusionBackend, prompt_encoder: PromptEncoder, schedule: LcmSchedule,
                 controlnet_kinds: Sequence[str] = (), settings: DiffusionSettings | None = None,
                 size_multiple_px: int = 8, filter_seed: int = 0) -> None:
        unknown = [k for k in controlnet_kinds if k not in CONTROL_KINDS]
        if unknown:
            raise ValueError(f"ControlNet kind(s) {unknown} not supported (use {', '.join(CONTROL_KINDS)})")
        if len(controlnet_kinds) != backend.controlnet_count:
            raise ValueError(f"{len(controlnet_kinds)} ControlNet kinds for {backend.controlnet_count} loaded ControlNet(s)")
        self.backend = backend
        self.prompts = prompt_encoder
        self.stream = StreamDiffusion(backend, schedule)
        self.controlnet_kinds = tuple(controlnet_kinds)
        self.size_multiple_px = max(int(size_multiple_px), backend.vae_scale_factor)
        self.device, self.dtype = backend.device, backend.dtype
        self._noise = SeedNoiseCache(self.device, self.dtype)
        self._uploader = HostUploader(self.device)
        self._feedback = FeedbackTransform()
        self._steady = TemporalSteadiness(0.0)
        self._filter_seed = filter_seed
        self._filter = StochasticSimilarityFilter(seed=filter_seed)
        self.settings = DiffusionSettings()
        self._schedules = _Schedules()
        self.configure(settings or DiffusionSettings())
        self._reset_runtime()

    # ------------------------------------------------------------------ control
    def configure(self, settings: DiffusionSettings) -> None:
        """Check and take new settings (between frames); raises ValueError and keeps the old ones on bad input."""
        schedules = check_settings(settings, len(self.controlnet_kinds), self.stream.schedule.num_inference_steps)
        old = self.settings
        self.settings, self._schedules = settings, schedules
        self._steady.configure(settings.steadiness, settings.motion_sensitivity, settings.motion_noise_damping)
        if (settings.similarity_threshold, settings.max_skip_frames) != (old.similarity_threshold, old.max_skip_frames):
            self._filter.threshold = settings.similarity_threshold
            self._filter.max_skip_frames = settings.max_skip_frames
        schedule_texts = lambda s: (s.prompt_schedule, s.strength_schedule, s.seed_schedule, s.zoom_schedule,  # noqa: E731
                                    s.angle_schedule, s.translate_x_schedule, s.translate_y_schedule, s.schedule_clock)
        if schedule_texts(settings) != schedule_texts(old):
            self._schedule_origin: float | None = None  # schedules restart from 0 when they change

    def _reset_runtime(self) -> None:
        self._frame_count = 0
        self._schedule_origin = None
        self._embed_key: Any = None
        self._noise_key: Any = None
        self._t_index: tuple[int, ...] | None = None
        self._guidance: tuple | None = None
        self._last_output: np.ndarray | None = None
        self._prev_output_image: torch.Tensor | None = None
        self._pose_key: tuple | None = None
        self._pose_image: torch.Tensor | None = None
        self._steady.reset()
        self._filter.reset()

    def reset(self) -> None:
        """Start over: empty stream batch (warm-up again), schedules from 0, no feedback history."""
        self.stream._state = None
        self._reset_runtime()

    # ------------------------------------------------------------------ per-frame pieces
    def _position(self, t_s: float | None) -> float:
        if self.settings.schedule_clock == "seconds":
            now = t_s if t_s is not None else 0.0
            if self._schedule_origin is None:
                self._schedule_origin = now
            return now - self._schedule_origin
        if self._schedule_origin is None:
            self._schedule_origin = float(self._frame_count)
        return self._frame_count - self._schedule_origin

    def _embeddings(self, position: float) -> tuple[Any, torch.Tensor | None, torch.Tensor]:
        sched = self._schedules.prompt
        if sched is not None:
            seg = sched.segment(position)
            key: Any = ("travel", seg.a, seg.b, round(seg.t, 4), self.settings.negative_prompt)
        else:
            key = ("prompt", self.settings.prompt, self.settings.negative_prompt)
        negative = self.prompts.encode(self.settings.negative_prompt)
        if key == self._embed_key:
            return key, None, negative
        if sched is not None:
            a = self.prompts.encode_weighted(seg.a)
            embeds = a if seg.a == seg.b or seg.t <= 0 else slerp(a, self.prompts.encode_weighted(seg.b), seg.t)
        else:
            embeds = self.prompts.encode_weighted(self.settings.prompt)
        return key, embeds, negative

    def _t_index_list(self, position: float) -> tuple[int, ...]:
        s = self.settings
        if s.t_index_list is not None:
            return tuple(s.t_index_list)
        strength = self._schedules.strength.number_at(position) if self._schedules.strength is not None else s.strength
        return tuple(strength_to_t_index_list(min(1.0, max(MIN_STRENGTH, strength)), s.steps,
                                              self.stream.schedule.num_inference_steps))

    def _noise_for(self, position: float, shape: tuple[int, ...]) -> tuple[Any, torch.Tensor]:
        sched = self._schedules.seed
        if sched is not None:
            seg = sched.segment(position)
            key: Any = (int(seg.a), int(seg.b), round(seg.t, 4), shape)
            if key == self._noise_key:
                return key, None  # type: ignore[return-value]
            return key, self._noise.blended(int(seg.a), int(seg.b), seg.t, shape)
        key = (self.settings.seed, shape)
        if key == self._noise_key:
            return key, None  # type: ignore[return-value]
        return key, self._noise.get(self.settings.seed, shape)

    def _motion(self, position: float) -> FeedbackMotion:
        sch = self._schedules

        def at(schedule: KeyframeSchedule | None, default: float) -> float:
            return default if schedule is None else schedule.number_at(position)

        return FeedbackMotion(at(sch.zoom, 1.0), at(sch.angle, 0.0), at(sch.translate_x, 0.0), at(sch.translate_y, 0.0))

    def _upload(self, rgb: np.ndarray, width_px: int, height_px: int) -> torch.Tensor:
        """Host RGB uint8 -> (1, 3, h, w) device tensor in [-1, 1] at the processing size.

        The arithmetic runs in the frame's own H x W x C order and the result is
        a channels-last view: no transposing copy.
        """
        hwc = self._uploader.upload(rgb).to(self.dtype).mul_(2.0 / 255.0).sub_(1.0)
        image = hwc.permute(2, 0, 1).unsqueeze(0)
        if image.shape[-2:] != (height_px, width_px):
            image = F.interpolate(image, size=(height_px, width_px), mode="bilinear", align_corners=False,
                                  antialias=rgb.shape[1] > width_px)
        return image

    def _download(self, image: torch.Tensor, width_px: int, height_px: int) -> np.ndarray:
        """(1, 3, h, w) in [-1, 1] -> host H x W x 3 RGB uint8 at the input's size (arithmetic in HWC order)."""
        if image.shape[-2:] != (height_px, width_px):
            image = F.interpolate(image.float(), size=(height_px, width_px), mode="bilinear", align_corners=False)
        out = image[0].permute(1, 2, 0).mul(127.5).add_(128.0).clamp_(0.0, 255.0).to(torch.uint8)
        return out.cpu().numpy()

    def _controls(self, depth_m: np.ndarray | None, pose_keypoints: Sequence[float] | None,
                  width_px: int, height_px: int) -> list[ControlInput]:
        controls: list[ControlInput] = []
        scales = self.settings.controlnet_scales
        for index, kind in enumerate(self.controlnet_kinds):
            scale = scales[index] if index < len(scales) else 1.0
            if scale == 0.0:
                continue
            if kind == "depth" and depth_m is not None:
                plane = self._uploader.upload(depth_m)
                image = depth_to_control_image(plane, height_px, width_px, self.settings.depth_near_m,
                                               self.settings.depth_far_m)
                controls.append(ControlInput(index, image, scale))
            elif kind == "pose" and pose_keypoints is not None:
                key = (tuple(float(v) for v in np.asarray(pose_keypoints).reshape(-1)), width_px, height_px)
                if key != self._pose_key or self._pose_image is None:
                    rendered = render_openpose(check_keypoints(key[0]), width_px, height_px)
                    self._pose_image = control_image_from_rgb(rendered, self.device, self.dtype)
                    self._pose_key = key
                controls.append(ControlInput(index, self._pose_image, scale))
        return controls

    # ------------------------------------------------------------------ the frame
    @torch.inference_mode()
    def process(self, rgb: np.ndarray, depth_m: np.ndarray | None = None,
                pose_keypoints: Sequence[float] | None = None, t_s: float | None = None) -> DiffusionFrameResult:
        """One engine frame (H x W x 3 RGB uint8) -> the restyled frame, or None during warm-up."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"frame must be H x W x 3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
        if depth_m is not None and depth_m.shape[:2] != rgb.shape[:2]:
            raise ValueError(f"depth plane is {depth_m.shape[1]}x{depth_m.shape[0]} but the frame is "
                             f"{rgb.shape[1]}x{rgb.shape[0]}")
        s = self.settings
        height, width = rgb.shape[:2]
        pw, ph = process_size(width, height, s.process_long_side_px, self.size_multiple_px)
        position = self._position(t_s)
        self._frame_count += 1
        last = self._last_output
        if s.similarity_filter:
            if last is not None and last.shape == rgb.shape:
                if self._filter.should_skip(rgb):
                    return DiffusionFrameResult(last, skipped=True, position=position, process_size_px=(pw, ph))
            else:
                self._filter.note_processed(rgb)  # nothing to reuse yet: this frame is the reference

        embed_key, embeds, negative = self._embeddings(position)
        t_index = self._t_index_list(position)
        guidance = (s.guidance_scale, s.cfg_type, s.delta)
        needs_prepare = (not self.stream.prepared or (self.stream.config.width_px, self.stream.config.height_px) != (pw, ph)
                         or self.stream.config.steps != len(t_index))
        if needs_prepare:
            if embeds is None:
                embeds = self.stream._require().cond  # prompt unchanged: reuse
            config = StreamConfig(pw, ph, t_index, s.guidance_scale, s.cfg_type, s.delta, s.seed)
            noise_key, noise = self._noise_for(position, self.stream.noise_shape(config))
            if noise is None:
                noise = self._noise.get(s.seed, self.stream.noise_shape(config))
            self.stream.prepare(config, embeds, negative, noise)
            self._embed_key, self._noise_key, self._t_index, self._guidance = embed_key, noise_key, t_index, guidance
            self._steady.reset()
            self._prev_output_image = None
            self._last_output = None
        else:
            if embeds is not None:
                self.stream.set_prompt_embeds(embeds, negative)
                self._embed_key = embed_key
            if t_index != self._t_index:
                self.stream.set_t_index_list(t_index)
                self._t_index = t_index
            if guidance != self._guidance:
                self.stream.set_guidance(*guidance)
                self._guidance = guidance
            noise_key, noise = self._noise_for(position, self.stream.noise_shape(self.stream.config))
            if noise is not None:
                self.stream.set_noise(noise)
                self._noise_key = noise_key

        image = self._upload(rgb, pw, ph)
        previous = self._prev_output_image
        if s.feedback > 0.0 and previous is not None and previous.shape == image.shape:
            warped = self._feedback.warp(previous, self._motion(position))
            image = torch.lerp(image, warped.to(image.dtype), s.feedback)
        controls = self._controls(depth_m, pose_keypoints, pw, ph)
        latent = self.stream.encode(image)
        noise_scale = None
        if self._steady.active:
            latent, noise_scale = self._steady.apply(latent)
        out_latent, ready = self.stream.step_latent(latent, controls, noise_scale)
        if self._steady.active:
            self._steady.remember_output(out_latent)
        if not ready:
            return DiffusionFrameResult(None, warming_up=True, position=position, process_size_px=(pw, ph))
        decoded = self.stream.decode(out_latent, clamp=False)  # _download clamps; feedback clamps its own copy
        if s.feedback > 0.0:
            decoded = decoded.clamp(-1.0, 1.0)
        self._prev_output_image = decoded
        result = self._download(decoded, width, height)
        self._last_output = result
        return DiffusionFrameResult(result, position=position, process_size_px=(pw, ph))

    def update(self, **changes: Any) -> None:
        """``configure`` with some settings changed."""
        self.configure(replace(self.settings, **changes))
