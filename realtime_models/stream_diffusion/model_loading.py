"""Loading SD-family models from local files only: never downloading, failing with the path named.

Accepted layouts:

* a diffusers Stable Diffusion folder (SD 1.5, SD 2.1, SD-turbo, an LCM
  model, ...): ``unet/``, ``text_encoder/``, ``tokenizer/`` (``vocab.json`` +
  ``merges.txt``), optional ``scheduler/scheduler_config.json`` and ``vae/``;
* a single-file ``.safetensors`` checkpoint, either in the original
  (CompVis/LDM) layout (``model.diffusion_model.*``, ``cond_stage_model.*``,
  ``first_stage_model.*``) or holding a diffusers-layout UNet state dict.  A
  checkpoint carries no tokenizer and no configs, so it comes with
  ``model_config``: a local folder with ``unet/config.json``,
  ``text_encoder/config.json`` and ``tokenizer/`` (any diffusers folder of
  the same family; its weights are not read);
* a TAESD ``AutoencoderTiny`` folder and ControlNet folders
  (``config.json`` + ``diffusion_pytorch_model.safetensors``);
* a LoRA ``.safetensors`` (e.g. LCM-LoRA, diffusers or kohya layout) applied
  to the UNet, either fused into its weights or kept as a scaled adapter.

Every failure raises :class:`ModelFileError` naming the path and what was
expected there.  ``from_pretrained`` is only ever called on local folders with
``local_files_only=True``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from realtime_models.onnx_runtime_session import ModelFileError
from realtime_models.stream_diffusion.schedule import SD_SCHEDULER_CONFIG

log = logging.getLogger(__name__)

WEIGHT_FILE_NAMES = ("diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.bin",
                     "pytorch_model.bin")
LDM_UNET_PREFIX = "model.diffusion_model."
LDM_CLIP_PREFIX = "cond_stage_model.transformer."
LDM_OPEN_CLIP_PREFIX = "cond_stage_model.model."
LDM_VAE_PREFIX = "first_stage_model."


@dataclass(frozen=True)
class ControlNetFile:
    """A ControlNet folder and the conditioning it expects (``depth`` or ``pose``)."""

    path: Path
    kind: str


@dataclass
class DiffusionModelFiles:
    """Which local files make up a streaming diffusion model."""

    model: Path
    model_config: Path | None = None  # needed with a single-file checkpoint
    tiny_vae: Path | None = None  # TAESD folder; without it the model's own vae/ (AutoencoderKL) is used
    controlnets: tuple[ControlNetFile, ...] = ()
    lora: Path | None = None
    lora_scale: float = 1.0
    fuse_lora: bool = True


@dataclass
class LoadedDiffusionModels:
    unet: Any
    text_encoder: Any
    tokenizer: Any
    vae: Any  # AutoencoderTiny or AutoencoderKL
    controlnets: list[Any] = field(default_factory=list)
    controlnet_kinds: list[str] = field(default_factory=list)
    scheduler_config: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def prediction_type(self) -> str:
        return str(self.scheduler_config.get("prediction_type", "epsilon"))

    @property
    def uses_tiny_vae(self) -> bool:
        return type(self.vae).__name__ == "AutoencoderTiny"


# ---------------------------------------------------------------------------- checks
def _require_dir(path: Path, expected: str) -> Path:
    if not path.exists():
        raise ModelFileError(path, expected, "no such folder")
    if not path.is_dir():
        raise ModelFileError(path, expected, "it is a file, not a folder")
    return path


def _require_component_folder(folder: Path, expected: str) -> Path:
    _require_dir(folder, expected)
    if not (folder / "config.json").is_file():
        raise ModelFileError(folder, expected, "config.json is missing")
    if not any((folder / name).is_file() for name in WEIGHT_FILE_NAMES):
        raise ModelFileError(folder, expected, f"no weights file (looked for {', '.join(WEIGHT_FILE_NAMES)})")
    return folder


def _read_json(path: Path, expected: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(path, expected, "no such file") from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(path, expected, f"not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ModelFileError(path, expected, "the JSON is not an object")
    return data


def _load_local(cls: Any, folder: Path, expected: str, dtype: torch.dtype | None = None, **kwargs: Any) -> Any:
    try:
        if dtype is not None:
            kwargs["torch_dtype"] = dtype
        model = cls.from_pretrained(str(folder), local_files_only=True, **kwargs)
    except ModelFileError:
        raise
    except Exception as exc:  # diffusers/transformers raise many types for broken files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
        raise ModelFileError(folder, expected, f"{type(exc).__name__}: {first}") from exc
    return model.eval() if hasattr(model, "eval") else model


def read_safetensors(path: Path, expected: str = "a .safetensors checkpoint") -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file (memory-mapped), or ModelFileError naming the path."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.exists():
        raise ModelFileError(path, expected, "no such file")
    if not path.is_file():
        raise ModelFileError(path, expected, "it is a folder, not a file")
    if path.suffix != ".safetensors":
        raise ModelFileError(path, expected, f"the name ends in {path.suffix or 'nothing'}, not .safetensors "
                             "(pickled .ckpt files are not loaded: they can run code)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(path, expected, f"not a readable safetensors file: {exc}") from None


# ---------------------------------------------------------------------------- components
def load_unet(folder: Path, dtype: torch.dtype | None = None) -> Any:
    from diffusers import UNet2DConditionModel

    expected = "a diffusers UNet2DConditionModel folder (config.json + diffusion_pytorch_model.safetensors)"
    return _load_local(UNet2DConditionModel, _require_component_folder(folder, expected), expected, dtype)


def load_tiny_vae(folder: Path, dtype: torch.dtype | None = None) -> Any:
    from diffusers import AutoencoderTiny

    expected = "a TAESD AutoencoderTiny folder (config.json + diffusion_pytorch_model.safetensors)"
    _require_component_folder(folder, expected)
    config = _read_json(folder / "config.json", expected)
    if config.get("_class_name") not in (None, "AutoencoderTiny"):
        raise ModelFileError(folder, expected, f"config.json describes a {config.get('_class_name')}")
    return _load_local(AutoencoderTiny, folder, expected, dtype)


def load_full_vae(folder: Path, dtype: torch.dtype | None = None) -> Any:
    from diffusers import AutoencoderKL

    expected = "a diffusers AutoencoderKL folder (config.json + diffusion_pytorch_model.safetensors)"
    return _load_local(AutoencoderKL, _require_component_folder(folder, expected), expected, dtype)


def load_controlnet(folder: Path, dtype: torch.dtype | None = None) -> Any:
    from diffusers import ControlNetModel

    expected = "a diffusers ControlNetModel folder (config.json + diffusion_pytorch_model.safetensors)"
    _require_component_folder(folder, expected)
    config = _read_json(folder / "config.json", expected)
    if config.get("_class_name") not in (None, "ControlNetModel"):
        raise ModelFileError(folder, expected, f"config.json describes a {config.get('_class_name')}")
    return _load_local(ControlNetModel, folder, expected, dtype)


def load_text_encoder(folder: Path, dtype: torch.dtype | None = None) -> Any:
    from transformers import CLIPTextModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no progress bars in a server's log

    expected = "a transformers CLIPTextModel folder (config.json + model.safetensors)"
    return _load_local(CLIPTextModel, _require_component_folder(folder, expected), expected, dtype)


def load_tokenizer(folder: Path) -> Any:
    from transformers import CLIPTokenizer

    expected = "a CLIP tokenizer folder (vocab.json + merges.txt, or tokenizer.json)"
    _require_dir(folder, expected)
    has_bpe = (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    if not has_bpe and not (folder / "tokenizer.json").is_file():
        raise ModelFileError(folder, expected, "neither vocab.json + merges.txt nor tokenizer.json is there")
    return _load_local(CLIPTokenizer, folder, expected)


def load_scheduler_config(model_dir: Path) -> dict[str, Any]:
    """The model's scheduler config (training schedule, prediction type); SD defaults when absent."""
    path = model_dir / "scheduler" / "scheduler_config.json"
    if not path.is_file():
        return dict(SD_SCHEDULER_CONFIG)
    config = dict(SD_SCHEDULER_CONFIG)
    config.update({k: v for k, v in _read_json(path, "a scheduler config (JSON)").items() if not k.startswith("_")})
    return config


