"""The LCM schedule table, strength -> t_index_list, and the similarity filter's probability rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime_models.stream_diffusion.schedule import (
    LcmSchedule,
    check_t_index_list,
    strength_to_t_index_list,
    t_index_list_strength,
)
from realtime_models.stream_diffusion.similarity_filter import StochasticSimilarityFilter


def test_strength_maps_to_increasing_indices_that_start_later_for_gentler_strength():
    assert strength_to_t_index_list(1.0, 1) == [0]
    assert strength_to_t_index_list(0.65, 4) == [17, 25, 33, 42]
    for steps in (1, 2, 4):
        previous_first = -1
        for strength in (1.0, 0.8, 0.5, 0.2, 0.02):
            indices = strength_to_t_index_list(strength, steps)
            assert len(indices) == steps and all(b > a for a, b in zip(indices, indices[1:]))
            assert 0 <= indices[0] and indices[-1] <= 49
            assert indices[0] >= previous_first
            previous_first = indices[0]
    assert t_index_list_strength([17, 25]) == pytest.approx(1 - 17 / 49)
    with pytest.raises(ValueError):
        strength_to_t_index_list(0.0, 2)
    with pytest.raises(ValueError, match="strictly increasing"):
        check_t_index_list([30, 30])


def test_lcm_step_matches_diffusers_lcm_scheduler():
    from diffusers import LCMScheduler

    schedule = LcmSchedule()
    scheduler = LCMScheduler.from_config({"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
                                          "timestep_scaling": 10.0, "original_inference_steps": 50})
    scheduler.set_timesteps(50)
    assert schedule.timesteps == [int(t) for t in scheduler.timesteps]
    t_index = [20, 35]
    s = schedule.scalings(t_index)
    g = torch.Generator().manual_seed(0)
    for row, idx in enumerate(t_index):
        t = int(scheduler.timesteps[idx])
        x_t = torch.randn(1, 4, 8, 8, generator=g)
        eps = torch.randn(1, 4, 8, 8, generator=g)
        ours = s.c_out[row] * ((x_t - s.beta_prod_t_sqrt[row] * eps) / s.alpha_prod_t_sqrt[row]) + s.c_skip[row] * x_t
        scheduler._step_index = idx
        theirs = scheduler.step(eps, t, x_t, generator=g).denoised
        assert torch.allclose(ours, theirs, atol=1e-5)


def test_similarity_filter_probability_rule_and_seeded_coin():
    f = StochasticSimilarityFilter(threshold=0.9)
    assert f.skip_probability(1.0) == 1.0 and f.skip_probability(0.9) == 0.0 and f.skip_probability(0.5) == 0.0
    assert f.skip_probability(0.95) == pytest.approx(0.5)
    assert StochasticSimilarityFilter(threshold=1.0).skip_probability(1.0) == 0.0
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    noisy = [np.clip(base.astype(int) + rng.integers(-40, 40, base.shape), 0, 255).astype(np.uint8) for _ in range(40)]

    def decisions(seed: int) -> list[bool]:
        filt = StochasticSimilarityFilter(threshold=0.9, max_skip_frames=100, seed=seed)
        filt.note_processed(base)
        return [filt.should_skip(frame) for frame in noisy]

    first = decisions(1)
    assert first == decisions(1)  # reproducible
    assert 0 < sum(first) < len(first)  # in between the threshold and 1: a weighted coin, not all or nothing
    with pytest.raises(ValueError):
        StochasticSimilarityFilter(threshold=1.5)
