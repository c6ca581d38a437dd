"""Colour transfer of a swapped face onto the performer's colours, inside a mask.

* ``rct``: Reinhard et al. 2001: per-channel mean and standard deviation
  matched in CIELAB (the common default of face swappers).
* ``lct``: linear colour transfer: the RGB mean and full 3x3 covariance
  matched with ``x' = C_t^1/2 C_s^-1/2 (x - mu_s) + mu_t`` (symmetric square
  roots by eigen-decomposition), which also carries colour casts that couple
  channels.
* ``none``: the swapped face keeps its own colours.

Statistics are taken over pixels where ``mask`` > 0.5 in both pictures; the
transfer is applied to the whole source picture (the merge step masks it).
"""

from __future__ import annotations

import cv2
import numpy as np

COLOR_TRANSFER_MODES = ("none", "rct", "lct")
_MIN_PIXELS = 16
_LAB_LOW = np.array([0, -127, -127], np.float32)
_LAB_HIGH = np.array([100, 127, 127], np.float32)


def _selection(mask: np.ndarray) -> np.ndarray | None:
    """uint8 0/1 selection of mask > 0.5, or None when too few pixels to estimate statistics."""
    sel = (mask > 0.5).view(np.uint8)
    return sel if cv2.countNonZero(sel) >= _MIN_PIXELS else None


def rct(source_rgb: np.ndarray, target_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``source_rgb`` with its LAB mean/std inside ``mask`` matched to ``target_rgb``'s."""
    sel = _selection(mask)
    if sel is None:
        return source_rgb
    scale = np.float32(1 / 255)
    src = cv2.cvtColor(np.multiply(source_rgb, scale, dtype=np.float32), cv2.COLOR_RGB2LAB)
    tgt = cv2.cvtColor(np.multiply(target_rgb, scale, dtype=np.float32), cv2.COLOR_RGB2LAB)
    s_mean, s_std = (v.ravel() for v in cv2.meanStdDev(src, mask=sel))
    t_mean, t_std = (v.ravel() for v in cv2.meanStdDev(tgt, mask=sel))
    gain = np.clip(t_std / np.maximum(s_std, 1e-3), 0.2, 5.0).astype(np.float32)
    offset = (t_mean - s_mean * gain).astype(np.float32)
    out = src * gain + offset
    np.clip(out, _LAB_LOW, _LAB_HIGH, out=out)
    rgb = cv2.cvtColor(out, cv2.COLOR_LAB2RGB)
    return cv2.convertScaleAbs(rgb, alpha=255.0)


def _sym_sqrt(cov: np.ndarray, inverse: bool) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    values = np.maximum(values, 1e-5)
    power = -0.5 if inverse else 0.5
    return (vectors * values**power) @ vectors.T


def lct(source_rgb: np.ndarray, target_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``source_rgb`` with its RGB mean and covariance inside ``mask`` matched to ``target_rgb``'s."""
    sel = _selection(mask)
    if sel is None:
        return source_rgb
    sel = sel.astype(bool)
    src = source_rgb.reshape(-1, 3).astype(np.float32) * np.float32(1 / 255)
    s_pix = source_rgb[sel].astype(np.float64) / 255.0
    t_pix = target_rgb[sel].astype(np.float64) / 255.0
    s_mean, t_mean = s_pix.mean(axis=0), t_pix.mean(axis=0)
    s_cov = np.cov(s_pix, rowvar=False) + np.eye(3) * 1e-5
    t_cov = np.cov(t_pix, rowvar=False) + np.eye(3) * 1e-5
    transform = (_sym_sqrt(t_cov, False) @ _sym_sqrt(s_cov, True)).astype(np.float32)
    out = (src - s_mean.astype(np.float32)) @ transform.T + t_mean.astype(np.float32)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8).reshape(source_rgb.shape)


def transfer_color(mode: str, source_rgb: np.ndarray, target_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if mode == "none":
        return source_rgb
    if mode == "rct":
        return rct(source_rgb, target_rgb, mask)
    if mode == "lct":
        return lct(source_rgb, target_rgb, mask)
    raise ValueError(f"colour transfer must be one of {', '.join(COLOR_TRANSFER_MODES)}, got {mode!r}")