# ---------------------------------------------------------------------------- single file
def _checkpoint_layout(checkpoint: dict[str, torch.Tensor], unet_keys: set[str]) -> str:
    if any(k.startswith(LDM_UNET_PREFIX) for k in checkpoint):
        return "ldm"
    if unet_keys <= set(checkpoint):
        return "diffusers"
    if unet_keys <= {k[len("unet."):] for k in checkpoint if k.startswith("unet.")}:
        return "diffusers-prefixed"
    return "unknown"


def load_single_file(path: Path, config_dir: Path | None, dtype: torch.dtype | None = None) -> tuple[Any, Any, Any, Any]:
    """UNet, text encoder, tokenizer and (if the file has one) AutoencoderKL from a single checkpoint file."""
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import (
        convert_ldm_clip_checkpoint,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
        convert_open_clip_checkpoint,
    )

    expected = "a single-file SD checkpoint (.safetensors, LDM or diffusers layout)"
    if config_dir is None:
        raise ModelFileError(path, expected, "a single-file checkpoint needs 'model_config': a local folder with "
                             "unet/config.json, text_encoder/config.json and tokenizer/ of the same model family")
    config_expected = "a model config folder with unet/config.json, text_encoder/config.json and tokenizer/"
    _require_dir(config_dir, config_expected)
    unet_config = _read_json(config_dir / "unet" / "config.json", "the UNet config of " + config_expected)
    checkpoint = read_safetensors(path, expected)
    unet = UNet2DConditionModel.from_config(unet_config)
    unet_keys = set(unet.state_dict())
    layout = _checkpoint_layout(checkpoint, unet_keys)
    text_encoder = None
    vae = None
    if layout == "ldm":
        unet_state = convert_ldm_unet_checkpoint(checkpoint, unet_config)
    elif layout == "diffusers":
        unet_state = {k: v for k, v in checkpoint.items() if k in unet_keys}
    elif layout == "diffusers-prefixed":
        unet_state = {k[len("unet."):]: v for k, v in checkpoint.items() if k.startswith("unet.")}
    else:
        sample = ", ".join(sorted(checkpoint)[:3])
        raise ModelFileError(path, expected, f"its tensor names ({sample}, ...) match neither the LDM layout "
                             f"({LDM_UNET_PREFIX}...) nor the UNet of {config_dir / 'unet' / 'config.json'}")
    missing, unexpected = unet.load_state_dict(unet_state, strict=False)
    if missing:
        raise ModelFileError(path, expected, f"{len(missing)} UNet weights are missing for the config in "
                             f"{config_dir / 'unet'} (first: {missing[0]}); is it the same model family?")
    if unexpected:
        log.warning("%s: %d tensors not used by the UNet (first: %s)", path, len(unexpected), unexpected[0])

    from transformers import CLIPTextConfig, CLIPTextModel

    te_config_path = config_dir / "text_encoder" / "config.json"
    te_config = CLIPTextConfig.from_dict(_read_json(te_config_path, "the text encoder config of " + config_expected))
    if layout == "ldm" and any(k.startswith(LDM_CLIP_PREFIX) for k in checkpoint):
        text_encoder = CLIPTextModel(te_config)
        te_state = convert_ldm_clip_checkpoint(checkpoint)
    elif layout == "ldm" and any(k.startswith(LDM_OPEN_CLIP_PREFIX) for k in checkpoint):
        text_encoder = CLIPTextModel(te_config)
        te_state = convert_open_clip_checkpoint(text_encoder, checkpoint)
    elif any(k.startswith("text_encoder.") for k in checkpoint):
        text_encoder = CLIPTextModel(te_config)
        te_state = {k[len("text_encoder."):]: v for k, v in checkpoint.items() if k.startswith("text_encoder.")}
    else:
        te_state = None
    if text_encoder is not None and te_state is not None:
        te_state.pop("text_model.embeddings.position_ids", None)
        missing, _ = text_encoder.load_state_dict(te_state, strict=False)
        if missing:
            raise ModelFileError(path, expected, f"{len(missing)} text encoder weights are missing for "
                                 f"{te_config_path} (first: {missing[0]})")
    else:
        log.info("%s has no text encoder; loading it from %s", path, config_dir / "text_encoder")
        text_encoder = load_text_encoder(config_dir / "text_encoder")
    if layout == "ldm" and any(k.startswith(LDM_VAE_PREFIX) for k in checkpoint) and (config_dir / "vae").is_dir():
        from diffusers import AutoencoderKL

        vae_config = _read_json(config_dir / "vae" / "config.json", "the VAE config of " + config_expected)
        vae = AutoencoderKL.from_config(vae_config)
        vae.load_state_dict(convert_ldm_vae_checkpoint(checkpoint, vae_config), strict=False)
    tokenizer = load_tokenizer(config_dir / "tokenizer")
    if dtype is not None:
        unet, text_encoder = unet.to(dtype), text_encoder.to(dtype)
        vae = vae.to(dtype) if vae is not None else None
    return unet.eval(), text_encoder.eval(), tokenizer, (vae.eval() if vae is not None else None)


