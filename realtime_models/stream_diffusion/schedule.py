"""The LCM noise schedule of a stream: timesteps from ``t_index_list``, alphas/betas and c_skip/c_out.

StreamDiffusion runs an LCM-style consistency step at a few points of a
``num_inference_steps``-long schedule (50 by default): ``t_index_list``
picks them, earliest (noisiest) first.  For each picked step this module
gives the timestep, ``sqrt(alpha_bar)``, ``sqrt(1 - alpha_bar)`` and the LCM
boundary scalings ``c_skip`` and ``c_out``.  The whole table (every index) is
computed once on the device, so changing the steps or the strength later is
an index lookup, not a host round trip.

Strength is what users understand: 0 keeps the input, 1 ignores it.
:func:`strength_to_t_index_list` maps it to where the first step starts in
the schedule and spreads the remaining steps evenly over what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

DEFAULT_NUM_INFERENCE_STEPS = 50

# SD 1.x/2.x training schedule (what every SD scheduler_config.json says).
SD_SCHEDULER_CONFIG: dict[str, Any] = {
    "_class_name": "LCMScheduler",
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
    "original_inference_steps": 50,
    "timestep_scaling": 10.0,
    "clip_sample": False,
    "set_alpha_to_one": True,
    "steps_offset": 1,
}


def strength_to_t_index_list(strength: float, steps: int,
                             num_inference_steps: int = DEFAULT_NUM_INFERENCE_STEPS) -> list[int]:
    """Map strength (0 = keep the input, 1 = ignore it) and a step count to schedule indices.

    The first index is where denoising starts: ``round((1 - strength) * (N - 1))``
    (index 0 is pure noise, index N-1 almost none).  The remaining steps are
    spread evenly over the rest of the schedule, so 4 steps at strength 0.65
    on 50 give [17, 25, 33, 42].  Indices are strictly increasing.
    """
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    if not 1 <= steps <= num_inference_steps:
        raise ValueError(f"steps must be 1..{num_inference_steps}, got {steps}")
    n = num_inference_steps
    first = min(int(round((1.0 - strength) * (n - 1))), n - steps)
    indices = [first + int(round(i * (n - first) / steps)) for i in range(steps)]
    for i in range(1, steps):  # rounding must never repeat an index
        indices[i] = max(indices[i], indices[i - 1] + 1)
    return indices


def t_index_list_strength(t_index_list: Sequence[int], num_inference_steps: int = DEFAULT_NUM_INFERENCE_STEPS) -> float:
    """The strength a ``t_index_list`` corresponds to (inverse of the first-index rule)."""
    return 1.0 - t_index_list[0] / (num_inference_steps - 1)


def check_t_index_list(t_index_list: Sequence[int], num_inference_steps: int = DEFAULT_NUM_INFERENCE_STEPS) -> tuple[int, ...]:
    out = tuple(int(t) for t in t_index_list)
    if not out:
        raise ValueError("t_index_list must name at least one step")
    if any(not 0 <= t < num_inference_steps for t in out):
        raise ValueError(f"t_index_list {list(out)} has indices outside 0..{num_inference_steps - 1}")
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"t_index_list {list(out)} must be strictly increasing (noisiest step first)")
    return out


@dataclass
class StepScalings:
    """Per-step tensors for the picked indices, each shaped (steps, 1, 1, 1) except ``timesteps`` (steps,)."""

    timesteps: torch.Tensor
    alpha_prod_t_sqrt: torch.Tensor
    beta_prod_t_sqrt: torch.Tensor
    c_skip: torch.Tensor
    c_out: torch.Tensor


class LcmSchedule:
    """The schedule table for one model (its training betas) at ``num_inference_steps``."""

    def __init__(self, scheduler_config: dict[str, Any] | None = None,
                 num_inference_steps: int = DEFAULT_NUM_INFERENCE_STEPS) -> None:
        from diffusers import LCMScheduler

        config = dict(SD_SCHEDULER_CONFIG)
        config.update({k: v for k, v in (scheduler_config or {}).items() if not k.startswith("_")})
        config["original_inference_steps"] = max(int(config.get("original_inference_steps") or 50), num_inference_steps)
        self.prediction_type = str(config.get("prediction_type", "epsilon"))
        if self.prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"prediction_type {self.prediction_type!r} is not supported (epsilon or v_prediction)")
        scheduler = LCMScheduler.from_config(config)
        scheduler.set_timesteps(num_inference_steps)
        self.num_inference_steps = num_inference_steps
        timesteps = scheduler.timesteps.to(torch.int64)
        alphas_cumprod = scheduler.alphas_cumprod.to(torch.float64)
        alpha_bar = alphas_cumprod[timesteps]
        scalings = [scheduler.get_scalings_for_boundary_condition_discrete(int(t)) for t in timesteps]
        self._table = {
            "timesteps": timesteps.to(torch.float32),
            "alpha_prod_t_sqrt": alpha_bar.sqrt().to(torch.float32),
            "beta_prod_t_sqrt": (1.0 - alpha_bar).sqrt().to(torch.float32),
            "c_skip": torch.tensor([float(s[0]) for s in scalings], dtype=torch.float32),
            "c_out": torch.tensor([float(s[1]) for s in scalings], dtype=torch.float32),
        }
        self._device_tables: dict[tuple[str, torch.dtype], dict[str, torch.Tensor]] = {}
        self._index_tensors: dict[tuple[str, tuple[int, ...]], torch.Tensor] = {}

    @property
    def timesteps(self) -> list[int]:
        return [int(t) for t in self._table["timesteps"].tolist()]

    def _on(self, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        key = (str(device), dtype)
        table = self._device_tables.get(key)
        if table is None:
            table = {name: t.to(device=device, dtype=torch.float32 if name == "timesteps" else dtype)
                     for name, t in self._table.items()}
            self._device_tables[key] = table
        return table

    def index_tensor(self, t_index_list: Sequence[int], device: torch.device) -> torch.Tensor:
        """The indices as a device tensor, cached: repeated lookups move nothing to the device."""
        key = (str(device), tuple(t_index_list))
        idx = self._index_tensors.get(key)
        if idx is None:
            idx = torch.tensor(check_t_index_list(t_index_list, self.num_inference_steps), dtype=torch.int64,
                               device=device)
            self._index_tensors[key] = idx
        return idx

    def scalings(self, t_index_list: Sequence[int], device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> StepScalings:
        device = torch.device(device)
        table = self._on(device, dtype)
        idx = self.index_tensor(t_index_list, device)

        def pick(name: str) -> torch.Tensor:
            return table[name].index_select(0, idx).view(-1, 1, 1, 1)

        return StepScalings(
            timesteps=table["timesteps"].index_select(0, idx),
            alpha_prod_t_sqrt=pick("alpha_prod_t_sqrt"),
            beta_prod_t_sqrt=pick("beta_prod_t_sqrt"),
            c_skip=pick("c_skip"),
            c_out=pick("c_out"),
        )
