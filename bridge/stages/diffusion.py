"""``diffusion``: live img2img restyling with a streaming diffusion model (StreamDiffusion family).

The engine's frame goes through a few-step SD-family model (SD 1.5/2.1,
SD-turbo, LCM or LCM-LoRA) with a tiny VAE, optionally guided by a depth
ControlNet fed from the FRAME's depth plane and an OpenPose ControlNet fed
from a 2D skeleton (``pose_keypoints``).  Model code lives in
``realtime_models.stream_diffusion``; this adapter maps parameters to its
settings and frames to its calls.

Setup-only parameters (model files and backend; see docs/pipeline.md):
  model             diffusers SD folder or single-file .safetensors checkpoint (required)
  model_config      folder with unet/, text_encoder/ configs and tokenizer/ (single-file checkpoints)
  tiny_vae          TAESD (AutoencoderTiny) folder; without it the model's own vae/ is used
  lora, lora_scale, fuse_lora   a LoRA .safetensors (e.g. LCM-LoRA), fused or kept as an adapter
  controlnet_depth, controlnet_pose   ControlNet folders
  backend           torch, onnxruntime or tensorrt; onnx_dir for the latter two
  device, dtype, channels_last, compile, engine_cache_dir, engine_min_px/engine_max_px, cuda_graphs, threads

Live parameters: prompt (``|``-separated, ``:: weight``), negative_prompt,
strength, steps, t_index_list, guidance_scale, cfg_type, delta, seed,
similarity filter, steadiness, feedback transform, keyframe schedules
(``"0: a castle, 48: a forest"``), ControlNet scales, depth range and the
skeleton.  While the stream batch warms up (the first ``steps - 1``
frames) the frame is marked held: the engine gets its own picture (or the
previous output) back, never an undenoised latent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bridge.protocol.errors import ErrorCode
from bridge.stage import StageBase, StageFrame, StreamSpec
from bridge.stage_params import ParamError, ParamSpec

log = logging.getLogger(__name__)

_SCHEDULE_KINDS = {"prompt_schedule": "prompt", "strength_schedule": "number", "seed_schedule": "int",
                   "zoom_schedule": "number", "angle_schedule": "number", "translate_x_schedule": "number",
                   "translate_y_schedule": "number"}
POSE_NUMBERS = 18 * 3


def _schedule_check(kind: str):
    def check(text: str) -> str:
        from realtime_models.stream_diffusion.keyframe_schedule import parse_optional_schedule

        parse_optional_schedule(text, kind)
        return text
    return check


def _prompt_check(text: str) -> str:
    from realtime_models.stream_diffusion.prompt_travel import parse_weighted_prompts

    parse_weighted_prompts(text)
    return text


def _t_index_check(values: list[float]) -> list[int]:
    from realtime_models.stream_diffusion.schedule import check_t_index_list

    if any(v != int(v) for v in values):
        raise ValueError(f"t_index_list must hold whole numbers, got {values}")
    return list(check_t_index_list([int(v) for v in values]))


def _required_path(value: str) -> str:
    if not value.strip():
        raise ValueError("a model path is required (a diffusers folder or a .safetensors file)")
    return value


def _schedule_param(name: str, doc: str) -> ParamSpec:
    return ParamSpec(name, "str", "", doc, check=_schedule_check(_SCHEDULE_KINDS[name]))


class DiffusionStage(StageBase):
    TYPE = "diffusion"
    PARAMS = (
        # -- model files and backend (setup only)
        ParamSpec("model", "str", "", "diffusers SD folder or single-file .safetensors", live=False,
                  check=_required_path),
        ParamSpec("model_config", "str", None, "config+tokenizer folder for a single-file checkpoint", live=False,
                  optional=True),
        ParamSpec("tiny_vae", "str", None, "TAESD (AutoencoderTiny) folder", live=False, optional=True),
        ParamSpec("lora", "str", None, "LoRA .safetensors (e.g. LCM-LoRA)", live=False, optional=True),
        ParamSpec("lora_scale", "float", 1.0, "LoRA strength", lo=0.0, hi=4.0, live=False),
        ParamSpec("fuse_lora", "bool", True, "merge the LoRA into the weights (else keep it as an adapter)", live=False),
        ParamSpec("controlnet_depth", "str", None, "depth ControlNet folder", live=False, optional=True),
        ParamSpec("controlnet_pose", "str", None, "OpenPose ControlNet folder", live=False, optional=True),
        ParamSpec("backend", "choice", "torch", "what runs the networks", choices=("torch", "onnxruntime", "tensorrt"),
                  live=False),
        ParamSpec("device", "choice", "auto", "torch: auto/cpu/cuda; onnxruntime: also tensorrt (its EP)",
                  choices=("auto", "cpu", "cuda", "tensorrt"), live=False),
        ParamSpec("dtype", "choice", "auto", "auto = fp16 on GPU, fp32 on CPU", choices=("auto", "fp16", "fp32"),
                  live=False),
        ParamSpec("channels_last", "bool", False, "torch: channels-last memory format", live=False),
        ParamSpec("compile", "bool", False, "torch: torch.compile the UNet (slow first frames)", live=False),
        ParamSpec("onnx_dir", "str", None, "export folder for onnxruntime/tensorrt", live=False, optional=True),
        ParamSpec("engine_cache_dir", "str", None, "TensorRT engine cache folder", live=False, optional=True),
        ParamSpec("engine_min_px", "int", 384, "TensorRT profile: smallest side", lo=64, hi=4096, live=False),
        ParamSpec("engine_max_px", "int", 1024, "TensorRT profile: largest side", lo=64, hi=4096, live=False),
        ParamSpec("cuda_graphs", "bool", False, "TensorRT: replay UNet launches as CUDA graphs", live=False),
        ParamSpec("threads", "int", 0, "torch CPU threads (0 = torch default)", lo=0, hi=256, live=False),
        # -- look (live)
        ParamSpec("process_long_side_px", "int", 512, "network resolution (long side)", lo=64, hi=2048),
        ParamSpec("prompt", "str", "", "prompt; 'a :: 0.7 | b :: 0.3' blends prompts", check=_prompt_check),
        ParamSpec("negative_prompt", "str", "", "negative prompt (used when guidance_scale > 1)"),
        ParamSpec("strength", "float", 0.5, "0 = keep the input, 1 = ignore it", lo=0.02, hi=1.0),
        ParamSpec("steps", "int", 2, "denoising steps (= frames of output lag + 1)", lo=1, hi=8),
        ParamSpec("t_index_list", "floats", None, "explicit schedule indices (overrides strength/steps)",
                  optional=True, lo=0, hi=49, check=_t_index_check),
        ParamSpec("guidance_scale", "float", 1.0, "classifier-free guidance (1 = off)", lo=0.0, hi=20.0),
        ParamSpec("cfg_type", "choice", "self", "residual CFG kind", choices=("none", "self", "initialize", "full")),
        ParamSpec("delta", "float", 1.0, "residual CFG: weight of the stored noise", lo=0.0, hi=5.0),
        ParamSpec("seed", "int", 2, "noise seed", lo=0, hi=2**63 - 1),
        ParamSpec("similarity_filter", "bool", False, "skip frames nearly identical to the last one"),
        ParamSpec("similarity_threshold", "float", 0.98, "cosine similarity above which frames may be skipped",
                  lo=0.0, hi=1.0),
        ParamSpec("max_skip_frames", "int", 10, "most frames skipped in a row", lo=0, hi=1000),
        ParamSpec("steadiness", "float", 0.0, "blend of the previous output into still regions (less flicker)",
                  lo=0.0, hi=1.0),
        ParamSpec("motion_sensitivity", "float", 8.0, "how fast motion overrides steadiness", lo=0.0, hi=1000.0),
        ParamSpec("motion_noise_damping", "float", 0.0, "less noise in still regions (0..1)", lo=0.0, hi=1.0),
        ParamSpec("feedback", "float", 0.0, "previous output fed back as input (dream sequences)", lo=0.0, hi=1.0),
        _schedule_param("prompt_schedule", "keyframed prompts '0: a castle, 48: a forest' (slerped)"),
        _schedule_param("strength_schedule", "keyframed strength '0: 0.4, 96: 0.7'"),
        _schedule_param("seed_schedule", "keyframed seeds '0: 1, 48: 2' (noise slerped)"),
        _schedule_param("zoom_schedule", "feedback zoom per frame '0: 1.0, 60: 1.02'"),
        _schedule_param("angle_schedule", "feedback rotation in degrees"),
        _schedule_param("translate_x_schedule", "feedback shift right in pixels"),
        _schedule_param("translate_y_schedule", "feedback shift down in pixels"),
        ParamSpec("schedule_clock", "choice", "frames", "schedule positions are frames or seconds",
                  choices=("frames", "seconds")),
        ParamSpec("controlnet_depth_scale", "float", 1.0, "depth ControlNet strength", lo=0.0, hi=2.0),
        ParamSpec("controlnet_pose_scale", "float", 1.0, "pose ControlNet strength", lo=0.0, hi=2.0),
        ParamSpec("depth_near_m", "float", None, "fixed near end of the depth range (else per frame)", optional=True,
                  lo=1e-4, hi=1e6),
        ParamSpec("depth_far_m", "float", None, "fixed far end of the depth range", optional=True, lo=1e-4, hi=1e7),
        ParamSpec("pose_keypoints", "floats", None, "skeleton: 18 COCO keypoints x (x, y, confidence), x/y in 0..1",
                  optional=True, length=POSE_NUMBERS, lo=-10.0, hi=10.0),
    )

    def __init__(self, name: str | None = None, params: dict[str, Any] | None = None) -> None:
        self._opened: Any = None
        self._version = -1
        super().__init__(name, params)
        p = self.params.snapshot()
        if not p["model"]:
            raise ParamError(ErrorCode.BAD_PARAM_VALUE, f"stage {self.name!r}: parameter 'model' is required "
                             "(a diffusers SD folder or a .safetensors checkpoint)")
        if p["backend"] != "torch" and not p["onnx_dir"]:
            raise ParamError(ErrorCode.BAD_PARAM_VALUE, f"stage {self.name!r}: backend {p['backend']!r} needs "
                             "'onnx_dir', a folder made by 'machinima-bridge models export'")
        if p["backend"] == "torch" and p["device"] == "tensorrt":
            raise ParamError(ErrorCode.BAD_PARAM_VALUE, f"stage {self.name!r}: device 'tensorrt' is the onnxruntime "
                             "TensorRT provider; with backend 'torch' use auto, cpu or cuda")
        if p["pose_keypoints"] is not None and not p["controlnet_pose"]:
            log.warning("%s: pose_keypoints given but no controlnet_pose: the skeleton is ignored", self.name)

    # ------------------------------------------------------------------ setup
    def _settings(self, p: dict[str, Any]) -> Any:
        from realtime_models.stream_diffusion.diffusion_stream import DiffusionSettings

        scales = []
        if p["controlnet_depth"]:
            scales.append(p["controlnet_depth_scale"])
        if p["controlnet_pose"]:
            scales.append(p["controlnet_pose_scale"])
        return DiffusionSettings(
            process_long_side_px=p["process_long_side_px"], prompt=p["prompt"], negative_prompt=p["negative_prompt"],
            prompt_schedule=p["prompt_schedule"], strength=p["strength"], steps=p["steps"],
            t_index_list=tuple(p["t_index_list"]) if p["t_index_list"] else None,
            strength_schedule=p["strength_schedule"], guidance_scale=p["guidance_scale"], cfg_type=p["cfg_type"],
            delta=p["delta"], seed=p["seed"], seed_schedule=p["seed_schedule"],
            similarity_filter=p["similarity_filter"], similarity_threshold=p["similarity_threshold"],
            max_skip_frames=p["max_skip_frames"], steadiness=p["steadiness"],
            motion_sensitivity=p["motion_sensitivity"], motion_noise_damping=p["motion_noise_damping"],
            feedback=p["feedback"], zoom_schedule=p["zoom_schedule"], angle_schedule=p["angle_schedule"],
            translate_x_schedule=p["translate_x_schedule"], translate_y_schedule=p["translate_y_schedule"],
            schedule_clock=p["schedule_clock"], controlnet_scales=tuple(scales),
            depth_near_m=p["depth_near_m"], depth_far_m=p["depth_far_m"],
        )

    def setup(self, stream: StreamSpec) -> None:
        super().setup(stream)
        import torch

        from realtime_models.stream_diffusion.model_loading import ControlNetFile, DiffusionModelFiles
        from realtime_models.stream_diffusion.stream_builder import BackendOptions, open_diffusion_stream

        p = self.params.snapshot()
        if p["threads"]:
            torch.set_num_threads(p["threads"])
        controlnets = []
        if p["controlnet_depth"]:
            controlnets.append(ControlNetFile(Path(p["controlnet_depth"]), "depth"))
        if p["controlnet_pose"]:
            controlnets.append(ControlNetFile(Path(p["controlnet_pose"]), "pose"))
        optional_path = lambda key: Path(p[key]) if p[key] else None  # noqa: E731
        files = DiffusionModelFiles(
            model=Path(p["model"]), model_config=optional_path("model_config"), tiny_vae=optional_path("tiny_vae"),
            controlnets=tuple(controlnets), lora=optional_path("lora"), lora_scale=p["lora_scale"],
            fuse_lora=p["fuse_lora"],
        )
        options = BackendOptions(
            backend=p["backend"], device=p["device"], dtype=p["dtype"], channels_last=p["channels_last"],
            compile_unet=p["compile"], onnx_dir=optional_path("onnx_dir"),
            engine_cache_dir=optional_path("engine_cache_dir"), min_px=p["engine_min_px"], max_px=p["engine_max_px"],
            opt_px=min(max(512, p["engine_min_px"]), p["engine_max_px"]), cuda_graphs=p["cuda_graphs"],
            threads=p["threads"] or None,
        )
        self._opened = open_diffusion_stream(files, options, self._settings(p))
        self._version = self.params.version
        log.info("%s: %s backend on %s, ControlNets %s", self.name, p["backend"], self._opened.backend.device,
                 self._opened.stream.controlnet_kinds or "none")

    # ------------------------------------------------------------------ frames
    def process(self, frame: StageFrame) -> None:
        assert self._opened is not None, "setup() was not called"
        stream = self._opened.stream
        if self._version != self.params.version or self.params.gliding:
            self._version = self.params.version
            stream.configure(self._settings(self.params.snapshot()))
        depth = frame.depth
        if depth is not None and depth.ndim == 3:
            depth = depth[..., 0]
        keypoints = self.params.get("pose_keypoints")
        result = stream.process(frame.rgb(), depth, keypoints, t_s=frame.t_capture_ns / 1e9)
        if result.image is None:
            frame.held = True  # warm-up: never show an undenoised latent
        else:
            frame.image = result.image

    def close(self) -> None:
        if self._opened is not None:
            self._opened.backend.close()
        self._opened = None

    @property
    def diffusion_stream(self) -> Any:
        """The running :class:`DiffusionStream` (tests and benchmarks look inside)."""
        return None if self._opened is None else self._opened.stream