# ---------------------------------------------------------------------------- LoRA
def apply_lora(unet: Any, path: Path, scale: float = 1.0, fuse: bool = True, adapter_name: str = "lora") -> Any:
    """Load a LoRA (e.g. LCM-LoRA) into the UNet: fused into the weights, or kept as an adapter at ``scale``."""
    from diffusers.loaders.lora_pipeline import StableDiffusionLoraLoaderMixin

    expected = "a LoRA .safetensors file for this UNet (diffusers or kohya layout)"
    state = read_safetensors(path, expected)
    try:
        state_dict, network_alphas = StableDiffusionLoraLoaderMixin.lora_state_dict(state)
        unet_state = {k: v for k, v in state_dict.items() if not k.startswith("text_encoder.")}
        if not unet_state:
            raise ValueError("it holds no UNet LoRA layers")
        StableDiffusionLoraLoaderMixin.load_lora_into_unet(unet_state, network_alphas, unet=unet,
                                                           adapter_name=adapter_name)
        if adapter_name not in (getattr(unet, "peft_config", None) or {}):
            sample = ", ".join(sorted(state)[:2])
            raise ValueError(f"none of its tensors ({sample}, ...) matched a layer of this UNet")
    except ModelFileError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
        raise ModelFileError(path, expected, f"{type(exc).__name__}: {first}") from exc
    if fuse:
        unet.fuse_lora(lora_scale=scale, adapter_names=[adapter_name])
        unet.unload_lora()  # keep the fused weights, drop the adapter layers (plain modules export and compile)
    else:
        unet.set_adapters([adapter_name], weights=[scale])
    return unet


