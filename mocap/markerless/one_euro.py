"""The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) for landmark arrays and rotations.

A first-order low-pass whose cutoff rises with speed::

    alpha(fc, dt)  = 1 / (1 + tau / dt),   tau = 1 / (2 pi fc)
    dx_hat         = alpha(d_cutoff_hz, dt) * (x - x_hat_prev) / dt + (1 - alpha) * dx_hat_prev
    cutoff_hz      = min_cutoff_hz + beta * |dx_hat|
    x_hat          = alpha(cutoff_hz, dt) * x + (1 - alpha) * x_hat_prev

Held still, a signal is smoothed at ``min_cutoff_hz`` (lower = steadier, more lag); moving, the
cutoff rises by ``beta`` per unit of speed (higher = less lag). ``d_cutoff_hz`` smooths the
speed estimate itself.

`OneEuroFilter` filters an (N, D) array: each row (a landmark) gets its own cutoff from its own
speed (the norm of its D-vector derivative), so a moving hand does not drag a still foot.
`OneEuroRotationFilter` filters unit quaternions by filtering the components on one hemisphere
and renormalising (accurate for the small per-frame steps of capture).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroSettings:
    """Tuning of a One-Euro filter; speeds are in the filtered unit per second."""

    min_cutoff_hz: float = 1.5
    beta: float = 0.5
    d_cutoff_hz: float = 1.0

    def __post_init__(self) -> None:
        if not (self.min_cutoff_hz > 0.0 and self.d_cutoff_hz > 0.0 and self.beta >= 0.0):
            raise ValueError(f"One-Euro needs min_cutoff_hz > 0, d_cutoff_hz > 0 and beta >= 0, got {self}")


def smoothing_factor(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray:
    """Weight of the new sample for a first-order low-pass at ``cutoff_hz`` sampled every ``dt_s``."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt_s)


_DEFAULT_DT_S = 1.0 / 30.0


class OneEuroFilter:
    """Filters successive (N, D) arrays (or (D,) vectors, one row); ``reset`` forgets the history."""

    def __init__(self, settings: OneEuroSettings | None = None) -> None:
        self.settings = settings or OneEuroSettings()
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t_s: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t_s = None

    def __call__(self, x: np.ndarray, t_s: float) -> np.ndarray:
        """The filtered value of sample ``x`` taken at ``t_s`` seconds."""
        x = np.asarray(x, dtype=np.float64)
        rows = x.reshape(1, -1) if x.ndim == 1 else x
        if rows.ndim != 2:
            raise ValueError(f"One-Euro filters (N, D) arrays or vectors, got shape {x.shape}")
        if self._x is None or self._t_s is None or self._x.shape != rows.shape:
            self._x, self._dx, self._t_s = rows.copy(), np.zeros_like(rows), float(t_s)
            return x.copy()
        dt_s = float(t_s) - self._t_s
        if not dt_s > 0.0:  # repeated or out-of-order time stamp: assume one frame at 30 Hz
            dt_s = _DEFAULT_DT_S
        s = self.settings
        a_d = smoothing_factor(s.d_cutoff_hz, dt_s)
        dx = (rows - self._x) / dt_s
        assert self._dx is not None
        dx_hat = a_d * dx + (1.0 - a_d) * self._dx
        speed = np.linalg.norm(dx_hat, axis=1, keepdims=True)
        a = smoothing_factor(s.min_cutoff_hz + s.beta * speed, dt_s)
        x_hat = a * rows + (1.0 - a) * self._x
        self._x, self._dx, self._t_s = x_hat, dx_hat, float(t_s)
        return x_hat.reshape(x.shape).copy()


class OneEuroRotationFilter:
    """One-Euro for a unit quaternion (x, y, z, w); the speed is in quaternion units per second
    (about half the angular speed in radians per second for small steps)."""

    def __init__(self, settings: OneEuroSettings | None = None) -> None:
        self._filter = OneEuroFilter(settings)
        self._last: np.ndarray | None = None

    @property
    def settings(self) -> OneEuroSettings:
        return self._filter.settings

    def reset(self) -> None:
        self._filter.reset()
        self._last = None

    def __call__(self, q: np.ndarray, t_s: float) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        if q.shape != (4,):
            raise ValueError(f"expected a quaternion of shape (4,), got {q.shape}")
        if self._last is not None and float(np.dot(q, self._last)) < 0.0:
            q = -q  # stay on the previous sample's hemisphere so the components move continuously
        filtered = self._filter(q, t_s)
        norm = float(np.linalg.norm(filtered))
        filtered = q if norm < 1e-9 else filtered / norm
        self._last = filtered
        return filtered.copy()
