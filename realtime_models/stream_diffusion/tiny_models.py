"""Tiny randomly initialised SD-family models, written as real local model folders.

The architectures are the real ones (``UNet2DConditionModel``,
``AutoencoderTiny``, ``AutoencoderKL``, ``ControlNetModel``, ``CLIPTextModel``
with a byte-level BPE ``CLIPTokenizer``); only the sizes are small and the
weights random, the way diffusers' own fast tests build their models.  They
are what the tests, the CPU benchmark and smoke runs load through the real
loaders: nothing is downloaded, and the folders have exactly the layout of a
diffusers Stable Diffusion repository (``model_index.json``, ``unet/``,
``text_encoder/``, ``tokenizer/vocab.json`` + ``merges.txt``, ``scheduler/``,
``vae/``), a TAESD folder and ControlNet folders.

A random model makes noise-like pictures; it exercises every code path and
gives honest timings for everything outside the networks, not pretty output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from realtime_models.stream_diffusion.schedule import SD_SCHEDULER_CONFIG

TINY_CROSS_ATTENTION_DIM = 32
TINY_BLOCK_CHANNELS = (16, 32)
TINY_LATENT_CHANNELS = 4



@dataclass
class TinyModelPaths:
    """Where :func:`write_tiny_models` put each model."""

    root: Path
    model_dir: Path  # diffusers SD folder: unet, text_encoder, tokenizer, scheduler, vae
    tiny_vae_dir: Path  # AutoencoderTiny (TAESD layout)
    controlnet_dirs: dict[str, Path] = field(default_factory=dict)  # kind -> ControlNet folder


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP byte-level alphabet: every byte mapped to a printable character."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


# A handful of merges so common words become single tokens, as with a real BPE vocabulary.
_TINY_MERGES = ("c a", "ca s", "t l", "tl e</w>", "f o", "r e", "re s", "res t</w>", "o n</w>", "t h", "th e</w>")


def write_tiny_tokenizer(folder: Path) -> int:
    """A CLIP byte-level BPE tokenizer folder (vocab.json, merges.txt); returns the vocabulary size."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}
    alphabet = _bytes_to_unicode()
    for ch in alphabet:
        vocab[ch] = len(vocab)
    for ch in alphabet:
        vocab[ch + "</w>"] = len(vocab)
    for merge in _TINY_MERGES:
        vocab.setdefault(merge.replace(" ", ""), len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(_TINY_MERGES) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
    }), encoding="utf-8")
    return len(vocab)


def tiny_unet(seed: int = 0):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=8, in_channels=TINY_LATENT_CHANNELS, out_channels=TINY_LATENT_CHANNELS, layers_per_block=1,
        block_out_channels=TINY_BLOCK_CHANNELS, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=TINY_CROSS_ATTENTION_DIM,
        attention_head_dim=2, norm_num_groups=8,
    ).eval()


def tiny_controlnet(seed: int = 1):
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    net = ControlNetModel(
        in_channels=TINY_LATENT_CHANNELS, layers_per_block=1, block_out_channels=TINY_BLOCK_CHANNELS,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), cross_attention_dim=TINY_CROSS_ATTENTION_DIM,
        attention_head_dim=2, norm_num_groups=8, conditioning_embedding_out_channels=(4, 8, 8, 16),
    ).eval()
    # A fresh ControlNet has zero-initialised output convolutions (it adds nothing until trained);
    # give them small random weights so the tests can see the conditioning act.
    with torch.no_grad():
        for module in [*net.controlnet_down_blocks, net.controlnet_mid_block]:
            module.weight.normal_(0.0, 0.05)
    return net


def tiny_autoencoder_tiny(seed: int = 2):
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    vae = AutoencoderTiny(
        in_channels=3, out_channels=3, encoder_block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1),
        latent_channels=TINY_LATENT_CHANNELS,
    ).eval()
    _calibrate_output_scales(vae, seed)
    return vae


@torch.no_grad()
def _calibrate_output_scales(vae, seed: int) -> None:
    """Rescale the last convolutions so latents have unit spread and pictures sit mid-grey.

    A freshly initialised TAESD gives latents about 20x smaller than SD's
    and decodes everything to almost black; real TAESD weights give
    unit-scale latents and full-range pictures.  Matching those scales
    (weights stay random) keeps noise and picture in the proportions the
    algorithm is designed for, so flicker and strength behave as with a
    real model rather than being drowned by noise.
    """
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(4, 3, 64, 64, generator=g) * 2 - 1
    enc_last = vae.encoder.layers[-1]
    latents = vae.encode(images).latents
    scale = 1.0 / float(latents.std())
    enc_last.weight.mul_(scale)
    enc_last.bias.mul_(scale)
    captured: list[torch.Tensor] = []
    dec_last = vae.decoder.layers[-1]
    hook = dec_last.register_forward_hook(lambda _m, _i, out: captured.append(out))
    vae.decode(vae.encode(images).latents)
    hook.remove()
    y = captured[0]  # the decoder's last conv output, mapped to the picture as 2y - 1
    factor = 0.25 / float(y.std())
    dec_last.weight.mul_(factor)
    dec_last.bias.copy_(0.5 - factor * (y.mean(dim=(0, 2, 3)) - dec_last.bias))


def tiny_autoencoder_kl(seed: int = 3):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
        latent_channels=TINY_LATENT_CHANNELS, norm_num_groups=4, sample_size=64,
    ).eval()


def tiny_text_encoder(vocab_size: int, seed: int = 4):
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    config = CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=TINY_CROSS_ATTENTION_DIM, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, projection_dim=TINY_CROSS_ATTENTION_DIM,
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1,
    )
    return CLIPTextModel(config).eval()


def write_tiny_models(root: Path, controlnet_kinds: tuple[str, ...] = ("depth", "pose"), seed: int = 0) -> TinyModelPaths:
    """Write a tiny SD diffusers folder, a tiny TAESD folder and one tiny ControlNet per kind under ``root``."""
    root = Path(root)
    model_dir = root / "tiny-sd"
    vocab_size = write_tiny_tokenizer(model_dir / "tokenizer")
    tiny_unet(seed).save_pretrained(model_dir / "unet")
    tiny_text_encoder(vocab_size, seed + 4).save_pretrained(model_dir / "text_encoder")
    tiny_autoencoder_kl(seed + 3).save_pretrained(model_dir / "vae")
    (model_dir / "scheduler").mkdir(parents=True, exist_ok=True)
    (model_dir / "scheduler" / "scheduler_config.json").write_text(json.dumps(SD_SCHEDULER_CONFIG), encoding="utf-8")
    (model_dir / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline",
        "unet": ["diffusers", "UNet2DConditionModel"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "LCMScheduler"],
        "vae": ["diffusers", "AutoencoderKL"],
    }), encoding="utf-8")
    tiny_vae_dir = root / "tiny-taesd"
    tiny_autoencoder_tiny(seed + 2).save_pretrained(tiny_vae_dir)
    config_path = tiny_vae_dir / "config.json"  # diffusers saves a key its own loader then warns about
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("block_out_channels", None)
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    controlnet_dirs = {}
    for i, kind in enumerate(controlnet_kinds):
        folder = root / f"tiny-controlnet-{kind}"
        tiny_controlnet(seed + 10 + i).save_pretrained(folder)
        controlnet_dirs[kind] = folder
    return TinyModelPaths(root, model_dir, tiny_vae_dir, controlnet_dirs)