# ---------------------------------------------------------------------------- everything
def load_diffusion_models(files: DiffusionModelFiles, dtype: torch.dtype | None = None) -> LoadedDiffusionModels:
    """Load UNet, text encoder, tokenizer, VAE (TAESD preferred) and ControlNets from local files."""
    model = Path(files.model)
    if model.is_file() or model.suffix == ".safetensors":
        unet, text_encoder, tokenizer, kl_vae = load_single_file(model, files.model_config, dtype)
        scheduler_config = load_scheduler_config(Path(files.model_config)) if files.model_config else dict(SD_SCHEDULER_CONFIG)
    else:
        expected = "a diffusers Stable Diffusion folder (unet/, text_encoder/, tokenizer/) or a .safetensors file"
        _require_dir(model, expected)
        if not (model / "unet").exists():
            raise ModelFileError(model, expected, "it has no unet/ folder")
        unet = load_unet(model / "unet", dtype)
        text_encoder = load_text_encoder(model / "text_encoder", dtype)
        tokenizer = load_tokenizer(model / "tokenizer")
        scheduler_config = load_scheduler_config(model)
        kl_vae = None
        if files.tiny_vae is None:
            kl_vae = load_full_vae(model / "vae", dtype)
    if files.tiny_vae is not None:
        vae = load_tiny_vae(Path(files.tiny_vae), dtype)
    elif kl_vae is not None:
        vae = kl_vae
    else:
        raise ModelFileError(model, "a model with a VAE", "the checkpoint has no VAE; give a TAESD folder as tiny_vae")
    if files.lora is not None:
        apply_lora(unet, Path(files.lora), files.lora_scale, files.fuse_lora)
    controlnets = [load_controlnet(Path(c.path), dtype) for c in files.controlnets]
    cross_dim = unet.config.cross_attention_dim
    text_dim = text_encoder.config.hidden_size
    if cross_dim != text_dim:
        raise ModelFileError(model, "a UNet and text encoder of the same family",
                             f"the UNet attends to {cross_dim}-wide text features but the text encoder gives {text_dim}")
    for c, net in zip(files.controlnets, controlnets):
        if net.config.cross_attention_dim != cross_dim:
            raise ModelFileError(c.path, "a ControlNet for this base model",
                                 f"it attends to {net.config.cross_attention_dim}-wide text features, the UNet to {cross_dim}")
    return LoadedDiffusionModels(
        unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, vae=vae, controlnets=controlnets,
        controlnet_kinds=[c.kind for c in files.controlnets], scheduler_config=scheduler_config, source=str(model),
    )
