"""The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) for a whole face mesh at once.

A low-pass filter whose cutoff rises with speed: when the face holds still the
cutoff is ``min_cutoff_hz`` and landmark jitter is smoothed away; when it moves
the cutoff rises by ``beta`` per unit of speed so the mesh does not lag.

This variant drives one cutoff for all points from the mean point speed (in
face sizes per second, so the same ``beta`` suits a face 80 px or 400 px tall)
rather than one cutoff per coordinate: per-coordinate cutoffs would smooth the
still parts of a moving face more than the moving parts and bend its shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroSettings:
    """``min_cutoff_hz``: smoothing at rest (lower = smoother); ``beta``: how fast the cutoff
    rises with speed (higher = less lag); ``d_cutoff_hz``: smoothing of the speed estimate."""

    min_cutoff_hz: float = 2.0
    beta: float = 5.0
    d_cutoff_hz: float = 1.0

    def __post_init__(self) -> None:
        if not (self.min_cutoff_hz > 0 and self.d_cutoff_hz > 0 and self.beta >= 0):
            raise ValueError(
                f"One-Euro needs min_cutoff_hz > 0, d_cutoff_hz > 0 and beta >= 0, got {self}"
            )


def smoothing_factor(cutoff_hz: float, dt_s: float) -> float:
    """Exponential smoothing weight of the new sample for a first-order low-pass at ``cutoff_hz``."""
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """Filters successive (N, D) point arrays; ``reset`` forgets the history."""

    def __init__(self, settings: OneEuroSettings | None = None) -> None:
        self.settings = settings or OneEuroSettings()
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t_s: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t_s = None

    def __call__(self, x: np.ndarray, t_s: float, scale: float = 1.0) -> np.ndarray:
        """The filtered value of sample ``x`` taken at ``t_s`` seconds; ``scale`` (the face size)
        turns speeds into face sizes per second."""
        x = np.asarray(x, dtype=np.float32)
        if self._x is None or self._t_s is None or self._x.shape != x.shape:
            self._x, self._dx, self._t_s = x.copy(), np.zeros_like(x), t_s
            return x.copy()
        dt_s = t_s - self._t_s
        if dt_s <= 0:  # a repeated or out-of-order timestamp: assume one 60 Hz frame
            dt_s = 1.0 / 60.0
        s = self.settings
        a_d = smoothing_factor(s.d_cutoff_hz, dt_s)
        dx = (x - self._x) / dt_s
        dx_hat = a_d * dx + (1.0 - a_d) * self._dx
        speed = float(np.linalg.norm(dx_hat[:, :2], axis=1).mean()) / max(scale, 1e-6)
        a = smoothing_factor(s.min_cutoff_hz + s.beta * speed, dt_s)
        x_hat = a * x + (1.0 - a) * self._x
        self._x, self._dx, self._t_s = x_hat, dx_hat, t_s
        return x_hat.copy()
