"""ControlNet conditioning images from what the engine sends: its depth plane and a 2D skeleton.

Depth: the FRAME's depth plane is linear eye-space depth in metres (+inf,
NaN or <= 0 where there is no surface).  Depth ControlNets were trained on
MiDaS-style relative inverse depth: near is white, far is black, scaled to
[0, 1] per picture, three equal channels.  :func:`depth_to_control_image`
turns metres into exactly that: disparity ``1/z``, normalised between the
nearest and farthest surface of the frame (or a fixed ``near_m``/``far_m``
range, which keeps brightness steady when objects come and go), no surface
= 0.  It runs on the device with no host read-back.  No depth estimator is
needed: the engine knows its depth.

Pose: OpenPose ControlNets were trained on OpenPose "body" renderings:
COCO-18 keypoints on black, each limb an ellipse in its own colour at 60 %
over the canvas, each joint a filled circle.  :func:`render_openpose`
draws that from 18 keypoints given as (x, y, confidence) with x, y in 0..1
of the picture (so the skeleton does not depend on the resolution); a
keypoint with confidence <= 0 is left out with its limbs.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

RANGE_GRID_STEP = 4  # per-frame depth range is taken from every 4th pixel in each direction

# COCO-18 keypoint order used by OpenPose body models.
OPENPOSE_KEYPOINTS = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
    "right_ear", "left_ear",
)
OPENPOSE_KEYPOINT_COUNT = len(OPENPOSE_KEYPOINTS)
# Limbs as keypoint index pairs (0-based), in OpenPose's drawing order; the colour of limb i is colour i.
OPENPOSE_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
OPENPOSE_COLORS_RGB = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
    (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)


def depth_to_control_image(depth_m: torch.Tensor, height_px: int, width_px: int, near_m: float | None = None,
                           far_m: float | None = None) -> torch.Tensor:
    """(H, W) metres -> (1, 3, height_px, width_px) float32 in [0, 1], near = 1, far and no surface = 0.

    The plane is first brought to the processing size, then turned into
    disparity; the per-frame range comes from the nearest and farthest
    surface on a 1-in-4 grid (amax/amin on the device, no read-back).
    """
    if depth_m.dim() != 2:
        raise ValueError(f"depth must be a (height, width) plane, got shape {tuple(depth_m.shape)}")
    z = depth_m.float()
    # 1/z with every "no surface" value (inf, NaN, <= 0) mapped to disparity 0
    disparity = torch.nan_to_num_(z.reciprocal(), nan=0.0, posinf=0.0, neginf=0.0).clamp_min_(0.0)
    image = disparity[None, None]
    if image.shape[-2:] != (height_px, width_px):
        # nearest keeps object edges crisp and never blends a surface with "no surface"
        image = F.interpolate(image, size=(height_px, width_px), mode="nearest-exact")
    if near_m is not None and far_m is not None:
        if not 0 < near_m < far_m:
            raise ValueError(f"depth range needs 0 < near_m < far_m, got {near_m}..{far_m}")
        d_lo, inv_span = 1.0 / far_m, 1.0 / (1.0 / near_m - 1.0 / far_m)
        normalised = image.sub(d_lo).mul_(inv_span)
    else:
        # the range from a 1-in-4 grid (pictures of 64 px and up): a sixteenth of the work per reduction;
        # a surface nearer than any grid sample just saturates to white
        step = RANGE_GRID_STEP if min(height_px, width_px) >= 64 else 1
        grid = image[..., ::step, ::step]
        d_hi = grid.amax()
        d_lo = torch.where(grid > 0, grid, torch.full_like(grid, float("inf"))).amin()
        d_lo = torch.where(torch.isfinite(d_lo), d_lo, torch.zeros_like(d_lo))
        normalised = (image - d_lo).div_((d_hi - d_lo).clamp_min(1e-6))
    # "no surface" has disparity 0, below the range, so the clamp sends it to 0 (black, far)
    return normalised.clamp_(0.0, 1.0).expand(1, 3, height_px, width_px)


def check_keypoints(values: Sequence[float]) -> np.ndarray:
    """18 x (x, y, confidence) from a flat list; ValueError naming what is wrong."""
    arr = np.asarray(values, dtype=np.float32)
    if arr.size != OPENPOSE_KEYPOINT_COUNT * 3:
        raise ValueError(f"a skeleton needs {OPENPOSE_KEYPOINT_COUNT} keypoints x (x, y, confidence) = "
                         f"{OPENPOSE_KEYPOINT_COUNT * 3} numbers, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("skeleton keypoints must be finite numbers")
    return arr.reshape(OPENPOSE_KEYPOINT_COUNT, 3)


def render_openpose(keypoints: Sequence[float] | np.ndarray, width_px: int, height_px: int,
                    stick_width_px: int | None = None) -> np.ndarray:
    """An OpenPose-style body picture (height_px x width_px x 3 RGB uint8) of one 2D skeleton."""
    points = check_keypoints(np.asarray(keypoints).reshape(-1))
    canvas = np.zeros((height_px, width_px, 3), np.uint8)
    scale = max(width_px, height_px) / 512.0
    stick = max(1, int(round((stick_width_px or 4) * (scale if stick_width_px is None else 1.0))))
    radius = max(1, int(round(4 * scale)))
    xy = points[:, :2] * np.array([width_px, height_px], np.float32)
    visible = points[:, 2] > 0
    for i, (a, b) in enumerate(OPENPOSE_LIMBS):
        if not (visible[a] and visible[b]):
            continue
        (xa, ya), (xb, yb) = xy[a], xy[b]
        length = math.hypot(xb - xa, yb - ya)
        angle = math.degrees(math.atan2(yb - ya, xb - xa))
        polygon = cv2.ellipse2Poly((int(round((xa + xb) / 2)), int(round((ya + yb) / 2))),
                                   (int(round(length / 2)), stick), int(round(angle)), 0, 360, 1)
        # blend only inside the limb's bounding box: same picture as a full-canvas blend, far less work
        x0, y0 = np.maximum(polygon.min(axis=0), 0)
        x1, y1 = np.minimum(polygon.max(axis=0) + 1, (width_px, height_px))
        if x1 <= x0 or y1 <= y0:
            continue
        roi = canvas[y0:y1, x0:x1]
        limb = roi.copy()
        cv2.fillConvexPoly(limb, polygon - np.array([x0, y0], polygon.dtype), OPENPOSE_COLORS_RGB[i])
        canvas[y0:y1, x0:x1] = cv2.addWeighted(limb, 0.6, roi, 0.4, 0)
    for i in range(OPENPOSE_KEYPOINT_COUNT):
        if visible[i]:
            cv2.circle(canvas, (int(round(xy[i, 0])), int(round(xy[i, 1]))), radius, OPENPOSE_COLORS_RGB[i], -1,
                       lineType=cv2.LINE_AA)
    return canvas


def control_image_from_rgb(rgb: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A host RGB uint8 picture as a (1, 3, H, W) device tensor in [0, 1] (ControlNet's input range)."""
    tensor = torch.from_numpy(np.ascontiguousarray(rgb)).to(device=device, non_blocking=True)
    return tensor.permute(2, 0, 1).unsqueeze(0).to(dtype).mul_(1.0 / 255.0)
