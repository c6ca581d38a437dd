"""Prompts as embeddings: encoding with a cache, weighted prompt lists, and slerp travel.

A prompt is encoded once (CLIP text encoder, ``last_hidden_state``, 77
tokens) and kept, so travelling between prompts costs tensor math per frame,
never the text encoder.  Weighted lists (``"a castle :: 0.7 | fog :: 0.3"``)
blend embeddings; two prompts blend by spherical interpolation (slerp),
which keeps the embedding's magnitude where a straight mix would shrink it.
The same slerp blends two seeds' noise, so a seed change can glide too.
"""

from __future__ import annotations

import logging
import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence

import torch

log = logging.getLogger(__name__)

_WEIGHT_RE = re.compile(r"^(?P<text>.*?)\s*::\s*(?P<weight>[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*$", re.S)


@dataclass(frozen=True)
class WeightedPrompt:
    text: str
    weight: float


def parse_weighted_prompts(text: str) -> list[WeightedPrompt]:
    """``"a castle :: 0.7 | fog :: 0.3"`` -> [("a castle", 0.7), ("fog", 0.3)]; a part without ``::`` weighs 1."""
    parts = [p.strip() for p in text.split("|")]
    out: list[WeightedPrompt] = []
    for part in parts:
        match = _WEIGHT_RE.match(part)
        if match:
            weight = float(match.group("weight"))
            prompt = match.group("text").strip()
        else:
            weight, prompt = 1.0, part
        if weight < 0 or not math.isfinite(weight):
            raise ValueError(f"prompt weight must be a non-negative number, got {weight} in {part!r}")
        out.append(WeightedPrompt(prompt, weight))
    if len(out) > 1 and sum(p.weight for p in out) <= 0:
        raise ValueError(f"prompt weights in {text!r} add up to 0; give at least one a positive weight")
    return out


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, dot_threshold: float = 0.9995) -> torch.Tensor:
    """Spherical interpolation between two tensors, each treated as one vector (lerp when nearly parallel).

    ``t`` is a Python float, so nothing is copied to the device: pure tensor
    math, safe on the per-frame path (no host sync).
    """
    t = float(t)
    a32, b32 = a.float(), b.float()
    dot = ((a32 / a32.norm().clamp_min(1e-12)) * (b32 / b32.norm().clamp_min(1e-12))).sum().clamp(-1.0, 1.0)
    theta = torch.arccos(dot)
    sin_theta = torch.sin(theta).clamp_min(1e-12)
    spherical = (torch.sin((1.0 - t) * theta) / sin_theta) * a32 + (torch.sin(t * theta) / sin_theta) * b32
    linear = (1.0 - t) * a32 + t * b32
    return torch.where(dot.abs() > dot_threshold, linear, spherical).to(a.dtype)


def blend_embeddings(embeddings: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Blend prompt embeddings by weight: slerp for two, a norm-preserving weighted mean for more."""
    if len(embeddings) != len(weights) or not embeddings:
        raise ValueError("blend_embeddings needs one weight per embedding")
    total = float(sum(weights))
    if len(embeddings) == 1 or total <= 0:
        return embeddings[0]
    w = [float(x) / total for x in weights]
    if len(embeddings) == 2:
        return slerp(embeddings[0], embeddings[1], w[1])
    mixed = sum(wi * e.float() for wi, e in zip(w, embeddings))
    target_norm = sum(wi * e.float().norm() for wi, e in zip(w, embeddings))
    mixed = mixed * (target_norm / mixed.norm().clamp_min(1e-12))
    return mixed.to(embeddings[0].dtype)


class PromptEncoder:
    """CLIP text encoding with an LRU cache of embeddings, on the stream's device and dtype."""

    def __init__(self, tokenizer: Any, text_encoder: Any, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32, cache_size: int = 64) -> None:
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.dtype = dtype
        self.text_encoder = text_encoder.to(self.device)
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size
        self.max_length = int(getattr(tokenizer, "model_max_length", 77) or 77)
        if self.max_length > 1024:  # tokenizers without a limit report a huge number
            self.max_length = 77

    @torch.inference_mode()
    def encode(self, prompt: str) -> torch.Tensor:
        """(1, tokens, width) embedding of one prompt (cached)."""
        cached = self._cache.get(prompt)
        if cached is not None:
            self._cache.move_to_end(prompt)
            return cached
        ids = self.tokenizer([prompt], padding="max_length", max_length=self.max_length, truncation=True,
                             return_tensors="pt").input_ids.to(self.device)
        hidden = self.text_encoder(ids)[0].to(dtype=self.dtype)
        self._cache[prompt] = hidden
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return hidden

    def encode_weighted(self, text: str) -> torch.Tensor:
        """A ``|``-separated weighted prompt list as one blended embedding."""
        prompts = parse_weighted_prompts(text)
        if len(prompts) == 1:
            return self.encode(prompts[0].text)
        return blend_embeddings([self.encode(p.text) for p in prompts], [p.weight for p in prompts])


def seed_noise(seed: int, shape: Sequence[int], device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Gaussian noise for a seed, drawn on the CPU so a seed gives the same noise on every device."""
    generator = torch.Generator(device="cpu").manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
    return torch.randn(tuple(shape), generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)


class SeedNoiseCache:
    """Noise tensors per seed (a few kept), so seed travel slerps cached tensors."""

    def __init__(self, device: torch.device | str, dtype: torch.dtype, keep: int = 8) -> None:
        self.device = torch.device(device)
        self.dtype = dtype
        self._keep = keep
        self._cache: OrderedDict[tuple[int, tuple[int, ...]], torch.Tensor] = OrderedDict()

    def get(self, seed: int, shape: Sequence[int]) -> torch.Tensor:
        key = (int(seed), tuple(shape))
        noise = self._cache.get(key)
        if noise is None:
            noise = seed_noise(seed, shape, self.device, self.dtype)
            self._cache[key] = noise
            if len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return noise

    def blended(self, seed_a: int, seed_b: int, t: float, shape: Sequence[int]) -> torch.Tensor:
        a = self.get(seed_a, shape)
        if seed_a == seed_b or t <= 0.0:
            return a
        b = self.get(seed_b, shape)
        if t >= 1.0:
            return b
        return slerp(a, b, t)
