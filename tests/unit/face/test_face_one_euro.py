"""One-Euro smoothing: less jitter at rest than the raw signal, less lag in motion than a moving average."""

from __future__ import annotations

import numpy as np
import pytest

from realtime_models.face.one_euro import OneEuroFilter, OneEuroSettings, smoothing_factor

FPS = 30.0
FACE_PX = 100.0


def _signal(frames: int, speed_px_per_s: float, jitter_px: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(true, measured) meshes of 20 points over time: a rigid translation plus measurement noise."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, FACE_PX, (20, 2)).astype(np.float32)
    t = np.arange(frames) / FPS
    true = base[None] + (speed_px_per_s * t)[:, None, None] * np.array([1.0, 0.0], np.float32)
    measured = true + rng.normal(0, jitter_px, true.shape).astype(np.float32)
    return true, measured


def _run(filter_: OneEuroFilter, measured: np.ndarray) -> np.ndarray:
    return np.stack([filter_(m, i / FPS, FACE_PX) for i, m in enumerate(measured)])


def _moving_average(measured: np.ndarray, n: int) -> np.ndarray:
    return np.stack([measured[max(0, i - n + 1): i + 1].mean(axis=0) for i in range(len(measured))])


def test_at_rest_it_removes_most_jitter():
    true, measured = _signal(120, 0.0, 1.5)
    smoothed = _run(OneEuroFilter(OneEuroSettings(min_cutoff_hz=1.0, beta=5.0)), measured)
    raw_err = np.abs(measured[30:] - true[30:]).mean()
    err = np.abs(smoothed[30:] - true[30:]).mean()
    assert err < 0.5 * raw_err
    frame_to_frame = np.abs(np.diff(smoothed[30:], axis=0)).mean()
    assert frame_to_frame < 0.3 * np.abs(np.diff(measured[30:], axis=0)).mean()


def test_in_motion_it_lags_less_than_an_equally_smooth_moving_average():
    _, still = _signal(120, 0.0, 1.5, seed=1)
    true, moving = _signal(120, 300.0, 1.5, seed=1)  # 3 face sizes per second
    settings = OneEuroSettings(min_cutoff_hz=1.0, beta=5.0)
    # a moving average long enough to smooth the still face as well as One-Euro does
    euro_still = np.abs(_run(OneEuroFilter(settings), still)[30:] - still[30:].mean(axis=0)).mean()
    n = next(n for n in range(2, 60) if np.abs(_moving_average(still, n)[30:] - still[30:].mean(axis=0)).mean()
             <= euro_still)
    euro_lag = np.abs(_run(OneEuroFilter(settings), moving)[30:] - true[30:]).mean()
    average_lag = np.abs(_moving_average(moving, n)[30:] - true[30:]).mean()
    assert euro_lag < 0.5 * average_lag, f"One-Euro lag {euro_lag:.2f} px vs {n}-frame average {average_lag:.2f} px"


def test_beta_trades_smoothness_for_lag():
    true, moving = _signal(90, 300.0, 0.0)
    lags = [np.abs(_run(OneEuroFilter(OneEuroSettings(1.0, beta)), moving)[30:] - true[30:]).mean()
            for beta in (0.0, 2.0, 20.0)]
    assert lags[0] > lags[1] > lags[2]


def test_first_sample_passes_through_and_reset_forgets():
    f = OneEuroFilter()
    x = np.ones((5, 3), np.float32)
    assert np.array_equal(f(x, 0.0), x)
    f(x * 10, 0.033)
    f.reset()
    assert np.array_equal(f(x * 3, 1.0), x * 3)


def test_settings_are_checked_and_the_smoothing_factor_is_the_textbook_one():
    with pytest.raises(ValueError, match="min_cutoff_hz"):
        OneEuroSettings(min_cutoff_hz=0.0)
    tau = 1 / (2 * np.pi * 1.0)
    assert smoothing_factor(1.0, 0.01) == pytest.approx(1 / (1 + tau / 0.01))
