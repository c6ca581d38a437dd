"""2D feedback transform for dream sequences: zoom, rotate and translate the previous output.

Deforum-style "2D animation mode": the previous output is scaled about the
picture centre by ``zoom`` (above 1 moves in), rotated by ``angle_deg``
(counter-clockwise on screen), shifted by ``translate_x_px`` /
``translate_y_px`` (right and down), and fed back as the next input.  The
warp is one ``grid_sample`` on the device; the 2x3 matrix is built on the
host from four numbers and the sampling grid is reused while they stay the
same, so a steady zoom costs one small upload once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class FeedbackMotion:
    zoom: float = 1.0
    angle_deg: float = 0.0
    translate_x_px: float = 0.0
    translate_y_px: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.zoom == 1.0 and self.angle_deg == 0.0 and self.translate_x_px == 0.0 and self.translate_y_px == 0.0


def affine_theta(motion: FeedbackMotion, width_px: int, height_px: int) -> list[list[float]]:
    """The 2x3 ``affine_grid`` matrix mapping output to input in normalised coordinates.

    Forward (what the picture does): ``out = R(angle) * zoom * in + t`` in
    pixels about the centre; the grid needs the inverse, expressed in
    [-1, 1] coordinates, whose x and y units differ by the aspect ratio.
    """
    if motion.zoom <= 0:
        raise ValueError(f"zoom must be positive, got {motion.zoom}")
    half_w, half_h = width_px / 2.0, height_px / 2.0
    a = math.radians(motion.angle_deg)
    # screen y points down, so a counter-clockwise turn on screen is a clockwise one in (x, y)
    cos_a, sin_a = math.cos(a), math.sin(a)
    inv = [[cos_a / motion.zoom, -sin_a / motion.zoom], [sin_a / motion.zoom, cos_a / motion.zoom]]  # (R(-a)/zoom) with y down
    # normalised: in_n = D^-1 inv (D out_n - t)
    m00 = inv[0][0]
    m01 = inv[0][1] * half_h / half_w
    m10 = inv[1][0] * half_w / half_h
    m11 = inv[1][1]
    tx, ty = motion.translate_x_px, motion.translate_y_px
    b0 = -(inv[0][0] * tx + inv[0][1] * ty) / half_w
    b1 = -(inv[1][0] * tx + inv[1][1] * ty) / half_h
    return [[m00, m01, b0], [m10, m11, b1]]


class FeedbackTransform:
    """Warps a (1, C, H, W) device image; caches the grid for the last motion and size."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._grid: torch.Tensor | None = None

    def warp(self, image: torch.Tensor, motion: FeedbackMotion) -> torch.Tensor:
        if motion.is_identity:
            return image
        _, _, height, width = image.shape
        key = (motion, height, width, image.device, image.dtype)
        if key != self._key or self._grid is None:
            theta = torch.tensor([affine_theta(motion, width, height)], dtype=torch.float32)
            grid = F.affine_grid(theta, [1, 1, height, width], align_corners=False)
            self._grid = grid.to(device=image.device, dtype=image.dtype)
            self._key = key
        return F.grid_sample(image, self._grid, mode="bilinear", padding_mode="reflection", align_corners=False)
