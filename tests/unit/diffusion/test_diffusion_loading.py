"""Loading from local files only: diffusers folders, single-file checkpoints, TAESD, ControlNet, LoRA; clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from realtime_models.onnx_runtime_session import ModelFileError
from realtime_models.stream_diffusion.model_loading import (
    ControlNetFile,
    DiffusionModelFiles,
    apply_lora,
    load_controlnet,
    load_diffusion_models,
    load_single_file,
    load_tiny_vae,
    load_unet,
)
from realtime_models.stream_diffusion.tiny_models import TinyModelPaths

from diffusion_helpers import tiny_files, unet_state_to_ldm


def _unet_out(unet, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    sample = torch.randn(2, 4, 8, 8, generator=g)
    text = torch.randn(2, 77, unet.config.cross_attention_dim, generator=g)
    with torch.no_grad():
        return unet(sample, torch.tensor([999.0, 259.0]), encoder_hidden_states=text).sample


def _config_only_folder(paths: TinyModelPaths, dest: Path) -> Path:
    """A model_config folder: configs and tokenizer of the family, no weights at all."""
    for sub in ("unet", "text_encoder", "vae"):
        (dest / sub).mkdir(parents=True)
        shutil.copy(paths.model_dir / sub / "config.json", dest / sub / "config.json")
    shutil.copytree(paths.model_dir / "tokenizer", dest / "tokenizer")
    shutil.copytree(paths.model_dir / "scheduler", dest / "scheduler")
    return dest


def test_diffusers_folder_loads_every_part_with_the_saved_weights(tiny_paths, tiny_models):
    models = tiny_models
    assert type(models.unet).__name__ == "UNet2DConditionModel"
    assert models.uses_tiny_vae and models.controlnet_kinds == ["depth", "pose"]
    assert models.prediction_type == "epsilon"
    reloaded = load_unet(tiny_paths.model_dir / "unet")
    assert torch.equal(_unet_out(models.unet), _unet_out(reloaded))
    ids = models.tokenizer(["a castle"], padding="max_length", max_length=77, return_tensors="pt").input_ids
    assert ids.shape == (1, 77) and ids[0, 0] == models.tokenizer.bos_token_id


def test_without_tiny_vae_the_models_own_vae_is_used(tiny_paths):
    models = load_diffusion_models(DiffusionModelFiles(model=tiny_paths.model_dir))
    assert type(models.vae).__name__ == "AutoencoderKL" and not models.controlnets


def test_single_file_checkpoint_in_ldm_layout_loads_the_same_unet_and_text_encoder(tiny_paths, tiny_models, tmp_path):
    unet, text_encoder = tiny_models.unet, tiny_models.text_encoder
    checkpoint = unet_state_to_ldm(unet.state_dict(), unet.config)
    checkpoint.update({"cond_stage_model.transformer." + k: v for k, v in text_encoder.state_dict().items()})
    path = tmp_path / "tiny-sd.safetensors"
    save_file({k: v.contiguous() for k, v in checkpoint.items()}, str(path))
    config_dir = _config_only_folder(tiny_paths, tmp_path / "config")
    unet2, te2, tokenizer, _ = load_single_file(path, config_dir)
    assert torch.equal(_unet_out(unet), _unet_out(unet2))
    ids = tokenizer(["a castle"], return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(text_encoder(ids)[0], te2(ids)[0])


def test_single_file_checkpoint_in_diffusers_layout_and_the_whole_loader(tiny_paths, tiny_models, tmp_path):
    path = tmp_path / "unet-only.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_models.unet.state_dict().items()}, str(path))
    config_dir = _config_only_folder(tiny_paths, tmp_path / "config")
    with pytest.raises(ModelFileError) as err:  # the file has no text encoder and the config folder no weights
        load_diffusion_models(DiffusionModelFiles(model=path, model_config=config_dir, tiny_vae=tiny_paths.tiny_vae_dir))
    assert str(config_dir / "text_encoder") in str(err.value) and "no weights file" in str(err.value)
    shutil.copy(tiny_paths.model_dir / "text_encoder" / "model.safetensors", config_dir / "text_encoder")
    models = load_diffusion_models(DiffusionModelFiles(model=path, model_config=config_dir,
                                                       tiny_vae=tiny_paths.tiny_vae_dir))
    assert torch.equal(_unet_out(tiny_models.unet), _unet_out(models.unet))


def test_single_file_without_model_config_says_what_is_needed(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"x": torch.zeros(1)}, str(path))
    with pytest.raises(ModelFileError) as err:
        load_diffusion_models(DiffusionModelFiles(model=path))
    assert str(path) in str(err.value) and "model_config" in str(err.value)


def test_missing_and_malformed_files_name_the_path_and_what_was_expected(tiny_paths, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelFileError) as err:
        load_diffusion_models(DiffusionModelFiles(model=missing))
    assert str(missing) in str(err.value) and "diffusers Stable Diffusion folder" in str(err.value)

    garbage = tmp_path / "broken.safetensors"
    garbage.write_bytes(b"this is not a safetensors file at all")
    with pytest.raises(ModelFileError) as err:
        load_single_file(garbage, _config_only_folder(tiny_paths, tmp_path / "cfg"))
    assert str(garbage) in str(err.value) and "safetensors" in str(err.value)

    pickled = tmp_path / "model.ckpt"
    pickled.write_bytes(b"\x80\x04")
    with pytest.raises(ModelFileError, match="pickled"):
        load_single_file(pickled, tmp_path / "cfg")

    no_weights = tmp_path / "taesd-without-weights"
    no_weights.mkdir()
    shutil.copy(tiny_paths.tiny_vae_dir / "config.json", no_weights / "config.json")
    with pytest.raises(ModelFileError) as err:
        load_tiny_vae(no_weights)
    assert str(no_weights) in str(err.value) and "no weights file" in str(err.value)

    with pytest.raises(ModelFileError) as err:  # a TAESD folder where a ControlNet was expected
        load_controlnet(tiny_paths.tiny_vae_dir)
    assert "ControlNetModel" in str(err.value) and "AutoencoderTiny" in str(err.value)

    corrupt = tmp_path / "corrupt-controlnet"
    shutil.copytree(tiny_paths.controlnet_dirs["depth"], corrupt)
    (corrupt / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError) as err:
        load_controlnet(corrupt)
    assert str(corrupt) in str(err.value)

    bad_json = tmp_path / "bad-config-unet"
    shutil.copytree(tiny_paths.model_dir / "unet", bad_json)
    (bad_json / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError) as err:
        load_unet(bad_json)
    assert str(bad_json) in str(err.value)


def test_controlnet_of_another_family_is_refused(tiny_paths, tmp_path):
    other = tmp_path / "wide-controlnet"
    shutil.copytree(tiny_paths.controlnet_dirs["depth"], other)
    config = json.loads((other / "config.json").read_text())
    config["cross_attention_dim"] = 64
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError):
        load_diffusion_models(DiffusionModelFiles(model=tiny_paths.model_dir, tiny_vae=tiny_paths.tiny_vae_dir,
                                                  controlnets=(ControlNetFile(other, "depth"),)))


@pytest.fixture(scope="module")
def lora_file(tiny_paths, tmp_path_factory) -> tuple[Path, torch.Tensor]:
    """A LoRA for the tiny UNet saved the way diffusers saves them, and the output of the UNet with it active."""
    from diffusers.loaders.lora_pipeline import StableDiffusionLoraLoaderMixin
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = load_unet(tiny_paths.model_dir / "unet")
    torch.manual_seed(5)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                                init_lora_weights=False))
    expected = _unet_out(unet)
    folder = tmp_path_factory.mktemp("lora")
    StableDiffusionLoraLoaderMixin.save_lora_weights(folder, unet_lora_layers=get_peft_model_state_dict(unet))
    return folder / "pytorch_lora_weights.safetensors", expected


def test_lora_fused_and_applied_both_reproduce_the_adapted_unet(tiny_paths, lora_file):
    path, expected = lora_file
    base = _unet_out(load_unet(tiny_paths.model_dir / "unet"))
    assert (expected - base).abs().max() > 1e-3  # the LoRA really changes the UNet
    fused = apply_lora(load_unet(tiny_paths.model_dir / "unet"), path, scale=1.0, fuse=True)
    assert not any("lora" in name for name, _ in fused.named_modules())  # plain modules: exportable
    assert torch.allclose(_unet_out(fused), expected, atol=1e-5)
    applied = apply_lora(load_unet(tiny_paths.model_dir / "unet"), path, scale=1.0, fuse=False)
    assert torch.allclose(_unet_out(applied), expected, atol=1e-5)
    half = apply_lora(load_unet(tiny_paths.model_dir / "unet"), path, scale=0.5, fuse=True)
    out_half = _unet_out(half)
    assert (out_half - base).abs().max() < (expected - base).abs().max()


def test_lora_through_the_loader_and_a_bad_lora_file(tiny_paths, lora_file, tmp_path):
    path, expected = lora_file
    models = load_diffusion_models(tiny_files(tiny_paths, (), lora=path, lora_scale=1.0, fuse_lora=True))
    assert torch.allclose(_unet_out(models.unet), expected, atol=1e-5)
    wrong = tmp_path / "not-a-lora.safetensors"
    save_file({"something.weight": torch.zeros(2, 2)}, str(wrong))
    with pytest.raises(ModelFileError) as err:
        load_diffusion_models(tiny_files(tiny_paths, (), lora=wrong))
    assert str(wrong) in str(err.value) and "LoRA" in str(err.value)
