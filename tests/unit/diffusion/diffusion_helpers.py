"""Helpers for the streaming diffusion tests (imported by name; pytest fixtures live in conftest.py).

Everything runs offline: the hub is switched off before diffusers or
transformers are imported, so any attempt to download fails the test.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["DIFFUSERS_OFFLINE"] = "1"

import re  # noqa: E402
from typing import Any  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from realtime_models.stream_diffusion.backend import TimedBackend, TorchBackend  # noqa: E402
from realtime_models.stream_diffusion.diffusion_stream import DiffusionSettings, DiffusionStream  # noqa: E402
from realtime_models.stream_diffusion.model_loading import (  # noqa: E402
    ControlNetFile,
    DiffusionModelFiles,
    LoadedDiffusionModels,
)
from realtime_models.stream_diffusion.prompt_travel import PromptEncoder  # noqa: E402
from realtime_models.stream_diffusion.schedule import LcmSchedule  # noqa: E402
from realtime_models.stream_diffusion.tiny_models import TinyModelPaths  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def tiny_files(paths: TinyModelPaths, controlnets: tuple[str, ...] = ("depth", "pose"), **kw: Any) -> DiffusionModelFiles:
    return DiffusionModelFiles(
        model=paths.model_dir, tiny_vae=paths.tiny_vae_dir,
        controlnets=tuple(ControlNetFile(paths.controlnet_dirs[k], k) for k in controlnets), **kw,
    )


def make_stream(models: LoadedDiffusionModels, settings: DiffusionSettings | None = None,
                controlnets: bool = True) -> tuple[DiffusionStream, TimedBackend]:
    """A stream on the torch CPU backend with the network calls timed and counted."""
    if not controlnets:
        models = LoadedDiffusionModels(models.unet, models.text_encoder, models.tokenizer, models.vae, [], [],
                                       models.scheduler_config, models.source)
    torch_backend = TorchBackend(models, "cpu", torch.float32)
    backend = TimedBackend(torch_backend)
    encoder = PromptEncoder(models.tokenizer, models.text_encoder)
    stream = DiffusionStream(backend, encoder, LcmSchedule(models.scheduler_config), models.controlnet_kinds if controlnets else (),
                             settings or DiffusionSettings(process_long_side_px=64, prompt="a castle"),
                             size_multiple_px=torch_backend.size_multiple_px)
    return stream, backend


def moving_frames(count: int, width: int = 64, height: int = 64, speed_px: float = 1.0, seed: int = 0) -> list[np.ndarray]:
    """A textured picture sliding right by ``speed_px`` per frame (smooth, so the motion is 'slow')."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height // 8 + 2, (width + int(count * speed_px)) // 8 + 3, 3)).astype(np.float32)
    big = cv2.resize(base, (base.shape[1] * 8, base.shape[0] * 8), interpolation=cv2.INTER_CUBIC)
    frames = []
    for i in range(count):
        x0 = i * speed_px
        m = np.float32([[1, 0, -x0], [0, 1, 0]])
        frame = cv2.warpAffine(big, m, (width, height), flags=cv2.INTER_LINEAR)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


# ---------------------------------------------------------------------------- LDM (original SD) layout writer
_RESNET_TO_LDM = (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"),
                  ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection"))
_TOP_TO_LDM = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
               "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}


def _resnet_rest(rest: str) -> str:
    for new, old in _RESNET_TO_LDM:
        if rest.startswith(new + "."):
            return old + rest[len(new):]
    raise KeyError(f"unexpected resnet tensor {rest}")


def unet_state_to_ldm(state: dict[str, torch.Tensor], config: Any) -> dict[str, torch.Tensor]:
    """A diffusers UNet state dict renamed to the original CompVis/LDM layout (what SD .safetensors files hold).

    The inverse of diffusers' own ``convert_ldm_unet_checkpoint``, written
    here so the single-file loader is tested on a real LDM-layout file.
    """
    layers = config["layers_per_block"]
    up_has_attention = ["CrossAttn" in t for t in config["up_block_types"]]  # up blocks have layers + 1 resnets
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        head, _, leaf = key.rpartition(".")
        if head in _TOP_TO_LDM:
            out[f"{_TOP_TO_LDM[head]}.{leaf}"] = value
            continue
        if m := re.match(r"down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$", key):
            i, j, rest = int(m[1]), int(m[2]), m[3]
            out[f"input_blocks.{1 + i * (layers + 1) + j}.0.{_resnet_rest(rest)}"] = value
        elif m := re.match(r"down_blocks\.(\d+)\.attentions\.(\d+)\.(.*)$", key):
            i, j, rest = int(m[1]), int(m[2]), m[3]
            out[f"input_blocks.{1 + i * (layers + 1) + j}.1.{rest}"] = value
        elif m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)$", key):
            out[f"input_blocks.{(int(m[1]) + 1) * (layers + 1)}.0.op.{m[2]}"] = value
        elif m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)$", key):
            out[f"middle_block.{2 * int(m[1])}.{_resnet_rest(m[2])}"] = value
        elif m := re.match(r"mid_block\.attentions\.0\.(.*)$", key):
            out[f"middle_block.1.{m[1]}"] = value
        elif m := re.match(r"up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$", key):
            i, j, rest = int(m[1]), int(m[2]), m[3]
            out[f"output_blocks.{i * (layers + 1) + j}.0.{_resnet_rest(rest)}"] = value
        elif m := re.match(r"up_blocks\.(\d+)\.attentions\.(\d+)\.(.*)$", key):
            i, j, rest = int(m[1]), int(m[2]), m[3]
            out[f"output_blocks.{i * (layers + 1) + j}.1.{rest}"] = value
        elif m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)$", key):
            i = int(m[1])
            slot = 2 if up_has_attention[i] else 1
            out[f"output_blocks.{i * (layers + 1) + layers}.{slot}.conv.{m[2]}"] = value
        else:
            raise KeyError(f"no LDM name for {key}")
    return {"model.diffusion_model." + k: v for k, v in out.items()}
