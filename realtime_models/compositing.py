"""Masked compositing of a processed frame over the untouched original.

A matte (for example a person segmentation) decides where the processed
picture shows: where the mask is 1 the processed frame (blended onto the
original by ``mode``) shows, where it is 0 the original does. ``invert`` swaps
the roles, so the same person matte can stylize the set but leave the actor
untouched. All work is OpenCV on uint8 frames with one float32 alpha plane.
"""
from __future__ import annotations

import logging
import math

import cv2
import numpy as np

logger = logging.getLogger(__name__)

BLEND_MODES: tuple[str, ...] = ("over", "multiply", "screen")
_FLOAT_MASK_TOLERANCE = 1e-3  # float masks may overshoot 0..1 by rounding; more than this is a caller bug
_INV_255 = np.float32(1.0 / 255.0)


def _check_frame(frame: np.ndarray, name: str) -> None:
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{name} must be a uint8 HxWx3 frame, got {frame.dtype} {frame.shape}")


def alpha_from_mask(mask: np.ndarray, height_px: int, width_px: int) -> np.ndarray:
    """A float32 HxW alpha plane in 0..1 from a mask, resized (bilinear) to height_px x width_px.

    Accepts uint8 0..255, bool, or float 0..1 masks shaped HxW or HxWx1.
    Always returns a new array the caller may modify.
    """
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"mask must be a numpy array, got {type(mask).__name__}")
    plane = mask
    if plane.ndim == 3 and plane.shape[2] == 1:
        plane = plane[:, :, 0]
    if plane.ndim != 2 or plane.shape[0] < 1 or plane.shape[1] < 1:
        raise ValueError(f"mask must be HxW or HxWx1, got shape {mask.shape}")
    if plane.dtype == np.uint8:
        alpha = np.multiply(plane, _INV_255)
    elif plane.dtype == np.bool_:
        alpha = plane.astype(np.float32)
    elif np.issubdtype(plane.dtype, np.floating):
        alpha = plane.astype(np.float32)  # a copy even when already float32: we modify it below
        low, high = float(alpha.min()), float(alpha.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError("float mask contains NaN or infinity")
        if low < -_FLOAT_MASK_TOLERANCE or high > 1.0 + _FLOAT_MASK_TOLERANCE:
            raise ValueError(
                f"float mask must lie in 0..1, got values {low:.4g}..{high:.4g} "
                "(a 0..255 mask should be passed as uint8)"
            )
        np.clip(alpha, 0.0, 1.0, out=alpha)
    else:
        raise ValueError(f"mask dtype must be uint8, bool or float, got {plane.dtype}")
    if alpha.shape != (height_px, width_px):
        alpha = cv2.resize(alpha, (width_px, height_px), interpolation=cv2.INTER_LINEAR)
    return alpha


def blend(processed: np.ndarray, original: np.ndarray, mode: str) -> np.ndarray:
    """The processed layer blended onto the original at full opacity by ``mode``.

    over: processed; multiply: p*o/255; screen: 255 - (255-p)(255-o)/255 (rounded).
    """
    if mode == "over":
        return processed
    if mode == "multiply":
        return cv2.multiply(processed, original, scale=1.0 / 255.0)
    if mode == "screen":
        inverse = cv2.multiply(cv2.bitwise_not(processed), cv2.bitwise_not(original), scale=1.0 / 255.0)
        return cv2.bitwise_not(inverse, dst=inverse)
    raise ValueError(f"blend mode must be one of {', '.join(BLEND_MODES)}; got {mode!r}")


def composite(
    processed: np.ndarray,
    original: np.ndarray,
    mask: np.ndarray,
    mode: str = "over",
    invert: bool = False,
    opacity: float = 1.0,
    feather_px: float = 0.0,
) -> np.ndarray:
    """Show ``processed`` (blended by ``mode``) where ``mask`` is 1 and ``original`` where it is 0.

    ``processed`` and ``original``: uint8 HxWx3 frames of the same size.
    ``mask``: uint8 0..255, bool or float 0..1, HxW (or HxWx1); resized to the
    frame if its size differs. ``invert``: use 1 - mask. ``opacity`` (0..1)
    scales the processed layer's coverage everywhere. ``feather_px`` softens
    the matte edge with a gaussian of that sigma. Returns a new uint8 HxWx3 frame.
    """
    _check_frame(processed, "processed")
    _check_frame(original, "original")
    if processed.shape != original.shape:
        raise ValueError(f"processed {processed.shape} and original {original.shape} must have the same shape")
    if mode not in BLEND_MODES:
        raise ValueError(f"blend mode must be one of {', '.join(BLEND_MODES)}; got {mode!r}")
    opacity = float(opacity)
    if not 0.0 <= opacity <= 1.0:  # also rejects NaN
        raise ValueError(f"opacity must be between 0 and 1, got {opacity}")
    feather_px = float(feather_px)
    if not 0.0 <= feather_px < math.inf:
        raise ValueError(f"feather_px must be a finite number >= 0, got {feather_px}")

    height_px, width_px = original.shape[:2]
    alpha = alpha_from_mask(mask, height_px, width_px)
    if feather_px > 0.0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather_px, borderType=cv2.BORDER_REPLICATE)
    if invert:
        np.subtract(np.float32(1.0), alpha, out=alpha)
    if opacity < 1.0:
        alpha *= np.float32(opacity)
    layer = blend(np.ascontiguousarray(processed), np.ascontiguousarray(original), mode)
    # blendLinear: (a*layer + (1-a)*original) / (a + (1-a)), per pixel, rounded and saturated
    return cv2.blendLinear(layer, np.ascontiguousarray(original), alpha, np.subtract(np.float32(1.0), alpha))
